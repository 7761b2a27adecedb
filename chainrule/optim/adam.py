"""Adam: adaptive moment estimation (with AMSGrad and decoupled weight decay)."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import array_module
from .optimizer import (
    Optimizer,
    check_betas,
    check_nonnegative,
    check_unsupported,
    increment_step,
    lerp_,
    scalar_tensor,
    zeros_state,
)

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, like ``torch.optim.Adam``::

        g ← -∇f if maximize else ∇f;  t ← t + 1
        p ← p·(1 - lr·λ)  if decoupled_weight_decay,  else  g ← g + λ·p
        m ← β₁·m + (1 - β₁)·g
        v ← β₂·v + (1 - β₂)·g²
        v̂ ← max(v̂, v) if amsgrad, else v
        p ← p - lr/(1 - β₁ᵗ) · m / (√v̂ / √(1 - β₂ᵗ) + ε)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: (β₁, β₂), the decay rates of the moment averages (default (0.9, 0.999)).
        eps: ε added to the denominator (after the bias correction, as PyTorch does).
        weight_decay: λ, L2 penalty added to the gradient (default 0).
        amsgrad: use the running maximum of v (AMSGrad).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: decay the weights directly (AdamW) instead of through g.
        foreach, capturable, differentiable, fused: PyTorch switches; foreach is ignored,
            the others must stay off.

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad,
    ``max_exp_avg_sq`` (v̂).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        check_unsupported(capturable=capturable, differentiable=differentiable, fused=fused)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
            "fused": fused,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def update(self, p, g, state, group):
        if not state:
            state["step"] = scalar_tensor(0.0)
            state["exp_avg"] = zeros_state(p)
            state["exp_avg_sq"] = zeros_state(p)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = zeros_state(p)
        if group["maximize"]:
            g = -g
        t = increment_step(state)
        v_max = state["max_exp_avg_sq"]._data if group["amsgrad"] else None
        adam_rule_(p, g, state["exp_avg"]._data, state["exp_avg_sq"]._data, t, group, v_max)


def adam_rule_(p, g, m, v, t: float, group, v_max=None) -> None:
    """Adam's step t on arrays, in place: p, its gradient g, the moments m and v (and the
    running maximum of v for AMSGrad), with the group's lr, betas, eps and weight decay. The
    per-parameter update and chainrule.jit's flat one both run this, so their bits agree."""
    xp = array_module(p)
    lr, wd, eps = float(group["lr"]), group["weight_decay"], group["eps"]
    beta1, beta2 = group["betas"]
    if wd != 0:
        if group["decoupled_weight_decay"]:
            p *= 1 - lr * wd
        else:
            g = g + wd * p
    lerp_(m, g, 1 - beta1)
    v *= beta2
    # temporaries are reused in place: fresh big arrays page-fault (asarray: for a 0-d
    # parameter the product is a NumPy scalar, which cannot be written into)
    g2 = xp.asarray(g * (1 - beta2))
    g2 *= g
    v += g2
    step_size = lr / (1 - beta1**t)
    bias_correction2_sqrt = (1 - beta2**t) ** 0.5
    if v_max is not None:
        xp.maximum(v_max, v, out=v_max)
        v = v_max
    denom = xp.sqrt(v, out=g2)
    denom /= bias_correction2_sqrt
    denom += eps
    update = xp.divide(m, denom, out=denom)
    update *= step_size
    p -= update
