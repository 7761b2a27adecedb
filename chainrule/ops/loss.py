"""Loss functions: ``torch.nn.functional``'s losses with every reduction mode.

Three are primitives. cross_entropy with class indices runs log_softmax, the pick of each
target's class, class weights, ignore_index and label smoothing in one pass (the training
benchmarks call it every step) and recomputes softmax from the saved logits in backward;
nll_loss is the same weighted pick without the softmax; binary_cross_entropy keeps PyTorch's
gradient, whose denominator x(1 - x) is clamped at 1e-12, so that a saturated probability (exactly
0 or 1) gives a large finite gradient instead of the composition's 0/0. Their backward rules use
only xp functions that tensor_numpy registers, so they are twice differentiable.

The rest are compositions of differentiable ops; binary_cross_entropy_with_logits is
(1 - t) x - ln σ(x) (with pos_weight: (1 - t) x - (1 + (p - 1) t) ln σ(x)), stable for any |x|
because logsigmoid is. 'mean' of a weighted class-index loss divides by the summed weights of
the targets that are not ignored, as PyTorch does (NaN when all are ignored).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np

from ..amp import autocast_mode as _amp
from ..autograd import engine
from ..backend import array_module
from ..tensor import Tensor
from ._core import Op, cast
from .activation import logsigmoid, softplus
from .elementwise import abs, clamp_min, exp, log, minimum, sqrt, where, xlogy
from .index import take_along_dim
from .nn import log_softmax
from .reduce import _torch_name, vector_norm

_REDUCTIONS = ("none", "mean", "sum")


# ------------------------------------------------------------------------------- reductions
def legacy_reduction(size_average: bool | None, reduce: bool | None, emit_warning=True) -> str:
    """The reduction that PyTorch's deprecated size_average/reduce pair stands for."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    if emit_warning:
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use reduction='{ret}' "
            "instead.",
            stacklevel=3,
        )
    return ret


def _reduction(size_average, reduce, reduction: str) -> str:
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _weighted(loss: Tensor, weight, input: Tensor, reduction: str, mean_by_weights: bool):
    """loss * weight (same size as input), with 'mean' = Σ w·loss / Σ w (mse, l1) or the plain
    mean of w·loss (huber), as in PyTorch."""
    if tuple(weight.shape) != tuple(input.shape):
        raise ValueError(
            "Weights and input must have the same size. "
            f"(weight {list(weight.shape)}, input {list(input.shape)})"
        )
    loss = loss * weight
    if reduction == "mean" and mean_by_weights:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def _size_warning(input: Tensor, target: Tensor) -> None:
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}). This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.",
            stacklevel=3,
        )


def _pair(input, target):
    """input and target, after PyTorch's warning where they differ in size (the arithmetic
    broadcasts them; the engine sums each gradient back to its own shape)."""
    _size_warning(input, target)
    return input, target


def _float32_under_autocast(loss):
    """Under autocast, the loss runs on float32 inputs, as on PyTorch's float32 list (integer
    targets pass through); off, the wrapper costs one global read."""

    @functools.wraps(loss)
    def wrapper(*args, **kwargs):
        if _amp.active:
            args = _amp.autocast_inputs("fp32", *args)
            if kwargs:
                kwargs = dict(zip(kwargs, _amp.autocast_inputs("fp32", *kwargs.values())))
        return loss(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------------------ regression
@_float32_under_autocast
def mse_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """(input - target)², reduced. With `weight` (input's size), 'mean' is Σ w·se / Σ w.

    Example:
        >>> import chainrule as torch
        >>> import chainrule.nn.functional as F
        >>> F.mse_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0]))
        tensor(5.)
    """
    reduction = _reduction(size_average, reduce, reduction)
    x, t = _pair(input, target)
    d = x - t
    if weight is not None:
        return _weighted(d * d, weight, input, reduction, mean_by_weights=True)
    return _reduce(d * d, reduction)


@_float32_under_autocast
def l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    weight: Tensor | None = None,
) -> Tensor:
    """|input - target|, reduced. With `weight`, 'mean' is Σ w·|d| / Σ w."""
    reduction = _reduction(size_average, reduce, reduction)
    x, t = _pair(input, target)
    loss = abs(x - t)
    if weight is not None:
        return _weighted(loss, weight, input, reduction, mean_by_weights=True)
    return _reduce(loss, reduction)


@_float32_under_autocast
def smooth_l1_loss(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """0.5 d² / beta where |d| < beta, else |d| - 0.5 beta (d = input - target); l1 at beta 0."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    x, t = _pair(input, target)
    d = x - t
    ad = abs(d)
    if beta == 0:
        return _reduce(ad, reduction)
    return _reduce(where(ad.detach() < beta, (0.5 / beta) * d * d, ad - 0.5 * beta), reduction)


@_float32_under_autocast
def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """0.5 d² where |d| < delta, else delta (|d| - 0.5 delta); smooth_l1 scaled by delta."""
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError(
            f"huber_loss does not support non-positive values for delta. Got {delta}"
        )
    x, t = _pair(input, target)
    d = x - t
    ad = abs(d)
    loss = where(ad.detach() < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
    if weight is not None:
        return _weighted(loss, weight, input, reduction, mean_by_weights=False)
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------- class targets
def _class_targets(input: Tensor, target: Tensor, weight, ignore_index: int, name: str):
    """Validate class-index targets against input (N, C, d1…dk) and return the raw arrays of
    the pick: idx (N, 1, d…), each target's class (ignored ones point at class 0); wt (N, d…),
    each target's weight, 0 where ignored; keep (N, d…), the targets not ignored; w (C,) or
    None, the class weights in x's dtype."""
    x = input._data
    t = target._data
    n, c = x.shape[0], x.shape[1]
    if t.ndim == 0 or t.shape[0] != n:
        got = t.shape[0] if t.ndim else "a 0-d target"
        raise ValueError(
            f"Expected input batch_size ({n}) to match target batch_size ({got}). {name}: input "
            f"{list(x.shape)} is (N, C, ...) and target should be (N, ...) class indices"
        )
    if x.ndim == 2 and t.ndim != 1:
        raise RuntimeError(
            "0D or 1D target tensor expected, multi-target not supported "
            f"(input {list(x.shape)}, target {list(t.shape)})"
        )
    if t.shape[1:] != x.shape[2:]:
        raise RuntimeError(
            f"Expected target size {[n, *x.shape[2:]]}, got {list(t.shape)}: for input "
            f"(N, C, d1, ...) = {list(x.shape)} the target holds one class index per (N, d1, ...)"
        )
    w = None
    if weight is not None:
        if weight._data.ndim != 1 or weight._data.shape[0] != c:
            raise RuntimeError(
                f"weight tensor should be defined either for all {c} classes or no classes but "
                f"got weight tensor of shape: {list(weight._data.shape)}"
            )
        if weight.requires_grad and engine._grad_enabled:
            raise RuntimeError(
                f"The function '{name}' is not differentiable with respect to argument 'weight'. "
                "This input cannot have requires_grad True: pass weight.detach()"
            )
        w = weight._data.astype(x.dtype, copy=False)
    xp = array_module(t)
    keep = t != ignore_index
    safe = t if keep.all() else xp.where(keep, t, 0)
    if safe.size and (safe.min() < 0 or safe.max() >= c):
        bad = t[keep & ((t < 0) | (t >= c))].reshape(-1)[0]
        raise IndexError(
            f"Target {int(bad)} is out of bounds. {name} expects class indices in [0, {c - 1}] "
            f"for {c} classes (or ignore_index={ignore_index})"
        )
    wt = keep.astype(x.dtype) if w is None else w[safe] * keep
    return safe.reshape(safe.shape[:1] + (1,) + safe.shape[1:]), wt, keep, w


def _check_index_target(input: Tensor, target: Tensor, name: str) -> None:
    if input._data.ndim == 0:
        raise ValueError(f"Expected 1 or more dimensions (got 0) for the input of {name}")
    kind = target._data.dtype.kind
    if kind not in "iu":
        raise RuntimeError(
            f"expected target dtype to be Long or Byte, but got {_torch_dtype(target)}: class "
            "index targets must be integers (call target.long()); class probabilities must have "
            f"the input's shape {list(input.shape)} (got target {list(target.shape)})"
        )


def _torch_dtype(t: Tensor) -> str:
    return _torch_name(t._data.dtype)


def _onehot(x_shape, idx, values, dtype):
    """values (N, 1, d…) placed at each target's class of an (N, C, d…) array of zeros."""
    xp = array_module(idx)
    a = xp.zeros(x_shape, dtype=dtype)
    if len(x_shape) == 2:  # plain indexing: 5x faster than put_along_axis on (N, C)
        a[xp.arange(x_shape[0]), idx[:, 0]] = values[:, 0]
    else:
        xp.put_along_axis(a, idx, values, axis=1)
    return a


def _pick(a, idx):
    """a[n, idx[n], …]: each target's entry of an (N, C, d…) array, shaped (N, d…)."""
    if a.ndim == 2:
        return a[array_module(a).arange(a.shape[0]), idx[:, 0]]
    return array_module(a).take_along_axis(a, idx, axis=1)[:, 0]


def _per_target_grad(gy, ctx):
    """The upstream gradient of each target, shaped (N, 1, d…) to broadcast over classes."""
    if ctx.reduction == "none":
        return gy.reshape(ctx.idx.shape)
    if ctx.reduction == "mean":
        return gy / ctx.denom
    return gy


def _reduce_raw(y, wt, reduction, ctx):
    xp = array_module(y)
    if reduction == "none":
        return y
    total = xp.sum(y)
    if reduction == "sum":
        return xp.asarray(total)
    ctx.denom = xp.sum(wt)  # Σ weights of the kept targets; NaN result if none is kept
    with _quiet():
        return xp.asarray(total / ctx.denom)


def _quiet():
    return np.errstate(invalid="ignore", divide="ignore")


class NLLLoss(Op):
    """y_n = -w[t_n] x[n, t_n] (0 where t_n = ignore_index), reduced;
    gx = -w[t_n] gy_n at each target's class, 0 elsewhere"""

    @staticmethod
    def forward(ctx, x, idx, wt, reduction):
        y = -wt * _pick(x, idx)
        ctx.idx, ctx.wt, ctx.reduction, ctx.shape = idx, wt, reduction, x.shape
        return _reduce_raw(y, wt, reduction, ctx)

    @staticmethod
    def backward(ctx, gy):
        wt = ctx.wt.reshape(ctx.idx.shape)
        a = _onehot(ctx.shape, ctx.idx, -wt, wt.dtype)
        return a * _per_target_grad(gy, ctx), None, None, None


class CrossEntropy(Op):
    """y_n = -Σ_c a_nc log softmax(x)_nc with a_nc = (1 - ε) w[t_n] [c = t_n] + (ε / C) w_c
    (0 where t_n = ignore_index), reduced;  gx = gy_n (softmax(x)_nc Σ_c a_nc - a_nc)"""

    @staticmethod
    def forward(ctx, x, idx, wt, keep, w, reduction, smoothing):
        xp = array_module(x)
        m = xp.amax(x, axis=1, keepdims=True)  # subtract the max: exp overflows float32 above ~88
        z = x - m
        lse = xp.log(_class_sum(xp.exp(z)))  # log softmax = z - lse, never formed whole
        y = -wt * (_pick(z, idx) - lse[:, 0])
        if smoothing:
            # Σ_c w_c log p_c = Σ_c w_c z_c - lse Σ_c w_c
            total_w = x.shape[1] if w is None else w.sum()
            spread = _class_sum(z, w)[:, 0] - lse[:, 0] * total_w
            y = (1 - smoothing) * y - (smoothing / x.shape[1]) * spread * keep
        ctx.save_for_backward(x)
        ctx.shift = m + lse  # log Σ exp x, a constant for backward (see there)
        ctx.idx, ctx.wt, ctx.keep, ctx.w = idx, wt, keep, w
        ctx.reduction, ctx.smoothing = reduction, smoothing
        return _reduce_raw(y, wt, reduction, ctx)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        xp = array_module(x)  # a Tensor under create_graph, where gy may still be an array
        p = xp.exp(x - ctx.shift)  # softmax(x) itself: exp(x - log Σ exp x)
        a, total = _target_mass(ctx, x.shape, x.dtype, dense=isinstance(x, Tensor))
        g = _per_target_grad(gy, ctx)
        if isinstance(x, Tensor):
            # create_graph: the shift is a constant, so normalise to put softmax's own
            # derivative in the graph, and compose from differentiable ops
            p = p / xp.sum(p, axis=1, keepdims=True)
            return (p * total - a) * g, None, None, None, None, None, None
        # first order, on the fresh array: the one-hot part is a scatter, not a dense product
        p *= total * g
        _scatter_sub(p, ctx.idx, (1 - ctx.smoothing) * ctx.wt * _flat_grad(g, ctx))
        if a is not None:
            p -= a * g
        return p, None, None, None, None, None, None


def _class_sum(a, w=None):
    """Σ_c w_c a_c over the class dim 1 (w = 1 when None), kept: a matrix-vector product for
    (N, C), 6x faster than NumPy's reduction over a short inner axis."""
    xp = array_module(a)
    if a.ndim == 2:
        return a @ (xp.ones((a.shape[1], 1), a.dtype) if w is None else w.reshape(-1, 1))
    return xp.sum(a if w is None else a * _class_axis(w, a.ndim), axis=1, keepdims=True)


def _flat_grad(g, ctx):
    """The per-target gradient (N, 1, d…) or a scalar, as (N, d…) or a scalar."""
    return g[:, 0] if getattr(g, "ndim", 0) else g


def _scatter_sub(a, idx, values):
    """a[n, idx[n], …] -= values[n, …], in place."""
    if a.ndim == 2:
        a[array_module(a).arange(a.shape[0]), idx[:, 0]] -= values
        return
    xp = array_module(a)
    picked = xp.take_along_axis(a, idx, axis=1)
    xp.put_along_axis(a, idx, picked - xp.expand_dims(values, 1), axis=1)


def _class_axis(w, ndim):
    """Class weights (C,) shaped (1, C, 1, …) to broadcast over an (N, C, d…) array."""
    return w.reshape((1, w.shape[0]) + (1,) * (ndim - 2))


def _target_mass(ctx, shape, dtype, dense: bool):
    """cross_entropy's targets as a mass a (N, C, d…) over classes, constants rebuilt from the
    targets in backward: (1 - ε) w[t_n] at each target's class plus ε / C · w_c everywhere
    (rows of ignored targets 0), and Σ_c a_nc (N, 1, d…). Without `dense` a holds only the
    smoothing part (None without smoothing): first order scatters the one-hot part itself."""
    eps = ctx.smoothing
    wt = ctx.wt.reshape(ctx.idx.shape)
    a = _onehot(shape, ctx.idx, (1 - eps) * wt, dtype) if dense else None
    if not eps:
        return a, wt
    c = shape[1]
    keep = ctx.keep.reshape(ctx.idx.shape).astype(dtype)
    w = ctx.w
    spread = (eps / c) * keep if w is None else (eps / c) * keep * _class_axis(w, len(shape))
    if spread.shape != tuple(shape):
        spread = array_module(spread).broadcast_to(spread, shape)
    a = spread if a is None else a + spread
    total_w = c if w is None else w.sum()
    return a, (1 - eps) * wt + (eps / c) * total_w * keep


def _check_smoothing(label_smoothing: float) -> None:
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")


def _as_batch(input: Tensor, target: Tensor):
    """(C,) input with a 0-d target is one sample: make it (1, C) and (1,)."""
    if input._data.ndim == 1:
        if target._data.ndim != 0:
            raise RuntimeError(
                f"size mismatch (got input: {list(input.shape)}, target: "
                f"{list(target.shape)}): a 1-D input (C,) takes a 0-d class index target"
            )
        return input.reshape(1, -1), target.reshape(1), True
    return input, target, False


@_float32_under_autocast
def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """The negative log likelihood of class-index targets, given log-probabilities.

    Args:
        input: log-probabilities (N, C), (C,) or (N, C, d1, ..., dk).
        target: class indices (N,), () or (N, d1, ..., dk), integers in [0, C).
        weight: a rescaling weight per class (C,).
        ignore_index: targets with this value add nothing to the loss or to 'mean''s divisor.
        reduction: 'none' (one loss per target), 'mean' (divided by the summed weights of the
            targets that are not ignored) or 'sum'.

    Example:
        >>> import chainrule as torch
        >>> import chainrule.nn.functional as F
        >>> F.nll_loss(torch.tensor([[-1.0, -2.0], [-3.0, -0.5]]), torch.tensor([0, 1]))
        tensor(0.7500)
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_index_target(input, target, "nll_loss")
    x, t, single = _as_batch(input, target)
    idx, wt, _, _ = _class_targets(x, t, weight, ignore_index, "nll_loss")
    y = NLLLoss.apply(x, idx, wt, reduction)
    return y.reshape(()) if single and reduction == "none" else y


@_float32_under_autocast
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """The cross entropy between softmax(input) over dim 1 and the target, computed from the
    logits in one stable step.

    Args:
        input: unnormalised logits (N, C), (C,) or (N, C, d1, ..., dk).
        target: class indices (N,), () or (N, d1, ..., dk) (integers), or class probabilities
            of input's shape (floats).
        weight: a rescaling weight per class (C,).
        ignore_index: class-index targets with this value add nothing to the loss or to
            'mean''s divisor.
        reduction: 'none', 'mean' or 'sum'. With class indices 'mean' divides by the summed
            weights of the kept targets; with probabilities by the number of samples N·d1…dk.
        label_smoothing: ε in [0, 1]: the target becomes (1 - ε) target + ε / C.

    Example:
        >>> import chainrule as torch
        >>> import chainrule.nn.functional as F
        >>> F.cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3]))
        tensor(1.3863)
    """
    reduction = _reduction(size_average, reduce, reduction)
    _check_smoothing(label_smoothing)
    if input._data.ndim and tuple(input.shape) == tuple(target.shape):
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing)
    _check_index_target(input, target, "cross_entropy")
    if input._data.dtype.kind not in "fV":
        raise RuntimeError(
            f"cross_entropy needs floating point logits, got {_torch_dtype(input)}: call "
            "input.float() first"
        )
    x, t, single = _as_batch(input, target)
    idx, wt, keep, w = _class_targets(x, t, weight, ignore_index, "cross_entropy")
    y = CrossEntropy.apply(x, idx, wt, keep, w, reduction, float(label_smoothing))
    return y.reshape(()) if single and reduction == "none" else y


def _cross_entropy_probs(input, target, weight, ignore_index, reduction, smoothing):
    """Probability targets: -Σ_c w_c t_c log softmax(x)_c; 'mean' divides by N·d1…dk."""
    if target._data.dtype.kind not in "fV":
        raise RuntimeError(
            "Expected floating point type for target with class probabilities, got "
            f"{_torch_dtype(target)}: class-index targets are (N, d1, ...), without the class "
            f"dim; this target has the input's shape {list(input.shape)}"
        )
    if ignore_index >= 0:
        raise RuntimeError("ignore_index is not supported for floating point target")
    cdim = 0 if input._data.ndim == 1 else 1
    c = input.shape[cdim]
    logp = log_softmax(input, cdim)
    t = target * (1 - smoothing) + smoothing / c if smoothing > 0 else target
    loss = logp * t
    if weight is not None:
        if tuple(weight.shape) != (c,):
            raise RuntimeError(
                f"weight tensor should be defined either for all {c} classes or no classes but "
                f"got weight tensor of shape: {list(weight.shape)}"
            )
        loss = loss * weight.reshape((c,) + (1,) * (input._data.ndim - cdim - 1))
    if reduction == "none":
        return -loss.sum(cdim)
    if reduction == "sum":
        return -loss.sum()
    return -loss.sum() / (input._data.size // c)


# ------------------------------------------------------------------------------ binary
class BinaryCrossEntropy(Op):
    """y = -(t max(ln x, -100) + (1 - t) max(ln(1 - x), -100));
    gx = gy (x - t) / max(x (1 - x), 1e-12), gt = gy (ln(1 - x) - ln x)"""

    @staticmethod
    def forward(ctx, x, t):
        xp = array_module(x)
        ctx.save_for_backward(x, t)
        with _quiet():
            return -(t * xp.maximum(xp.log(x), -100) + (1 - t) * xp.maximum(xp.log1p(-x), -100))

    @staticmethod
    def backward(ctx, gy):
        x, t = ctx.saved_tensors
        xp = array_module(x)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = gy * (x - t) / xp.maximum(x * (1 - x), 1e-12)
        if ctx.needs_input_grad[1]:
            with _quiet():
                gt = gy * (xp.log1p(-x) - xp.log(x))
        return gx, gt


@_float32_under_autocast
def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-w (t ln x + (1 - t) ln(1 - x)) for probabilities x in [0, 1], each log clamped at -100
    as PyTorch does (so x = 0 or 1 gives a finite loss). For logits use
    binary_cross_entropy_with_logits, which is stable."""
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Using a target size ({target.size()}) that is different to the input size "
            f"({input.size()}) is deprecated. Please ensure they have the same size."
        )
    x = input._data
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise RuntimeError(
            "all elements of input should be between 0 and 1 (binary_cross_entropy takes "
            "probabilities: apply sigmoid first, or use binary_cross_entropy_with_logits)"
        )
    t = target._data
    if t.size and not bool(((t >= 0) & (t <= 1)).all()):
        raise RuntimeError("all elements of target should be between 0 and 1")
    input, target = _same_float(input, target)
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        if not _broadcasts_to(tuple(weight.shape), tuple(target.shape)):
            raise RuntimeError(
                f"binary_cross_entropy: weight of size {list(weight.shape)} does not broadcast "
                f"to the target's size {list(target.shape)}"
            )
        loss = loss * weight
    return _reduce(loss, reduction)


def _broadcasts_to(shape: tuple, target: tuple) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _same_float(a: Tensor, b: Tensor):
    """b in a's dtype (a target of another float or integer dtype)."""
    return a, (b if b._data.dtype == a._data.dtype else cast(b, a._data.dtype))


@_float32_under_autocast
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """binary_cross_entropy(sigmoid(input), target) in the stable form (1 - t) x - ln σ(x).

    Args:
        weight: a rescaling weight broadcast with the loss.
        pos_weight: a weight of the positive term per class (broadcast along the last dim):
            the loss becomes (1 - t) x - (1 + (pos_weight - 1) t) ln σ(x).
    """
    reduction = _reduction(size_average, reduce, reduction)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"Target size ({target.size()}) must be the same as input size ({input.size()})"
        )
    x, t = _same_float(input, target)
    if pos_weight is None:
        loss = (1 - t) * x - logsigmoid(x)
    else:
        loss = (1 - t) * x - ((pos_weight - 1) * t + 1) * logsigmoid(x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


@_float32_under_autocast
def kl_div(
    input: Tensor,
    target: Tensor,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """The pointwise KL divergence t (ln t - input) for log-probabilities `input`
    (exp(t) (t - input) with log_target=True), reduced: 'batchmean' divides the sum by the
    batch size (the KL divergence's definition); 'mean' by the number of elements."""
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    else:
        if reduction not in _REDUCTIONS + ("batchmean",):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        if reduction == "mean":
            warnings.warn(
                "reduction: 'mean' divides the total loss by both the batch size and the support "
                "size.'batchmean' divides only by the batch size, and aligns with the KL div math "
                "definition.'mean' will be changed to behave the same as 'batchmean' in the next "
                "major release.",
                stacklevel=2,
            )
    if log_target:
        loss = exp(target) * (target - input)
    else:
        loss = xlogy(target, target) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input._data.ndim else total
    return _reduce(loss, reduction)


# ------------------------------------------------------------------------ margins, ranking
@_float32_under_autocast
def cosine_embedding_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1 (cos over
    the last dim of (N, D) or (D,) inputs, with 1e-12 added to each squared norm)."""
    reduction = _reduction(size_average, reduce, reduction)
    tdim = target._data.ndim
    if tdim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if tdim == 1 and (input1._data.ndim != 2 or input2._data.ndim != 2):
        raise RuntimeError(
            "1D target tensor expects 2D input tensors, but found inputs with sizes "
            f"{list(input1.shape)} and {list(input2.shape)}."
        )
    if tdim == 0 and (input1._data.ndim != 1 or input2._data.ndim != 1):
        raise RuntimeError(
            "0D target tensor expects 1D input tensors, but found inputs with sizes "
            f"{list(input1.shape)} and {list(input2.shape)}."
        )
    prod = (input1 * input2).sum(tdim)
    mag1 = (input1 * input1).sum(tdim) + 1e-12
    mag2 = (input2 * input2).sum(tdim) + 1e-12
    cos = prod / sqrt(mag1 * mag2)
    t = target._data
    loss = where(Tensor._make(t == 1), 1 - cos, 0.0) + where(
        Tensor._make(t == -1), clamp_min(cos - margin, 0), 0.0
    )
    return _reduce(loss, reduction)


@_float32_under_autocast
def margin_ranking_loss(
    input1: Tensor,
    input2: Tensor,
    target: Tensor,
    margin: float = 0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(0, -target (input1 - input2) + margin): target 1 asks input1 to rank higher."""
    reduction = _reduction(size_average, reduce, reduction)
    if input1._data.ndim != input2._data.ndim or input1._data.ndim != target._data.ndim:
        raise RuntimeError(
            "margin_ranking_loss : All input tensors should have same dimension but got sizes: "
            f"input1: {input1.size()}, input2: {input2.size()}, target: {target.size()} "
        )
    return _reduce(clamp_min(-target * (input1 - input2) + margin, 0), reduction)


def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """‖x1 - x2 + eps‖_p over the last dim (the inputs broadcast), as torch's."""
    dim = max(x1._data.ndim, x2._data.ndim) - 1
    return vector_norm(x1 - x2 + eps, p, dim=dim, keepdim=keepdim)


@_float32_under_autocast
def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2,
    eps: float = 1e-6,
    swap: bool = False,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """max(d(a, p) - d(a, n) + margin, 0) with d the p-norm distance over the last dim; with
    swap, d(a, n) becomes min(d(a, n), d(p, n)) (the harder negative)."""
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    dims = (anchor._data.ndim, positive._data.ndim, negative._data.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(
            "The anchor, positive, and negative tensors are expected to have the same number of "
            f"dimensions, but got: anchor {dims[0]}D, positive {dims[1]}D, and negative "
            f"{dims[2]}D inputs"
        )
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return _reduce(clamp_min(margin + d_pos - d_neg, 0), reduction)


@_float32_under_autocast
def soft_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """ln(1 + exp(-target · input)) for targets ±1."""
    reduction = _reduction(size_average, reduce, reduction)
    return _reduce(softplus(-target * input), reduction)


@_float32_under_autocast
def hinge_embedding_loss(
    input: Tensor,
    target: Tensor,
    margin: float = 1.0,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """input where target is 1, max(0, margin - input) where it is -1 (input: a distance)."""
    reduction = _reduction(size_average, reduce, reduction)
    t = target._data
    loss = where(Tensor._make(t != 1), clamp_min(margin - input, 0), 0.0) + where(
        Tensor._make(t != -1), input, 0.0
    )
    return _reduce(loss, reduction)


@_float32_under_autocast
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    size_average=None,
    eps: float = 1e-8,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """The Poisson negative log likelihood: exp(input) - target · input for a log-rate input
    (input - target · ln(input + eps) for a rate); with full, Stirling's approximation of
    ln(target!) is added where target > 1."""
    reduction = _reduction(size_average, reduce, reduction)
    if log_input:
        loss = exp(input) - target * input
    else:
        loss = input - target * log(input + eps)
    if full:
        big = Tensor._make(target._data > 1)
        t = where(big, target, 2.0)  # a safe value where the term is masked out
        stirling = t * log(t) - t + 0.5 * log(2 * math.pi * t)
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """0.5 (ln max(var, eps) + (input - target)² / max(var, eps)) (+ 0.5 ln 2π with full).
    var is input's size, one dim short of it, or broadcastable with one mismatched dim."""
    if isinstance(var, float | int):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = _full_like(input, float(var))
    elif bool((var._data < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input._data.ndim == var._data.ndim and (
            sum(v for i, v in zip(input.shape, var.shape) if i != v) == 1
        ):
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    # clamp without a gradient step at eps, as PyTorch's in-place clamp under no_grad
    var = var + Tensor._make(array_module(var._data).maximum(var._data, eps) - var._data)
    loss = 0.5 * (log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


def _full_like(input: Tensor, value: float) -> Tensor:
    xp = array_module(input._data)
    return Tensor._make(xp.full(input._data.shape, value, dtype=input._data.dtype))


@_float32_under_autocast
def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """Σ_{i ≠ y} max(0, margin - x_y + x_i)^p · w_y / C per sample: the multi-class hinge."""
    reduction = _reduction(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight._data.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    single = input._data.ndim <= 1
    x = input.reshape(1, -1) if single else input
    t = target._data.reshape(-1)
    if x._data.ndim != 2 or t.shape[0] != x.shape[0]:
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: {list(input.shape)}"
        )
    c = x.shape[1]
    if t.size and (t.min() < 0 or t.max() >= c):
        raise RuntimeError(f"target out of range: class indices must be in [0, {c - 1}]")
    xp = array_module(t)
    idx = t.reshape(-1, 1)
    z = clamp_min(margin - take_along_dim(x, Tensor._make(idx), 1) + x, 0)
    h = z if p == 1 else z * z
    others = xp.arange(c).reshape(1, -1) != idx  # the target's own class adds nothing
    h = h * Tensor._make(others.astype(x._data.dtype))
    if weight is not None:
        h = h * Tensor._make(weight._data.astype(x._data.dtype)[t].reshape(-1, 1))
    loss = h.sum(1) / c
    if single:
        loss = loss.reshape(target.shape)
    return _reduce(loss, reduction)


@_float32_under_autocast
def multilabel_margin_loss(
    input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean"
) -> Tensor:
    """Σ_j Σ_i max(0, 1 - (x_j - x_i)) / C per sample, j over the target classes (the entries of
    `target` before its first -1) and i over the other classes."""
    reduction = _reduction(size_average, reduce, reduction)
    single = input._data.ndim <= 1
    x = input.reshape(1, -1) if single else input
    if tuple(target.shape) != tuple(input.shape) or x._data.ndim != 2:
        raise RuntimeError(
            f"inconsistent target size: {list(target.shape)} for input of size: "
            f"{list(input.shape)} (multilabel_margin_loss: target lists class indices, padded "
            "with -1, in the input's shape)"
        )
    n, c = x.shape
    t = target._data.reshape(n, c)
    xp = array_module(t)
    listed = xp.cumprod(t != -1, axis=1).astype(bool)  # the entries before the first -1
    if bool((listed & ((t < 0) | (t >= c))).any()):
        raise RuntimeError(f"argument #2 'target' is out of range: class indices in [0, {c - 1}]")
    count = xp.zeros((n, c), dtype=x._data.dtype)  # how often each class is listed
    xp.add.at(count, (xp.arange(n)[:, None].repeat(c, 1), xp.where(listed, t, 0)), listed)
    pairs = count[:, :, None] * (count == 0)[:, None, :]  # (n, j: target, i: other class)
    z = clamp_min(1 - x.unsqueeze(2) + x.unsqueeze(1), 0)
    loss = (z * Tensor._make(pairs)).sum((1, 2)) / c
    return _reduce(loss.reshape(()) if single else loss, reduction)


@_float32_under_autocast
def multilabel_soft_margin_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average=None,
    reduce=None,
    reduction: str = "mean",
) -> Tensor:
    """-mean over classes of t ln σ(x) + (1 - t) ln σ(-x), per sample, for 0/1 multi-label
    targets."""
    reduction = _reduction(size_average, reduce, reduction)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    cdim = input._data.ndim - 1
    return _reduce(loss.sum(cdim) / input.shape[cdim], reduction)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """(…, num_classes) int64 with a 1 at each entry's class (num_classes -1: max + 1)."""
    t = tensor._data
    if t.dtype.kind not in "iu":
        raise RuntimeError(
            "one_hot is only applicable to index tensor of type LongTensor. "
            f"(got {_torch_dtype(tensor)}: call .long() first)"
        )
    xp = array_module(t)
    if t.size and t.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes == -1:
        if not t.size:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(t.max()) + 1
    elif t.size and t.max() >= num_classes:
        raise RuntimeError(
            f"Class values must be smaller than num_classes. (max {int(t.max())}, "
            f"num_classes {num_classes})"
        )
    return Tensor._make((t[..., None] == xp.arange(num_classes)).astype(xp.int64))


# torch.nn.functional's names, for chainrule.nn.functional; deliberately not top-level chainrule
# names (keep this family out of ops.FAMILIES): torch has them under torch.nn.functional only
METHODS: list = []
__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cross_entropy",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "one_hot",
    "pairwise_distance",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
]
