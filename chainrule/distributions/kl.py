"""``kl_divergence(p, q)`` with a registry of closed forms, as ``torch.distributions.kl``."""

from __future__ import annotations

import math

from ..ops.elementwise import log
from .simple import Bernoulli, Categorical, Normal, Uniform

_KL: dict = {}


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(Normal, Normal) def kl(p, q): ...``."""

    def decorator(fn):
        _KL[type_p, type_q] = fn
        return fn

    return decorator


def kl_divergence(p, q):
    """KL(p ‖ q), summed over nothing (one value per batch entry)."""
    fn = _KL.get((type(p), type(q)))
    if fn is None:
        raise NotImplementedError(
            f"No KL(p || q) is implemented for p = {type(p).__name__} and q = "
            f"{type(q).__name__}: register one with @register_kl({type(p).__name__}, "
            f"{type(q).__name__})"
        )
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    var_ratio = (p.scale / q.scale) ** 2
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - log(var_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    from ..ops.activation import softplus

    t1 = p.probs * (softplus(-q.logits) - softplus(-p.logits))
    t2 = (1 - p.probs) * (softplus(q.logits) - softplus(p.logits))
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    t = p.probs * (p.logits - q.logits)
    t = t.masked_fill(q.probs == 0, math.inf).masked_fill(p.probs == 0, 0.0)
    return t.sum(-1)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = log((q.high - q.low) / (p.high - p.low))
    outside = (q.low > p.low) | (q.high < p.high)
    return result.masked_fill(outside, math.inf)
