"""Normal, Uniform, Bernoulli and Categorical, written with chainrule's differentiable ops."""

from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..ops import creation
from ..ops.creation import _gen
from ..ops.elementwise import erf, erfinv, log, log1p, sigmoid
from ..ops.loss import binary_cross_entropy_with_logits
from ..ops.nn import softmax
from ..ops.reduce import logsumexp
from ..ops.shape import broadcast_tensors
from ..tensor import Tensor
from .distribution import Distribution


def _as_tensors(*values):
    """Numbers become tensors of the dtype of the tensor arguments (default dtype if none)."""
    ref = next((v for v in values if isinstance(v, Tensor)), None)
    dt = ref.dtype if ref is not None else backend.get_default_dtype()
    out = [v if isinstance(v, Tensor) else creation.tensor(float(v), dtype=dt) for v in values]
    return broadcast_tensors(*out) if len(out) > 1 else out


def _check(name: str, ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"Expected parameter {name} to satisfy the constraint {what}")


def _value(value, like: Tensor) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return creation.tensor(value, dtype=like.dtype)


class Normal(Distribution):
    """N(loc, scale²). ``rsample`` = loc + scale·ε with ε ~ N(0, 1): gradients reach loc, scale.

    Example:
        >>> import chainrule as torch
        >>> d = torch.distributions.Normal(torch.tensor(0.0), torch.tensor(1.0))
        >>> round(d.log_prob(torch.tensor(0.0)).item(), 4)
        -0.9189
    """

    arg_constraints = {"loc": "real", "scale": "positive"}
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = _as_tensors(loc, scale)
        super().__init__(self.loc.shape, (), validate_args)
        if self._validate_args:
            _check("scale", bool((self.scale.detach() > 0).all()), "GreaterThan(lower_bound=0.0)")

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        eps = creation.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value) -> Tensor:
        value = _value(value, self.loc)
        var = self.scale**2
        return (
            -((value - self.loc) ** 2) / (2 * var)
            - log(self.scale)
            - math.log(math.sqrt(2 * math.pi))
        )

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + log(self.scale)

    def cdf(self, value) -> Tensor:
        value = _value(value, self.loc)
        return 0.5 * (1 + erf((value - self.loc) / (self.scale * math.sqrt(2))))

    def icdf(self, value) -> Tensor:
        value = _value(value, self.loc)
        return self.loc + self.scale * erfinv(2 * value - 1) * math.sqrt(2)

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale**2


class Uniform(Distribution):
    """U[low, high). ``rsample`` = low + (high - low)·u: gradients reach low and high."""

    arg_constraints = {"low": "real", "high": "real"}
    has_rsample = True

    def __init__(self, low, high, validate_args=None):
        self.low, self.high = _as_tensors(low, high)
        super().__init__(self.low.shape, (), validate_args)
        if self._validate_args:
            _check("low", bool((self.low.detach() < self.high.detach()).all()), "low < high")

    def rsample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        u = creation.rand(shape, dtype=self.low.dtype, device=self.low.device)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value) -> Tensor:
        value = _value(value, self.low)
        inside = ((self.low <= value) & (value < self.high)).to(self.low.dtype)
        return log(inside) - log(self.high - self.low)

    def entropy(self) -> Tensor:
        return log(self.high - self.low)

    def cdf(self, value) -> Tensor:
        value = _value(value, self.low)
        return ((value - self.low) / (self.high - self.low)).clamp(0, 1)

    def icdf(self, value) -> Tensor:
        return self.low + _value(value, self.low) * (self.high - self.low)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low) ** 2 / 12


def _probs_logits(probs, logits, name: str):
    if (probs is None) == (logits is None):
        raise ValueError("Either `probs` or `logits` must be specified, but not both.")
    if probs is not None:
        (probs,) = _as_tensors(probs)
        return probs, None
    (logits,) = _as_tensors(logits)
    return None, logits


class Bernoulli(Distribution):
    """1 with probability ``probs`` (or ``sigmoid(logits)``), else 0."""

    arg_constraints = {"probs": "unit_interval", "logits": "real"}

    def __init__(self, probs=None, logits=None, validate_args=None):
        p, lg = _probs_logits(probs, logits, "Bernoulli")
        if p is not None:
            self.probs = p
            eps = float(np.finfo(p.dtype).eps)
            clamped = p.clamp(eps, 1 - eps)
            self.logits = log(clamped) - log1p(-clamped)
        else:
            self.logits = lg
            self.probs = sigmoid(lg)
        super().__init__(self.probs.shape, (), validate_args)

    def sample(self, sample_shape=()) -> Tensor:
        shape = self._extended_shape(sample_shape)
        with no_grad():
            p = self.probs.expand(shape)
            return creation.bernoulli(p)

    def log_prob(self, value) -> Tensor:
        value = _value(value, self.logits)
        logits, value = broadcast_tensors(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self) -> Tensor:
        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        return (self.probs >= 0.5).to(self.probs.dtype)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    @property
    def param_shape(self):
        return self.probs.shape


class Categorical(Distribution):
    """One of K classes (the last dim of ``probs``/``logits``), drawn per batch entry.

    ``logits`` are normalised (``logits - logsumexp(logits)``), as in PyTorch.
    """

    arg_constraints = {"probs": "simplex", "logits": "real_vector"}

    def __init__(self, probs=None, logits=None, validate_args=None):
        p, lg = _probs_logits(probs, logits, "Categorical")
        if p is not None:
            if p.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = p / p.sum(-1, keepdim=True)
            eps = float(np.finfo(p.dtype).eps)
            self.logits = log(self.probs.clamp(eps, 1 - eps))
        else:
            if lg.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = lg - logsumexp(lg, -1, keepdim=True)
            self.probs = softmax(lg, -1)
        self._num_events = self.probs.shape[-1]
        super().__init__(self.probs.shape[:-1], (), validate_args)

    @property
    def param_shape(self):
        return self.probs.shape

    def sample(self, sample_shape=()) -> Tensor:
        """Class indices (int64) of shape sample_shape + batch_shape, by inverse CDF."""
        if isinstance(sample_shape, numbers.Integral):
            sample_shape = (int(sample_shape),)
        p = backend.to_numpy(self.probs._data).astype(np.float64)
        cdf = np.cumsum(p, -1)
        cdf /= cdf[..., -1:]
        u = _gen(None).random(tuple(sample_shape) + p.shape[:-1] + (1,))
        idx = np.minimum((u >= cdf).sum(-1), self._num_events - 1).astype(np.int64)
        return creation.tensor(idx, device=self.probs.device)

    def log_prob(self, value) -> Tensor:
        value = value if isinstance(value, Tensor) else creation.tensor(value)
        value = value.long().unsqueeze(-1)
        value, log_pmf = broadcast_tensors(value, self.logits)
        value = value[..., :1]
        return log_pmf.gather(-1, value).squeeze(-1)

    def entropy(self) -> Tensor:
        min_real = float(np.finfo(self.logits.dtype).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = creation.arange(self._num_events).reshape((-1,) + (1,) * len(self.batch_shape))
        if expand:
            values = values.expand((-1,) + tuple(self.batch_shape))
        return values

    @property
    def mean(self) -> Tensor:
        return creation.full(self._extended_shape(), math.nan, dtype=self.probs.dtype)

    @property
    def mode(self) -> Tensor:
        return self.probs.argmax(-1)

    @property
    def variance(self) -> Tensor:
        return creation.full(self._extended_shape(), math.nan, dtype=self.probs.dtype)
