"""Gradient clipping: ``clip_grad_norm_`` (with ``get_total_norm`` and
``clip_grads_with_norm_``, its two halves) and ``clip_grad_value_``, like
``torch.nn.utils``. They work on the raw gradient arrays, in place, outside any graph."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ...backend import array_module, to_device
from ...tensor import Tensor

__all__ = [
    "clip_grad_norm",
    "clip_grad_norm_",
    "clip_grad_value_",
    "clip_grads_with_norm_",
    "get_total_norm",
]


def _tensors(tensors) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _grads(parameters) -> list[Tensor]:
    return [p.grad for p in _tensors(parameters) if p.grad is not None]


def _norm(x, ord: float):
    """‖x‖_ord of a raw array, over all elements (torch.linalg.vector_norm)."""
    xp = array_module(x)
    a = xp.abs(x)
    if ord == math.inf:
        return a.max() if a.size else xp.zeros((), a.dtype)
    if ord == -math.inf:
        return a.min()
    if ord == 0:
        return xp.asarray(xp.count_nonzero(x), dtype=a.dtype)
    if ord == 1:
        return a.sum()
    if ord == 2:
        return xp.sqrt((a * a).sum())
    return (a**ord).sum() ** (1.0 / ord)


def get_total_norm(
    tensors: Tensor | Iterable[Tensor],
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """The norm of the norms of `tensors`: the norm of all their elements as one vector.

    Args:
        tensors: tensors (usually gradients).
        norm_type: the p of the p-norm; ``inf`` for the largest magnitude.
        error_if_nonfinite: raise if the norm is nan or inf.
        foreach: accepted for PyTorch compatibility, ignored.

    Returns:
        The total norm, a 0-d Tensor (0.0 when there are no tensors).
    """
    tensors = _tensors(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor._make(np.array(0.0, dtype=np.float32))
    first = tensors[0]._data
    norms = [to_device(_norm(t._data, norm_type), tensors[0].device) for t in tensors]
    xp = array_module(first)
    total = _norm(xp.stack([xp.asarray(n) for n in norms]), norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor._make(xp.asarray(total))


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    total_norm: Tensor,
    foreach: bool | None = None,
) -> None:
    """Scale the gradients of `parameters` in place by min(1, max_norm / (total_norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return
    norm = total_norm._data if isinstance(total_norm, Tensor) else total_norm
    xp = array_module(grads[0]._data)
    coef = xp.minimum(float(max_norm) / (norm + 1e-6), 1.0)
    with np.errstate(invalid="ignore"):  # a nan or inf norm scales silently, as in PyTorch
        for g in grads:
            g._data *= coef
            g._vc.bump("clip_grad_norm_")


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: bool | None = None,
) -> Tensor:
    """Rescale the gradients of `parameters` in place so that their total norm (as one
    vector) is at most `max_norm`: g ← g · min(1, max_norm / (‖g‖ + 1e-6)).

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        max_norm: the largest allowed total norm.
        norm_type: the p of the p-norm (default 2; ``inf`` for the largest magnitude).
        error_if_nonfinite: raise instead of scaling by a nan or inf norm.
        foreach: accepted for PyTorch compatibility, ignored.

    Returns:
        The total norm of the gradients before clipping (a 0-d Tensor).

    Example:
        >>> import chainrule as torch
        >>> from chainrule.nn.utils import clip_grad_norm_
        >>> w = torch.tensor([3.0, 4.0], requires_grad=True)
        >>> (w * w).sum().backward()          # grad = [6, 8], norm 10
        >>> clip_grad_norm_([w], max_norm=1.0)
        tensor(10.)
        >>> [round(v, 4) for v in w.grad.tolist()]
        [0.6, 0.8]
    """
    parameters = _tensors(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of ``clip_grad_norm_`` (PyTorch keeps it with a warning)."""
    import warnings

    warnings.warn(
        "`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
        "`torch.nn.utils.clip_grad_norm_`.",
        FutureWarning,
        stacklevel=2,
    )
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: bool | None = None
) -> None:
    """Clamp every gradient of `parameters` to [-clip_value, clip_value] in place.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.nn.utils import clip_grad_value_
        >>> w = torch.tensor([3.0, -4.0], requires_grad=True)
        >>> (w * w).sum().backward()          # grad = [6, -8]
        >>> clip_grad_value_([w], clip_value=5.0)
        >>> w.grad.tolist()
        [5.0, -5.0]
    """
    clip_value = float(clip_value)
    for g in _grads(parameters):
        xp = array_module(g._data)
        xp.clip(g._data, -clip_value, clip_value, out=g._data)
        g._vc.bump("clip_grad_value_")
