"""Shape ops: reshape, permute, transpose, expand, … (views where NumPy gives views)."""

from __future__ import annotations

from ..backend import array_module
from . import tensor_numpy
from ._core import Op, canonical_dim, shape_arg


def _infer_shape(shape, numel):
    """Resolve one -1 in `shape`, with PyTorch's error when the sizes cannot match."""
    shape = list(shape)
    unknown = [i for i, s in enumerate(shape) if s == -1]
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            known *= s
    if unknown:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[unknown[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


class Reshape(Op):
    """y = x viewed with another shape;  gx = gy reshaped back"""

    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.shape), None


class Permute(Op):
    """y = x with axes permuted;  gx = gy permuted by the inverse"""

    is_view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return array_module(x).transpose(x, dims)

    @staticmethod
    def backward(ctx, gy):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return array_module(gy).transpose(gy, tuple(inverse)), None


class Expand(Op):
    """y = x broadcast to a shape (a read-only view);  gx = gy (the engine sums it back)"""

    is_view = True

    @staticmethod
    def forward(ctx, x, shape):
        return array_module(x).broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, gy):
        return gy, None


def reshape(input, *shape):
    shape = _infer_shape(shape_arg(shape), input.data.size)
    if shape == input.data.shape:
        return input
    return Reshape.apply(input, shape)


def view(input, *shape):
    """Like reshape; PyTorch refuses non-contiguous inputs, chainrule copies where it must."""
    if len(shape) == 1 and not isinstance(shape[0], int | tuple | list) and shape[0] is not None:
        from ._core import cast
        from ..backend import as_dtype

        return cast(input, as_dtype(shape[0]))
    return reshape(input, *shape)


def permute(input, *dims):
    dims = tuple(canonical_dim(d, input.data.ndim) for d in shape_arg(dims))
    if len(dims) != input.data.ndim or sorted(dims) != list(range(input.data.ndim)):
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {input.data.ndim} "
            f"is not equal to len(dims) = {len(dims)}"
        )
    return Permute.apply(input, dims)


def transpose(input, dim0: int, dim1: int):
    n = input.data.ndim
    if n < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return input
    d0, d1 = canonical_dim(dim0, n), canonical_dim(dim1, n)
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, tuple(dims))


def expand(input, *sizes):
    sizes = shape_arg(sizes)
    n = len(sizes)
    if n < input.data.ndim:
        raise RuntimeError(
            f"expand: the number of sizes provided ({n}) must be greater or equal to the number "
            f"of dimensions in the tensor ({input.data.ndim})"
        )
    lead = n - input.data.ndim
    shape = tuple(
        input.data.shape[i - lead] if (s == -1 and i >= lead) else s for i, s in enumerate(sizes)
    )
    return Expand.apply(input, shape)


def _np_reshape(x, shape):
    return reshape(x, shape)


def _np_transpose(x, axes=None):
    return permute(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))


def _np_broadcast_to(x, shape):
    return expand(x, tuple(shape))


tensor_numpy.register(reshape=_np_reshape, transpose=_np_transpose, broadcast_to=_np_broadcast_to)

METHODS = ["reshape", "view", "permute", "transpose", "expand"]
__all__ = ["reshape", "permute", "transpose"]
