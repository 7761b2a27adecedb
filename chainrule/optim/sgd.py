"""SGD: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable

from .optimizer import (
    Optimizer,
    check_nonnegative,
    check_unsupported,
    sub_scaled_,
    zeros_state,
)

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, like ``torch.optim.SGD``::

        g ← -∇f if maximize else ∇f
        g ← g + λ·p                                   (weight_decay λ)
        b ← g at the first step, else μ·b + (1 - τ)·g  (momentum μ, dampening τ)
        g ← g + μ·b if nesterov else b                 (when μ ≠ 0)
        p ← p - lr·g

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor μ (default 0).
        dampening: dampening τ of the momentum (default 0).
        weight_decay: L2 penalty λ (default 0).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, fused: accepted for PyTorch compatibility; foreach is
            ignored, the other two must stay off.

    State per parameter: ``momentum_buffer`` (when momentum ≠ 0).

    Example:
        >>> import chainrule as torch
        >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()
        ...     opt.step()
        >>> [round(v, 4) for v in w.tolist()]
        [0.46, 0.92]
    """

    def __init__(
        self,
        params: Iterable,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        check_nonnegative(lr=lr, momentum=momentum, weight_decay=weight_decay)
        check_unsupported(differentiable=differentiable, fused=fused)
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
            "foreach": foreach,
            "differentiable": differentiable,
            "fused": fused,
        }
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "Nesterov momentum requires a momentum and zero dampening: got "
                f"momentum={momentum}, dampening={dampening}"
            )
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def update(self, p, g, state, group):
        lr, mu = float(group["lr"]), group["momentum"]
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = zeros_state(p)
                buf._data[...] = g
            else:
                b = buf._data
                b *= mu
                if group["dampening"] == 0:
                    b += g  # the same bits as 1.0·g, one pass fewer
                else:
                    b += (1 - group["dampening"]) * g
            g = g + mu * buf._data if group["nesterov"] else buf._data
        sub_scaled_(p, lr, g)
