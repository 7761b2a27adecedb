"""Reductions: sum, mean, …"""

from __future__ import annotations

from ..backend import array_module
from . import tensor_numpy
from ._core import Op, canonical_dims


def _keep_shape(shape, axes):
    """The shape of a keepdim reduction over `axes`."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Op):
    """y = Σ x over axes;  gx = gy broadcast back to x's shape"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.shape = x.shape
        ctx.axes = axes
        return array_module(x).sum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, gy):
        xp = array_module(gy)
        g = gy.reshape(_keep_shape(ctx.shape, ctx.axes))
        return xp.broadcast_to(g, ctx.shape), None, None, None


def sum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over `dim` (all dims when None); ints and bools sum in int64, as in PyTorch."""
    axes = canonical_dims(dim, input.data.ndim)
    if dtype is None and input.data.dtype.kind in "biu":
        dtype = "int64"
    return Sum.apply(input, axes, keepdim, dtype)


def _np_sum(x, axis=None, keepdims=False, dtype=None):
    return sum(x, axis, keepdims, dtype=dtype)


tensor_numpy.register(sum=_np_sum)

METHODS = ["sum"]
__all__ = ["sum"]
