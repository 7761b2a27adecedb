"""Indexing: getitem/setitem with ints, slices, ellipsis, None, integer arrays and masks."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import engine
from ..backend import array_module
from ..tensor import Tensor
from ._core import Op, SetItem, check_inplace, commit_inplace, operands


def _is_basic(idx) -> bool:
    """Basic indices (ints, slices, ..., None) give NumPy views; arrays and masks give copies."""
    items = idx if isinstance(idx, tuple) else (idx,)
    return all(i is None or i is Ellipsis or isinstance(i, int | slice) for i in items)


def _convert_index(idx):
    """Tensors in an index become arrays; lists become integer or boolean arrays."""
    if isinstance(idx, tuple):
        return tuple(_convert_index(i) for i in idx)
    if isinstance(idx, Tensor):
        return idx.data if idx.data.ndim else idx.data.item() if idx.data.dtype.kind in "iu" else idx.data
    if isinstance(idx, list):
        return np.asarray([_convert_index(i) for i in idx])
    if isinstance(idx, np.integer):
        return int(idx)
    return idx


class GetItem(Op):
    """y = x[idx];  gx = zeros with gx[idx] += gy (a scatter-add: repeated indices add up)"""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.shape = x.shape
        ctx.dtype = x.dtype
        ctx.idx = idx
        return x[idx]

    @staticmethod
    def backward(ctx, gy):
        return index_add_zeros(ctx.shape, ctx.idx, gy), None


class _BasicGetItem(GetItem):
    is_view = True


def _scatter_add_into_zeros(xp, shape, idx, gy):
    gx = xp.zeros(shape, dtype=gy.dtype)
    if _is_basic(idx):
        gx[idx] = gy
    else:
        xp.add.at(gx, idx, gy)
    return gx


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


def _check_index(x, idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    n_dims = sum(
        1 if not (isinstance(i, np.ndarray) and i.dtype == np.bool_) else i.ndim
        for i in items
        if i is not None and i is not Ellipsis
    )
    if n_dims > x.ndim:
        raise IndexError(
            f"too many indices for tensor of dimension {x.ndim} (got {n_dims}, shape "
            f"{tuple(x.shape)})"
        )


def getitem(x: Tensor, index) -> Tensor:
    idx = _convert_index(index)
    basic = _is_basic(idx)
    try:
        out = (_BasicGetItem if basic else GetItem).apply(x, idx)
    except IndexError as e:
        _check_index(x, idx)
        raise IndexError(f"{e} (indexing a tensor of shape {tuple(x.shape)})") from None
    if basic:
        out._view_idx = (x._view_idx or ()) + (idx,)
    return out


def setitem_(x: Tensor, index, value) -> None:
    """x[index] = value, in place; differentiable with respect to x's old value and value."""
    idx = _convert_index(index)
    check_inplace(x, "setitem")
    if not isinstance(value, Tensor):
        value = _value_tensor(value, x)
    elif value.device != x.device:
        raise RuntimeError(
            f"setitem: value is on {value.device} but the tensor is on {x.device}; move it "
            "with .to(device) first"
        )
    if value.data.dtype != x.data.dtype:
        from ._core import cast

        value = cast(value, x.data.dtype)
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
        x._version.bump("setitem")
        return
    x.data[idx] = value.data
    x._version.bump("setitem")


def _detached_copy(x):
    t = Tensor._make(x.data.copy(), x.grad_fn, x._output_nr)
    t.requires_grad = x.requires_grad
    return t


def _value_tensor(value, like):
    xp = array_module(like.data)
    return Tensor._make(xp.asarray(value, dtype=like.data.dtype))


METHODS = []
__all__ = []
