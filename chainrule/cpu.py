"""``torch.cpu``: the CPU as a device, and ``torch.cpu.amp.autocast`` (a deprecated spelling
that scripts still use)."""

from __future__ import annotations

from types import SimpleNamespace


def is_available() -> bool:
    return True


def device_count() -> int:
    return 1


def current_device() -> str:
    return "cpu"


def synchronize(device=None) -> None:
    """CPU work is done when the call returns: nothing to wait for."""


def _amp_namespace():
    from . import amp

    return SimpleNamespace(autocast=amp.cpu_autocast)


def __getattr__(name):
    if name == "amp":
        return _amp_namespace()
    raise AttributeError(f"module 'chainrule.cpu' has no attribute '{name}'")
