"""Searching and counting: searchsorted, bucketize, isin, unique_consecutive, mode, and the
index helpers tril_indices / triu_indices. Their results are indices or masks (no gradient),
except mode's values, which are gathered from the input and so get one.
"""

from __future__ import annotations

from collections import namedtuple
from fractions import Fraction

import numpy as np

from .. import backend
from ..backend import array_module
from ..tensor import Tensor
from ._core import canonical_dim
from .elementwise import _raw
from .index import take_along_dim

mode_result = namedtuple("mode", ["values", "indices"])
histogram_result = namedtuple("histogram", ["hist", "bin_edges"])


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


# ------------------------------------------------------------------------------ histograms
def _float_input(name: str, input: Tensor):
    if input.dtype.kind not in "f":
        raise RuntimeError(
            f"\"{name}\" not implemented for '{backend.dtype_name(input.dtype)}': pass a float "
            "tensor (x.float())"
        )
    return backend.to_numpy(input._data).reshape(-1)


def _linspace(lo, hi, n: int, dtype):
    """PyTorch's linspace in `dtype`: lo + step·i for the first half, hi - step·(n - 1 - i) for
    the rest, each rounded once (its vectorised loop uses fused multiply-adds), so that the
    edges and the bins equal PyTorch's to the last bit."""
    lo, hi = dtype.type(lo), dtype.type(hi)
    step = Fraction(float((hi - lo) / dtype.type(max(n - 1, 1))))
    a, b = Fraction(float(lo)), Fraction(float(hi))
    exact = [a + step * i if i < n // 2 else b - step * (n - 1 - i) for i in range(n)]
    return np.array([float(e) for e in exact]).astype(dtype)


def _counts(bin_index, keep, bins: int, weights, dtype):
    w = None if weights is None else weights[keep].astype(np.float64)
    return np.bincount(bin_index[keep], weights=w, minlength=bins).astype(dtype)


def histc(input: Tensor, bins: int = 100, min=0, max=0) -> Tensor:
    """Counts of the elements in ``bins`` equal-width bins over [min, max] (the data's own range
    when both are 0); elements outside are ignored, max falls in the last bin. Not
    differentiable (as in PyTorch).

    Example:
        >>> import chainrule as torch
        >>> torch.histc(torch.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3)
        tensor([0., 2., 1., 0.])
    """
    x = _float_input("histogram_cpu", input)
    dtype = x.dtype
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = dtype.type(min), dtype.type(max)
    if lo == hi and x.size:
        lo, hi = x.min(), x.max()
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if lo == hi:
        lo, hi = lo - dtype.type(1), hi + dtype.type(1)
    keep = (x >= lo) & (x <= hi)
    with np.errstate(invalid="ignore"):
        # PyTorch's linear interpolation, in the input's dtype: (x - lo) · bins / (hi - lo)
        pos = ((x - lo) * dtype.type(bins) / (hi - lo)).astype(np.int64)
    pos = np.minimum(pos, bins - 1)
    out = _counts(pos, keep, bins, None, dtype)
    return Tensor._make(backend.to_device(out, input.device))


def histogram(input: Tensor, bins=100, *, range=None, weight=None, density: bool = False):
    """(hist, bin_edges): ``bins`` equal-width bins over ``range`` (default: the data's min and
    max), or the edges given as a 1-D tensor; ``weight`` sums weights instead of counting,
    ``density`` divides by the total and the bin widths. Not differentiable (as in PyTorch)."""
    x = _float_input("histogramdd", input)
    dtype = x.dtype
    w = None
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise RuntimeError(
                "torch.histogramdd: if weight tensor is provided it should have the same shape "
                f"as the input tensor excluding its innermost dimension, but got input with shape "
                f"{list(input.shape)} and weight with shape {list(weight.shape)}"
            )
        w = backend.to_numpy(weight._data).reshape(-1)
    if isinstance(bins, Tensor):
        if bins.ndim != 1:
            raise RuntimeError("torch.histogram(): bins tensor should have one dimension")
        if bins.dtype != input.dtype:
            raise RuntimeError(
                "torch.histogram: input tensor and bins tensors should have the same dtype, but "
                f"got input {input.dtype} and bins {bins.dtype}"
            )
        edges = backend.to_numpy(bins._data).copy()
        pos = np.searchsorted(edges, x, side="right") - 1
    else:
        n = int(bins)
        if n <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {n} for dimension 0")
        if range is not None:
            lo, hi = dtype.type(range[0]), dtype.type(range[1])
        elif x.size:
            lo, hi = x.min(), x.max()
        else:
            lo, hi = dtype.type(0), dtype.type(0)
        if lo > hi:
            raise RuntimeError(
                f"torch.histogram(): min should not exceed max, but got min {lo} max {hi} for "
                "dimension 0"
            )
        if not (np.isfinite(lo) and np.isfinite(hi)):
            raise RuntimeError(
                f"torch.histogram(): range of [{lo}, {hi}] is not finite for dimension 0"
            )
        if lo == hi:
            lo, hi = lo - dtype.type(0.5), hi + dtype.type(0.5)
        edges = _linspace(lo, hi, n + 1, dtype)
        with np.errstate(invalid="ignore"):
            guess = ((x - lo) * dtype.type(n) / (hi - lo)).astype(np.int64)
        # PyTorch corrects the interpolated bin by a search among its neighbours' edges
        guess = np.clip(guess, 0, n - 1)
        pos = guess - (x < edges[guess]) + (x >= edges[np.minimum(guess + 1, n)])
    nbins = len(edges) - 1
    keep = (x >= edges[0]) & (x <= edges[-1])
    pos = np.clip(pos, 0, nbins - 1)  # the last edge belongs to the last bin
    hist = _counts(pos, keep, nbins, w, dtype)
    if density:
        hist = (hist / (hist.sum() * np.diff(edges))).astype(dtype)
    dev = input.device
    return histogram_result(
        Tensor._make(backend.to_device(hist, dev)),
        Tensor._make(backend.to_device(edges.astype(dtype), dev)),
    )


METHODS = ["isin", "unique_consecutive", "mode", "histc", "histogram"]
__all__ = [
    "searchsorted", "bucketize", "isin", "unique_consecutive", "mode", "tril_indices",
    "triu_indices", "histc", "histogram",
]  # fmt: skip
