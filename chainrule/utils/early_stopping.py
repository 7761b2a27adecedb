"""EarlyStopping: stop training when a validation metric stops improving, and put the best
weights back."""

from __future__ import annotations

import copy
import math
from typing import Any

from ..tensor import Tensor

__all__ = ["EarlyStopping"]


def _snapshot(value):
    """A deep copy of a state dict whose tensors no longer share memory with the model's."""
    if isinstance(value, Tensor):
        return Tensor._make(value._data.copy())
    if isinstance(value, dict):
        return type(value)((k, _snapshot(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_snapshot(v) for v in value)
    return copy.deepcopy(value)


class EarlyStopping:
    """Tells a training loop to stop once a metric has not improved for `patience` steps.

    Call ``step(metric, model)`` once per evaluation (usually per epoch). A metric improves
    when it beats the best so far by more than `min_delta` (lower is better in ``"min"`` mode,
    higher in ``"max"``); a NaN never improves. At each improvement a deep copy of
    ``model.state_dict()`` is kept. After `patience` evaluations in a row without improvement,
    ``step`` returns True and, with `restore_best_weights`, loads the kept copy back into the
    model with ``model.load_state_dict``.

    Args:
        patience: how many evaluations without improvement to allow (default 5).
        min_delta: the least change that counts as an improvement (default 0).
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        restore_best_weights: load the best weights into the model when stopping.

    Attributes:
        best: the best metric so far (None before the first step).
        best_step: the index (from 0) of the ``step`` call that gave it.
        num_bad_steps: evaluations since the last improvement.
        should_stop: whether the patience has run out.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.utils.early_stopping import EarlyStopping
        >>> model = torch.nn.Module()
        >>> model.w = torch.nn.Parameter(torch.zeros(1))
        >>> stopper = EarlyStopping(patience=2)
        >>> for epoch, val_loss in enumerate([3.0, 2.0, 2.5, 2.4, 1.0]):
        ...     with torch.no_grad():
        ...         _ = model.w.fill_(epoch)  # stands for a training epoch
        ...     if stopper.step(val_loss, model):
        ...         break
        >>> epoch, stopper.best, stopper.best_step, model.w.item()
        (3, 2.0, 1, 1.0)
    """

    def __init__(
        self,
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "min",
        restore_best_weights: bool = True,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(
                f"mode {mode!r} is unknown: use 'min' for a metric that should go down (a "
                "loss) or 'max' for one that should go up (an accuracy)"
            )
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        if min_delta < 0:
            raise ValueError(
                f"min_delta must be >= 0, got {min_delta}: it is a magnitude, the direction "
                "comes from mode"
            )
        self.patience = patience
        self.min_delta = min_delta
        self.mode = mode
        self.restore_best_weights = restore_best_weights
        self.best: float | None = None
        self.best_step = -1
        self.num_bad_steps = 0
        self.steps = 0
        self.should_stop = False
        self.best_state: dict | None = None

    def is_better(self, metric: float) -> bool:
        """Whether `metric` beats the best so far by more than min_delta."""
        if math.isnan(metric):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return metric < self.best - self.min_delta
        return metric > self.best + self.min_delta

    def step(self, metric, model: Any = None) -> bool:
        """Record one evaluation of the metric; returns True when training should stop.

        Args:
            metric: the evaluated metric (a number or a 0-d Tensor).
            model: anything with ``state_dict()``/``load_state_dict()``; its state is kept at
                each improvement and restored when stopping. Optional.
        """
        metric = float(metric)
        if self.is_better(metric):
            self.best = metric
            self.best_step = self.steps
            self.num_bad_steps = 0
            if model is not None and self.restore_best_weights:
                self.best_state = _snapshot(model.state_dict())
        else:
            self.num_bad_steps += 1
        self.steps += 1
        if self.num_bad_steps >= self.patience and not self.should_stop:
            self.should_stop = True
            if self.restore_best_weights and model is not None and self.best_state is not None:
                model.load_state_dict(self.best_state)
        return self.should_stop

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume, including the kept best weights (``best_state``)."""
        return {
            "patience": self.patience,
            "min_delta": self.min_delta,
            "mode": self.mode,
            "restore_best_weights": self.restore_best_weights,
            "best": self.best,
            "best_step": self.best_step,
            "num_bad_steps": self.num_bad_steps,
            "steps": self.steps,
            "should_stop": self.should_stop,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        unknown = set(state_dict) - set(self.state_dict())
        if unknown:
            raise KeyError(f"unexpected keys in EarlyStopping state_dict: {sorted(unknown)}")
        for key, value in state_dict.items():
            setattr(self, key, _snapshot(value) if key == "best_state" else value)

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, "
            f"mode={self.mode!r}, best={self.best}, num_bad_steps={self.num_bad_steps})"
        )
