"""Activation functions: relu, gelu, silu, elu, softplus, hardtanh, prelu, glu, …

Three are primitives: relu (measured hot: a maximum forward and a mask-multiply backward),
hardtanh (PyTorch's convention passes no gradient AT either bound, unlike clamp) and logsigmoid
(stable for large |x|). The rest are compositions, chosen so that the gradient at every kink is
PyTorch's: relu'(0) = 0 while clamp passes the gradient at its bound, so
``relu(x) + s * clamp_max(x, 0)`` has slope s at 0, exactly leaky_relu'(0) in PyTorch. They
avoid ``where`` where they can: NumPy's where is about 20x slower than arithmetic.

The functions take ``torch.nn.functional``'s arguments (``inplace=`` included); those that
PyTorch also has as ``torch.relu`` etc. are exported at the top level.
"""

from __future__ import annotations

import math

import numpy as np

from ..amp import autocast_mode as _amp
from ..autograd import engine
from ..backend import array_module, split_rows
from ..tensor import Tensor
from ._core import Op, canonical_dim, commit_inplace
from .conversion import clone
from .elementwise import (
    _float,
    _raw,
    _tensor,
    abs,
    clamp,
    clamp_max,
    erf,
    expm1,
    sigmoid,
    tanh,
    where,
)

# ---------------------------------------------------------------------------------- primitives
_ZEROS: dict = {}  # dtype -> a read-only flat array of zeros, as large as the largest x so far


def _zeros_like(x: np.ndarray) -> np.ndarray:
    """Zeros shaped like x, without allocating: NumPy's maximum has no SIMD loop for a scalar
    operand, and max(x, zeros) runs ~4x faster than max(x, 0) (1M float32: 0.2 ms vs 0.8 ms).
    The buffer's pages are never written, so they cost no resident memory."""
    buf = _ZEROS.get(x.dtype)
    if buf is None or buf.size < x.size:
        buf = np.zeros(x.size, x.dtype)
        buf.flags.writeable = False
        _ZEROS[x.dtype] = buf
    return buf[: x.size].reshape(x.shape)


class Relu(Op):
    """y = max(x, 0);  gx = gy where y > 0 (0 at x = 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        if type(x) is np.ndarray and x.size >= 4096:
            y = np.maximum(x, _zeros_like(x))
        else:
            y = array_module(x).maximum(x, 0)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * (_raw(y) != 0)  # y ≥ 0: passes where x > 0 and, as PyTorch, at NaN


class Hardtanh(Op):
    """y = min(max(x, lo), hi);  gx = gy where lo < x < hi (0 AT the bounds, as PyTorch)"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        xp = array_module(x)
        if x.dtype.kind in "iu":  # integer tensors stay integer
            lo, hi = x.dtype.type(lo), x.dtype.type(hi)
        return xp.minimum(xp.maximum(x, lo), hi)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        x = _raw(x)
        return gy * ~((x <= ctx.lo) | (x >= ctx.hi)), None, None


class LogSigmoid(Op):
    """y = ln σ(x) = min(x, 0) - ln(1 + e^-|x|);  gx = gy σ(-x) = gy e^(y - x)"""

    @staticmethod
    def forward(ctx, x):
        xp = array_module(x)
        y = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        return gy * array_module(gy).exp(y - x)  # y - x = ln σ(-x) ≤ 0: e^(y-x) cannot overflow


_K = math.sqrt(2 / math.pi)  # gelu-tanh: u = K (x + A x³)
_A = 0.044715


def _sigmoid_2u_into(x, out):
    """out = σ(2u) = ½ (1 + tanh u), u = K (x + A x³): NumPy's exp is about twice as fast as
    its tanh, and no 1 + tanh u cancels for negative x."""
    xp = array_module(x)
    xp.multiply(x, x, out=out)
    out *= -2 * _K * _A
    out -= 2 * _K
    out *= x  # -2u
    with np.errstate(over="ignore"):  # e^(-2u) = inf is right: it gives σ = 0
        xp.exp(out, out=out)
    out += 1
    xp.reciprocal(out, out=out)


def _gelu_tanh_grad_into(x, gy, gx):
    """gx = gy (s + x s (1 - s) 2u'), s = σ(2u), u' = K (1 + 3 A x²), written into gx."""
    xp = array_module(x)
    s = xp.empty_like(gx)
    _sigmoid_2u_into(x, s)
    x2 = xp.multiply(x, x, out=xp.empty_like(gx))  # out=: a 0-d x stays an array
    x2 *= 6 * _K * _A
    x2 += 2 * _K
    x2 *= x  # 2 x u'
    xp.subtract(1, s, out=gx)
    gx *= s
    gx *= x2
    gx += s
    gx *= gy


_GRAD_CHUNK = 1 << 16  # elements: two chunk-sized temporaries (256 KiB each) stay in cache


def _gelu_tanh_into(x, out):
    """out = gelu-tanh(x) = x σ(2u)."""
    _sigmoid_2u_into(x, out)
    out *= x


def _gelu_tanh_grad_chunks(x, gy, gx):
    """_gelu_tanh_grad_into over flat chunks: the two temporaries are chunk-sized, not
    input-sized (a GPT MLP's 2 MB activation made 4 MB of them, the step's memory peak)."""
    for lo in range(0, x.size, _GRAD_CHUNK):
        hi = lo + _GRAD_CHUNK
        _gelu_tanh_grad_into(x[lo:hi], gy[lo:hi], gx[lo:hi])


def _flat_elementwise(fn, out, *inputs):
    """fn(*inputs, out) on NumPy arrays of out's shape, as flat ranges on several threads when
    they are large (backend.split_rows; elementwise: the same bits however it is cut)."""
    flat = [a.reshape(-1) for a in inputs + (out,)]  # out is fresh: reshape(-1) is a view
    if array_module(out) is not np:  # CuPy: one launch
        fn(*flat)
        return

    def part(lo, hi):
        fn(*[a[lo:hi] for a in flat])

    split_rows(part, out.size, out.size * len(flat))


def _gelu_tanh_grad(x, gy):
    """gx of gelu-tanh on arrays."""
    xp = array_module(x)
    if gy.shape != x.shape:
        gy = xp.broadcast_to(gy, x.shape)
    gx = xp.empty(x.shape, x.dtype)
    _flat_elementwise(_gelu_tanh_grad_chunks, gx, x, gy)
    return gx


class GeluTanh(Op):
    """y = ½ x (1 + t) = x σ(2u), t = tanh u, u = K (x + A x³);
    gx = gy ½ (1 + t + x (1 - t²) K (1 + 3 A x²))

    A primitive for measured speed: as a composition it was 9 graph nodes forward (each a fresh
    output-sized array) and about twice that backward; here forward and backward each fill
    one fresh array in place, with exp in place of the slower tanh (bench GPT step: 1.46x ->
    about 1.27x torch eager)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        xp = array_module(x)
        y = xp.empty(x.shape, x.dtype)
        _flat_elementwise(_gelu_tanh_into, y, x)  # ½ x (1 + t) = x σ(2u)
        return y

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        xp = array_module(gy)
        if isinstance(gy, Tensor) or isinstance(x, Tensor):  # create_graph: differentiable
            x2 = x * x
            t = xp.tanh(x * (x2 * (_K * _A) + _K))
            return gy * (0.5 * (1 + t + x * (1 - t * t) * (x2 * (3 * _K * _A) + _K)))
        return _gelu_tanh_grad(x, gy)


def _apply(fn, input, inplace: bool, name: str, *args) -> Tensor:
    """fn(input, *args), or its in-place form. In place with a graph, fn runs on a clone:
    a composition saves its input for backward, and writing over it would spoil the gradient."""
    if not inplace:
        return fn(input, *args)
    src = input
    if engine._grad_enabled and input.requires_grad:
        src = clone(input)
    return commit_inplace(input, fn(src, *args), name)


# ------------------------------------------------------------------------- relu and its kin
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(input, 0). Its gradient at 0 is 0.

    Example:
        >>> import chainrule as torch
        >>> torch.relu(torch.tensor([-1.0, 0.0, 2.0]))
        tensor([0., 0., 2.])
    """
    if inplace:
        return relu_(input)
    return Relu.apply(_tensor(input))


def relu_(input: Tensor) -> Tensor:
    return commit_inplace(input, Relu.apply(input), "relu_")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """input clamped to [min_val, max_val], with no gradient at the bounds themselves."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    x = _tensor(input)
    y = Hardtanh.apply(x, min_val, max_val)
    return commit_inplace(x, y, "hardtanh_") if inplace else y


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(input, 0), 6) (hardtanh(input, 0, 6): no gradient at 0 or 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """input where input > 0, else negative_slope * input (slope negative_slope at 0)."""
    return _apply(_leaky_relu, input, inplace, "leaky_relu_", negative_slope)


def _leaky_relu(input, negative_slope):
    x = _float(input)
    return relu(x) + negative_slope * clamp_max(x, 0)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return leaky_relu(input, negative_slope, inplace=True)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """leaky_relu with a learned slope: one per channel (dim 1), or a single one.

    Args:
        input: (N, C, ...) or any shape when weight has one element.
        weight: C slopes, or 1; it gets a gradient.
    """
    if _amp.active:  # autocast: PyTorch runs prelu in the lower precision
        return _amp.run_lower(prelu, input, weight)
    x = _tensor(input)
    n = weight._data.size
    if n == 1:
        w = weight.reshape(())
    else:
        channels = x._data.shape[1] if x._data.ndim >= 2 else 1
        if weight._data.ndim != 1 or n != channels:
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers "
                f"= {n} and channel size = {channels}."
            )
        w = weight.reshape((n,) + (1,) * (x._data.ndim - 2))
    return relu(x) + w * clamp_max(x, 0)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Randomized leaky relu: in training, a slope drawn from U(lower, upper) per element;
    in evaluation, the mean slope (lower + upper) / 2."""
    return _apply(_rrelu, input, inplace, "rrelu_", lower, upper, training)


def _rrelu(input, lower, upper, training):
    x = _float(input)
    if not training:
        return relu(x) + (lower + upper) / 2 * clamp_max(x, 0)
    from .creation import rand_like

    slope = rand_like(x) * (upper - lower) + lower
    return relu(x) + slope * clamp_max(x, 0)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    return rrelu(input, lower, upper, training, inplace=True)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """input where input > threshold, else value."""
    return _apply(_threshold, input, inplace, "threshold_", threshold, value)


def _threshold(input, threshold, value):
    x = _tensor(input)
    return where(x > threshold, x, value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    return _apply(_threshold, input, True, "threshold_", threshold, value)


# ------------------------------------------------------------------------- exponential units
def _negative_part_expm1(x: Tensor, alpha: float, input_scale: float = 1.0) -> Tensor:
    """alpha (e^(x·input_scale) - 1) for x ≤ 0, 0 above; clamp_max passes the gradient at 0, so
    the slope at 0 is the negative side's, as PyTorch's elu."""
    z = clamp_max(x, 0)
    return alpha * expm1(z if input_scale == 1.0 else z * input_scale)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """input for input > 0, alpha (e^input - 1) otherwise."""
    return _apply(_elu, input, inplace, "elu_", alpha)


def _elu(input, alpha, scale=1.0, input_scale=1.0):
    x = _float(input)
    y = relu(x) + _negative_part_expm1(x, alpha, input_scale)
    return y if scale == 1.0 else scale * y


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale · elu(input, alpha) with the self-normalizing constants of Klambauer et al."""
    return _apply(_elu, input, inplace, "selu_", _SELU_ALPHA, _SELU_SCALE)


def selu_(input: Tensor) -> Tensor:
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (e^(x/alpha) - 1))."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu's alpha must not be 0")
    return _apply(_elu, input, inplace, "celu_", alpha, 1.0, 1.0 / alpha)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    return celu(input, alpha, inplace=True)


# ---------------------------------------------------------------------------- smooth units
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x Φ(x) with Φ the standard normal CDF: 'none' uses erf, 'tanh' the approximation
    0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))."""
    x = _float(input)
    if approximate == "none":
        return x * 0.5 * (1 + erf(x * (1 / math.sqrt(2))))
    if approximate == "tanh":
        return GeluTanh.apply(x)
    raise RuntimeError(f"approximate argument must be either none or tanh, got '{approximate}'")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x σ(x) (also called swish)."""
    return _apply(_silu, input, inplace, "silu_")


def _silu(input):
    x = _float(input)
    return x * sigmoid(x)


def logsigmoid(input: Tensor) -> Tensor:
    """ln σ(x), computed without overflow for large |x|."""
    return LogSigmoid.apply(_float(input))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """ln(1 + e^(βx)) / β; linear (x itself) where βx > threshold."""
    x = _float(input)
    bx = x if beta == 1 else x * beta
    smooth = -logsigmoid(-bx)  # ln(1 + e^z) = -ln σ(-z), stable for any z
    if beta != 1:
        smooth = smooth / beta
    return where(bx > threshold, x, smooth)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x tanh(softplus(x))."""
    return _apply(_mish, input, inplace, "mish_")


def _mish(input):
    x = _float(input)
    return x * tanh(softplus(x))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    x = _float(input)
    return x / (1 + abs(x))


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    x = _float(input)
    return x - tanh(x)


# ------------------------------------------------------------------------------ hard units
def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, no gradient at ±3."""
    return _apply(_hardsigmoid, input, inplace, "hardsigmoid_")


def _hardsigmoid(input):
    return Hardtanh.apply(_float(input) + 3, 0.0, 6.0) / 6


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x · relu6(x + 3) / 6."""
    return _apply(_hardswish, input, inplace, "hardswish_")


def _hardswish(input):
    x = _float(input)
    return x * Hardtanh.apply(x + 3, 0.0, 6.0) / 6


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - λ above λ, x + λ below -λ, 0 between (= x - clamp(x, -λ, λ))."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    x = _float(input)
    return x - clamp(x, -lambd, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > λ, else 0."""
    x = _float(input)
    return where(abs(x) > lambd, x, 0.0)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: a · σ(b), where a and b are the two halves of input along dim."""
    x = _tensor(input)
    if x._data.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = canonical_dim(dim, x._data.ndim)
    n = x._data.shape[d]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {n}")
    lead = (slice(None),) * d
    a = x[lead + (slice(0, n // 2),)]
    b = x[lead + (slice(n // 2, n),)]
    return a * sigmoid(b)


# torch.<name> exists for these (torch.relu, torch.selu_, …); the rest live in nn.functional
_TOP_LEVEL = [
    "relu", "relu_", "selu", "selu_", "celu", "celu_", "threshold", "threshold_", "hardshrink",
    "prelu", "rrelu", "rrelu_",
]  # fmt: skip
METHODS = ["relu", "relu_", "hardshrink", "prelu"]
__all__ = _TOP_LEVEL
