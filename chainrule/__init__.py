"""chainrule: reverse-mode automatic differentiation and neural-network training on NumPy.

``import chainrule as torch`` is meant to work for the PyTorch programs people write.
"""

import os as _os
import sys as _sys

if "numpy" not in _sys.modules:
    # OpenBLAS's idle threads spin for 2^28 cycles (~0.1 s) after each GEMM, on the cores that
    # chainrule's large kernels then run on (backend.split_rows): 2^20 (~0.4 ms) still covers
    # the gap between an RNN's back-to-back small GEMMs (sleeping at once, 2^4, made the LSTM
    # step ~10% slower), and leaves the cores to a millisecond-long gelu or softmax. OpenBLAS
    # reads this when NumPy loads it, so only before NumPy's first import; the user's wins.
    _os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "20")

# `import chainrule as torch` then `torch.nn.Linear`, `torch.optim.Adam`, `torch.utils.data`
from . import (
    accelerator,
    amp,
    autograd,
    backend,
    backends,
    cpu,
    cuda,
    data,
    debug,
    distributed,
    distributions,
    fft,
    jit,  # chainrule.jit(step): trace a training step once, replay it (a callable module)
    linalg,
    nn,
    onnx,
    optim,
    special,
    testing,
    utils,
)
from ._runtime import *  # noqa: F403  (compile, set_num_threads, set_float32_matmul_precision…)
from .amp import (
    autocast,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
)
from .autograd import enable_grad, inference_mode, no_grad, set_grad_enabled
from .autograd.engine import is_grad_enabled
from .backend import (
    bfloat16,
    cdouble,
    cfloat,
    complex64,
    complex128,
    device,
    double,
    dtype,
    finfo,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    iinfo,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from .backend import (
    bool_ as bool,
)
from .linalg import lu_unpack
from .ops import *
from .ops import promote_types, result_type, set_printoptions
from .serialization import CheckpointError, load, save
from .tensor import Size, Tensor

__version__ = "0.1.0"


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()
