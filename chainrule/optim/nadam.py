"""NAdam: Adam with Nesterov momentum and a momentum-decay schedule."""

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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (Dozat), like ``torch.optim.NAdam``::

        g ← -∇f if maximize else ∇f;  t ← t + 1
        p ← p·(1 - lr·λ)  if decoupled_weight_decay,  else  g ← g + λ·p
        μₜ ← β₁·(1 - ½·0.96^(t·ψ));  μₜ₊₁ ← β₁·(1 - ½·0.96^((t+1)·ψ))   (momentum_decay ψ)
        Π ← Π·μₜ                                   (mu_product, a float32 scalar as in PyTorch)
        m ← β₁·m + (1 - β₁)·g;  v ← β₂·v + (1 - β₂)·g²
        d ← √(v / (1 - β₂ᵗ)) + ε
        p ← p - lr·(1 - μₜ)/(1 - Π) · g/d - lr·μₜ₊₁/(1 - Π·μₜ₊₁) · m/d

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: (β₁, β₂) (default (0.9, 0.999)).
        eps: ε (default 1e-8).
        weight_decay: λ (default 0).
        momentum_decay: ψ (default 4e-3).
        decoupled_weight_decay: decay the weights directly (NAdamW) instead of through g.
        foreach, maximize, capturable, differentiable: as in PyTorch (foreach is ignored,
            capturable and differentiable must stay off).

    State per parameter: ``step``, ``mu_product`` (Π), ``exp_avg`` (m), ``exp_avg_sq`` (v).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay,
            "maximize": maximize,
            "foreach": foreach,
            "capturable": capturable,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def update(self, p, g, state, group):
        xp = array_module(p)
        lr, wd, psi = float(group["lr"]), group["weight_decay"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = scalar_tensor(0.0)
            state["mu_product"] = scalar_tensor(1.0)
            state["exp_avg"] = zeros_state(p)
            state["exp_avg_sq"] = zeros_state(p)
        if group["maximize"]:
            g = -g
        t = increment_step(state)
        bias_correction2 = 1 - beta2**t
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= 1 - lr * wd
            else:
                g = g + wd * p
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * psi)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * psi)))
        mu_product = state["mu_product"]._data
        mu_product *= mu  # rounded to the scalar dtype, as PyTorch's float32 tensor is
        mu_product = float(mu_product)
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        lerp_(m, g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        d = xp.sqrt(v / bias_correction2) + group["eps"]
        p += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / d)
        p += ((-lr * mu_next) / (1.0 - mu_product * mu_next)) * (m / d)
