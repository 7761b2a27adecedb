"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable

from ..backend import array_module
from .optimizer import (
    Optimizer,
    check_nonnegative,
    check_unsupported,
    increment_step,
    real_view,
    scalar_tensor,
    zeros_state,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), like ``torch.optim.Adagrad``::

        g ← -∇f if maximize else ∇f;  g ← g + λ·p;  t ← t + 1
        η ← lr / (1 + (t - 1)·lr_decay)
        s ← s + g²
        p ← p - η·g / (√s + ε)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty λ (default 0).
        initial_accumulator_value: the starting value of s (default 0).
        eps: ε added to the denominator (default 1e-10).
        foreach, maximize, differentiable, fused: as in PyTorch (foreach is ignored,
            differentiable and fused must stay off).

    State per parameter (made at construction, as PyTorch does): ``step`` and ``sum`` (s).
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_nonnegative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay)
        check_nonnegative(initial_accumulator_value=initial_accumulator_value, eps=eps)
        check_unsupported(differentiable=differentiable, fused=fused)
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "foreach": foreach,
            "maximize": maximize,
            "differentiable": differentiable,
            "fused": fused,
        }
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(real_view(p._data), self.state[p], group)

    @staticmethod
    def _init_state(p, state, group):
        state["step"] = scalar_tensor(0.0)
        state["sum"] = zeros_state(p, group["initial_accumulator_value"])

    def update(self, p, g, state, group):
        xp = array_module(p)
        if not state:  # a parameter from a group added after construction
            self._init_state(p, state, group)
        t = increment_step(state)
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        lr = float(group["lr"]) / (1 + (t - 1) * group["lr_decay"])
        s = state["sum"]._data
        s += g * g
        p -= lr * (g / (xp.sqrt(s) + group["eps"]))
