"""Shape ops: reshape, permute, expand, cat, split, flip, pad, tril, diagonal, …

View ops (reshape where NumPy gives a view, permute, transpose, expand, squeeze, unsqueeze,
narrow, select, split, unbind, diagonal) return tensors that share their base's memory and
version counter, as in PyTorch. Those that are basic indices of their base (squeeze, unsqueeze,
narrow, select, split, chunk, unbind) also record that index, so that an in-place op on them can
update the base's graph; the others refuse in-place ops on graph tensors with a clear error.

Most ops here are compositions of a handful of primitives: Reshape, Permute, Expand, Cat, Stack,
Split, Unbind, Flip, Roll, ConstantPad, Tril/Triu and Diagonal/DiagEmbed (plus getitem from
index.py, which also does reflect/replicate/circular padding).
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from .. import backend
from ..autograd.engine import _link_view
from ..backend import array_module
from ..tensor import Size, Tensor
from . import tensor_numpy
from ._core import (
    Op,
    canonical_dim,
    canonical_dims,
    cast,
    check_same_device,
    result_type,
    shape_arg,
)

_ALL = slice(None)


# ------------------------------------------------------------------------------------- helpers
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


def _gives_view(a, shape) -> bool:
    """Whether reshaping array `a` to `shape` can be done without copying."""
    if a.flags.c_contiguous or a.size == 0:
        return True
    if isinstance(a, np.ndarray):
        try:
            np.reshape(a, shape, copy=False)
        except ValueError:
            return False
        return True
    return bool(array_module(a).may_share_memory(a, a.reshape(shape)))


def _record_index(out: Tensor, input: Tensor, idx: tuple) -> Tensor:
    """Note that view `out` is input[idx] (a basic index), so that an in-place op on `out` can
    replay it on the base (``_core._rebase_view``). Views of views that are not basic indices of
    their base keep no index."""
    if out is input:
        return out
    if input._base is None:
        out._view_idx = (idx,)
    elif input._view_idx is not None:
        out._view_idx = input._view_idx + (idx,)
    return out


def _along(axis: int, item) -> tuple:
    """The basic index that applies `item` (an int or a slice) to one axis."""
    return (_ALL,) * axis + (item, Ellipsis)


def _dims_arg(dims) -> tuple:
    """Accept f(0, 1), f((0, 1)), f([0, 1]) and f(0) alike."""
    if len(dims) == 1 and not isinstance(dims[0], numbers.Integral):
        dims = dims[0]
    return tuple(int(d) for d in dims)


def _sizes_str(shape) -> str:
    return str(list(shape))


# ---------------------------------------------------------------------------- reshape and views
class Reshape(Op):
    """y = x with another shape, not a view of x (NumPy copied, or x is an op's fresh
    result);  gx = gy reshaped back"""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.shape), None


class ReshapeView(Reshape):
    """y = x viewed with another shape (shares x's memory);  gx = gy reshaped back"""

    is_view = True


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


def _reshape(input: Tensor, shape: tuple) -> Tensor:
    if shape == input._data.shape:
        return input
    op = ReshapeView if _gives_view(input._data, shape) else Reshape
    return op.apply(input, shape)


def reshape_new(t: Tensor, shape: tuple) -> Tensor:
    """Reshape a tensor that an op has just made (nobody else holds it): the result is not
    recorded as a view, so in-place ops on it are as free as on any op's output."""
    if shape == t._data.shape:
        return t
    return Reshape.apply(t, shape)


def _view_shape(input: Tensor, shape: tuple, idx: tuple) -> Tensor:
    """A reshape that only adds or removes size-1 dims: always a view, and input[idx]."""
    if shape == input._data.shape:
        return input
    return _record_index(ReshapeView.apply(input, shape), input, idx)


def reshape(input: Tensor, *shape) -> Tensor:
    """`input` with the given shape (one entry may be -1); a view when NumPy can make one, else
    a copy, like PyTorch."""
    return _reshape(input, _infer_shape(shape_arg(shape), input._data.size))


def view(input: Tensor, *shape) -> Tensor:
    """Like reshape (PyTorch refuses non-contiguous inputs, chainrule copies where it must).

    ``view(dtype)`` reinterprets the bytes as another dtype, as in PyTorch: the last dim scales
    with the ratio of element sizes, and the result carries no gradient.
    """
    if len(shape) == 1 and not isinstance(shape[0], numbers.Integral | tuple | list | Size):
        return _view_dtype(input, backend.as_dtype(shape[0]))
    return reshape(input, *shape)


def _view_dtype(input: Tensor, dtype) -> Tensor:
    if dtype == input._data.dtype:
        return input
    a = input._data
    old, new = a.dtype.itemsize, dtype.itemsize
    if old != new and (a.ndim == 0 or (a.shape[-1] * old) % new or a.strides[-1] != old):
        raise RuntimeError(
            f"view(dtype): self.size(-1) must be divisible by {new // old if new > old else 1} "
            f"to view {backend.dtype_name(a.dtype)} as {backend.dtype_name(dtype)} (different "
            f"element sizes), and the last dim must be contiguous; got shape {list(a.shape)}"
        )
    out = Tensor._make(a.view(dtype))
    _link_view(out, input)
    return out


def view_as(input: Tensor, other: Tensor) -> Tensor:
    return view(input, other.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    return reshape(input, other.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one (a 0-d tensor becomes 1-d)."""
    n = input._data.ndim
    if n == 0:
        return _reshape(input, (1,))
    s, e = canonical_dim(start_dim, n), canonical_dim(end_dim, n)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input._data.shape
    return _reshape(input, shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :])


def ravel(input: Tensor) -> Tensor:
    return _reshape(input, (input._data.size,))


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dim `dim` into `sizes` (one entry may be -1)."""
    d = canonical_dim(dim, input._data.ndim)
    n = input._data.shape[d]
    sizes = tuple(int(s) for s in sizes)
    try:
        sizes = _infer_shape(sizes, n)
    except RuntimeError:
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({n}) in the input tensor"
        ) from None
    shape = input._data.shape
    return _reshape(input, shape[:d] + sizes + shape[d + 1 :])


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims: all of them, or those among `dim` (an int or a tuple)."""
    shape = input._data.shape
    n = len(shape)
    dims = range(n) if dim is None else canonical_dims(dim, n)  # a 0-d tensor takes 0 or -1
    drop = {d for d in dims if d < n and shape[d] == 1}
    idx = tuple(0 if d in drop else _ALL for d in range(len(shape))) + (Ellipsis,)
    return _view_shape(input, tuple(n for d, n in enumerate(shape) if d not in drop), idx)


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at `dim` (-1 appends)."""
    n = input._data.ndim
    d = canonical_dim(dim, n + 1)
    shape = input._data.shape
    return _view_shape(input, shape[:d] + (1,) + shape[d:], (_ALL,) * d + (None, Ellipsis))


def permute(input: Tensor, *dims) -> Tensor:
    n = input._data.ndim
    dims = _dims_arg(dims)
    if len(dims) != n:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions i.e. input.dim() = {n} is not equal "
            f"to len(dims) = {len(dims)}"
        )
    dims = tuple(canonical_dim(d, n) for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a view)."""
    n = input._data.ndim
    d0, d1 = canonical_dim(dim0, n), canonical_dim(dim1, n)
    if n < 2:
        return input
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, tuple(dims))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose of a matrix; 0-d and 1-d tensors come back as they are."""
    if input._data.ndim > 2:
        raise RuntimeError(
            f"t() expects a tensor with <= 2 dimensions, but self is {input._data.ndim}D; use "
            ".mT or transpose(-2, -1) for batches of matrices, or .permute(...)"
        )
    return transpose(input, 0, -1)


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dims `source` to positions `destination` (ints or sequences), keeping the order of
    the others."""
    n = input._data.ndim
    src = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    dst = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should "
            f"contain the same number of dims as destination ({list(dst)} dims)"
        )
    src = tuple(canonical_dim(d, n) for d in src)
    dst = tuple(canonical_dim(d, n) for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)}) or `destination`")
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    if order == list(range(n)):
        return input
    return Permute.apply(input, tuple(order))


moveaxis = movedim


# ------------------------------------------------------------------------------- broadcasting
def expand(input: Tensor, *sizes) -> Tensor:
    """A read-only view broadcasting size-1 dims (and new leading dims) to `sizes`; -1 keeps a
    dim's size."""
    sizes = shape_arg(sizes)
    shape = input._data.shape
    n, lead = len(sizes), len(sizes) - input._data.ndim
    if lead < 0:
        raise RuntimeError(
            f"expand: the number of sizes provided ({n}) must be greater or equal to the number "
            f"of dimensions in the tensor ({input._data.ndim})"
        )
    target = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                    f"non-existing dimension {i}"
                )
            target.append(s)
            continue
        have = shape[i - lead]
        if s == -1:
            s = have
        elif have != 1 and s != have:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({have}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                f"{list(shape)}"
            )
        target.append(s)
    target = tuple(target)
    if target == shape:
        return input
    return Expand.apply(input, target)


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    return expand(input, other.shape)


def broadcast_to(input: Tensor, size) -> Tensor:
    return expand(input, tuple(size))


def broadcast_shapes(*shapes) -> Size:
    """The shape that tensors of these shapes broadcast to."""
    shapes = [(s,) if isinstance(s, numbers.Integral) else tuple(s) for s in shapes]
    try:
        return Size(np.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"shapes {shapes} cannot be broadcast to a single shape") from None


def broadcast_tensors(*tensors) -> tuple:
    """Expand all tensors to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(t.shape for t in tensors))
    return tuple(expand(t, shape) for t in tensors)


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile `input` sizes[i] times along dim i (PyTorch's repeat, which is NumPy's tile; extra
    sizes add leading dims)."""
    sizes = shape_arg(sizes)
    n = input._data.ndim
    if len(sizes) < n:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            f"of tensor (repeat dims {list(sizes)}, tensor shape {list(input.shape)})"
        )
    shape = (1,) * (len(sizes) - n) + input._data.shape
    # (1, s0, 1, s1, …) broadcast to (r0, s0, r1, s1, …) and merged: each dim tiled r times
    paired = tuple(v for s in shape for v in (1, s))
    tiled = tuple(v for r, s in zip(sizes, shape) for v in (r, s))
    x = expand(_reshape(input, paired), tiled)
    return _reshape(x, tuple(r * s for r, s in zip(sizes, shape)))


def tile(input: Tensor, dims) -> Tensor:
    """Like repeat; fewer dims than the tensor's are padded with 1s in front."""
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    dims = (1,) * (input._data.ndim - len(dims)) + dims
    return repeat(input, dims)


# ------------------------------------------------------------------------------- cat and stack
class Cat(Op):
    """y = [x0, x1, …] joined along an axis;  gxi = gy's slice that xi filled"""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.sizes = [x.shape[axis] for x in xs]
        return array_module(xs[0]).concatenate(xs, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        gxs = [None]
        start = 0
        for i, n in enumerate(ctx.sizes):
            if ctx.needs_input_grad[i + 1]:
                gxs.append(gy[(_ALL,) * ctx.axis + (slice(start, start + n),)])
            else:
                gxs.append(None)
            start += n
        return tuple(gxs)


class Stack(Op):
    """y = [x0, x1, …] stacked along a new axis;  gxi = gy[…, i, …]"""

    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        return array_module(xs[0]).stack(xs, axis=axis)

    @staticmethod
    def backward(ctx, gy):
        gxs = [None]
        for i in range(len(ctx.next) - 1):
            needed = ctx.needs_input_grad[i + 1]
            gxs.append(gy[(_ALL,) * ctx.axis + (i,)] if needed else None)
        return tuple(gxs)


def _tensor_list(tensors, name: str) -> list:
    if isinstance(tensors, Tensor):
        raise TypeError(
            f"{name}(): argument 'tensors' must be a tuple or list of Tensors, not Tensor "
            "(wrap it: [t])"
        )
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(
                f"{name}(): expected a list of Tensors, but element {i} is a {type(t).__name__}"
            )
    check_same_device(*tensors)
    dt = result_type(*tensors) if len(tensors) > 1 else tensors[0]._data.dtype
    return [t if t._data.dtype == dt else cast(t, dt) for t in tensors]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; the others must match. Dtypes promote as in
    PyTorch; 1-d empty tensors are skipped (PyTorch's legacy rule)."""
    tensors = _tensor_list(tensors, "torch.cat")
    full = [(i, t) for i, t in enumerate(tensors) if t._data.shape != (0,)]
    if not full:
        return Cat.apply(0, *tensors)
    for i, t in full:
        if t._data.ndim == 0:
            raise RuntimeError(
                f"zero-dimensional tensor (at position {i}) cannot be concatenated; use stack, "
                "or reshape it to 1-d first"
            )
    ref = full[0][1]._data
    d = canonical_dim(dim, ref.ndim)
    for i, t in full:
        shape = t._data.shape
        if len(shape) != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {len(shape)}"
            )
        for k in range(ref.ndim):
            if k != d and shape[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[k]} but got size {shape[k]} for tensor number {i} in the list."
                )
    return Cat.apply(d, *(t for _, t in full))


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join equally shaped tensors along a new dim."""
    tensors = _tensor_list(tensors, "stack")
    shape = tensors[0]._data.shape
    for i, t in enumerate(tensors):
        if t._data.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {_sizes_str(shape)} at "
                f"entry 0 and {_sizes_str(t._data.shape)} at entry {i}"
            )
    return Stack.apply(canonical_dim(dim, len(shape) + 1), *tensors)


def atleast_1d(*tensors):
    """Each tensor with at least 1 dim (a 0-d one becomes shape (1,))."""
    return _atleast(tensors, lambda t: _reshape(t, (1,)) if t._data.ndim == 0 else t)


def atleast_2d(*tensors):
    """Each tensor with at least 2 dims: (n,) becomes (1, n)."""
    return _atleast(tensors, lambda t: _reshape(t, (1,) * (2 - t._data.ndim) + t._data.shape))


def atleast_3d(*tensors):
    """Each tensor with at least 3 dims: (n,) becomes (1, n, 1), (m, n) becomes (m, n, 1)."""

    def lift(t):
        shape = t._data.shape
        if len(shape) == 0:
            shape = (1, 1, 1)
        elif len(shape) == 1:
            shape = (1, shape[0], 1)
        elif len(shape) == 2:
            shape = shape + (1,)
        return _reshape(t, shape)

    return _atleast(tensors, lift)


def _atleast(tensors, fn):
    if len(tensors) == 1 and isinstance(tensors[0], Tensor):
        return fn(tensors[0])
    if len(tensors) == 1:
        tensors = tensors[0]
    return tuple(fn(t) for t in tensors)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """cat along dim 1 (dim 0 for 1-d tensors)."""
    tensors = atleast_1d(*tensors)
    tensors = (tensors,) if isinstance(tensors, Tensor) else tensors
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """cat along dim 0 of the tensors made at least 2-d."""
    tensors = atleast_2d(*tensors)
    return cat((tensors,) if isinstance(tensors, Tensor) else tensors, 0)


row_stack = vstack


def dstack(tensors: Sequence[Tensor]) -> Tensor:
    """cat along dim 2 of the tensors made at least 3-d."""
    tensors = atleast_3d(*tensors)
    return cat((tensors,) if isinstance(tensors, Tensor) else tensors, 2)


def column_stack(tensors: Sequence[Tensor]) -> Tensor:
    """hstack of the tensors with 0-d and 1-d ones made columns."""
    cols = [_reshape(t, (t._data.size, 1)) if t._data.ndim < 2 else t for t in tensors]
    return cat(cols, 1)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-d tensors; indexing 'ij' (PyTorch's default) or 'xy'."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing is None:
        warnings.warn(
            "torch.meshgrid: in an upcoming release, it will be required to pass the indexing "
            "argument. (chainrule uses indexing='ij', PyTorch's default.)",
            UserWarning,
            stacklevel=2,
        )
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(
            f"torch.meshgrid: indexing must be one of 'xy' or 'ij', but received: {indexing}"
        )
    flat = [_reshape(t, (t._data.size,)) for t in tensors]
    xy = indexing == "xy" and len(flat) >= 2
    if xy:  # 'xy' is 'ij' with the first two inputs (and outputs) swapped
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t._data.size for t in flat)
    n = len(flat)
    grids = [
        expand(_reshape(t, (1,) * i + (shape[i],) + (1,) * (n - i - 1)), shape)
        for i, t in enumerate(flat)
    ]
    if xy:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


# ----------------------------------------------------------------------- split, chunk, unbind
class Split(Op):
    """(y0, y1, …) = consecutive slices of x along an axis (views);  gx = [gy0, gy1, …] joined"""

    @staticmethod
    def forward(ctx, x, axis, bounds):
        ctx.axis = axis
        return tuple(x[_along(axis, slice(a, b))] for a, b in bounds)

    @staticmethod
    def backward(ctx, *gys):
        return array_module(gys[0]).concatenate(gys, axis=ctx.axis), None, None


class Unbind(Op):
    """(y0, y1, …) = x[…, i, …] for each i along an axis (views);  gx = [gy0, gy1, …] stacked"""

    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return tuple(x[_along(axis, i)] for i in range(x.shape[axis]))

    @staticmethod
    def backward(ctx, *gys):
        return array_module(gys[0]).stack(gys, axis=ctx.axis), None


def _link_pieces(pieces: tuple, input: Tensor, idxs) -> tuple:
    for p, idx in zip(pieces, idxs):
        if isinstance(p, Tensor):
            _link_view(p, input)
            _record_index(p, input, idx)
    return pieces


def _split_bounds(input: Tensor, bounds: list, axis: int) -> tuple:
    pieces = Split.apply(input, axis, bounds)
    return _link_pieces(pieces, input, [_along(axis, slice(a, b)) for a, b in bounds])


def _check_1d(input: Tensor, name: str) -> None:
    if input._data.ndim == 0:
        raise RuntimeError(f"{name} expects at least a 1-dimensional tensor")


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of consecutive pieces along `dim`: of split_size each (the last may be smaller), or
    of the sizes in a list."""
    _check_1d(tensor, "split")
    axis = canonical_dim(dim, tensor._data.ndim)
    n = tensor._data.shape[axis]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n != 0):
            raise RuntimeError(
                f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
            )
        starts = range(0, n, size) if n else [0]
        bounds = [(s, min(s + size, n)) for s in starts]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's "
                f"size at dimension {dim}), but got split_sizes={sizes}"
            )
        ends = np.cumsum([0] + sizes).tolist()
        bounds = list(zip(ends[:-1], ends[1:]))
    return _split_bounds(tensor, bounds, axis)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into `chunks` pieces of ceil(n / chunks) (possibly fewer pieces, like PyTorch)."""
    _check_1d(input, "chunk")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    n = input._data.shape[canonical_dim(dim, input._data.ndim)]
    if n == 0:  # PyTorch: `chunks` empty pieces
        return split(input, [0] * chunks, dim)
    return split(input, -(-n // chunks), dim)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Split into `sections` nearly equal pieces (the first n % sections one longer), or at the
    given indices, like numpy.array_split."""
    _check_1d(input, "tensor_split")
    axis = canonical_dim(dim, input._data.ndim)
    n = input._data.shape[axis]
    if isinstance(indices_or_sections, Tensor):
        a = indices_or_sections._data
        indices_or_sections = int(a) if a.ndim == 0 else a.tolist()
    if isinstance(indices_or_sections, numbers.Integral):
        k = int(indices_or_sections)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        sizes = [n // k + 1] * (n % k) + [n // k] * (k - n % k)
        ends = np.cumsum([0] + sizes).tolist()
        return _split_bounds(input, list(zip(ends[:-1], ends[1:])), axis)
    cuts = [0] + [int(i) for i in indices_or_sections] + [n]
    bounds = [slice(a, b).indices(n)[:2] for a, b in zip(cuts[:-1], cuts[1:])]
    bounds = [(a, max(a, b)) for a, b in bounds]
    if all(b0[1] == b1[0] for b0, b1 in zip(bounds[:-1], bounds[1:])):
        return _split_bounds(input, bounds, axis)
    from .index import getitem  # overlapping pieces: one slice each

    return tuple(getitem(input, _along(axis, slice(a, b))) for a, b in bounds)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along `dim`, with that dim removed (views)."""
    _check_1d(input, "unbind")
    axis = canonical_dim(dim, input._data.ndim)
    pieces = Unbind.apply(input, axis)
    return _link_pieces(pieces, input, [_along(axis, i) for i in range(len(pieces))])


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """The view input[…, start:start+length, …] along `dim`."""
    from .index import getitem

    _check_1d(input, "narrow()")
    axis = canonical_dim(dim, input._data.ndim)
    n = input._data.shape[axis]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(
            f"start out of range (expected to be in range of [{-n}, {n}], but got {start})"
        )
    if start < 0:
        start += n
    if length < 0 or start + length > n:
        raise RuntimeError(
            f"start ({start}) + length ({length}) exceeds dimension size ({n})."
            if length >= 0
            else "narrow(): length must be non-negative."
        )
    return getitem(input, _along(axis, slice(start, start + length)))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The view input[…, index, …] along `dim` (that dim removed)."""
    from .index import getitem

    _check_1d(input, "select()")
    axis = canonical_dim(dim, input._data.ndim)
    n = input._data.shape[axis]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size "
            f"{_sizes_str(input._data.shape)} at dimension {dim}"
        )
    return getitem(input, _along(axis, index))


# ---------------------------------------------------------------------------- flip and roll
class Flip(Op):
    """y = x reversed along axes (a copy, as in PyTorch);  gx = gy reversed back"""

    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return array_module(x).flip(x, axes).copy()

    @staticmethod
    def backward(ctx, gy):
        return array_module(gy).flip(gy, ctx.axes), None


class Roll(Op):
    """y = x shifted cyclically along axes;  gx = gy shifted back"""

    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts = shifts
        ctx.axes = axes
        return array_module(x).roll(x, shifts, axes)

    @staticmethod
    def backward(ctx, gy):
        back = tuple(-s for s in ctx.shifts)
        return array_module(gy).roll(gy, back, ctx.axes), None, None


def flip(input: Tensor, *args, dims=None) -> Tensor:
    """Reverse the order of elements along `dims`: flip(x, (0, 1)), x.flip(0, 1) or
    flip(x, dims=0)."""
    dims = _dims_arg(args if dims is None else (dims,))
    axes = canonical_dims(dims, input._data.ndim) if dims and input._data.ndim else ()
    return Flip.apply(input, axes)


def fliplr(input: Tensor) -> Tensor:
    """Reverse dim 1 (left/right); needs at least 2 dims."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input: Tensor) -> Tensor:
    """Reverse dim 0 (up/down); needs at least 1 dim."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements cyclically by `shifts` along `dims` (the flattened tensor when None)."""
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(
                f"roll: shifts ({list(shifts)}) must be a single number when dims is None"
            )
        flat = _reshape(input, (input._data.size,))
        return reshape_new(Roll.apply(flat, (int(shifts[0]),), (0,)), input._data.shape)
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(
            f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}"
        )
    n = input._data.ndim
    axes = tuple(canonical_dim(d, n) for d in dims)
    if n == 0:
        return Roll.apply(input, (), ())
    return Roll.apply(input, tuple(int(s) for s in shifts), axes)


# ------------------------------------------------------------------------------------ padding
class ConstantPad(Op):
    """y = x surrounded by `value` (widths ≥ 0 per axis);  gx = gy's interior"""

    @staticmethod
    def forward(ctx, x, widths, value):
        ctx.widths = widths
        return array_module(x).pad(x, widths, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, gy):
        inner = tuple(slice(a, n - b) for (a, b), n in zip(ctx.widths, gy.shape))
        return gy[inner], None, None


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value=None) -> Tensor:
    """torch.nn.functional.pad: `pad` lists (left, right) widths from the LAST dim backwards,
    e.g. (1, 1, 2, 0) pads the last dim by 1 on each side and the one before by 2 on top.

    Args:
        mode: 'constant' (fill with `value`, default 0; negative widths crop), 'reflect'
            (mirror without repeating the edge), 'replicate' (repeat the edge) or 'circular'
            (wrap around).
    """
    pad = [int(p) for p in pad]
    n = input._data.ndim
    if len(pad) % 2 or len(pad) // 2 > n:
        raise RuntimeError(
            f"Padding length must be divisible by 2 and at most twice the number of dims "
            f"({n}), but got pad of length {len(pad)}"
        )
    widths = [(0, 0)] * n
    for k in range(len(pad) // 2):
        widths[n - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    if mode == "constant":
        return _constant_pad(input, widths, 0 if value is None else value)
    if mode not in _PAD_MODES:
        raise NotImplementedError(
            f"Unrecognised padding mode {mode}: use 'constant', 'reflect', 'replicate' or "
            "'circular'"
        )
    k = len(pad) // 2
    if k not in (1, 2, 3) or n not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {n}D input tensor.\nSupported "
            "combinations for non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads "
            "last dimension)\n  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n  - "
            "4D or 5D input: padding size = 6 (pads last 3 dimensions)"
        )
    from .index import getitem

    out = input
    for d in range(n - k, n):
        left, right = widths[d]
        size = input._data.shape[d]
        if mode == "reflect" and (left >= size or right >= size):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({left}, {right}) at dimension {d} of input "
                f"{_sizes_str(input._data.shape)}"
            )
        if mode == "circular" and (left > size or right > size):
            raise RuntimeError(
                "Padding value causes wrapping around more than once: padding "
                f"({left}, {right}) at dimension {d} of input {_sizes_str(input._data.shape)}"
            )
        if left == right == 0:
            continue
        if min(left, right) < 0:
            raise NotImplementedError(f"pad(mode='{mode}') with negative widths")
        # which source element each output position copies; the gradient scatter-adds back
        src = np.pad(np.arange(size), (left, right), mode=_PAD_MODES[mode])
        out = getitem(out, (_ALL,) * d + (array_module(input._data).asarray(src),))
    return out


def _constant_pad(input: Tensor, widths: list, value) -> Tensor:
    from .index import getitem

    if any(a < 0 or b < 0 for a, b in widths):  # negative widths crop first
        crop = tuple(
            slice(max(-a, 0), n - max(-b, 0)) for (a, b), n in zip(widths, input._data.shape)
        )
        input = getitem(input, crop)
        widths = [(max(a, 0), max(b, 0)) for a, b in widths]
    if all(a == 0 and b == 0 for a, b in widths):
        return input
    return ConstantPad.apply(input, tuple(widths), value)


# ------------------------------------------------------------------------- triangles, diagonals
class Tril(Op):
    """y = x with the entries above diagonal k zeroed;  gx = tril(gy, k)"""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return array_module(x).tril(x, k)

    @staticmethod
    def backward(ctx, gy):
        return array_module(gy).tril(gy, ctx.k), None


class Triu(Op):
    """y = x with the entries below diagonal k zeroed;  gx = triu(gy, k)"""

    @staticmethod
    def forward(ctx, x, k):
        ctx.k = k
        return array_module(x).triu(x, k)

    @staticmethod
    def backward(ctx, gy):
        return array_module(gy).triu(gy, ctx.k), None


def _diag_view(a, offset: int, a1: int, a2: int):
    """A writeable view of a's diagonal along (a1, a2), the diagonal as the last dim (NumPy's
    own diagonal is read-only)."""
    xp = array_module(a)
    if not isinstance(a, np.ndarray):
        return xp.diagonal(a, offset, a1, a2)
    s1, s2 = (0, offset) if offset >= 0 else (-offset, 0)
    length = max(0, min(a.shape[a1] - s1, a.shape[a2] - s2))
    if length == 0:
        return xp.diagonal(a, offset, a1, a2).copy()
    corner = a[tuple(s1 if d == a1 else s2 if d == a2 else _ALL for d in range(a.ndim)) + (...,)]
    shape = corner.shape + (length,)
    strides = corner.strides + (a.strides[a1] + a.strides[a2],)
    return np.lib.stride_tricks.as_strided(corner, shape, strides)


class Diagonal(Op):
    """y = the diagonal of x along two axes (a view, the diagonal last);  gx = zeros with that
    diagonal = gy"""

    is_view = True

    @staticmethod
    def forward(ctx, x, offset, a1, a2):
        ctx.shape = x.shape
        ctx.args = (offset, a1, a2)
        return _diag_view(x, offset, a1, a2)

    @staticmethod
    def backward(ctx, gy):
        return _diag_embed_into(gy, ctx.shape, *ctx.args), None, None, None


class DiagEmbed(Op):
    """y = zeros(shape) with the diagonal along two axes = v;  gv = that diagonal of gy"""

    @staticmethod
    def forward(ctx, v, shape, offset, a1, a2):
        ctx.args = (offset, a1, a2)
        return _embed(v, shape, offset, a1, a2)

    @staticmethod
    def backward(ctx, gy):
        return _diagonal_of(gy, *ctx.args), None, None, None, None


def _embed(v, shape, offset, a1, a2):
    y = array_module(v).zeros(shape, dtype=v.dtype)
    _diag_view(y, offset, a1, a2)[...] = v
    return y


def _diag_embed_into(v, shape, offset, a1, a2):
    """zeros(shape) with v on a diagonal, on arrays or (differentiably) on Tensors."""
    if isinstance(v, Tensor):
        return DiagEmbed.apply(v, shape, offset, a1, a2)
    return _embed(v, shape, offset, a1, a2)


def _diagonal_of(a, offset, a1, a2):
    if isinstance(a, Tensor):
        return Diagonal.apply(a, offset, a1, a2)
    return _diag_view(a, offset, a1, a2)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (entries j - i <= diagonal), the rest 0."""
    _check_matrix(input, "tril")
    return Tril.apply(input, int(diagonal))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (entries j - i >= diagonal), the rest 0."""
    _check_matrix(input, "triu")
    return Triu.apply(input, int(diagonal))


def _check_matrix(input: Tensor, name: str) -> None:
    if input._data.ndim < 2:
        raise RuntimeError(
            f"{name}: input tensor must have at least 2 dimensions (got shape "
            f"{_sizes_str(input._data.shape)})"
        )


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The view of the diagonal `offset` (above the main one when > 0) of the matrices spanned
    by dims dim1 and dim2; the diagonal becomes the last dim."""
    n = input._data.ndim
    a1, a2 = canonical_dim(dim1, n), canonical_dim(dim2, n)
    if a1 == a2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, int(offset), a1, a2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (in dims dim1, dim2 of a tensor with one more dim) whose diagonal `offset` is
    the last dim of `input`, zero elsewhere."""
    n = input._data.ndim + 1
    a1, a2 = canonical_dim(dim1, n), canonical_dim(dim2, n)
    if a1 == a2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    size = (input._data.shape[-1] if input._data.ndim else 1) + abs(int(offset))
    batch = list(input._data.shape[:-1])
    for a in sorted((a1, a2)):
        batch.insert(a, size)
    v = input if input._data.ndim else _reshape(input, (1,))
    return DiagEmbed.apply(v, tuple(batch), int(offset), a1, a2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """A 1-d tensor -> the square matrix with it on diagonal `diagonal`; a 2-d tensor -> a copy
    of that diagonal."""
    if input._data.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input._data.ndim == 2:
        from .conversion import clone

        return clone(Diagonal.apply(input, int(diagonal), 0, 1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input._data.ndim}D")


# ----------------------------------------------------------------- NumPy names for backward rules
def _np_reshape(x, shape):
    return reshape(x, shape)


def _np_transpose(x, axes=None):
    return permute(x, tuple(reversed(range(x.ndim))) if axes is None else tuple(axes))


def _np_broadcast_to(x, shape):
    return expand(x, tuple(shape))


def _np_concatenate(arrays, axis=0):
    return cat(list(arrays), axis)


def _np_stack(arrays, axis=0):
    return stack(list(arrays), axis)


def _np_flip(m, axis=None):
    return flip(m, tuple(range(m.ndim)) if axis is None else axis)


def _np_roll(a, shift, axis=None):
    return roll(a, shift, axis)


def _np_tril(m, k=0):
    return tril(m, k)


def _np_triu(m, k=0):
    return triu(m, k)


def _np_diagonal(a, offset=0, axis1=0, axis2=1):
    return diagonal(a, offset, axis1, axis2)


tensor_numpy.register(
    reshape=_np_reshape, transpose=_np_transpose, broadcast_to=_np_broadcast_to,
    concatenate=_np_concatenate, stack=_np_stack, flip=_np_flip, roll=_np_roll, tril=_np_tril,
    triu=_np_triu, diagonal=_np_diagonal, moveaxis=movedim,
    expand_dims=unsqueeze, squeeze=squeeze,
)  # fmt: skip

_FUNCTIONS = [
    "reshape", "flatten", "unflatten", "ravel", "squeeze", "unsqueeze", "permute", "transpose",
    "swapaxes", "swapdims", "t", "movedim", "moveaxis", "broadcast_to", "broadcast_tensors",
    "broadcast_shapes", "tile", "cat", "concat", "concatenate", "stack", "hstack", "vstack",
    "row_stack", "dstack", "column_stack", "atleast_1d", "atleast_2d", "atleast_3d", "meshgrid",
    "split", "chunk", "tensor_split", "unbind", "narrow", "select", "flip", "fliplr", "flipud",
    "roll", "tril", "triu", "diagonal", "diag_embed", "diag",
]  # fmt: skip
_METHODS_ONLY = ["view", "view_as", "reshape_as", "expand", "expand_as", "repeat"]
_NOT_METHODS = {
    "broadcast_tensors", "broadcast_shapes", "cat", "concat", "concatenate", "stack", "hstack",
    "vstack", "row_stack", "dstack", "column_stack", "atleast_1d", "atleast_2d", "atleast_3d",
    "meshgrid",
}  # fmt: skip

METHODS = [n for n in _FUNCTIONS if n not in _NOT_METHODS] + _METHODS_ONLY
__all__ = _FUNCTIONS
