"""``chainrule.amp``: automatic mixed precision, ``autocast`` and ``GradScaler``.

``autocast("cpu", dtype=torch.bfloat16)`` (and ``"cuda"`` with float16 where a GPU is present)
casts as PyTorch does: matmuls, linear layers and convolutions run in the lower precision,
decompositions, FFTs and the other ops of PyTorch's float32 list in float32; gradients come back
in each parameter's dtype. ``GradScaler`` is complete: it scales the loss, unscales gradients,
skips steps whose gradients hold inf/NaN and adapts the scale, on any device.
"""

from .autocast_mode import (
    autocast,
    clear_autocast_cache,
    cpu_autocast,
    cuda_autocast,
    custom_bwd,
    custom_fwd,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_available,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from .grad_scaler import GradScaler, cuda_grad_scaler

__all__ = [
    "autocast",
    "custom_bwd",
    "custom_fwd",
    "GradScaler",
    "get_autocast_dtype",
    "is_autocast_available",
    "is_autocast_enabled",
]
