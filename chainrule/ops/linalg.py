"""Products: matmul and friends."""

from __future__ import annotations

from ..backend import array_module
from . import tensor_numpy
from ._core import Op, operands


def _swap_last(a):
    xp = array_module(a)
    return xp.swapaxes(a, -1, -2)


class MatMul(Op):
    """y = a @ b (2-D or batched);  ga = gy @ bᵀ, gb = aᵀ @ gy"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        ga = gy @ _swap_last(b) if ctx.needs_input_grad[0] else None
        gb = _swap_last(a) @ gy if ctx.needs_input_grad[1] else None
        return ga, gb


def matmul(input, other):
    """input @ other with NumPy's rules for 1-D operands and batch broadcasting."""
    a, b = operands(input, other)
    if a.ndim < 1 or b.ndim < 1:
        raise RuntimeError("both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({'x'.join(map(str, a.shape))} and "
            f"{'x'.join(map(str, b.shape))})"
        )
    if a.ndim == 1:
        return MatMul.apply(a.reshape(1, -1), b).reshape(b.shape[:-2] + b.shape[-1:])
    if b.ndim == 1:
        return MatMul.apply(a, b.reshape(-1, 1)).reshape(a.shape[:-1])
    return MatMul.apply(a, b)


def _np_swapaxes(x, a1, a2):
    from .shape import transpose

    return transpose(x, a1, a2)


tensor_numpy.register(matmul=matmul, swapaxes=_np_swapaxes)

METHODS = ["matmul"]
__all__ = ["matmul"]
