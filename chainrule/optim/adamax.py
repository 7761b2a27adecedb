"""Adamax: Adam with the infinity norm in place of the second moment."""

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

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax (Kingma & Ba), like ``torch.optim.Adamax``::

        g ← -∇f if maximize else ∇f;  g ← g + λ·p;  t ← t + 1
        m ← β₁·m + (1 - β₁)·g
        u ← max(β₂·u, |g| + ε)
        p ← p - lr/(1 - β₁ᵗ) · m / u

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 2e-3).
        betas: (β₁, β₂) (default (0.9, 0.999)).
        eps: ε added to |g| (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        foreach, maximize, differentiable, capturable: as in PyTorch (foreach is ignored,
            differentiable and capturable must stay off).

    State per parameter: ``step``, ``exp_avg`` (m) and ``exp_inf`` (u).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, eps=eps)
        check_betas(betas)
        check_nonnegative(weight_decay=weight_decay)
        check_unsupported(differentiable=differentiable, capturable=capturable)
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "capturable": capturable,
        }
        super().__init__(params, defaults)

    def update(self, p, g, state, group):
        xp = array_module(p)
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = scalar_tensor(0.0)
            state["exp_avg"] = zeros_state(p)
            state["exp_inf"] = zeros_state(p)
        if group["maximize"]:
            g = -g
        t = increment_step(state)
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        m, u = state["exp_avg"]._data, state["exp_inf"]._data
        lerp_(m, g, 1 - beta1)
        u *= beta2
        xp.maximum(u, xp.abs(g) + group["eps"], out=u)
        p -= float(group["lr"]) / (1 - beta1**t) * (m / u)
