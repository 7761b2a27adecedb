"""Process-wide switches that PyTorch scripts flip: threads, matmul precision, determinism, and
``compile``.
"""

from __future__ import annotations

import os

from . import backend

__all__ = [
    "compile",
    "set_num_threads",
    "get_num_threads",
    "set_num_interop_threads",
    "get_num_interop_threads",
    "set_float32_matmul_precision",
    "get_float32_matmul_precision",
    "use_deterministic_algorithms",
    "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled",
]

try:  # threadpoolctl limits the BLAS/OpenMP pools NumPy uses (installed with scikit-learn)
    import threadpoolctl
except ImportError:  # pragma: no cover - then the value is only remembered
    threadpoolctl = None

_num_threads: int | None = None
_interop_threads: int | None = None
_matmul_precision = "highest"
_deterministic = (False, False)
_limiter = None


def set_num_threads(n: int) -> None:
    """Limit the intra-op threads: those of the BLAS that NumPy uses (through threadpoolctl
    where installed) and those that run chainrule's large kernels in parts
    (``backend.split_rows``)."""
    global _num_threads, _limiter
    n = int(n)
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, but got {n}")
    _num_threads = n
    backend._threads[0] = n  # and the threads that chainrule's own large kernels use
    if threadpoolctl is not None:
        _limiter = threadpoolctl.threadpool_limits(limits=n)


def get_num_threads() -> int:
    if _num_threads is not None:
        return _num_threads
    if threadpoolctl is not None:
        counts = [p["num_threads"] for p in threadpoolctl.threadpool_info()]
        if counts:
            return max(counts)
    return os.cpu_count() or 1


def set_num_interop_threads(n: int) -> None:
    global _interop_threads
    _interop_threads = int(n)


def get_num_interop_threads() -> int:
    return _interop_threads if _interop_threads is not None else (os.cpu_count() or 1)


def set_float32_matmul_precision(precision: str) -> None:
    """ "highest" | "high" | "medium": remembered; NumPy's float32 matmul is always "highest"."""
    global _matmul_precision
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(
            f"Invalid precision '{precision}': expected one of 'highest', 'high', 'medium'"
        )
    _matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _matmul_precision


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Accepted and remembered: chainrule's ops are deterministic already."""
    global _deterministic
    _deterministic = (bool(mode), bool(warn_only))


def are_deterministic_algorithms_enabled() -> bool:
    return _deterministic[0]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _deterministic[1]


def compile(model=None, *, fullgraph: bool = False, dynamic=None, backend="inductor",
            mode=None, options=None, disable: bool = False):  # fmt: skip
    """``torch.compile``: ``model`` (a Module or a function) through ``chainrule.jit``.

    Each input signature is traced once and replayed where the result needs no graph afterwards
    (a whole training step, or inference under ``no_grad``); otherwise, or where jit refuses
    (a branch on a tensor value…), the model runs eagerly. One warning line says which path is
    taken. ``fullgraph=True`` raises jit's refusal instead of running eagerly; ``disable=True``
    returns ``model`` unchanged; ``dynamic``, ``backend``, ``mode`` and ``options`` are accepted
    and ignored. Works as ``compile(model)``, ``compile(fn)`` and ``@compile(mode=...)``.
    """
    if model is None:
        return lambda m: compile(m, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                 mode=mode, options=options, disable=disable)  # fmt: skip
    if not callable(model):
        raise RuntimeError(f"compile: expected a Module or a function, got {type(model).__name__}")
    if disable:
        return model
    from .jit import Compiled

    return Compiled(model, fullgraph=fullgraph)
