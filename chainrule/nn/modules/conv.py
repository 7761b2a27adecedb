"""Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d: thin layers over ``chainrule.ops.conv``."""

from __future__ import annotations

import math
import numbers

from ...ops import conv as F
from ...ops.creation import empty
from ...ops.shape import pad
from ...tensor import Tensor
from .. import init
from ..parameter import Parameter
from .module import Module

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]


def _ntuple(value, n: int) -> tuple:
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    return tuple(value)


class _ConvNd(Module):
    """What the convolutions share: arguments, parameters, PyTorch's initialisation and repr."""

    __constants__ = [
        "stride", "padding", "dilation", "groups", "padding_mode", "output_padding",
        "in_channels", "out_channels", "kernel_size",
    ]  # fmt: skip
    _nd = 2

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride,
        padding,
        dilation,
        transposed: bool,
        output_padding,
        groups: int,
        bias: bool,
        padding_mode: str,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        n = self._nd
        kernel_size, stride, dilation = (_ntuple(v, n) for v in (kernel_size, stride, dilation))
        if not isinstance(padding, str):
            padding = _ntuple(padding, n)
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(
                    f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}"
                )
            if padding == "same" and any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(
                "padding_mode must be one of {'zeros', 'reflect', 'replicate', 'circular'}, but "
                f"got padding_mode='{padding_mode}'"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, n)
        self.groups = groups
        self.padding_mode = padding_mode
        # F.pad's order: (left, right) of the last dim first
        self._reversed_padding_repeated_twice = _reversed_padding(padding, kernel_size, dilation)
        if transposed:
            shape = (in_channels, out_channels // groups, *kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *kernel_size)
        self.weight = Parameter(empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # a = √5 gives U(-1/√fan_in, 1/√fan_in), PyTorch's long-standing default
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}"
        )
        if self.padding != (0,) * self._nd:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


def _reversed_padding(padding, kernel_size, dilation) -> list[int]:
    if isinstance(padding, str):
        out = [0, 0] * len(kernel_size)
        if padding == "same":
            for d, k, i in zip(dilation, kernel_size, range(len(kernel_size) - 1, -1, -1)):
                total = d * (k - 1)
                out[2 * i] = total // 2
                out[2 * i + 1] = total - total // 2
        return out
    return [p for p in reversed(padding) for _ in range(2)]


class _Conv(_ConvNd):
    _fn = staticmethod(F.conv2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups,
            bias, padding_mode, device, dtype,
        )  # fmt: skip

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if self.padding_mode != "zeros":
            padded = pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return self._fn(padded, weight, bias, self.stride, 0, self.dilation, self.groups)
        return self._fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) or (C_in, L).

    Args:
        in_channels, out_channels: channels in and out.  kernel_size: an int or a 1-tuple.
        stride, dilation: ints.  padding: an int, 'valid' or 'same'.
        groups: split channels into independent groups.  bias: learn a bias (default True).
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.

    Attributes:
        weight: (out_channels, in_channels / groups, k), kaiming_uniform_(a=√5).
        bias: (out_channels,), U(-1/√fan_in, 1/√fan_in).

    Example:
        >>> import chainrule as torch
        >>> torch.nn.Conv1d(16, 33, 3, stride=2)(torch.randn(20, 16, 50)).shape
        chainrule.Size([20, 33, 24])
    """

    _nd = 1
    _fn = staticmethod(F.conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) or (C_in, H, W).

    Args:
        in_channels, out_channels: channels in and out.  kernel_size: an int or a pair.
        stride, dilation: an int or a pair.  padding: an int, a pair, 'valid' or 'same'.
        groups: split channels into independent groups.  bias: learn a bias (default True).
        padding_mode: 'zeros', 'reflect', 'replicate' or 'circular'.

    Attributes:
        weight: (out_channels, in_channels / groups, kh, kw), kaiming_uniform_(a=√5).
        bias: (out_channels,), U(-1/√fan_in, 1/√fan_in).

    Example:
        >>> import chainrule as torch
        >>> torch.nn.Conv2d(3, 8, 3, padding=1)(torch.randn(2, 3, 16, 16)).shape
        chainrule.Size([2, 8, 16, 16])
    """

    _nd = 2
    _fn = staticmethod(F.conv2d)


class _ConvTranspose(_ConvNd):
    _fn = staticmethod(F.conv_transpose2d)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups: int = 1,
        bias: bool = True,
        dilation=1,
        padding_mode: str = "zeros",
        device=None,
        dtype=None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(
                f'Only "zeros" padding mode is supported for {self.__class__.__name__}'
            )
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, dilation, True,
            output_padding, groups, bias, padding_mode, device, dtype,
        )  # fmt: skip

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """output_padding, or the one that gives `output_size` (PyTorch's rule)."""
        if output_size is None:
            return self.output_padding
        n = self._nd
        batch = 2 if input.ndim == n + 2 else 1
        output_size = tuple(int(s) for s in output_size)
        if len(output_size) == batch + n:
            output_size = output_size[batch:]
        if len(output_size) != n:
            raise ValueError(
                f"ConvTranspose{n}D: for {input.ndim}D input, output_size must have {n} or "
                f"{batch + n} elements (got {len(output_size)})"
            )
        lo = [
            (input.shape[batch + d] - 1) * self.stride[d] - 2 * self.padding[d]
            + self.dilation[d] * (self.kernel_size[d] - 1) + 1
            for d in range(n)
        ]  # fmt: skip
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        for size, a, b in zip(output_size, lo, hi):
            if not a <= size <= b:
                raise ValueError(
                    f"requested an output size of {list(output_size)}, but valid sizes range "
                    f"from {lo} to {hi} (for an input of {list(input.shape[batch:])})"
                )
        return tuple(size - a for size, a in zip(output_size, lo))

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        output_padding = self._output_padding(input, output_size)
        return self._fn(
            input, self.weight, self.bias, self.stride, self.padding, output_padding,
            self.groups, self.dilation,
        )  # fmt: skip


class ConvTranspose1d(_ConvTranspose):
    """The transpose of Conv1d ("deconvolution"): (N, C_in, L) -> (N, C_out, L_out).

    weight: (in_channels, out_channels / groups, k); forward(input, output_size=None) picks
    the output_padding that gives output_size when it is given.
    """

    _nd = 1
    _fn = staticmethod(F.conv_transpose1d)


class ConvTranspose2d(_ConvTranspose):
    """The transpose of Conv2d ("deconvolution"): (N, C_in, H, W) -> (N, C_out, Ho, Wo).

    weight: (in_channels, out_channels / groups, kh, kw); forward(input, output_size=None)
    picks the output_padding that gives output_size when it is given.

    Example:
        >>> import chainrule as torch
        >>> up = torch.nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1)
        >>> up(torch.randn(1, 16, 12, 12), output_size=[1, 8, 24, 24]).shape
        chainrule.Size([1, 8, 24, 24])
    """

    _nd = 2
    _fn = staticmethod(F.conv_transpose2d)
