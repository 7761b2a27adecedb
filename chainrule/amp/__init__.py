"""``chainrule.amp``: automatic mixed precision, ``autocast`` and ``GradScaler``.

On CPU ``autocast`` is accepted and records its state, but ops run in their inputs' dtypes
(PyTorch would run matmuls in bfloat16 inside ``autocast("cpu", dtype=torch.bfloat16)``).
``GradScaler`` is complete: it scales the loss, unscales gradients, skips steps whose gradients
hold inf/NaN and adapts the scale, on any device.
"""

from .autocast_mode import (
    autocast,
    cuda_autocast,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_enabled,
)
from .grad_scaler import GradScaler, cuda_grad_scaler

__all__ = [
    "autocast",
    "GradScaler",
    "get_autocast_dtype",
    "is_autocast_available",
    "is_autocast_enabled",
]
