"""Adadelta: steps scaled by the ratio of running RMS of updates and of gradients."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import array_module
from .optimizer import (
    Optimizer,
    check_nonnegative,
    check_unsupported,
    increment_step,
    scalar_tensor,
    sub_scaled_,
    zeros_state,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler), like ``torch.optim.Adadelta``::

        g ← -∇f if maximize else ∇f;  g ← g + λ·p
        v ← ρ·v + (1 - ρ)·g²
        Δ ← √(u + ε) / √(v + ε) · g
        u ← ρ·u + (1 - ρ)·Δ²
        p ← p - lr·Δ

    Args:
        params: parameters or parameter groups to optimize.
        lr: scale of the update (default 1.0).
        rho: decay rate ρ of the running averages (default 0.9).
        eps: ε inside the square roots (default 1e-6).
        weight_decay: L2 penalty λ (default 0).
        foreach, capturable, maximize, differentiable: as in PyTorch (foreach is ignored,
            capturable and differentiable must stay off).

    State per parameter: ``step``, ``square_avg`` (v) and ``acc_delta`` (u).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_nonnegative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}; rho must be in [0, 1]")
        check_nonnegative(eps=eps, weight_decay=weight_decay)
        check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "rho": rho,
            "eps": eps,
            "weight_decay": weight_decay,
            "maximize": maximize,
            "capturable": capturable,
            "foreach": foreach,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def update(self, p, g, state, group):
        xp = array_module(p)
        rho, eps = group["rho"], group["eps"]
        if not state:
            state["step"] = scalar_tensor(0.0)
            state["square_avg"] = zeros_state(p)
            state["acc_delta"] = zeros_state(p)
        increment_step(state)
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        v, u = state["square_avg"]._data, state["acc_delta"]._data
        v *= rho
        v += (1 - rho) * g * g
        delta = xp.sqrt(u + eps) / xp.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        sub_scaled_(p, float(group["lr"]), delta)
