"""Indexing: getitem/setitem, gather/scatter, masks, sorting and searching.

Everything that reads elements at positions is one primitive, ``GetItem`` (its gradient is a
scatter-add, so repeated indices add up); everything that writes them is ``SetItem`` (from
_core, shared with in-place setitem) or ``IndexAddZeros`` (an accumulating write). gather,
index_select, take, take_along_dim, masked_select, sort's values and topk's values are getitem
with an index tuple built from their arguments; scatter, index_copy, index_fill, masked_fill and
masked_scatter are a SetItem on a copy; scatter_add, index_add and put(accumulate=True) are an
IndexAddZeros added to the input.

Ops that return indices (sort, argsort, topk, nonzero, unique) give int64 tensors without graph.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .. import backend
from ..autograd import engine
from ..backend import array_module
from ..tensor import Tensor
from . import tensor_numpy
from ._core import (
    Op,
    SetItem,
    canonical_dim,
    cast,
    check_inplace,
    commit_inplace,
    is_array,
    writeable,
)
from .conversion import clone
from .shape import expand, reshape, reshape_new

_ALL = slice(None)

sort_return = namedtuple("sort", ["values", "indices"])
topk_return = namedtuple("topk", ["values", "indices"])
kthvalue_return = namedtuple("kthvalue", ["values", "indices"])


# ------------------------------------------------------------------------------ index parsing
def _is_basic(idx) -> bool:
    """Basic indices (ints, slices, ..., None) give NumPy views; arrays and masks give copies."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(i is None or i is Ellipsis or isinstance(i, slice) or type(i) is int for i in items)


def _with_ellipsis(idx) -> tuple:
    """A basic index that always gives an array view (x[0] of a 1-d array is a NumPy scalar,
    x[0, ...] a 0-d view): the form that views, CopySlices and SetItem work with."""
    items = idx if isinstance(idx, tuple) else (idx,)
    if any(i is Ellipsis for i in items):
        return items
    return items + (Ellipsis,)


_PLAIN = (int, slice, type(None), type(Ellipsis))


def _convert_index(idx, xp=np):
    """Tensors in an index become arrays (0-d integer ones Python ints); lists become integer
    or boolean arrays; uint8 masks become bool."""
    if type(idx) in _PLAIN:
        return idx
    if type(idx) is tuple:
        if all(type(i) in _PLAIN for i in idx):
            return idx
        return tuple(_convert_index(i, xp) for i in idx)
    if isinstance(idx, Tensor):
        a = idx._data
        if a.ndim == 0 and a.dtype.kind in "i":
            return int(a)
        if a.dtype == backend.uint8:
            a = a.astype(backend.bool_)
        return a if xp is np or not isinstance(a, np.ndarray) else xp.asarray(a)
    if isinstance(idx, list | range):
        a = np.asarray([_convert_index(i) for i in idx] if isinstance(idx, list) else idx)
        if a.size == 0:
            a = a.astype(np.int64)
        return a if xp is np else xp.asarray(a)
    if isinstance(idx, np.integer):
        return int(idx)
    if xp is not np and isinstance(idx, np.ndarray):
        return xp.asarray(idx)
    return idx


def _only_masks(idx) -> bool:
    """No integer arrays in the index: no position is written twice."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(not is_array(i) or i.dtype == np.bool_ for i in items)


def _check_index(x, idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    n_dims = sum(
        i.ndim if is_array(i) and i.dtype == np.bool_ else 1
        for i in items
        if i is not None and i is not Ellipsis
    )
    if n_dims > x.ndim:
        raise IndexError(
            f"too many indices for tensor of dimension {x.ndim} (got {n_dims}, shape "
            f"{tuple(x.shape)})"
        )


# ------------------------------------------------------------------------------ the primitives
class GetItem(Op):
    """y = x[idx];  gx = zeros with gx[idx] += gy (a scatter-add: repeated indices add up)"""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.shape = x.shape
        ctx.idx = idx
        y = x[idx]
        return y if is_array(y) else array_module(x).asarray(y)  # x[0-d int array] is a scalar

    @staticmethod
    def backward(ctx, gy):
        return index_add_zeros(ctx.shape, ctx.idx, gy), None


class _BasicGetItem(GetItem):
    """y = x[idx] for a basic index (a view of x)"""

    is_view = True


def _scatter_add_into_zeros(xp, shape, idx, v):
    gx = xp.zeros(shape, dtype=v.dtype)
    if _is_basic(idx) or _only_masks(idx):
        gx[idx] = v
        return gx
    flat = _flat_positions(xp, shape, idx)
    if flat is None:
        xp.add.at(gx, idx, v)
    else:  # add.at on 1-d data with 1-d indices is NumPy's fast path (~5x faster)
        xp.add.at(gx.reshape(-1), flat.reshape(-1), xp.broadcast_to(v, flat.shape).reshape(-1))
    return gx


def _is_int_array(i) -> bool:
    return is_array(i) and i.dtype.kind in "iu"


def _flat_positions(xp, shape, idx):
    """For the common advanced indices, the flat position in an array of `shape` of every
    element of x[idx] (None for other indices): integer arrays for all dims (gather, take,
    x[rows, cols]), or one integer array among full slices (index_select, x[rows])."""
    items = list(idx) if isinstance(idx, tuple) else [idx]
    if items and items[-1] is Ellipsis:
        items.pop()
    arrays = [k for k, i in enumerate(items) if _is_int_array(i)]
    if len(items) == len(shape) and len(arrays) == len(shape):
        return xp.ravel_multi_index(xp.broadcast_arrays(*items), shape, mode="wrap")
    if len(arrays) != 1 or len(items) > len(shape):
        return None
    k = arrays[0]
    if any(not isinstance(i, slice) or i != _ALL for j, i in enumerate(items) if j != k):
        return None
    a = items[k]
    n = shape[k]
    before, after = math.prod(shape[:k]), math.prod(shape[k + 1 :])
    pos = (a.reshape(1, -1, 1) % n if n else a.reshape(1, -1, 1)) * after
    pos = pos + xp.arange(before).reshape(-1, 1, 1) * (n * after) + xp.arange(after)
    return pos.reshape(shape[:k] + a.shape + shape[k + 1 :])


class IndexAddZeros(Op):
    """y = zeros(shape) with y[idx] += v;  gv = gy[idx]  (getitem's backward, differentiable)"""

    @staticmethod
    def forward(ctx, v, shape, idx):
        ctx.idx = idx
        return _scatter_add_into_zeros(array_module(v), shape, idx, v)

    @staticmethod
    def backward(ctx, gy):
        return gy[ctx.idx], None, None


def index_add_zeros(shape, idx, v):
    """zeros(shape) with [idx] += v, on arrays or (differentiably) on Tensors."""
    if isinstance(v, Tensor):
        return IndexAddZeros.apply(v, shape, idx)
    return _scatter_add_into_zeros(array_module(v), shape, idx, v)


# ---------------------------------------------------------------------------- getitem, setitem
def getitem(x: Tensor, index) -> Tensor:
    """x[index] with PyTorch's (and NumPy's) rules: basic indices give views, integer arrays and
    masks give copies; the gradient of repeated indices adds up."""
    idx = _convert_index(index, array_module(x._data))
    basic = _is_basic(idx)
    if basic:
        idx = _with_ellipsis(idx)
    try:
        out = (_BasicGetItem if basic else GetItem).apply(x, idx)
    except IndexError as e:
        _check_index(x, idx)
        raise IndexError(f"{e} (indexing a tensor of shape {tuple(x.shape)})") from None
    if basic:
        if x._base is None:
            out._view_idx = (idx,)
        elif x._view_idx is not None:  # a view of a view that was made by indexing
            out._view_idx = x._view_idx + (idx,)
    return out


def setitem_(x: Tensor, index, value) -> None:
    """x[index] = value, in place; differentiable with respect to x's old value and value."""
    xp = array_module(x._data)
    idx = _convert_index(index, xp)
    if _is_basic(idx):
        idx = _with_ellipsis(idx)
    if not isinstance(value, Tensor):
        value = _value_tensor(value, x)
    elif value.device != x.device:
        raise RuntimeError(
            f"setitem: value is on {value.device} but the tensor is on {x.device}; move it "
            "with .to(device) first"
        )
    if value._data.dtype != x._data.dtype:
        value = cast(value, x._data.dtype)
    value = _drop_leading_ones(value, x._data, idx)
    _check_writable(x, "setitem", value.requires_grad)
    if engine._grad_enabled and (x.requires_grad or value.requires_grad):
        if x._base is not None:
            # an in-place write into a view: the base must learn about it
            new = SetItem.apply(_detached_copy(x), value, idx)
            commit_inplace(x, new, "setitem")
            return
        out = SetItem.apply(x, value, idx)
        x.grad_fn = out.grad_fn
        x._output_nr = 0
        x.requires_grad = True
        x._vc.bump("setitem")
        return
    if not writeable(x):
        raise RuntimeError(
            "setitem on a tensor whose memory is read-only (an expanded or broadcast view): "
            "call .clone() first"
        )
    x._data[idx] = value._data
    x._vc.bump("setitem")


def _check_writable(x: Tensor, op: str, value_requires_grad: bool) -> None:
    """Refuse an in-place write into `x` before anything is written."""
    check_inplace(x, op)
    base = x._base
    if base is None or not engine._grad_enabled:
        return
    if base.requires_grad and base.grad_fn is None:
        raise RuntimeError(
            f"a view of a leaf Variable that requires grad is being used in an in-place "
            f"operation ({op}). Wrap parameter updates in `with torch.no_grad():`, or "
            ".clone() the tensor first."
        )
    if x._view_idx is None and (base.requires_grad or value_requires_grad):
        raise RuntimeError(
            f"{op}: in-place operation on a view (made by reshape/transpose/expand/diagonal…) "
            "of a tensor that requires grad is not supported by chainrule. Index with [] to "
            "make the view, use the out-of-place form, or .clone() the view first."
        )


def _commit(input: Tensor, out: Tensor, op: str) -> Tensor:
    _check_writable(input, op, out.requires_grad)
    return commit_inplace(input, out, op)


def _drop_leading_ones(value: Tensor, x, idx) -> Tensor:
    """x[i] = v with v of shape (1, 1, n): NumPy and PyTorch drop the leading 1s; the gradient
    of v must keep them, so reshape explicitly."""
    shape = value._data.shape
    if not shape or shape[0] != 1:
        return value
    target = x[idx].ndim
    if len(shape) <= target:
        return value
    lead = len(shape) - target
    if any(s != 1 for s in shape[:lead]):
        return value  # let NumPy raise its broadcasting error

    return reshape(value, shape[lead:])


def _detached_copy(x):
    t = Tensor._make(x._data.copy(), x.grad_fn, x._output_nr)
    t.requires_grad = x.requires_grad
    return t


def _value_tensor(value, like):
    xp = array_module(like._data)
    if isinstance(value, np.ndarray) and xp is not np:
        value = xp.asarray(value)
    return Tensor._make(xp.asarray(value, dtype=like._data.dtype))


def _put(input: Tensor, idx, value) -> Tensor:
    """A copy of input with copy[idx] = value (out of place; differentiable in both)."""
    if isinstance(value, Tensor) and value._data.dtype != input._data.dtype:
        value = cast(value, input._data.dtype)
    return SetItem.apply(clone(input), value, idx)


# --------------------------------------------------------------------- dims, indices, checks
def _index_array(index, name: str):
    """An integer Tensor (or list) as an integer array, with PyTorch's dtype error."""
    if not isinstance(index, Tensor):
        index = Tensor._make(np.asarray(index, dtype=np.int64))
    a = index._data
    if a.dtype.kind not in "iu":
        raise RuntimeError(
            f"{name}(): Expected dtype int64 for index, got {backend.dtype_name(a.dtype)}"
        )
    return a


def _check_bounds(a, n: int, dim: int, name: str, negative_ok: bool = False) -> None:
    """PyTorch refuses out-of-range indices where NumPy would wrap negative ones."""
    if not a.size:
        return
    lo, hi = int(a.min()), int(a.max())
    if lo >= (-n if negative_ok else 0) and hi < n:
        return
    bad = hi if hi >= n else lo
    raise IndexError(f"{name}(): index {bad} is out of bounds for dimension {dim} with size {n}")


def _gather_index(index, axis: int):
    """The index tuple that reads x[i0, …, index[i], …, ik] at every position i of `index`."""
    xp = array_module(index)
    nd = index.ndim
    grids = [
        xp.arange(n).reshape((1,) * d + (n,) + (1,) * (nd - d - 1))
        for d, n in enumerate(index.shape)
    ]
    grids[axis] = index
    return tuple(grids)


def _check_gather(input: Tensor, index, axis: int, name: str, src=None) -> None:
    shape = input._data.shape
    if index.ndim != max(len(shape), 1) and not (index.ndim == 0 and len(shape) == 0):
        raise RuntimeError(
            f"{name}(): Index tensor must have the same number of dimensions as input tensor "
            f"(index shape {list(index.shape)}, input shape {list(shape)})"
        )
    for d in range(index.ndim):
        if d != axis and len(shape) and index.shape[d] > shape[d]:
            raise RuntimeError(
                f"{name}(): Size does not match at dimension {d} expected index "
                f"{list(index.shape)} to be smaller than self {list(shape)} apart from "
                f"dimension {axis}"
            )
        if src is not None and src._data.ndim == index.ndim and index.shape[d] > src._data.shape[d]:
            raise RuntimeError(
                f"{name}(): Expected index {list(index.shape)} to be smaller than src "
                f"{list(src._data.shape)} in every dimension"
            )
    _check_bounds(index, shape[axis] if shape else 1, axis, name)


def _as_1d(input: Tensor):

    return reshape(input, (1,)) if input._data.ndim == 0 else input


def _restore(out: Tensor, input: Tensor) -> Tensor:
    """Undo _as_1d on a result that has the input's single element."""
    if input._data.ndim == 0 and out._data.shape == (1,):
        return reshape_new(out, ())
    return out


# --------------------------------------------------------------------------- reading by index
def index_select(input: Tensor, dim: int, index) -> Tensor:
    """The entries of `input` at positions `index` (1-d) along `dim`; repeats allowed."""
    a = _index_array(index, "index_select")
    if a.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    x = _as_1d(input)
    axis = canonical_dim(dim, x._data.ndim)
    _check_bounds(a, x._data.shape[axis], axis, "index_select")
    return _restore(GetItem.apply(x, (_ALL,) * axis + (a.reshape(-1),)), input)


def gather(input: Tensor, dim: int, index, *, sparse_grad: bool = False) -> Tensor:
    """out[i][j][k] = input[index[i][j][k]][j][k] (for dim=0, and so on): the entries chosen by
    `index` along `dim`; the output has index's shape."""
    a = _index_array(index, "gather")
    axis = canonical_dim(dim, input._data.ndim)
    _check_gather(input, a, axis, "gather")
    if input._data.ndim == 0:
        return GetItem.apply(_as_1d(input), (a,))
    return GetItem.apply(input, _gather_index(a, axis))


def take(input: Tensor, index) -> Tensor:
    """The entries of the flattened input at `index` (any shape; negative counts from the end)."""
    a = _index_array(index, "take")
    n = input._data.size
    _check_bounds(a, n, 0, "take", negative_ok=True)
    return GetItem.apply(reshape(input, (n,)), (a,))


def take_along_dim(input: Tensor, indices, dim: int | None = None) -> Tensor:
    """gather with broadcasting: `indices` and `input` broadcast in every dim but `dim`
    (both flattened when dim is None)."""
    a = _index_array(indices, "take_along_dim")
    if dim is None:
        flat = reshape(input, (input._data.size,))
        return gather(flat, 0, Tensor._make(a.reshape(-1)))
    n = input._data.ndim
    axis = canonical_dim(dim, n)
    if a.ndim != n:
        raise RuntimeError(
            f"torch.take_along_dim(): input and indices should have the same number of "
            f"dimensions, but got {n} dimensions for input, and {a.ndim} dimensions for indices"
        )
    shape_in, shape_ix = list(input._data.shape), list(a.shape)
    shape_in[axis] = shape_ix[axis] = 1
    common = np.broadcast_shapes(tuple(shape_in), tuple(shape_ix))
    x_shape = common[:axis] + (input._data.shape[axis],) + common[axis + 1 :]
    ix_shape = common[:axis] + (a.shape[axis],) + common[axis + 1 :]
    a = array_module(a).broadcast_to(a, ix_shape)
    return gather(expand(input, x_shape), axis, Tensor._make(a))


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The entries of `input` where `mask` (broadcast with it) is True, as a 1-d tensor."""

    m = _mask_array(mask, "masked_select")
    shape = np.broadcast_shapes(input._data.shape, m.shape)
    m = array_module(m).broadcast_to(m, shape)
    return GetItem.apply(expand(input, shape), (m,))


def _mask_array(mask, name: str):
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(
            f"{name} only supports boolean masks, but got mask with dtype "
            f"{backend.dtype_name(m.dtype)}"
        )
    return m


# --------------------------------------------------------------------------- writing by index
def _src_part(src: Tensor, index) -> Tensor:
    """src's leading corner of index's shape (scatter reads src only there)."""
    if src._data.shape == index.shape:
        return src
    return getitem(src, tuple(slice(0, n) for n in index.shape))


def _check_same_dtype(input: Tensor, src: Tensor, name: str) -> None:
    if src._data.dtype != input._data.dtype:
        raise RuntimeError(
            f"{name}(): Expected self.dtype to be equal to src.dtype (got "
            f"{backend.dtype_name(input._data.dtype)} and {backend.dtype_name(src._data.dtype)}); "
            "convert one of them with .to(dtype)"
        )


def scatter(input: Tensor, dim: int, index, src=None, value=None, *, reduce=None) -> Tensor:
    """A copy of input with out[index[i][j]][j] = src[i][j] (for dim=0, and so on); `src` a
    tensor or a number (also as value=). reduce='add' or 'multiply' combines instead of writing.
    Where index repeats a position, which write wins is unspecified (as in PyTorch)."""
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing the source: pass src (a Tensor) or value (a number)")
    a = _index_array(index, "scatter")
    axis = canonical_dim(dim, input._data.ndim)
    is_tensor = isinstance(src, Tensor)
    _check_gather(input, a, axis, "scatter", src if is_tensor else None)
    if is_tensor:
        _check_same_dtype(input, src, "scatter")
    if reduce == "add":
        if not is_tensor:
            src = _value_tensor(src, input).expand(a.shape)
        return scatter_add(input, dim, index, src)
    if reduce == "multiply":
        return _scatter_multiply(input, axis, a, src)
    if reduce is not None:
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}")
    x, a = _as_1d(input), a.reshape(-1) if a.ndim == 0 else a
    if is_tensor:
        src = _src_part(_as_1d(src), a)
    return _restore(_put(x, _gather_index(a, axis), src), input)


def _scatter_multiply(input, axis, a, src):
    """scatter(reduce='multiply'): no gradient, as in PyTorch."""
    x = input._data.copy()
    s = src._data if isinstance(src, Tensor) else src
    if is_array(s) and s.ndim:
        s = s[tuple(slice(0, n) for n in a.shape)]
    array_module(x).multiply.at(x, _gather_index(a, axis), s)
    return Tensor._make(x)


def scatter_add(input: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """A copy of input with out[index[i][j]][j] += src[i][j] (for dim=0, and so on); repeated
    positions add up."""
    a = _index_array(index, "scatter_add")
    axis = canonical_dim(dim, input._data.ndim)
    _check_gather(input, a, axis, "scatter_add", src)
    _check_same_dtype(input, src, "scatter_add")
    x, a = _as_1d(input), a.reshape(-1) if a.ndim == 0 else a
    added = index_add_zeros(x._data.shape, _gather_index(a, axis), _src_part(_as_1d(src), a))
    return _restore(x + added, input)


def index_add(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """A copy of input with out[…, index[i], …] += alpha * source[…, i, …] along `dim`;
    repeated indices add up."""
    a = _index_array(index, "index_add")
    x = _as_1d(input)
    axis = canonical_dim(dim, x._data.ndim)
    _check_bounds(a, x._data.shape[axis], axis, "index_add")
    _check_same_dtype(input, source, "index_add")
    _check_source(x, axis, a, source, "index_add_")
    if alpha != 1:
        source = source * alpha
    src = _as_1d(source)
    out = x + index_add_zeros(x._data.shape, (_ALL,) * axis + (a.reshape(-1),), src)
    return _restore(out, input)


def _check_source(x: Tensor, axis: int, index, source: Tensor, name: str) -> None:
    """index_add/index_copy: source is input with dim `axis` replaced by len(index)."""
    expected = list(x._data.shape)
    expected[axis] = index.size
    got = list(source._data.shape) if source._data.ndim else [1]
    if got != expected:
        raise RuntimeError(
            f"{name}(): source tensor shape must match self tensor shape, excluding the "
            f"specified dimension. Got self.shape = {list(x._data.shape)} source.shape = "
            f"{list(source._data.shape)} (with {index.size} indices, source should have shape "
            f"{expected})"
        )


def index_copy(input: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """A copy of input with out[…, index[i], …] = source[…, i, …] along `dim`."""
    a = _index_array(index, "index_copy")
    x = _as_1d(input)
    axis = canonical_dim(dim, x._data.ndim)
    _check_bounds(a, x._data.shape[axis], axis, "index_copy")
    _check_same_dtype(input, source, "index_copy")
    _check_source(x, axis, a, source, "index_copy_")
    out = _put(x, (_ALL,) * axis + (a.reshape(-1),), _as_1d(source))
    return _restore(out, input)


def index_fill(input: Tensor, dim: int, index, value) -> Tensor:
    """A copy of input with the slices at `index` along `dim` set to `value` (a number or a
    0-d tensor, which gets the gradient of every filled entry)."""
    a = _index_array(index, "index_fill")
    x = _as_1d(input)
    axis = canonical_dim(dim, x._data.ndim)
    _check_bounds(a, x._data.shape[axis], axis, "index_fill")
    _check_scalar_value(value, "index_fill")
    return _restore(_put(x, (_ALL,) * axis + (a.reshape(-1),), value), input)


def _check_scalar_value(value, name: str) -> None:
    if isinstance(value, Tensor) and value._data.ndim:
        raise RuntimeError(
            f"{name} only supports a 0-dimensional value tensor, but got tensor with "
            f"{value._data.ndim} dimension(s)."
        )


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """A copy of input with `value` (a number or a 0-d tensor) where `mask` (broadcast) is True."""
    m = _mask_array(mask, "masked_fill_")
    _check_scalar_value(value, "masked_fill_")
    shape = np.broadcast_shapes(input._data.shape, m.shape)
    if m.shape != shape:
        m = array_module(m).broadcast_to(m, shape)
    return _put(expand(input, shape), m, value)


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """A copy of input whose entries where `mask` is True take source's elements in order."""

    m = _mask_array(mask, "masked_scatter_")
    shape = np.broadcast_shapes(input._data.shape, m.shape)
    m = array_module(m).broadcast_to(m, shape)
    k = int(m.sum())
    if source._data.size < k:
        raise RuntimeError(
            f"Number of elements of source < number of ones in mask ({source._data.size} < {k})"
        )
    flat = reshape(source, (source._data.size,))
    vals = flat if source._data.size == k else getitem(flat, slice(0, k))
    return _put(expand(input, shape), m, vals)


def put(input: Tensor, index, source: Tensor, accumulate: bool = False) -> Tensor:
    """A copy of input with the flattened entries at `index` set to (or, with accumulate,
    increased by) source's elements."""
    a = _index_array(index, "put").reshape(-1)
    n = input._data.size
    _check_bounds(a, n, 0, "put", negative_ok=True)
    flat = reshape(input, (n,))
    src = reshape(source, (source._data.size,))
    if accumulate:
        out = flat + index_add_zeros((n,), (a,), src)
    else:
        out = _put(flat, (a,), src)
    return reshape_new(out, input._data.shape)


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """A copy of input with out[indices] = values (or += values with accumulate, where
    repeated indices add up); `indices` is a tuple of index tensors."""
    idx = _convert_index(tuple(indices), array_module(input._data))
    if not isinstance(values, Tensor):
        values = _value_tensor(values, input)
    if accumulate:
        return input + index_add_zeros(input._data.shape, idx, values)
    return _put(input, idx, values)


# ----------------------------------------------------------------------------- in-place forms
def scatter_(input, dim, index, src=None, value=None, *, reduce=None):
    out = scatter(input, dim, index, src, value, reduce=reduce)
    return _commit(input, out, "scatter_")


def scatter_add_(input, dim, index, src):
    return _commit(input, scatter_add(input, dim, index, src), "scatter_add_")


def index_add_(input, dim, index, source, *, alpha=1):
    return _commit(input, index_add(input, dim, index, source, alpha=alpha), "index_add_")


def index_copy_(input, dim, index, source):
    return _commit(input, index_copy(input, dim, index, source), "index_copy_")


def index_fill_(input, dim, index, value):
    return _commit(input, index_fill(input, dim, index, value), "index_fill_")


def masked_fill_(input, mask, value):
    return _commit(input, masked_fill(input, mask, value), "masked_fill_")


def masked_scatter_(input, mask, source):
    return _commit(input, masked_scatter(input, mask, source), "masked_scatter_")


def put_(input, index, source, accumulate=False):
    return _commit(input, put(input, index, source, accumulate), "put_")


def index_put_(input, indices, values, accumulate=False):
    return _commit(input, index_put(input, indices, values, accumulate), "index_put_")


# ------------------------------------------------------------------------ sorting, searching
def _argsort(x, axis: int, descending: bool):
    """Stable sort order along `axis`; NaN counts as the largest value, as in PyTorch."""
    xp = array_module(x)
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable")
    # descending and still stable: sort the reversed array ascending, reverse the order back
    n = x.shape[axis]
    order = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
    return (n - 1) - xp.flip(order, axis)


def _take_sorted(input: Tensor, order, axis: int, ret):
    indices = Tensor._make(order.astype(backend.int64))
    return ret(GetItem.apply(input, _gather_index(order, axis)), indices)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """(values, indices) sorted along `dim`; always stable (ties keep their order); NaN sorts
    as the largest value. The gradient flows to the values' original positions."""
    x = _as_1d(input)
    axis = canonical_dim(dim, x._data.ndim)
    values, indices = _take_sorted(x, _argsort(x._data, axis, descending), axis, sort_return)
    return sort_return(_restore(values, input), _restore(indices, input))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices that sort `input` along `dim` (int64; stable)."""
    return sort(input, dim, descending, stable).indices


def msort(input: Tensor) -> Tensor:
    """sort along dim 0, values only."""
    return sort(input, 0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """(values, indices) of the k largest (or smallest) entries along `dim`, in sorted order."""
    x = _as_1d(input)
    axis = canonical_dim(dim, x._data.ndim)
    n = x._data.shape[axis]
    if not 0 <= k <= n:
        raise RuntimeError(f"selected index k out of range (k={k}, dimension {dim} has size {n})")
    order = _argsort(x._data, axis, largest)[(_ALL,) * axis + (slice(0, k),)]
    values, indices = _take_sorted(x, order, axis, topk_return)
    return topk_return(_restore(values, input), _restore(indices, input))


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """(values, indices) of the k-th smallest entry (k from 1) along `dim`."""
    x = _as_1d(input)
    axis = canonical_dim(dim, x._data.ndim)
    n = x._data.shape[axis]
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {dim}")
    order = _argsort(x._data, axis, False)[(_ALL,) * axis + (slice(k - 1, k),)]
    values, indices = _take_sorted(x, order, axis, kthvalue_return)
    if not keepdim or input._data.ndim == 0:
        shape = values._data.shape[:axis] + values._data.shape[axis + 1 :]
        values, indices = reshape_new(values, shape), reshape_new(indices, shape)
    return kthvalue_return(values, indices)


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """The indices of the nonzero entries: an int64 tensor of shape (count, ndim), or with
    as_tuple one 1-d tensor per dim (a 0-d input counts as 1-d there)."""
    x = input._data
    xp = array_module(x)
    if as_tuple:
        return tuple(Tensor._make(i.astype(backend.int64)) for i in xp.nonzero(xp.atleast_1d(x)))
    return Tensor._make(xp.argwhere(x).astype(backend.int64))


def argwhere(input: Tensor) -> Tensor:
    """nonzero(input): the (count, ndim) indices of the nonzero entries."""
    return nonzero(input)


def unique(
    input: Tensor,
    sorted: bool = True,
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
):
    """The distinct values (sorted), and optionally the inverse indices and counts; no graph."""
    x = input._data
    xp = array_module(x)
    axis = None if dim is None else canonical_dim(dim, x.ndim)
    values, inverse, counts = xp.unique(x, return_inverse=True, return_counts=True, axis=axis)
    out = [Tensor._make(values)]
    if return_inverse:
        shape = x.shape if axis is None else (-1,)
        out.append(Tensor._make(inverse.reshape(shape).astype(backend.int64)))
    if return_counts:
        out.append(Tensor._make(counts.astype(backend.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *, output_size=None):
    """Each element (or slice along `dim`) repeated `repeats` times (an int or a tensor of one
    count per element); the gradient sums over the copies."""
    if repeats is None:  # repeat_interleave(repeats): the positions, each repeated
        r = _index_array(input, "repeat_interleave")
        xp = array_module(r)
        return Tensor._make(xp.repeat(xp.arange(r.size), r).astype(backend.int64))
    if dim is None:
        input, dim = reshape(input, (input._data.size,)), 0
    x = _as_1d(input)
    axis = canonical_dim(dim, x._data.ndim)
    n = x._data.shape[axis]
    r = repeats._data if isinstance(repeats, Tensor) else repeats
    xp = array_module(x._data)
    positions = xp.repeat(xp.arange(n), r)
    return GetItem.apply(x, (_ALL,) * axis + (positions,))


# ----------------------------------------------------------------- NumPy names for backward rules
def _np_take_along_axis(arr, indices, axis):
    return take_along_dim(arr, indices, axis)


tensor_numpy.register(take_along_axis=_np_take_along_axis)

_FUNCTIONS = [
    "index_select", "gather", "scatter", "scatter_add", "index_add", "index_copy", "index_fill",
    "masked_fill", "masked_select", "masked_scatter", "take", "take_along_dim", "put",
    "index_put", "sort", "argsort", "msort", "topk", "kthvalue", "nonzero", "argwhere",
    "unique", "repeat_interleave",
]  # fmt: skip
_INPLACE = [
    "scatter_", "scatter_add_", "index_add_", "index_copy_", "index_fill_", "masked_fill_",
    "masked_scatter_", "put_", "index_put_",
]  # fmt: skip
METHODS = _FUNCTIONS + _INPLACE
__all__ = _FUNCTIONS
