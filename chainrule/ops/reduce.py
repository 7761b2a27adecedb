"""Reductions: sum, mean, prod, var/std, max/min, logsumexp, norms, cumulative ops, …

Every reduction takes PyTorch's ``dim`` (an int, a tuple or list, negative allowed, None for all)
and ``keepdim``. Backward rules put the gradient back in the input's shape by reshaping it to the
keepdim shape and broadcasting; masks that select elements (maxima, zeros, NaNs) are not
differentiable and are computed from the raw saved arrays.

Ops that return indices (max/min/median with ``dim``, argmax) give plain int64 tensors that carry
no graph.
"""

from __future__ import annotations

import builtins
import math
import numbers
from collections import namedtuple

import numpy as np

from .. import backend
from ..amp import autocast_mode as _amp
from ..backend import array_module
from ..tensor import Tensor
from . import tensor_numpy
from ._core import Op, canonical_dim, canonical_dims, cast

# PyTorch's torch.return_types.*: tuples whose fields can also be read by name
max_return = namedtuple("max", ["values", "indices"])
min_return = namedtuple("min", ["values", "indices"])
median_return = namedtuple("median", ["values", "indices"])
nanmedian_return = namedtuple("nanmedian", ["values", "indices"])
aminmax_return = namedtuple("aminmax", ["min", "max"])

_TORCH_NAMES = {
    "bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
    "int64": "Long", "float16": "Half", "bfloat16": "BFloat16", "float32": "Float",
    "float64": "Double", "complex64": "ComplexFloat", "complex128": "ComplexDouble",
}  # fmt: skip


def _torch_name(dt) -> str:
    """PyTorch's C++ name of a dtype ("Long", "Float"), as its error messages spell it."""
    return _TORCH_NAMES.get(str(dt), str(dt))


def _raw(a):
    """The array behind a saved value (a Tensor under create_graph), for masks."""
    return a._data if isinstance(a, Tensor) else a


def _xp(*values):
    """The array module for a rule that mixes gy with saved values: under create_graph the saved
    values are Tensors even where gy (a root gradient) is still an array."""
    for v in values:
        if isinstance(v, Tensor):
            return array_module(v)
    return array_module(values[0])


def _keep_shape(shape, axes):
    """The shape of a keepdim reduction over `axes`."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape, axes) -> int:
    """How many elements each reduced slice holds."""
    return math.prod(shape[i] for i in axes)


def _axes(dim, ndim: int) -> tuple[int, ...]:
    """Canonical reduction axes; a 0-d tensor accepts dim 0 or -1 and has nothing to reduce."""
    axes = canonical_dims(dim, ndim)
    return axes if ndim else ()


def _is_float(t) -> bool:
    return t._data.dtype.kind in "fcV"


def _check_float(input, what: str) -> None:
    if not _is_float(input):
        raise RuntimeError(
            f"{what}: expected a floating point tensor as input, got {_torch_name(input.dtype)}. "
            "Call .float() on it first, or pass dtype=chainrule.float32."
        )


def _cast_dtype(input, dtype):
    """Apply a reduction's dtype= argument: the input is cast first, as PyTorch does."""
    if dtype is None:
        return input
    return cast(input, backend.as_dtype(dtype))


def _on_vector(fn, input, dim):
    """Run fn(input, axis) for a single-dim op; a 0-d tensor acts as a 1-element vector."""
    if input._data.ndim:
        return fn(input, canonical_dim(dim, input._data.ndim))
    canonical_dim(dim, 0)  # dim must still be 0 or -1
    out = fn(input.reshape(1), 0)
    if isinstance(out, tuple):
        return tuple(o.reshape(()) for o in out)
    return out.reshape(())


# ------------------------------------------------------------------------------ sum, mean, prod
class Sum(Op):
    """y = Σ x over axes;  gx = gy broadcast back to x's shape"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.shape = x.shape
        ctx.axes = axes
        return array_module(x).sum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, gy):
        g = gy.reshape(_keep_shape(ctx.shape, ctx.axes))
        return _expand(g, ctx.shape), None, None, None


def _expand(g, shape):
    """g broadcast to shape: a read-only view, or for a small NumPy result a filled array
    (np.broadcast_to's Python costs ~10 µs, a loss's whole backward step on a tiny model)."""
    if type(g) is np.ndarray and g.size <= 1 and len(shape) <= 8 and math.prod(shape) <= 4096:
        out = np.empty(shape, g.dtype)
        out[...] = g
        return out
    return array_module(g).broadcast_to(g, shape)


class Mean(Op):
    """y = Σ x / N over axes;  gx = gy / N broadcast back"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.shape = x.shape
        ctx.axes = axes
        if type(x) is np.ndarray and dtype is None and x.dtype.char in "fdFD" and x.size:
            # np.mean's own arithmetic, the same bits, without its Python layers (~8 µs):
            # the sum, then float(sum) / intp(count) rounded to the sum's dtype
            s = np.add.reduce(x, axis=axes, keepdims=keepdim)
            n = np.intp(_count(x.shape, axes))
            if type(s) is np.ndarray:
                return np.true_divide(s, n, out=s, casting="unsafe")
            return s.dtype.type(s / n)
        return array_module(x).mean(x, axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, gy):
        g = gy.reshape(_keep_shape(ctx.shape, ctx.axes)) / builtins.max(
            _count(ctx.shape, ctx.axes), 1
        )
        return _expand(g, ctx.shape), None, None, None


class NanSum(Op):
    """y = Σ x over axes, NaNs as 0;  gx = gy where x is not NaN, else 0"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, dtype):
        ctx.save_for_backward(x)
        ctx.axes = axes
        return array_module(x).nansum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        xr = _raw(x)
        g = gy.reshape(_keep_shape(xr.shape, ctx.axes))
        return g * ~array_module(xr).isnan(xr), None, None, None


class Prod(Op):
    """y = Π x over axes;  gx = gy · Π_{j≠i} x_j  (= gy · y / x when no x is 0)"""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        y = array_module(x).prod(x, axis=axes, keepdims=keepdim)
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        xr = _raw(x)
        keep = _keep_shape(xr.shape, ctx.axes)
        gy = gy.reshape(keep)
        y = y.reshape(keep)
        zero = xr == 0
        if not zero.any():
            return gy * y / x, None, None
        return gy * _prod_others(x, y, zero, ctx.axes), None, None


def _prod_others(x, y, zero, axes):
    """Π_{j≠i} x_j along `axes` when some x are 0, written so that its own derivative is exact.

    With one zero in a slice only the zero's own entry is nonzero: the product P of the nonzeros.
    With two, every entry is 0, but the entry of each zero varies with the other zero: P·(S - x)
    with S = Σ over the zeros (its value is 0). With three or more, the first and second
    derivatives are 0.
    """
    xp = array_module(x)
    xr = _raw(x)
    z = zero.astype(xr.dtype)
    n_zero = z.sum(axis=axes, keepdims=True)
    one = (n_zero == 1).astype(xr.dtype)
    two = (n_zero == 2).astype(xr.dtype)
    nonzero_part = y / (x + z) * (1 - z)
    p = xp.prod(x * (1 - z) + z, axis=axes, keepdims=True)  # the zeros replaced by a constant 1
    s = xp.sum(x * z, axis=axes, keepdims=True)
    return nonzero_part + p * (one + two * (s - x)) * z


def sum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over `dim` (all dims when None); ints and bools sum in int64, as in PyTorch.

    Args:
        input: the tensor to reduce.
        dim: an int or a tuple/list of ints (negative counts from the end); None for all.
        keepdim: keep the reduced dims with size 1.
        dtype: accumulate and return in this dtype.

    Example:
        >>> import chainrule as torch
        >>> torch.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(dim=-1, keepdim=True)
        tensor([[3.],
                [7.]])
    """
    axes = _axes(dim, input._data.ndim)
    if dtype is not None:
        dtype = backend.as_dtype(dtype)
    elif input._data.dtype.kind in "biu":
        dtype = backend.int64
    return Sum.apply(input, axes, keepdim, dtype)


def mean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Mean over `dim` (all dims when None); floating inputs only unless dtype= says otherwise."""
    if dtype is not None:
        dtype = backend.as_dtype(dtype)
    elif not _is_float(input):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_torch_name(input.dtype)}. Call .float() first, or pass "
            "dtype=chainrule.float32."
        )
    axes = _axes(dim, input._data.ndim)
    if dtype is not None and dtype != input._data.dtype:
        input = cast(input, dtype)
    return Mean.apply(input, axes, keepdim, None)


def nansum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Sum over `dim` treating NaN as zero."""
    if not _is_float(input):
        return sum(input, dim, keepdim, dtype=dtype)
    axes = _axes(dim, input._data.ndim)
    return NanSum.apply(_cast_dtype(input, dtype), axes, keepdim, None)


def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Mean over `dim` of the elements that are not NaN (NaN where a slice has none)."""
    input = _cast_dtype(input, dtype)
    _check_float(input, "nanmean()")
    axes = _axes(dim, input._data.ndim)
    xr = input._data
    count = (~array_module(xr).isnan(xr)).sum(axis=axes, keepdims=keepdim).astype(xr.dtype)
    return nansum(input, dim, keepdim) / Tensor._make(count)


def prod(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Product over one dim (all elements when None); ints and bools multiply in int64.

    The gradient is exact where some elements are 0 (the product of the others), as in PyTorch.
    """
    if _amp.active:  # autocast: PyTorch keeps prod in float32
        (input,) = _amp.autocast_inputs("fp32", input)
    input = _cast_dtype(input, dtype)
    if input._data.dtype.kind in "biu":
        input = cast(input, backend.int64)
    if dim is None:
        return Prod.apply(input, tuple(range(input._data.ndim)), False)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(
            f"prod(): argument 'dim' must be int, not {type(dim).__name__} (PyTorch's prod "
            "reduces one dim at a time; call it once per dim)"
        )
    return Prod.apply(input, _axes(dim, input._data.ndim), keepdim)


# ------------------------------------------------------------------------------------ var, std
class Var(Op):
    """y = Σ (x - x̄)² / (N - c);  gx = gy · 2 (x - x̄) / (N - c)"""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        ctx.save_for_backward(x)
        ctx.axes = axes
        ctx.correction = correction
        return array_module(x).var(x, axis=axes, ddof=correction, keepdims=keepdim)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        xp = _xp(x)
        n = _count(x.shape, ctx.axes)
        gy = gy.reshape(_keep_shape(x.shape, ctx.axes))
        centered = x - xp.sum(x, axis=ctx.axes, keepdims=True) / builtins.max(n, 1)
        return gy * _inverse(n - ctx.correction, 2.0) * centered, None, None, None


class Std(Op):
    """y = √var(x);  gx = gy · (x - x̄) / ((N - c) · y), and 0 where y = 0 (as PyTorch)"""

    @staticmethod
    def forward(ctx, x, axes, correction, keepdim):
        y = array_module(x).std(x, axis=axes, ddof=correction, keepdims=keepdim)
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        ctx.correction = correction
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        xp = _xp(x)
        n = _count(x.shape, ctx.axes)
        keep = _keep_shape(x.shape, ctx.axes)
        gy = gy.reshape(keep)
        y = y.reshape(keep)
        centered = x - xp.sum(x, axis=ctx.axes, keepdims=True) / builtins.max(n, 1)
        scale = gy * _inverse(n - ctx.correction, 1.0)
        zero = _raw(y) == 0
        if zero.any():  # a constant slice: PyTorch's gradient there is 0, not NaN
            z = zero.astype(_raw(y).dtype)
            return scale / (y + z) * (1 - z) * centered, None, None, None
        return scale / y * centered, None, None, None


def _inverse(dof, numerator: float) -> float:
    """numerator / dof, inf when there are no degrees of freedom left (PyTorch gives NaN/inf)."""
    return numerator / dof if dof > 0 else math.inf


def _var_args(input, dim, unbiased, correction, name):
    if isinstance(dim, bool):  # the legacy var(input, unbiased) overload
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise RuntimeError(f"{name}(): pass either unbiased= or correction=, not both")
    if correction is None:
        correction = 1 if unbiased is None else int(bool(unbiased))
    if not _is_float(input):
        raise RuntimeError(
            "std and var only support floating point and complex dtypes "
            f"(got {_torch_name(input.dtype)}); call .float() first"
        )
    return _axes(dim, input._data.ndim), correction


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance over `dim`, dividing by N - correction (default correction=1, Bessel's).

    ``unbiased`` is the legacy spelling: unbiased=False means correction=0.
    """
    axes, c = _var_args(input, dim, unbiased, correction, "var")
    return Var.apply(input, axes, c, keepdim)


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Standard deviation over `dim`: sqrt of ``var`` with the same arguments."""
    axes, c = _var_args(input, dim, unbiased, correction, "std")
    return Std.apply(input, axes, c, keepdim)


def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(var, mean) over `dim`."""
    axes, c = _var_args(input, dim, unbiased, correction, "var_mean")
    return Var.apply(input, axes, c, keepdim), Mean.apply(input, axes, keepdim, None)


def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(std, mean) over `dim`."""
    axes, c = _var_args(input, dim, unbiased, correction, "std_mean")
    return Std.apply(input, axes, c, keepdim), Mean.apply(input, axes, keepdim, None)


# ---------------------------------------------------------------------------------- max, min
class Extreme(Op):
    """y = max (or min) of x over axes;  gx = gy shared evenly among the elements equal to y"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, largest, nan_grad):
        xp = array_module(x)
        y = (xp.amax if largest else xp.amin)(x, axis=axes, keepdims=keepdim)
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        ctx.nan_grad = nan_grad
        ctx.largest = largest
        return y

    def name(self) -> str:
        return ("Max" if self.largest else "Min") + "Backward"

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        xr = _raw(x)
        keep = _keep_shape(xr.shape, ctx.axes)
        w = _tie_weights(xr, _raw(y).reshape(keep), ctx.axes, ctx.nan_grad)
        return gy.reshape(keep) * w, None, None, None, None


def _tie_weights(xr, yr, axes, nan_grad):
    """1/count at the elements equal to y (or NaN where y is NaN, with nan_grad), else 0."""
    xp = array_module(xr)
    mask = xr == yr
    if nan_grad and xp.isnan(yr).any():  # max() with NaN: the gradient goes to the NaNs
        mask |= xp.isnan(xr) & xp.isnan(yr)
    with np.errstate(invalid="ignore", divide="ignore"):  # amax of NaN: 0/0, as PyTorch
        return (mask / mask.sum(axis=axes, keepdims=True)).astype(xr.dtype)


class Median(Extreme):
    """y = lower median of all of x (NaN if any is, or, with ignore_nan, of the non-NaNs);
    gx = gy shared evenly among the elements equal to y"""

    @staticmethod
    def forward(ctx, x, axes, keepdim, ignore_nan, nan_grad):
        xp = array_module(x)
        flat = xp.sort(x.reshape(-1))  # NaNs sort last
        n_nan = int(xp.isnan(flat).sum())
        n = flat.size - n_nan if ignore_nan else flat.size
        if n == 0 or (n_nan and not ignore_nan):
            y = xp.asarray(xp.nan, dtype=x.dtype)
        else:
            y = flat[(n - 1) // 2]
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        ctx.nan_grad = nan_grad
        return y

    def name(self) -> str:
        return "MedianBackward"


class SelectDim(Op):
    """(values, indices) = max (or min) of x along an axis;  gx = gy at the returned indices"""

    @staticmethod
    def forward(ctx, x, axis, keepdim, largest):
        xp = array_module(x)
        idx = (xp.argmax if largest else xp.argmin)(x, axis=axis, keepdims=True)
        ctx.largest = largest
        return _select(ctx, x, idx, axis, keepdim)

    def name(self) -> str:
        return ("Max" if self.largest else "Min") + "Backward"

    @staticmethod
    def backward(ctx, gy, gi):
        rxp = array_module(ctx.idx)
        ndim = len(ctx.shape)
        n = ctx.shape[ctx.axis]
        pos = rxp.arange(n).reshape(tuple(n if i == ctx.axis else 1 for i in range(ndim)))
        g = gy.reshape(_keep_shape(ctx.shape, (ctx.axis,)))
        return g * (pos == ctx.idx), None, None, None


def _select(ctx, x, idx, axis, keepdim):
    """The values at `idx` (keepdim form) along `axis`, and the indices as int64."""
    xp = array_module(x)
    values = xp.take_along_axis(x, idx, axis=axis)
    ctx.idx = idx
    ctx.axis = axis
    ctx.shape = x.shape
    if not keepdim:
        values = values.squeeze(axis)
        idx = idx.squeeze(axis)
    return values, idx.astype(backend.int64)


class MedianDim(SelectDim):
    """(values, indices) = lower median along an axis (NaN if the slice has one);  gx = gy at
    the indices"""

    @staticmethod
    def forward(ctx, x, axis, keepdim, ignore_nan):
        xp = array_module(x)
        order = xp.argsort(x, axis=axis, kind="stable")  # NaNs sort last
        nans = xp.isnan(x)
        n = x.shape[axis]
        if ignore_nan:
            k = (n - nans.sum(axis=axis, keepdims=True) - 1).clip(0, None) // 2
            idx = xp.take_along_axis(order, k, axis=axis)
        else:
            k = (n - 1) // 2
            idx = order[(slice(None),) * axis + (slice(k, k + 1),)]
            has_nan = nans.any(axis=axis, keepdims=True)
            if has_nan.any():
                idx = xp.where(has_nan, xp.argmax(nans, axis=axis, keepdims=True), idx)
        return _select(ctx, x, idx, axis, keepdim)

    def name(self) -> str:
        return "MedianBackward"


def _check_nonempty(input, name):
    if input._data.size == 0:
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify "
            "the reduction dim with the 'dim' argument."
        )


def _binary(name, input, other):
    from . import elementwise

    fn = getattr(elementwise, name, None)
    if fn is None:
        raise NotImplementedError(f"{name}() is not available yet in chainrule.ops.elementwise")
    return fn(input, other)


def _select_dim(input, dim, keepdim, largest, ret, name):
    if input._data.shape and input._data.shape[canonical_dim(dim, input._data.ndim)] == 0:
        raise IndexError(
            f"{name}(): Expected reduction dim {dim} to have non-zero size (input shape "
            f"{tuple(input.shape)})"
        )
    values, indices = _on_vector(lambda t, a: SelectDim.apply(t, a, keepdim, largest), input, dim)
    return ret(values, indices)


def max(input, dim=None, keepdim: bool = False):
    """max(input) -> the largest value (ties share the gradient evenly);
    max(input, dim, keepdim=False) -> (values, indices), the gradient going to the indices;
    max(input, other) -> maximum(input, other), elementwise.

    Example:
        >>> import chainrule as torch
        >>> torch.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1).indices
        tensor([1, 0])
    """
    if isinstance(dim, Tensor):
        return _binary("maximum", input, dim)
    if dim is None:
        _check_nonempty(input, "max")
        return Extreme.apply(input, tuple(range(input._data.ndim)), False, True, True)
    return _select_dim(input, dim, keepdim, True, max_return, "max")


def min(input, dim=None, keepdim: bool = False):
    """min(input), min(input, dim, keepdim=False) -> (values, indices), or min(input, other)."""
    if isinstance(dim, Tensor):
        return _binary("minimum", input, dim)
    if dim is None:
        _check_nonempty(input, "min")
        return Extreme.apply(input, tuple(range(input._data.ndim)), False, False, True)
    return _select_dim(input, dim, keepdim, False, min_return, "min")


def amax(input, dim=(), keepdim: bool = False):
    """Largest value over `dim` (an int or tuple; () or None for all); ties share the gradient."""
    _check_nonempty(input, "amax")
    return Extreme.apply(
        input, _axes(dim if dim != () else None, input._data.ndim), keepdim, True, False
    )


def amin(input, dim=(), keepdim: bool = False):
    """Smallest value over `dim` (an int or tuple; () or None for all); ties share the gradient."""
    _check_nonempty(input, "amin")
    return Extreme.apply(
        input, _axes(dim if dim != () else None, input._data.ndim), keepdim, False, False
    )


def aminmax(input, *, dim=None, keepdim: bool = False):
    """(min, max) over `dim` (all dims when None)."""
    return aminmax_return(amin(input, dim, keepdim), amax(input, dim, keepdim))


def _arg(input, dim, keepdim, largest):
    x = input._data
    xp = array_module(x)
    fn = xp.argmax if largest else xp.argmin
    if dim is None:
        idx = fn(x.reshape(-1)) if not keepdim else fn(x, keepdims=True)
    elif x.ndim == 0:
        canonical_dim(dim, 0)
        idx = xp.zeros((), dtype=backend.int64)
    else:
        idx = fn(x, axis=canonical_dim(dim, x.ndim), keepdims=keepdim)
    return Tensor._make(xp.asarray(idx).astype(backend.int64))


def argmax(input, dim=None, keepdim: bool = False):
    """Index of the largest value (of the flattened tensor when dim is None); int64, no graph."""
    if dim is None:
        _check_nonempty(input, "argmax")
    return _arg(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim: bool = False):
    """Index of the smallest value (of the flattened tensor when dim is None); int64, no graph."""
    if dim is None:
        _check_nonempty(input, "argmin")
    return _arg(input, dim, keepdim, False)


def median(input, dim=None, keepdim: bool = False):
    """median(input) -> the lower median of all elements (NaN if any is NaN);
    median(input, dim, keepdim=False) -> (values, indices)."""
    if dim is None:
        return Median.apply(input, tuple(range(input._data.ndim)), False, False, True)
    values, indices = _on_vector(lambda t, a: MedianDim.apply(t, a, keepdim, False), input, dim)
    return median_return(values, indices)


def nanmedian(input, dim=None, keepdim: bool = False):
    """Like median, ignoring NaNs (NaN only where a slice is all NaN)."""
    if dim is None:
        return Median.apply(input, tuple(range(input._data.ndim)), False, True, True)
    values, indices = _on_vector(lambda t, a: MedianDim.apply(t, a, keepdim, True), input, dim)
    return nanmedian_return(values, indices)


# ------------------------------------------------------------------------- logsumexp, cumulative
class LogSumExp(Op):
    """y = m + log Σ exp(x - m) with m = max x;  gx = gy · exp(x - y)"""

    @staticmethod
    def forward(ctx, x, axes, keepdim):
        xp = array_module(x)
        m = xp.amax(x, axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # a slice of -inf: avoid -inf - -inf = NaN
        with np.errstate(divide="ignore"):  # log 0 = -inf is the answer for such a slice
            y = xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True)) + m
        if not keepdim:
            y = y.reshape(tuple(n for i, n in enumerate(x.shape) if i not in axes))
        ctx.save_for_backward(x, y)
        ctx.axes = axes
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        xp = _xp(x)
        keep = _keep_shape(x.shape, ctx.axes)
        return gy.reshape(keep) * xp.exp(x - y.reshape(keep)), None, None


def _flip(a, axis):
    return a[(slice(None),) * axis + (slice(None, None, -1),)]


class CumSum(Op):
    """y_i = Σ_{j≤i} x_j along an axis;  gx_i = Σ_{j≥i} gy_j"""

    @staticmethod
    def forward(ctx, x, axis, dtype):
        ctx.axis = axis
        return array_module(x).cumsum(x, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, gy):
        xp = array_module(gy)
        return _flip(xp.cumsum(_flip(gy, ctx.axis), axis=ctx.axis), ctx.axis), None, None


class CumProd(Op):
    """y_i = Π_{j≤i} x_j along an axis;  gx_i = Σ_{j≥i} gy_j · Π_{k≤j, k≠i} x_k
    (= Σ_{j≥i} gy_j y_j / x_i when no x is 0)"""

    @staticmethod
    def forward(ctx, x, axis):
        y = array_module(x).cumprod(x, axis=axis)
        ctx.save_for_backward(x, y)
        ctx.axis = axis
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        xp = _xp(x, gy)
        a = ctx.axis
        if not (_raw(x) == 0).any():
            return _flip(xp.cumsum(_flip(gy * y, a), axis=a), a) / x, None
        # with zeros: row i of a matrix holds x with x_i replaced by 1; its cumprod at j ≥ i is
        # ∂y_j/∂x_i. O(n²) memory, so taken only when some x is 0.
        x = xp.swapaxes(x, a, -1)
        gy = xp.swapaxes(gy, a, -1)
        n = x.shape[-1]
        rxp = array_module(_raw(x))
        eye = rxp.eye(n, dtype=_raw(x).dtype)
        upper = rxp.triu(rxp.ones((n, n), dtype=_raw(x).dtype))
        rows = x.reshape(x.shape[:-1] + (1, n)) * (1 - eye) + eye
        jac = xp.cumprod(rows, axis=-1) * upper
        gx = xp.sum(jac * gy.reshape(gy.shape[:-1] + (1, n)), axis=-1)
        return xp.swapaxes(gx, a, -1), None


def logsumexp(input, dim, keepdim: bool = False):
    """log Σ exp(input) over `dim` (an int or tuple), computed without overflow."""
    if not _is_float(input):
        input = cast(input, backend.get_default_dtype())
    return LogSumExp.apply(input, _axes(dim, input._data.ndim), keepdim)


def cumsum(input, dim, *, dtype=None):
    """Running sum along `dim`; ints and bools accumulate in int64."""
    if dtype is not None:
        dtype = backend.as_dtype(dtype)
    elif input._data.dtype.kind in "biu":
        dtype = backend.int64
    if dtype is not None and _is_float(input) and dtype.kind in "fcV":
        input, dtype = cast(input, dtype), None
    return _on_vector(lambda t, a: CumSum.apply(t, a, dtype), input, dim)


def cumprod(input, dim, *, dtype=None):
    """Running product along `dim`; ints and bools multiply in int64. The gradient is exact
    where elements are 0."""
    input = _cast_dtype(input, dtype)
    if input._data.dtype.kind in "biu":
        input = cast(input, backend.int64)
    return _on_vector(lambda t, a: CumProd.apply(t, a), input, dim)


# ---------------------------------------------------------------------------------------- norms
class VectorNorm(Op):
    """y = (Σ |x|^p)^(1/p) over axes (p = inf: max |x|, p = 0: count of nonzeros);
    gx = gy · sign(x) |x|^(p-1) / y^(p-1)  (p = 2: gy · x / y, 0 at y = 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x, p, axes, keepdim):
        xp = array_module(x)
        ax = x if p in (0, 2) else xp.abs(x)
        if p == 2:
            y = xp.sqrt(xp.sum(x * x, axis=axes, keepdims=keepdim))
        elif p == math.inf:
            y = xp.amax(ax, axis=axes, keepdims=keepdim)
        elif p == -math.inf:
            y = xp.amin(ax, axis=axes, keepdims=keepdim)
        elif p == 0:
            y = xp.sum(x != 0, axis=axes, keepdims=keepdim).astype(x.dtype)
        elif p == 1:
            y = xp.sum(ax, axis=axes, keepdims=keepdim)
        else:
            with np.errstate(divide="ignore"):  # 0 ** negative p: inf, as PyTorch
                y = xp.sum(ax**p, axis=axes, keepdims=keepdim) ** (1.0 / p)
        ctx.save_for_backward(x, y)
        ctx.p = p
        ctx.axes = axes
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        xr = _raw(x)
        p = ctx.p
        if p == 0:
            return None, None, None, None
        keep = _keep_shape(xr.shape, ctx.axes)
        gy = gy.reshape(keep)
        y = y.reshape(keep)
        rxp = array_module(xr)
        sign = rxp.sign(xr)
        if p == 1:
            return gy * sign, None, None, None
        if math.isinf(p):
            return (
                gy * (sign * _tie_weights(rxp.abs(xr), _raw(y), ctx.axes, True)),
                None,
                None,
                None,
            )
        y_zero = (_raw(y) == 0).astype(xr.dtype)
        y_safe = y + y_zero  # PyTorch: the gradient is 0 where the norm is 0
        if p == 2:
            return gy * x / y_safe * (1 - y_zero), None, None, None
        absx = x * sign
        if p < 1:
            x_zero = (xr == 0).astype(xr.dtype)
            return gy * sign * (absx + x_zero) ** (p - 1) * y ** (1 - p), None, None, None
        if p < 2:
            scaled = sign * absx ** (p - 1)
        else:
            scaled = x * absx ** (p - 2)
        return gy * scaled / y_safe ** (p - 1) * (1 - y_zero), None, None, None


def vector_norm(input, ord=2, dim=None, keepdim: bool = False, *, dtype=None):
    """The vector ord-norm over `dim` (all elements when None), as torch.linalg.vector_norm.

    Args:
        ord: a number, ``inf`` or ``-inf``; 0 counts nonzero elements.
    """
    if not _is_float(input):
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got "
            f"{_torch_name(input.dtype)}"
        )
    input = _cast_dtype(input, dtype)
    return VectorNorm.apply(input, float(ord), _axes(dim, input._data.ndim), keepdim)


def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """The p-norm over `dim` (all elements when None): p = 'fro' (2-norm of the entries), a
    number, inf or -inf. The nuclear norm needs an SVD and is not implemented."""
    if p is None:
        p = "fro"
    if isinstance(p, str):
        if p == "nuc":
            raise NotImplementedError(
                "norm(p='nuc'): the nuclear norm needs a singular value decomposition, which "
                "chainrule does not implement yet"
            )
        if p != "fro":
            raise RuntimeError(f"norm(): unsupported p={p!r}; use 'fro', a number, inf or -inf")
        if dim is not None and not isinstance(dim, numbers.Integral) and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim}")
        p = 2
    return vector_norm(input, p, dim, keepdim, dtype=dtype)


# ------------------------------------------------------------------------- boolean, counting
def _logical(input, dim, keepdim, name):
    x = input._data
    xp = array_module(x)
    y = getattr(xp, name)(x, axis=_axes(dim, x.ndim), keepdims=keepdim)
    y = xp.asarray(y)
    return Tensor._make(y.astype(backend.uint8) if x.dtype == backend.uint8 else y)


def all(input, dim=None, keepdim: bool = False):
    """Whether all elements over `dim` are nonzero (bool; uint8 for uint8 input, as PyTorch)."""
    return _logical(input, dim, keepdim, "all")


def any(input, dim=None, keepdim: bool = False):
    """Whether any element over `dim` is nonzero (bool; uint8 for uint8 input, as PyTorch)."""
    return _logical(input, dim, keepdim, "any")


def count_nonzero(input, dim=None):
    """The number of nonzero elements over `dim` (int64)."""
    x = input._data
    xp = array_module(x)
    axes = _axes(dim, x.ndim)
    y = xp.count_nonzero(x, axis=axes) if axes else (x != 0)
    return Tensor._make(xp.asarray(y).astype(backend.int64))


# ----------------------------------------------------------------- NumPy names for backward rules
# (a rule may hand them a plain array, such as a root gradient under create_graph: a constant)
def _tensor(x):
    return x if isinstance(x, Tensor) else Tensor._make(x)


def _np_sum(x, axis=None, keepdims=False, dtype=None):
    return sum(_tensor(x), axis, keepdims, dtype=dtype)


def _np_mean(x, axis=None, keepdims=False, dtype=None):
    return mean(_tensor(x), axis, keepdims, dtype=dtype)


def _np_prod(x, axis=None, keepdims=False):
    return Prod.apply(_tensor(x), _axes(axis, x.ndim), keepdims)


def _np_cumsum(x, axis=None, dtype=None):
    x = _tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return cumsum(x, axis, dtype=dtype)


def _np_cumprod(x, axis=None):
    x = _tensor(x)
    if axis is None:
        x, axis = x.reshape(-1), 0
    return cumprod(x, axis)


tensor_numpy.register(
    sum=_np_sum, mean=_np_mean, prod=_np_prod, cumsum=_np_cumsum, cumprod=_np_cumprod
)

_REDUCTIONS = [
    "sum", "mean", "nansum", "nanmean", "prod", "var", "std", "var_mean", "std_mean",
    "max", "min", "amax", "amin", "aminmax", "argmax", "argmin", "median", "nanmedian",
    "logsumexp", "cumsum", "cumprod", "norm", "all", "any", "count_nonzero",
]  # fmt: skip
METHODS = [n for n in _REDUCTIONS if n not in ("var_mean", "std_mean")]
__all__ = _REDUCTIONS + ["vector_norm"]
