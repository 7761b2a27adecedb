"""``chainrule.special``: PyTorch's ``torch.special`` names.

Most are chainrule's existing ops under their SciPy-style names; ``gammaln`` and ``digamma`` are
primitives here (SciPy computes them where installed, a NumPy series otherwise).
"""

from __future__ import annotations

import math

import numpy as np

from . import backend
from .ops._core import Op
from .ops.elementwise import erf, erfc, erfinv, expm1, log1p, logit, sigmoid, xlogy
from .ops.nn import log_softmax, softmax
from .ops.reduce import logsumexp
from .tensor import Tensor

# SciPy is optional (the `data` extra brings it): exact to the last bit where present. It is
# imported on first use, not with chainrule (importing scipy.special takes about 0.2 s).
_scipy = ...


def _scipy_special():
    """scipy.special, or None without SciPy."""
    global _scipy
    if _scipy is ...:
        try:
            import scipy.special as module
        except ImportError:  # pragma: no cover
            module = None
        _scipy = module
    return _scipy

__all__ = [
    "erf", "erfc", "erfinv", "expit", "logit", "xlogy", "xlog1py", "gammaln", "digamma", "psi",
    "polygamma", "log_softmax", "softmax", "logsumexp", "expm1", "exp2", "log1p", "ndtr",
    "ndtri", "log_ndtr", "sinc", "entr", "round",
]  # fmt: skip

expit = sigmoid


# ------------------------------------------------------------------------------ gamma family
def _lgamma_raw(x):
    sp = _scipy_special()
    if sp is not None and isinstance(x, np.ndarray):
        return sp.gammaln(x).astype(x.dtype)
    xs = backend.to_numpy(x)
    out = np.vectorize(math.lgamma, otypes=[np.float64])(xs).astype(xs.dtype)
    return out if isinstance(x, np.ndarray) else backend.to_device(out, backend.device_of(x))


def _psi_series(x: np.ndarray, order: int) -> np.ndarray:
    """ψ (order 0) or ψ' (order 1) for x > 0: recurrence up to x ≥ 6, then the asymptotic series."""
    acc = np.zeros_like(x)
    x = x.copy()
    for _ in range(6):
        small = x < 6
        acc -= np.where(small, 1 / x if order == 0 else -1 / (x * x), 0)
        x = np.where(small, x + 1, x)
    x2 = 1 / (x * x)
    if order == 0:
        tail = np.log(x) - 0.5 / x - x2 * (1 / 12 - x2 * (1 / 120 - x2 * (1 / 252 - x2 / 240)))
    else:
        tail = 1 / x + 0.5 * x2 + (1 / x**3) * (1 / 6 - x2 * (1 / 30 - x2 * (1 / 42 - x2 / 30)))
    return acc + tail


def _polygamma_raw(order: int, x):
    sp = _scipy_special()
    if sp is not None and isinstance(x, np.ndarray):
        y = sp.digamma(x) if order == 0 else sp.polygamma(order, x)
        return np.asarray(y).astype(x.dtype)
    if order > 1:
        raise NotImplementedError("polygamma of order > 1 needs SciPy (pip install scipy)")
    xs = backend.to_numpy(x).astype(np.float64)
    neg = xs <= 0
    xr = np.where(neg, 1 - xs, xs)  # reflection: ψ(x) = ψ(1-x) - π cot(πx)
    y = _psi_series(xr, order)
    if order == 0:
        y = np.where(neg, y - np.pi / np.tan(np.pi * xs), y)
    else:
        y = np.where(neg, -y + (np.pi / np.sin(np.pi * xs)) ** 2, y)
    y = y.astype(backend.to_numpy(x).dtype)
    return y if isinstance(x, np.ndarray) else backend.to_device(y, backend.device_of(x))


class Lgamma(Op):
    """y = log|Γ(x)|;  gx = gy · ψ(x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _lgamma_raw(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * _polygamma(0, x)


class Polygamma(Op):
    """y = ψ⁽ⁿ⁾(x);  gx = gy · ψ⁽ⁿ⁺¹⁾(x)"""

    @staticmethod
    def forward(ctx, n, x):
        ctx.n = n
        ctx.save_for_backward(x)
        return _polygamma_raw(n, x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return None, gy * _polygamma(ctx.n + 1, x)


def _polygamma(n: int, x):
    if isinstance(x, Tensor):
        return Polygamma.apply(n, x)
    return _polygamma_raw(n, x)


def _float(name: str, x: Tensor) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"special.{name}(): argument 'input' must be Tensor")
    return x if backend.is_floating(x.dtype) else x.to(backend.get_default_dtype())


def gammaln(input: Tensor) -> Tensor:
    """log|Γ(x)| (``torch.lgamma``)."""
    return Lgamma.apply(_float("gammaln", input))


def digamma(input: Tensor) -> Tensor:
    """ψ(x) = d/dx log Γ(x)."""
    return Polygamma.apply(0, _float("digamma", input))


psi = digamma


def polygamma(n: int, input: Tensor) -> Tensor:
    """ψ⁽ⁿ⁾(x), the n-th derivative of the digamma function."""
    return Polygamma.apply(int(n), _float("polygamma", input))


# ------------------------------------------------------------------------------ compositions
def xlog1py(input, other):
    """x · log1p(y), 0 where x = 0."""
    from .ops.elementwise import where

    return where(input == 0, 0.0, input * log1p(other))


def exp2(input):
    return 2.0**input


def ndtr(input):
    """The standard normal CDF Φ(x) = ½(1 + erf(x/√2))."""
    return 0.5 * (1 + erf(input * (1 / math.sqrt(2))))


def ndtri(input):
    """The inverse of the standard normal CDF."""
    return math.sqrt(2) * erfinv(2 * input - 1)


def log_ndtr(input):
    """log Φ(x) (from erfc for x < 0, so that the far left tail does not round to log 0)."""
    from .ops.elementwise import log, where

    left = log(0.5 * erfc(-input * (1 / math.sqrt(2))))
    return where(input < 0, left, log1p(-0.5 * erfc(input * (1 / math.sqrt(2)))))


def sinc(input):
    """sin(πx)/(πx), 1 at 0."""
    from .ops.elementwise import sin, where

    safe = where(input == 0, 1.0, input) * math.pi
    return where(input == 0, 1.0, sin(safe) / safe)


def entr(input):
    """-x log x for x > 0, 0 at 0, -inf for x < 0."""
    from .ops.elementwise import where

    return where(input > 0, -xlogy(input, input), where(input == 0, 0.0, -math.inf))


def round(input, *, decimals: int = 0):
    return input.round(decimals=decimals)
