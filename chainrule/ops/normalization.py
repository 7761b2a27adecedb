"""Normalisation: batch_norm, layer_norm, group_norm, instance_norm, rms_norm, normalize and
local_response_norm.

batch_norm and layer_norm are primitives (every benchmark model runs them): one node each,
with the closed-form backward of a normalisation over N elements,

    x̂ = (x - μ) · rstd,  rstd = 1 / √(σ² + ε),  ĝ = gy · w
    gx = rstd · (ĝ - mean(ĝ) - x̂ · mean(ĝ x̂)),  gw = Σ gy x̂,  gb = Σ gy

instead of the dozen nodes of its composition. The statistics (μ, rstd) are kept on ctx for the
plain backward pass; under create_graph the backward recomputes them from the saved input
Tensor, so that the graph of the gradient reaches x through them and double backward is exact.
group_norm and instance_norm reuse the layer_norm primitive on a reshaped input; the others are
compositions. Evaluation-mode batch_norm is an affine map with constant statistics, composed.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import engine
from ..backend import array_module
from ..tensor import Tensor
from ._core import Op
from .elementwise import _float, clamp_min, rsqrt
from .reduce import vector_norm
from .shape import cat


def _stats(xp, x, axes, eps):
    """Per-slice mean and 1/√(biased variance + eps), kept dims."""
    mean = xp.mean(x, axis=axes, keepdims=True)
    d = x - mean
    return mean, 1.0 / xp.sqrt(xp.mean(d * d, axis=axes, keepdims=True) + eps)


_ONES: dict = {}  # (n, dtype) -> a read-only vector of n ones, for sums as GEMVs


def _gemv_ok(a) -> bool:
    """A NumPy float32/64 array big enough that a GEMV beats NumPy's sum (below ~4K elements
    the call overheads are even)."""
    return (
        type(a) is np.ndarray and a.dtype.kind == "f" and a.dtype.itemsize >= 4 and a.size >= 4096
    )


def _ones(n: int, dtype):
    v = _ONES.get((n, dtype))
    if v is None:
        v = _ONES[(n, dtype)] = np.ones(n, dtype)
        v.flags.writeable = False
    return v


def sum_trailing(a, k: int):
    """Σ over a's last k dims, kept as size 1. A GEMV against ones for NumPy floats: NumPy's
    sum over a short last axis is several times slower (1024 x 128 float32: 48 µs vs 9 µs)."""
    lead = a.ndim - k
    if not _gemv_ok(a):
        return array_module(a).sum(a, axis=tuple(range(lead, a.ndim)), keepdims=True)
    n = math.prod(a.shape[lead:])
    return (a.reshape(-1, n) @ _ones(n, a.dtype)).reshape(a.shape[:lead] + (1,) * k)


def sum_leading(a, k: int):
    """Σ over all but a's last k dims (dropped): ones @ a, as in sum_trailing."""
    lead = a.ndim - k
    if not _gemv_ok(a):
        return array_module(a).sum(a, axis=tuple(range(lead)))
    m = math.prod(a.shape[:lead])
    return (_ones(m, a.dtype) @ a.reshape(m, -1)).reshape(a.shape[lead:])


class BatchNorm(Op):
    """y = x̂ w + b, x̂ = (x - μ) rstd per channel (dim 1) over the batch and spatial dims;
    gx = rstd w (gy - mean(gy) - x̂ mean(gy x̂)), gw = Σ gy x̂, gb = Σ gy"""

    @staticmethod
    def forward(ctx, x, w, b, mean, var, eps):
        rstd = 1.0 / array_module(var).sqrt(var + eps)
        ctx.save_for_backward(x, w)
        ctx.stats, ctx.eps = (mean, rstd), eps
        # y = x · scale + shift: two passes over x instead of four
        scale = rstd if w is None else rstd * w.reshape(rstd.shape)
        shift = -mean * scale
        if b is not None:
            shift = shift + b.reshape(shift.shape)
        y = x * scale
        y += shift
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad[:3]
        axes = (0,) + tuple(range(2, x.ndim))
        n = math.prod(x.shape) // x.shape[1]
        if not isinstance(x, Tensor):
            return _batch_norm_grads(x, w, gy, *ctx.stats, axes, n, need) + (None,) * 3
        xp = array_module(x)  # create_graph: statistics recomputed from x, in the graph
        mean, rstd = _stats(xp, x, axes, ctx.eps)
        xhat = (x - mean) * rstd
        s_gy = xp.sum(gy, axis=axes, keepdims=True)
        s_gyx = xp.sum(gy * xhat, axis=axes, keepdims=True)
        gx = None
        if need[0]:
            scale = rstd if w is None else rstd * w.reshape(rstd.shape)
            gx = (gy - s_gy * (1.0 / n) - xhat * (s_gyx * (1.0 / n))) * scale
        gw = s_gyx.reshape(-1) if need[1] else None
        gb = s_gy.reshape(-1) if need[2] else None
        return gx, gw, gb, None, None, None


def _batch_norm_grads(x, w, gy, mean, rstd, axes, n, need):
    """BatchNorm.backward on arrays: the same formulas in two output-sized buffers. Every fresh
    buffer costs page faults, which took longer than the arithmetic itself."""
    xp = array_module(x)
    xhat = x - mean
    xhat *= rstd
    t = gy * xhat
    s_gyx = xp.sum(t, axis=axes, keepdims=True)
    s_gy = xp.sum(gy, axis=axes, keepdims=True)
    gx = None
    if need[0]:
        xp.multiply(xhat, s_gyx * (1.0 / n), out=t)
        gx = xhat  # reused: gx = (gy - mean(gy) - x̂ mean(gy x̂)) · rstd w
        xp.subtract(gy, s_gy * (1.0 / n), out=gx)
        gx -= t
        gx *= rstd if w is None else rstd * w.reshape(rstd.shape)
    gw = s_gyx.reshape(-1) if need[1] else None
    gb = s_gy.reshape(-1) if need[2] else None
    return gx, gw, gb


class LayerNorm(Op):
    """y = x̂ w + b, x̂ = (x - μ) rstd over the last k dims;
    gx = rstd (ĝ - mean(ĝ) - x̂ mean(ĝ x̂)) with ĝ = gy w, gw = gy x̂, gb = gy (the engine sums
    over the leading dims)"""

    @staticmethod
    def forward(ctx, x, w, b, k, eps):
        axes = tuple(range(x.ndim - k, x.ndim))
        xp = array_module(x)
        inv_n = 1.0 / math.prod(x.shape[x.ndim - k :])
        mean = sum_trailing(x, k) * inv_n
        y = x - mean  # reused: the centred input, then x̂, then the output
        rstd = 1.0 / xp.sqrt(sum_trailing(y * y, k) * inv_n + eps)
        ctx.save_for_backward(x, w)
        ctx.stats, ctx.axes, ctx.eps = (mean, rstd), axes, eps
        y *= rstd
        if w is not None:
            y *= w
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad[:3]
        axes = ctx.axes
        if not isinstance(x, Tensor):
            return _layer_norm_grads(x, w, gy, *ctx.stats, axes, need) + (None, None)
        xp = array_module(x)  # create_graph: statistics recomputed from x, in the graph
        mean, rstd = _stats(xp, x, axes, ctx.eps)
        n = math.prod(x.shape[a] for a in axes)
        xhat = (x - mean) * rstd
        gx = None
        if need[0]:
            g = gy if w is None else gy * w
            s1 = xp.sum(g, axis=axes, keepdims=True) * (1.0 / n)
            s2 = xp.sum(g * xhat, axis=axes, keepdims=True) * (1.0 / n)
            gx = (g - s1 - xhat * s2) * rstd
        gw = gy * xhat if need[1] else None
        gb = gy if need[2] else None
        return gx, gw, gb, None, None


def _layer_norm_grads(x, w, gy, mean, rstd, axes, need):
    """LayerNorm.backward on arrays: the same formulas in three output-sized buffers (fresh
    buffers cost page faults: at GPT sizes, more than the arithmetic), with gw and gb summed
    over the leading dims here rather than by the engine."""
    xp = array_module(x)
    n = math.prod(x.shape[a] for a in axes)
    xhat = x - mean
    xhat *= rstd
    k = len(axes)
    t = gy * xhat
    gw = sum_leading(t, k) if need[1] else None
    gb = sum_leading(gy, k) if need[2] else None
    gx = None
    if need[0]:
        g = gy.copy() if w is None else gy * w  # ĝ, in a fresh buffer (gy may be shared)
        xp.multiply(g, xhat, out=t)
        s1 = sum_trailing(g, k) * (1.0 / n)
        s2 = sum_trailing(t, k) * (1.0 / n)
        g -= s1
        xp.multiply(xhat, s2, out=t)
        g -= t
        g *= rstd
        gx = g
    return gx, gw, gb


# ---------------------------------------------------------------------------------- checks
def _size_str(shape) -> str:
    return f"torch.Size({list(shape)})"


def _check_channels(name: str, t: Tensor | None, c: int) -> None:
    if t is not None and t.numel() != c:
        raise RuntimeError(
            f"{name} should contain {c} elements not {t.numel()} (the input has {c} channels "
            "in dim 1)"
        )


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


# ----------------------------------------------------------------------------- batch norm
def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (dim 1) of an (N, C, *) input.

    Training uses the batch's statistics and updates the running ones in place:
    running = (1 - momentum) · running + momentum · batch, with the unbiased batch variance.
    Evaluation uses the running statistics.
    """
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an input of at least 2 dims (N, C, *), got shape "
            f"{list(input.shape)}"
        )
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _check_channels(name, t, c)
    for name, t in (("weight", weight), ("bias", bias)):
        _check_channels(name, t, c)
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError(f"{'running_mean' if running_mean is None else 'running_var'} "
                               "must be defined in evaluation mode")  # fmt: skip
        return _affine_eval(input, running_mean, running_var, weight, bias, eps)
    n = input.numel() // c
    if n == 1:
        raise ValueError(
            "Expected more than 1 value per channel when training, got input size "
            f"{_size_str(input.shape)}"
        )
    axes = (0,) + tuple(range(2, input.ndim))
    xd = input._data
    xp = array_module(xd)
    mean = xp.mean(xd, axis=axes, keepdims=True)
    d = xd - mean
    d *= d
    var = xp.mean(d, axis=axes, keepdims=True)
    del d
    y = BatchNorm.apply(input, weight, bias, mean, var, eps)
    with engine.no_grad():
        if running_mean is not None:
            _update(running_mean, mean, momentum)
        if running_var is not None:
            _update(running_var, var * (n / (n - 1)), momentum)
    return y


def _update(running: Tensor, batch, momentum: float) -> None:
    """running ← (1 - momentum) running + momentum batch, in place (a buffer: no graph)."""
    r = running._data
    r *= 1.0 - momentum
    r += (momentum * batch).reshape(r.shape).astype(r.dtype, copy=False)
    running._vc.bump("batch_norm")


def _affine_eval(x, mean, var, weight, bias, eps):
    """x · w / √(var + ε) + (b - mean · w / √(var + ε)): the eval form, gradients to x, w, b."""
    shape = _channel_shape(x)
    scale = rsqrt(var.detach() + eps)
    if weight is not None:
        scale = weight * scale
    shift = -mean.detach() * scale
    if bias is not None:
        shift = shift + bias
    return x * scale.reshape(shape) + shift.reshape(shape)


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) slice of an (N, C, *) input over its spatial dims."""
    if input.ndim < 3:
        raise ValueError(
            f"instance_norm: expected an input of at least 3 dims (N, C, *), got shape "
            f"{list(input.shape)}"
        )
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    n_spatial = math.prod(input.shape[2:])
    if n_spatial == 1:
        raise ValueError(
            "Expected more than 1 spatial element when training, got input size "
            f"{_size_str(input.shape)}"
        )
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias)):
        _check_channels(name, t, c)
    x3 = input.reshape(input.shape[0], c, -1)
    y = LayerNorm.apply(x3, None, None, 1, eps).reshape(input.shape)
    if running_mean is not None or running_var is not None:
        xp = array_module(x3._data)
        mean = xp.mean(x3._data, axis=2)
        var = xp.var(x3._data, axis=2) * (n_spatial / (n_spatial - 1))
        with engine.no_grad():
            if running_mean is not None:
                _update(running_mean, xp.mean(mean, axis=0), momentum)
            if running_var is not None:
                _update(running_var, xp.mean(var, axis=0), momentum)
    return _channel_affine(y, weight, bias)


def _channel_affine(y: Tensor, weight, bias) -> Tensor:
    shape = _channel_shape(y)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


# ----------------------------------------------------------------------------- layer norm
def _normalized_shape(normalized_shape) -> tuple[int, ...]:
    if isinstance(normalized_shape, numbers.Integral):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


def _check_normalized(input: Tensor, shape: tuple, weight, bias) -> None:
    k = len(shape)
    xs = input._data.shape
    if k == 0 or len(xs) < k or xs[len(xs) - k :] != shape:
        raise RuntimeError(
            f"Given normalized_shape={list(shape)}, expected input with shape "
            f"[*, {', '.join(str(s) for s in shape)}], but got input of size{list(input.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t._data.shape != shape:
            raise RuntimeError(
                f"Expected {name} to be of same shape as normalized_shape, but got {name} of "
                f"shape {list(t.shape)} and normalized_shape = {list(shape)}"
            )


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the last len(normalized_shape) dims, then scale by weight and shift by
    bias (both shaped normalized_shape).

    Example:
        >>> import chainrule as torch
        >>> import chainrule.nn.functional as F
        >>> y = F.layer_norm(torch.tensor([[1.0, 3.0]]), (2,))
        >>> [round(v, 4) for v in y[0].tolist()]
        [-1.0, 1.0]
    """
    shape = _normalized_shape(normalized_shape)
    _check_normalized(input, shape, weight, bias)
    return LayerNorm.apply(_float(input), weight, bias, len(shape), eps)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each group of C / num_groups channels of an (N, C, *) input per sample, then
    scale and shift each channel."""
    if input.ndim < 2:
        raise RuntimeError(
            f"Expected at least 2 dimensions for input tensor but received {input.ndim}"
        )
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(
            "Expected number of channels in input to be divisible by num_groups, but got input "
            f"of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.numel() != c):
            raise RuntimeError(
                f"Expected {name} to be a vector of size equal to the number of channels in "
                f"input, but got {name} of shape {list(t.shape)} and input of shape "
                f"{list(input.shape)}"
            )
    x3 = input.reshape(n, num_groups, -1)
    y = LayerNorm.apply(x3, None, None, 1, eps).reshape(input.shape)
    return _channel_affine(y, weight, bias)


def rms_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """x / √(mean(x²) + eps) · weight over the last len(normalized_shape) dims; eps=None uses
    the dtype's machine epsilon, as PyTorch."""
    shape = _normalized_shape(normalized_shape)
    _check_normalized(input, shape, weight, None)
    x = _float(input)
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    dims = tuple(range(-len(shape), 0))
    y = x * rsqrt((x * x).mean(dim=dims, keepdim=True) + eps)
    return y if weight is None else y * weight


# ------------------------------------------------------------------------------- the rest
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """input / max(‖input‖_p, eps) along dim (unit vectors; eps guards a zero vector)."""
    y = input / clamp_min(vector_norm(input, p, dim, keepdim=True), eps)
    if out is not None:
        out._data[...] = y._data
        return out
    return y


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """x / (k + alpha · mean of x² over `size` neighbouring channels)^beta (AlexNet's LRN;
    the mean counts the zero padding at the channel edges, as PyTorch's avg_pool does)."""
    if input.ndim < 3:
        raise ValueError(
            f"Expected 3D or higher dimensionality input (got {input.ndim} dimensions)"
        )
    if input.numel() == 0:
        return input
    c = input.shape[1]
    sq = input * input
    pad_shape = lambda m: (input.shape[0], m) + tuple(input.shape[2:])  # noqa: E731
    parts = [sq]
    if size // 2:
        parts.insert(0, Tensor._make(array_module(sq._data).zeros(pad_shape(size // 2), sq.dtype)))
    if (size - 1) // 2:
        after = array_module(sq._data).zeros(pad_shape((size - 1) // 2), sq.dtype)
        parts.append(Tensor._make(after))
    padded = cat(parts, 1) if len(parts) > 1 else sq
    div = padded[:, 0:c]
    for j in range(1, size):
        div = div + padded[:, j : j + c]
    div = (div * (alpha / size) + k) ** beta
    return input / div


# torch.batch_norm and torch.instance_norm take (input, weight, bias, running_mean, …), not
# nn.functional's order, so only the forms whose signatures agree are exported as torch.<name>
__all__ = ["layer_norm", "group_norm", "rms_norm"]
METHODS: list = []
