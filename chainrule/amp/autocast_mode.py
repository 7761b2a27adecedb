"""``autocast``: a context manager (and decorator) with PyTorch's arguments.

It keeps a per-device stack of (enabled, dtype) so that ``is_autocast_enabled`` and
``get_autocast_dtype`` answer as in PyTorch; the ops themselves do not change dtype yet.
"""

from __future__ import annotations

import functools
import warnings

from .. import backend

_DEFAULT_DTYPE = {"cpu": backend.bfloat16, "cuda": backend.float16}
_state = {"cpu": [(False, backend.bfloat16)], "cuda": [(False, backend.float16)]}
_warned = False


def is_autocast_available(device_type: str) -> bool:
    return device_type in _state


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    return _state[_device_type(device_type)][-1][0]


def get_autocast_dtype(device_type: str):
    return _state[_device_type(device_type)][-1][1]


def _device_type(device_type) -> str:
    name = str(device_type).partition(":")[0]
    if name not in _state:
        raise RuntimeError(
            f"User specified an unsupported autocast device_type '{device_type}': chainrule "
            "supports 'cpu' and 'cuda'"
        )
    return name


class autocast:
    """``with autocast("cpu", dtype=torch.bfloat16):`` (or ``@autocast("cuda")``).

    Args:
        device_type: "cpu" or "cuda".
        dtype: the lower-precision dtype (bfloat16 on CPU, float16 on CUDA by default).
        enabled: False makes the block a plain no-op.
        cache_enabled: accepted for PyTorch compatibility.
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        self.device_type = _device_type(device_type)
        self.fast_dtype = backend.as_dtype(dtype) or _DEFAULT_DTYPE[self.device_type]
        self._enabled = bool(enabled)
        if self.device_type == "cuda" and enabled and not backend.cuda_available():
            warnings.warn(
                "User provided device_type of 'cuda', but CUDA is not available. Disabling",
                UserWarning,
                stacklevel=2,
            )
            self._enabled = False

    def __enter__(self):
        global _warned
        if self._enabled and not _warned:
            _warned = True
            warnings.warn(
                "chainrule.autocast: ops run in their inputs' dtypes (mixed precision is not "
                "applied yet); results are those of full precision",
                UserWarning,
                stacklevel=2,
            )
        _state[self.device_type].append((self._enabled, self.fast_dtype))
        return self

    def __exit__(self, *exc):
        _state[self.device_type].pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self._enabled):
                return fn(*args, **kwargs)

        return wrapper


def cuda_autocast(enabled: bool = True, dtype=None, cache_enabled: bool = True) -> autocast:
    """``torch.cuda.amp.autocast(...)``: the deprecated spelling of ``autocast("cuda", ...)``."""
    return autocast("cuda", dtype=dtype or backend.float16, enabled=enabled)
