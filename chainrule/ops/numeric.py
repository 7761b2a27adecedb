"""Numerical helpers composed from differentiable primitives (so each has a gradient, and a
second one, for free): diff, trapezoid, cross, dist, cdist, rot90, cartesian_prod, quantile,
and the top-level forms torch also has (dropout, cosine_similarity).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import backend
from ..amp import autocast_mode as _amp
from ..tensor import Tensor
from ._core import canonical_dim
from .creation import tensor
from .shape import cat, flip, meshgrid, narrow, stack


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The n-th forward difference along ``dim``: out[i] = x[i + 1] - x[i], n times, after
    joining ``prepend`` and ``append`` to the input."""
    d = canonical_dim(dim, input.ndim)
    x = input
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, x, append) if p is not None]
        x = cat([p if isinstance(p, Tensor) else tensor(p, dtype=x.dtype) for p in parts], d)
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        x = narrow(x, d, 1, length - 1) - narrow(x, d, 0, length - 1)
    return x


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The integral of y along ``dim`` by the trapezoidal rule, over sample points ``x`` (or a
    constant spacing ``dx``, default 1)."""
    d = canonical_dim(dim, y.ndim)
    n = y.shape[d]
    if n == 0:
        return y.sum(d)
    mid = (narrow(y, d, 1, n - 1) + narrow(y, d, 0, n - 1)) / 2
    if x is None:
        return (mid * (1.0 if dx is None else dx)).sum(d)
    widths = diff(x, dim=-1 if x.ndim == 1 else d)
    if x.ndim == 1 and y.ndim > 1:  # 1-D sample points along dim
        shape = [1] * y.ndim
        shape[d] = n - 1
        widths = widths.reshape(shape)
    return (mid * widths).sum(d)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The 3-vector cross product along ``dim`` (default: the first dim of size 3, as the
    deprecated default of torch.cross, with its warning)."""
    from ..linalg import cross as linalg_cross

    if dim is None:
        sizes = list(input.shape)
        if 3 not in sizes:
            raise RuntimeError(f"no dimension of size 3 in input (shape {sizes})")
        dim = sizes.index(3)
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated: pass dim "
            f"(here {dim}), or use torch.linalg.cross, whose default is dim=-1",
            UserWarning,
            stacklevel=2,
        )
    return linalg_cross(input, other, dim=dim)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of input - other."""
    return (input - other).norm(p)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """Pairwise p-norm distances between the rows of x1 (…, P, M) and x2 (…, R, M): (…, P, R)."""
    if _amp.active:  # on autocast's float32 list
        x1, x2 = _amp.autocast_inputs("fp32", x1, x2)
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    delta = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return delta.norm(p, dim=-1)


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90° k times in the plane of ``dims``, from the first towards the second."""
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    a, b = (canonical_dim(d, input.ndim) for d in dims)
    if a == b:
        raise RuntimeError(
            f"expected rotation dims to be different, but got dim0 = {a} and dim1 = {b}"
        )
    k %= 4
    if k == 1:
        return flip(input, [b]).transpose(a, b)
    if k == 2:
        return flip(input, [a, b])
    if k == 3:
        return flip(input, [a]).transpose(a, b)
    return input.clone()


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """Every combination of one element from each 1-D tensor, as rows (N1·N2·…, k)."""
    if len(tensors) == 1:
        return tensors[0].clone()
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def quantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> Tensor:  # fmt: skip
    """The q-th quantiles along ``dim`` (of all elements when None), interpolating between the
    two nearest sorted values as ``interpolation`` says (linear, lower, higher, midpoint,
    nearest); differentiable through the selected values. A row holding NaN gives NaN.

    Example:
        >>> import chainrule as torch
        >>> torch.quantile(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([0.25, 0.5]))
        tensor([1.5000, 2.0000])
    """
    return _quantile("quantile", input, q, dim, keepdim, interpolation, ignore_nan=False)


def nanquantile(input: Tensor, q, dim: int | None = None, keepdim: bool = False, *,
                interpolation: str = "linear") -> Tensor:  # fmt: skip
    """``quantile`` that ignores NaN: each row's quantiles are those of its non-NaN values (NaN
    for a row that holds only NaN)."""
    return _quantile("nanquantile", input, q, dim, keepdim, interpolation, ignore_nan=True)


def _quantile(name, input, q, dim, keepdim, interpolation, ignore_nan):
    from .elementwise import where
    from .index import take_along_dim

    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise ValueError(
            f"{name}() interpolation must be one of linear, lower, higher, midpoint or "
            f"nearest. Got {interpolation}"
        )
    if _amp.active:  # on autocast's float32 list
        (input,) = _amp.autocast_inputs("fp32", input)
    if input.dtype.kind not in "fV":
        raise RuntimeError(
            f"{name}() input tensor must be either float or double dtype, got {input.dtype}"
        )
    if isinstance(q, Tensor) and q.dtype != input.dtype:
        raise RuntimeError(
            f"{name}() q tensor must be same dtype as the input tensor (got {q.dtype} and "
            f"{input.dtype})"
        )
    qs = np.asarray(q.tolist() if isinstance(q, Tensor) else q, np.float64)
    scalar_q = qs.ndim == 0
    qs = np.atleast_1d(qs)
    if qs.ndim > 1:
        raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
    if np.any((qs < 0) | (qs > 1)):
        raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else canonical_dim(dim, x.ndim)
    if x.shape[d] == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    values = x.sort(dim=d).values.movedim(d, -1)  # (..., n), NaN sorted last
    n = values.shape[-1]
    nan = np.isnan(np.moveaxis(backend.to_numpy(x._data), d, -1).astype(np.float32))
    count = (n - nan.sum(-1)) if ignore_nan else np.full(nan.shape[:-1], n)
    pos = qs * (count[..., None] - 1)  # (..., Q) fractional ranks
    lo, hi = np.floor(pos), np.ceil(pos)
    if interpolation == "nearest":
        lo = hi = np.round(pos)  # half to even, as PyTorch
    elif interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    frac = np.full(pos.shape, 0.5) if interpolation == "midpoint" else pos - lo
    lo = np.clip(lo, 0, n - 1).astype(np.int64)
    hi = np.clip(hi, 0, n - 1).astype(np.int64)
    a = take_along_dim(values, tensor(lo, device=values.device), -1)
    b = take_along_dim(values, tensor(hi, device=values.device), -1)
    w = tensor(frac, dtype=values.dtype, device=values.device)
    out = where(tensor(lo == hi, device=values.device), a, a + (b - a) * w)
    empty = count == 0 if ignore_nan else nan.any(-1)
    if empty.any():
        mask = tensor(np.broadcast_to(empty[..., None], out.shape).copy(), device=out.device)
        out = where(mask, float("nan"), out)
    out = out.movedim(-1, 0)  # PyTorch puts the q axis first
    if keepdim:
        if dim is None:
            out = out.reshape((len(qs),) + (1,) * input.ndim)
        else:
            out = out.unsqueeze(d + 1)
    return out[0] if scalar_q else out


def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """torch.dropout(input, p, train): ``nn.functional.dropout`` with positional arguments."""
    from .layers import dropout as functional_dropout

    return functional_dropout(input, p, train)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between x1 and x2 along ``dim`` (as nn.functional's)."""
    from .resample import cosine_similarity as functional_cosine_similarity

    return functional_cosine_similarity(x1, x2, dim, eps)


METHODS = ["diff", "cross", "dist", "rot90", "quantile", "nanquantile"]
__all__ = [
    "diff", "trapezoid", "cross", "dist", "cdist", "rot90", "cartesian_prod", "quantile",
    "nanquantile", "dropout", "cosine_similarity",
]  # fmt: skip
