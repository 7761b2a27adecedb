"""Neural-network primitives kept for numerical stability: softmax, log_softmax.

Both subtract the slice maximum before exponentiating (exp overflows float32 above ~88), and
their backward rules use only the saved output, so double backward is a plain composition.
"""

from __future__ import annotations

import warnings

from .. import backend
from ..backend import array_module
from ._core import Op, canonical_dim, cast
from .reduce import _torch_name


class Softmax(Op):
    """y = exp(x - max x) / Σ exp(x - max x);  gx = y · (gy - Σ gy·y)"""

    @staticmethod
    def forward(ctx, x, axis):
        xp = array_module(x)
        e = xp.exp(x - xp.amax(x, axis=axis, keepdims=True))
        y = e / xp.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        xp = array_module(y)  # a Tensor under create_graph, where gy may still be an array
        gyy = gy * y
        return gyy - y * xp.sum(gyy, axis=ctx.axis, keepdims=True), None


class LogSoftmax(Op):
    """y = x - max x - log Σ exp(x - max x);  gx = gy - exp(y) · Σ gy"""

    @staticmethod
    def forward(ctx, x, axis):
        xp = array_module(x)
        shifted = x - xp.amax(x, axis=axis, keepdims=True)
        y = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        xp = array_module(y)  # a Tensor under create_graph, where gy may still be an array
        return gy - xp.exp(y) * array_module(gy).sum(gy, axis=ctx.axis, keepdims=True), None


def _softmax_dim(ndim: int, name: str) -> int:
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include "
        "dim=X as an argument.",
        stacklevel=4,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _apply(op, input, dim, dtype, name):
    if dtype is not None:
        input = cast(input, backend.as_dtype(dtype))
    if input._data.dtype.kind not in "fcV":
        raise RuntimeError(
            f'"{name}_lastdim_kernel_impl" not implemented for '
            f"'{_torch_name(input._data.dtype)}': {name} needs a floating point input; pass "
            "dtype=chainrule.float32 or call .float() first"
        )
    if dim is None:
        dim = _softmax_dim(input._data.ndim, name)
    if input._data.ndim == 0:
        canonical_dim(dim, 0)
        return op.apply(input.reshape(1), 0).reshape(())
    return op.apply(input, canonical_dim(dim, input._data.ndim))


def softmax(input, dim: int | None = None, dtype=None):
    """exp(input) normalised to sum to 1 along `dim`, computed without overflow.

    Args:
        input: a floating point tensor.
        dim: the dim that sums to 1.
        dtype: cast the input to this dtype first (e.g. float32 for a float16 input).

    Example:
        >>> import chainrule as torch
        >>> torch.softmax(torch.tensor([0.0, 0.0]), dim=0)
        tensor([0.5000, 0.5000])
    """
    return _apply(Softmax, input, dim, dtype, "softmax")


def log_softmax(input, dim: int | None = None, dtype=None):
    """log(softmax(input, dim)), computed in one stable step (no log of an underflowed 0)."""
    return _apply(LogSoftmax, input, dim, dtype, "log_softmax")


def softmin(input, dim: int | None = None, dtype=None):
    """softmax(-input, dim): the smallest entries get the largest weights."""
    if dtype is not None:
        input = cast(input, backend.as_dtype(dtype))
    return _apply(Softmax, -input, dim, None, "softmin")


METHODS = ["softmax", "log_softmax"]
__all__ = ["softmax", "log_softmax"]
