"""Array backends, devices and dtypes.

This is the only module that knows about CuPy. Everything else asks `array_module(x)` for the
module that owns an array and writes NumPy-style code against it.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import glob
import os
import queue
import sys
import threading

import ml_dtypes
import numpy as np

try:  # CuPy is optional: the `gpu` extra installs it
    import cupy as _cupy

    _cupy.cuda.runtime.getDeviceCount()
except Exception:  # no cupy, no driver, or no device
    _cupy = None

# dtypes are NumPy dtypes: comparing and hashing them is as cheap as it gets on the hot path.
float16 = half = np.dtype(np.float16)
bfloat16 = np.dtype(ml_dtypes.bfloat16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
complex64 = cfloat = np.dtype(np.complex64)
complex128 = cdouble = np.dtype(np.complex128)

dtype = np.dtype

_FLOATING = {float16, bfloat16, float32, float64}
_COMPLEX = {complex64, complex128}
_SUPPORTED = _FLOATING | _COMPLEX | {int8, int16, int32, int64, uint8, bool_}

_default_dtype = float32

_NAMES = {
    float16: "float16",
    bfloat16: "bfloat16",
    float32: "float32",
    float64: "float64",
    int8: "int8",
    int16: "int16",
    int32: "int32",
    int64: "int64",
    uint8: "uint8",
    bool_: "bool",
    complex64: "complex64",
    complex128: "complex128",
}


def dtype_name(dt) -> str:
    """'chainrule.float32' style name of a dtype, for messages and reprs."""
    return "chainrule." + _NAMES.get(dt, str(dt))


def get_default_dtype():
    return _default_dtype


def set_default_dtype(d) -> None:
    """Set the dtype that floating-point factories and Python floats produce (float32 or
    float64)."""
    global _default_dtype
    d = as_dtype(d)
    if d not in _FLOATING:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_dtype = d


def is_floating(dt) -> bool:
    return dt in _FLOATING


def is_complex(dt) -> bool:
    return dt in _COMPLEX


def as_dtype(d):
    """Accept a chainrule/NumPy dtype, a Python type or a name; return the NumPy dtype."""
    if d is None:
        return None
    if d is builtins.float:
        return _default_dtype
    if d is builtins.int:
        return int64
    if d is builtins.bool:
        return bool_
    if isinstance(d, str):
        d = d.removeprefix("torch.").removeprefix("chainrule.")
        d = {
            "float": "float32",
            "double": "float64",
            "half": "float16",
            "long": "int64",
            "int": "int32",
            "short": "int16",
            "bool": "bool",
        }.get(d, d)
        if d == "bfloat16":
            return bfloat16
    dt = np.dtype(d)
    if dt not in _SUPPORTED:
        raise TypeError(f"dtype {dt} is not supported by chainrule")
    return dt


# ---------------------------------------------------------------- devices
class device:
    """Where a tensor's memory lives: ``device("cpu")``, ``device("cuda")`` or
    ``device("cuda:1")``."""

    __slots__ = ("type", "index")

    def __init__(self, type: str | device, index: builtins.int | None = None):
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, builtins.int):
            type, index = "cuda", type
        name, _, idx = str(type).partition(":")
        if name not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type}"
            )
        if idx:
            index = builtins.int(idx)
        self.type = name
        self.index = index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, device):
            return NotImplemented
        if self.type != other.type:
            return False
        # "cuda" and "cuda:0" name the same device when only one is current
        return (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))


CPU = device("cpu")


def array_module(x):
    """The module (numpy or cupy) that owns array ``x``.

    A Tensor gets the differentiable NumPy-like namespace instead, so that backward rules written
    against ``xp`` are themselves differentiable when the engine runs them with ``create_graph``.
    """
    if type(x) is np.ndarray:
        return np
    if _cupy is not None and isinstance(x, _cupy.ndarray):
        return _cupy
    if hasattr(x, "_is_chainrule_tensor"):
        from .ops import tensor_numpy

        return tensor_numpy
    return np


def device_of(array) -> device:
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return device("cuda", array.device.id)
    return CPU


def cuda_available() -> bool:
    return _cupy is not None


def to_device(array, dev: device):
    """Move an array to `dev` (a copy only where the device changes)."""
    if dev.type == "cpu":
        if _cupy is not None and isinstance(array, _cupy.ndarray):
            return _cupy.asnumpy(array)
        return array
    if _cupy is None:
        raise RuntimeError(
            "CUDA is not available: chainrule found no CuPy or no NVIDIA device. "
            "Install the `gpu` extra (pip install 'chainrule[gpu]') on a machine with a GPU, "
            "or keep the tensor on 'cpu'."
        )
    with _cupy.cuda.Device(dev.index or 0):
        return _cupy.asarray(array)


def to_numpy(array) -> np.ndarray:
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy.asnumpy(array)
    return np.asarray(array)


# ------------------------------------------------------------------------------ host memory
def _keep_freed_arrays() -> bool:
    """Ask glibc's malloc to keep freed arrays for reuse instead of returning them to the OS.

    By default glibc serves blocks above 128 KiB-32 MiB with mmap and unmaps them on free, so
    every training step pays page faults to get the same activation and gradient arrays back:
    25-35% of a GPT or LeNet step on CPU. Raising the mmap and trim thresholds makes freed
    blocks stay in the heap and be reused, as PyTorch's caching allocator does for its own
    tensors. The cost is that the process's resident memory does not shrink after a peak.
    Set CHAINRULE_MALLOC_TUNING=0 to leave malloc alone. Returns whether the setting applied.
    """
    if os.environ.get("CHAINRULE_MALLOC_TUNING", "1") == "0" or not sys.platform.startswith(
        "linux"
    ):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, …): nothing to tune
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 31))


MALLOC_TUNED = _keep_freed_arrays()


# ------------------------------------------------------------------------------ BLAS threads
def _openblas_threads():
    """(get, set) for the thread count of the OpenBLAS that NumPy links, or None."""
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas_%s_num_threads64_", "openblas_%s_num_threads"):
            get, set_ = getattr(lib, name % "get", None), getattr(lib, name % "set", None)
            if get is not None and set_ is not None:
                return get, set_
    return None


_OPENBLAS = _openblas_threads()


_blas_lock = threading.Lock()
# how many callers are inside one_blas_thread_when_busy, and the thread count to restore
_blas_users = [0, None]


def _busy() -> bool:
    """Is the machine busy: more runnable threads, over the last minute, than cores? (This
    process's own BLAS threads count too: a quiet machine running one training reads 1-2.)"""
    try:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        return os.getloadavg()[0] > (cores or os.cpu_count() or 1) + 0.5
    except OSError:
        return False


@contextlib.contextmanager
def one_blas_thread_when_busy():
    """On a busy machine, run many small GEMMs (an RNN's B x H by H x 4H per time step, a
    batched matmul over N small matrices) on one BLAS thread. Each such GEMM waits for the
    second BLAS thread to get a core: when other processes hold the cores, that wait costs far
    more than the thread saves (measured on 2 cores under load: LSTM step median 418 ms ->
    64 ms, LeNet step 167 -> 126 ms); on a quiet machine the second thread pays (LSTM step
    about 15% faster), so the count is left alone there. Nested and concurrent callers are
    counted: the last one out restores the thread count."""
    if not _busy():
        yield
        return
    with _one_blas_thread():
        yield


@contextlib.contextmanager
def _one_blas_thread():
    """OpenBLAS on one thread inside (counted: the last caller out restores the count)."""
    if _OPENBLAS is None:
        yield
        return
    get, set_ = _OPENBLAS
    with _blas_lock:
        if _blas_users[0] == 0:
            _blas_users[1] = get()
            set_(1)
        _blas_users[0] += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users[0] -= 1
            if _blas_users[0] == 0:
                set_(_blas_users[1])


# --------------------------------------------------------------- threads for elementwise work
# NumPy runs each elementwise kernel (exp, tanh, a softmax's passes) on one core, where
# PyTorch's run on all of them. For arrays large enough, split_rows runs the parts of a
# row-wise computation on several threads: NumPy's kernels release the GIL while they run, so
# the parts run at once (gelu and attention at GPT sizes: about 1.6x on 2 cores; cheap
# memory-bound passes such as layer norm's measured slower, and are not cut).
# The cut depends only on the sizes and the thread count (not on the machine's load), so a
# program gives the same bits on every run; elementwise results do not depend on the cut at all.
_SPLIT_MIN = 1 << 16  # elements touched: below this, handing work to a thread costs more
_threads = [None]  # the intra-op thread count set by set_num_threads (None: all cores)
_workers: list = []  # threads that run the other parts: (thread, job queue)
_worker_lock = threading.Lock()
_in_worker = threading.local()


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def _work(jobs) -> None:
    _in_worker.active = True  # a split inside a part runs in one call: no waiting on itself
    while True:
        fn, lo, hi, done = jobs.get()
        try:
            fn(lo, hi)
        except BaseException as e:  # handed to the caller, which raises it
            done.error = e
        finally:
            done.event.set()
            fn = done = None  # keep nothing of the job (its arrays) alive until the next one


class _Done:
    """A part's completion, and its error if it raised."""

    __slots__ = ("event", "error")

    def __init__(self):
        self.event = threading.Event()
        self.error = None


def _worker(i: int):
    with _worker_lock:
        while len(_workers) <= i:
            jobs = queue.SimpleQueue()
            t = threading.Thread(target=_work, args=(jobs,), name="chainrule-intra-op", daemon=True)
            t.start()
            _workers.append((t, jobs))
        return _workers[i][1]


def _forget_workers() -> None:  # a forked child has the list but not the threads
    _workers.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_workers)


# OpenBLAS's idle threads spin on the cores for 0.1 s after each GEMM unless told otherwise
# before NumPy loaded it (chainrule/__init__ does so when it is imported first): then a second
# thread for elementwise work finds no free core and gains nothing (measured: 0.95-1.1x).
_BLAS_SPINS = _OPENBLAS is not None and "OPENBLAS_THREAD_TIMEOUT" not in os.environ


def intra_op_parts(size: int) -> int:
    """Into how many parts split_rows cuts work touching `size` elements."""
    cores = _cores() or 1
    n = min(_threads[0] or cores, cores)  # more parts than cores would only take turns
    if n < 2 or _BLAS_SPINS or size < _SPLIT_MIN or getattr(_in_worker, "active", False):
        return 1
    return min(n, max(1, size // (_SPLIT_MIN // 2)))


def split_rows(fn, rows: int, size: int, gemms: bool = False) -> None:
    """fn(lo, hi) for consecutive ranges [lo, hi) covering range(rows), run on several threads
    at once when the work (`size` elements) is large and the machine has the cores; else one
    call fn(0, rows). fn must only write its own rows of its outputs (NumPy arrays: CuPy's
    kernels are asynchronous already). gemms: fn runs GEMMs, which then get one BLAS thread
    each (the parts take the cores instead)."""
    parts = min(rows, intra_op_parts(size))
    if parts < 2:
        fn(0, rows)
        return
    if gemms:
        with _one_blas_thread():
            _run_parts(fn, rows, parts)
    else:
        _run_parts(fn, rows, parts)


def _run_parts(fn, rows: int, parts: int) -> None:
    bounds = [rows * i // parts for i in range(parts + 1)]
    pending = []
    for i in range(1, parts):
        done = _Done()
        _worker(i - 1).put((fn, bounds[i], bounds[i + 1], done))
        pending.append(done)
    try:
        fn(0, bounds[1])
    finally:
        for done in pending:
            done.event.wait()
    for done in pending:
        if done.error is not None:
            raise done.error


# ------------------------------------------------------------------------------ dtype limits
def finfo(type=None):
    """Machine limits of a floating dtype (default: the default dtype), like ``torch.finfo``:
    ``bits``, ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``), ``resolution``."""
    dt = get_default_dtype() if type is None else as_dtype(type)
    if dt == bfloat16:
        return ml_dtypes.finfo(dt)
    if dt.kind != "f":
        raise TypeError(f"torch.finfo() requires a floating point input type, got {dt}")
    return np.finfo(dt)


def iinfo(type):
    """Machine limits of an integer dtype, like ``torch.iinfo``: ``bits``, ``min``, ``max``."""
    dt = as_dtype(type)
    if dt.kind not in "iub":
        raise TypeError(f"torch.iinfo() requires an integer input type, got {dt}")
    return np.iinfo(np.uint8 if dt.kind == "b" else dt)
