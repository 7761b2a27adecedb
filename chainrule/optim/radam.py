"""RAdam: Adam with the variance of the adaptive learning rate rectified."""

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

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al.), like ``torch.optim.RAdam``::

        g ← -∇f if maximize else ∇f;  t ← t + 1
        p ← p·(1 - lr·λ)  if decoupled_weight_decay,  else  g ← g + λ·p
        m ← β₁·m + (1 - β₁)·g;  v ← β₂·v + (1 - β₂)·g²
        m̂ ← m / (1 - β₁ᵗ)
        ρ∞ ← 2/(1 - β₂) - 1;  ρₜ ← ρ∞ - 2t·β₂ᵗ/(1 - β₂ᵗ)
        if ρₜ > 5:  r ← √((ρₜ-4)(ρₜ-2)ρ∞ / ((ρ∞-4)(ρ∞-2)ρₜ))
                    p ← p - m̂·lr · √(1 - β₂ᵗ)/(√v + ε) · r
        else:       p ← p - m̂·lr                   (plain momentum while v is unreliable)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: (β₁, β₂) (default (0.9, 0.999)).
        eps: ε (default 1e-8).
        weight_decay: λ (default 0).
        decoupled_weight_decay: decay the weights directly (RAdamW) instead of through g.
        foreach, maximize, capturable, differentiable: as in PyTorch (foreach is ignored,
            capturable and differentiable must stay off).

    State per parameter: ``step``, ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "decoupled_weight_decay": decoupled_weight_decay,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def update(self, p, g, state, group):
        xp = array_module(p)
        lr, wd = float(group["lr"]), group["weight_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = scalar_tensor(0.0)
            state["exp_avg"] = zeros_state(p)
            state["exp_avg_sq"] = zeros_state(p)
        if group["maximize"]:
            g = -g
        t = increment_step(state)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= 1 - lr * wd
            else:
                g = g + wd * p
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        lerp_(m, g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        bias_correction2 = 1 - beta2**t
        m_hat = m / (1 - beta1**t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2**t) / bias_correction2
        if rho_t > 5.0:
            rect = (
                (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            ) ** 0.5
            adaptive_lr = bias_correction2**0.5 / (xp.sqrt(v) + group["eps"])
            p -= m_hat * lr * adaptive_lr * rect
        else:
            p -= m_hat * lr
