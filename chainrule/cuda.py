"""``chainrule.cuda``: the GPU queries that training scripts make, answered from
``backend.cuda_available()``.

Without CuPy and an NVIDIA device every query answers as PyTorch does on a machine without CUDA:
``is_available()`` is False, ``device_count()`` is 0, seeding is a no-op, and calls that need a
device raise PyTorch's "no CUDA" error with what to do.
"""

from __future__ import annotations

from types import SimpleNamespace

from . import backend

__all__ = [
    "is_available",
    "device_count",
    "current_device",
    "set_device",
    "get_device_name",
    "get_device_capability",
    "is_bf16_supported",
    "synchronize",
    "empty_cache",
    "manual_seed",
    "manual_seed_all",
    "seed",
    "seed_all",
    "initial_seed",
    "get_rng_state",
    "set_rng_state",
    "get_rng_state_all",
    "set_rng_state_all",
    "memory_allocated",
    "max_memory_allocated",
    "memory_reserved",
    "reset_peak_memory_stats",
    "device",
]

_current = 0
_generators: dict = {}  # device index -> chainrule Generator (made when first seeded)


def _no_cuda() -> RuntimeError:
    return RuntimeError(
        "Found no NVIDIA driver on your system (chainrule.cuda needs CuPy and an NVIDIA GPU). "
        "Install the `gpu` extra (pip install 'chainrule[gpu]') on a machine with a GPU, or guard "
        "the call with `if torch.cuda.is_available():`."
    )


def is_available() -> bool:
    """True when CuPy found at least one NVIDIA device."""
    return backend.cuda_available()


def device_count() -> int:
    if not backend.cuda_available():
        return 0
    return int(backend._cupy.cuda.runtime.getDeviceCount())


def _index(dev) -> int:
    if dev is None:
        return _current
    if isinstance(dev, int):
        return dev
    return backend.device(dev).index or 0


def current_device() -> int:
    if not backend.cuda_available():
        raise _no_cuda()
    return _current


def set_device(device) -> None:
    global _current
    if not backend.cuda_available():
        raise _no_cuda()
    _current = _index(device)
    backend._cupy.cuda.Device(_current).use()


def get_device_name(device=None) -> str:
    if not backend.cuda_available():
        raise _no_cuda()
    props = backend._cupy.cuda.runtime.getDeviceProperties(_index(device))
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_capability(device=None) -> tuple[int, int]:
    if not backend.cuda_available():
        raise _no_cuda()
    props = backend._cupy.cuda.runtime.getDeviceProperties(_index(device))
    return int(props["major"]), int(props["minor"])


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return backend.cuda_available() and get_device_capability()[0] >= 8


def synchronize(device=None) -> None:
    """Wait for the device's queued work (a no-op without a GPU, as nothing is queued)."""
    if backend.cuda_available():
        backend._cupy.cuda.Device(_index(device)).synchronize()


def empty_cache() -> None:
    if backend.cuda_available():
        backend._cupy.get_default_memory_pool().free_all_blocks()


# ------------------------------------------------------------------------------ random
def _generator(index: int):
    from .ops.creation import Generator

    g = _generators.get(index)
    if g is None:
        g = _generators[index] = Generator(f"cuda:{index}" if is_available() else "cpu")
    return g


def manual_seed(seed: int) -> None:
    """Seed the current GPU's generator; silently does nothing without a GPU, like PyTorch."""
    if is_available():
        _generator(_current).manual_seed(seed)


def manual_seed_all(seed: int) -> None:
    """Seed every GPU's generator; silently does nothing without a GPU, like PyTorch."""
    for i in range(device_count()):
        _generator(i).manual_seed(seed)


def seed() -> None:
    if is_available():
        _generator(_current).seed()


def seed_all() -> None:
    for i in range(device_count()):
        _generator(i).seed()


def initial_seed() -> int:
    if not is_available():
        raise _no_cuda()
    return _generator(_current).initial_seed()


def get_rng_state(device="cuda"):
    if not is_available():
        raise _no_cuda()
    return _generator(_index(device)).get_state()


def set_rng_state(new_state, device="cuda") -> None:
    if not is_available():
        raise _no_cuda()
    _generator(_index(device)).set_state(new_state)


def get_rng_state_all() -> list:
    return [get_rng_state(i) for i in range(device_count())]


def set_rng_state_all(new_states) -> None:
    for i, s in enumerate(new_states):
        set_rng_state(s, i)


# ------------------------------------------------------------------------------ memory
def memory_allocated(device=None) -> int:
    if not is_available():
        return 0
    return int(backend._cupy.get_default_memory_pool().used_bytes())


def max_memory_allocated(device=None) -> int:
    return memory_allocated(device)


def memory_reserved(device=None) -> int:
    if not is_available():
        return 0
    return int(backend._cupy.get_default_memory_pool().total_bytes())


def reset_peak_memory_stats(device=None) -> None:
    return None


class device:
    """``with torch.cuda.device(1):`` makes device 1 current inside the block."""

    def __init__(self, device):
        self.idx = _index(device) if device is not None else _current
        self.prev = None

    def __enter__(self):
        global _current
        self.prev = _current
        if is_available():
            set_device(self.idx)

    def __exit__(self, *exc):
        global _current
        if is_available():
            set_device(self.prev)
        return False


def _amp_namespace():
    from . import amp

    return SimpleNamespace(autocast=amp.cuda_autocast, GradScaler=amp.cuda_grad_scaler)


def __getattr__(name):
    # torch.cuda.amp.autocast / GradScaler (deprecated spellings scripts still use)
    if name == "amp":
        return _amp_namespace()
    raise AttributeError(f"module 'chainrule.cuda' has no attribute '{name}'")
