"""RMSprop: gradient scaled by a running root mean square (centered, with momentum)."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import array_module
from .optimizer import (
    Optimizer,
    check_nonnegative,
    check_unsupported,
    increment_step,
    lerp_,
    scalar_tensor,
    sub_scaled_,
    zeros_state,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton), like ``torch.optim.RMSprop``::

        g ← -∇f if maximize else ∇f;  g ← g + λ·p
        v ← α·v + (1 - α)·g²
        ḡ ← α·ḡ + (1 - α)·g;  s ← √(v - ḡ²) + ε     if centered
        s ← √v + ε                                  otherwise
        b ← μ·b + g/s;  p ← p - lr·b                if momentum μ > 0
        p ← p - lr·g/s                              otherwise

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant α (default 0.99).
        eps: ε added to the root mean square (default 1e-8).
        weight_decay: L2 penalty λ (default 0).
        momentum: momentum factor μ (default 0).
        centered: normalise by an estimate of the gradient's variance instead of its
            second moment.
        capturable, foreach, maximize, differentiable: as in PyTorch (foreach is ignored,
            capturable and differentiable must stay off).

    State per parameter: ``step``, ``square_avg`` (v), ``momentum_buffer`` (b, with
    momentum) and ``grad_avg`` (ḡ, when centered).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        check_nonnegative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay)
        check_nonnegative(alpha=alpha)
        check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "capturable": capturable,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
        }
        super().__init__(params, defaults)

    def update(self, p, g, state, group):
        xp = array_module(p)
        lr, alpha, mu = float(group["lr"]), group["alpha"], group["momentum"]
        if not state:
            state["step"] = scalar_tensor(0.0)
            state["square_avg"] = zeros_state(p)
            if mu > 0:
                state["momentum_buffer"] = zeros_state(p)
            if group["centered"]:
                state["grad_avg"] = zeros_state(p)
        if group["maximize"]:
            g = -g
        increment_step(state)
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        v = state["square_avg"]._data
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            g_avg = state["grad_avg"]._data
            lerp_(g_avg, g, 1 - alpha)
            s = xp.sqrt(v - g_avg * g_avg)
        else:
            s = xp.sqrt(v)
        s += group["eps"]
        if mu > 0:
            b = state["momentum_buffer"]._data
            b *= mu
            b += g / s
            sub_scaled_(p, lr, b)
        else:
            sub_scaled_(p, lr, g / s)
