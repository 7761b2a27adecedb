"""Searching and counting: searchsorted, bucketize, isin, unique_consecutive, mode, and the
index helpers tril_indices / triu_indices. Their results are indices or masks (no gradient),
except mode's values, which are gathered from the input and so get one.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import Tensor
from ._core import canonical_dim
from .elementwise import _raw
from .index import take_along_dim

mode_result = namedtuple("mode", ["values", "indices"])


def _index_dtype(out_int32: bool):
    return backend.int32 if out_int32 else backend.int64


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter=None) -> Tensor:  # fmt: skip
    """For each value, the index where it would be inserted into ``sorted_sequence`` (along its
    last dim, row by row when it is N-d) to keep it sorted: the first such place, or the last
    with ``right=True`` / ``side="right"``.

    Example:
        >>> import chainrule as torch
        >>> torch.searchsorted(torch.tensor([1, 3, 5, 7]), torch.tensor([3, 6])).tolist()
        [1, 3]
    """
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"side can only be 'left' or 'right' but got {side!r}")
        if right and side == "left":
            raise RuntimeError(
                "side and right can't be set to opposites, got side of left while right was True"
            )
        right = side == "right"
    seq = _raw(sorted_sequence)
    xp = array_module(seq)
    values = xp.asarray(_raw(input))
    if sorter is not None:
        seq = xp.take_along_axis(seq, _raw(sorter), axis=-1)
    how = "right" if right else "left"
    if seq.ndim == 1:
        out = xp.searchsorted(seq, values, side=how)
    else:
        if seq.shape[:-1] != values.shape[:-1]:
            raise RuntimeError(
                "searchsorted: boundaries and input must have the same leading dims (got "
                f"{list(seq.shape)} and {list(values.shape)}), or boundaries must be 1-D"
            )
        rows_seq = seq.reshape(-1, seq.shape[-1])
        rows_val = values.reshape(-1, values.shape[-1])
        out = xp.stack([xp.searchsorted(s, v, side=how) for s, v in zip(rows_seq, rows_val)])
        out = out.reshape(values.shape)
    return Tensor._make(xp.asarray(out).astype(_index_dtype(out_int32)))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False):
    """The bucket of each value among 1-D sorted ``boundaries``: i with
    boundaries[i-1] < x <= boundaries[i] (or boundaries[i-1] <= x < boundaries[i] with
    ``right=True``)."""
    if _raw(boundaries).ndim != 1:
        raise RuntimeError(
            f"boundaries tensor must be 1 dimension, but got dim({_raw(boundaries).ndim})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def isin(elements, test_elements, *, assume_unique: bool = False, invert: bool = False):
    """A bool tensor: which entries of ``elements`` occur in ``test_elements``."""
    a = _raw(elements)
    xp = array_module(a)
    mask = xp.isin(a, xp.asarray(_raw(test_elements)), assume_unique=assume_unique, invert=invert)
    return Tensor._make(xp.asarray(mask))


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):  # fmt: skip
    """Collapse runs of equal consecutive elements (of the flattened input, or of slices along
    ``dim``) to one, optionally with the run index of each element and each run's length."""
    x = input._data
    xp = array_module(x)
    if dim is None:
        flat = x.reshape(-1)
        change = xp.ones(flat.shape[0], dtype=bool)
        change[1:] = flat[1:] != flat[:-1]
        values = flat[change]
    else:
        d = canonical_dim(dim, x.ndim)
        moved = xp.moveaxis(x, d, 0).reshape(x.shape[d], -1)
        change = xp.ones(moved.shape[0], dtype=bool)
        change[1:] = xp.any(moved[1:] != moved[:-1], axis=1)
        values = xp.moveaxis(xp.moveaxis(x, d, 0)[change], 0, d)
    out = [Tensor._make(xp.ascontiguousarray(values))]
    if return_inverse:
        inverse = xp.cumsum(change) - 1
        out.append(Tensor._make(inverse.reshape(x.shape if dim is None else -1).astype(np.int64)))
    if return_counts:
        starts = xp.flatnonzero(change)
        ends = xp.append(starts[1:], change.shape[0])
        out.append(Tensor._make((ends - starts).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest one on ties, as PyTorch) and the
    index of its last occurrence; the values are differentiable (gathered from input)."""
    x = input._data
    xp = array_module(x)
    if x.ndim == 0:
        return mode_result(input.clone(), Tensor._make(xp.zeros((), np.int64)))
    d = canonical_dim(dim, x.ndim)
    moved = xp.moveaxis(x, d, -1)
    n = moved.shape[-1]
    rows = moved.reshape(-1, n)
    indices = xp.empty(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        values, counts = xp.unique(row, return_counts=True)
        best = values[xp.argmax(counts)]  # unique sorts: argmax picks the smallest on ties
        indices[r] = n - 1 - int(xp.argmax(row[::-1] == best))
    shape = moved.shape[:-1]
    idx = Tensor._make(indices.reshape(shape + (1,)))
    idx = Tensor._make(xp.moveaxis(idx._data, -1, d))
    values = take_along_dim(input, idx, d)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return mode_result(values, idx)


def _triangle_indices(row: int, col: int, offset: int, lower: bool, dtype, device) -> Tensor:
    r, c = np.indices((row, col))
    keep = (c - r <= offset) if lower else (c - r >= offset)
    out = np.stack([r[keep], c[keep]]).astype(backend.as_dtype(dtype or backend.int64))
    return Tensor._make(backend.to_device(out, backend.device(device or "cpu")))


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of the lower triangle of a row x col matrix."""
    return _triangle_indices(row, col, offset, True, dtype, device)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None, layout=None):
    """The (2, N) row and column indices of the upper triangle of a row x col matrix."""
    return _triangle_indices(row, col, offset, False, dtype, device)


METHODS = ["isin", "unique_consecutive", "mode"]
__all__ = [
    "searchsorted", "bucketize", "isin", "unique_consecutive", "mode", "tril_indices",
    "triu_indices",
]  # fmt: skip
