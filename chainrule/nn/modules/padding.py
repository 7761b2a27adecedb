"""Padding layers: thin modules over ``F.pad`` (constant, zero, reflection, replication,
circular), with PyTorch's names, arguments and reprs."""

from __future__ import annotations

import numbers

from ...ops.shape import pad
from ...tensor import Tensor
from .module import Module


def _widths(padding, dims: int, name: str) -> tuple[int, ...]:
    """An int pads every side; a tuple gives (left, right, top, bottom, front, back)."""
    if isinstance(padding, numbers.Integral):
        return (int(padding),) * (2 * dims)
    padding = tuple(int(p) for p in padding)
    if len(padding) != 2 * dims:
        raise ValueError(
            f"{name} expects an int or a {2 * dims}-tuple of padding widths "
            f"(left, right{', top, bottom' if dims > 1 else ''}"
            f"{', front, back' if dims > 2 else ''}), got {len(padding)} values: {padding}"
        )
    return padding


class _PadNd(Module):
    mode = "constant"
    dims = 1

    def __init__(self, padding):
        super().__init__()
        self.padding = _widths(padding, self.dims, type(self).__name__)

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad1d(_ConstantPadNd):
    """Pad the last dim with a constant: ``ConstantPad1d(2, 3.5)`` or ``((1, 2), 0.0)``."""

    dims = 1


class ConstantPad2d(_ConstantPadNd):
    """Pad the last two dims with a constant: (left, right, top, bottom)."""

    dims = 2


class ConstantPad3d(_ConstantPadNd):
    """Pad the last three dims with a constant: (left, right, top, bottom, front, back)."""

    dims = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ZeroPad1d(_ZeroPadNd):
    """Pad the last dim with zeros."""

    dims = 1


class ZeroPad2d(_ZeroPadNd):
    """Pad the last two dims with zeros: (left, right, top, bottom)."""

    dims = 2


class ZeroPad3d(_ZeroPadNd):
    """Pad the last three dims with zeros."""

    dims = 3


class ReflectionPad1d(_PadNd):
    """Mirror the last dim at its edges (the edge itself is not repeated)."""

    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    """Mirror the last two dims at their edges."""

    mode, dims = "reflect", 2


class ReflectionPad3d(_PadNd):
    """Mirror the last three dims at their edges."""

    mode, dims = "reflect", 3


class ReplicationPad1d(_PadNd):
    """Repeat the edge values of the last dim."""

    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    """Repeat the edge values of the last two dims."""

    mode, dims = "replicate", 2


class ReplicationPad3d(_PadNd):
    """Repeat the edge values of the last three dims."""

    mode, dims = "replicate", 3


class CircularPad1d(_PadNd):
    """Wrap the last dim around."""

    mode, dims = "circular", 1


class CircularPad2d(_PadNd):
    """Wrap the last two dims around."""

    mode, dims = "circular", 2


class CircularPad3d(_PadNd):
    """Wrap the last three dims around."""

    mode, dims = "circular", 3
