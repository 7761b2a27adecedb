"""``chainrule.accelerator``: the device-agnostic queries of PyTorch 2.6+.

The only accelerator chainrule drives is an NVIDIA GPU through CuPy; without one,
``current_accelerator()`` is None and ``is_available()`` is False, as in PyTorch on a CPU-only
machine.
"""

from __future__ import annotations

from . import backend, cuda

__all__ = [
    "is_available",
    "current_accelerator",
    "device_count",
    "current_device_index",
    "set_device_index",
    "synchronize",
]


def is_available() -> bool:
    return backend.cuda_available()


def current_accelerator(check_available: bool = False) -> backend.device | None:
    """``device(type='cuda')`` where a GPU is usable, else None."""
    return backend.device("cuda") if backend.cuda_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    return cuda.current_device() if backend.cuda_available() else -1


def set_device_index(device) -> None:
    cuda.set_device(device)


def synchronize(device=None) -> None:
    cuda.synchronize(device)
