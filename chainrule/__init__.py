"""chainrule: reverse-mode automatic differentiation and neural-network training on NumPy.

``import chainrule as torch`` is meant to work for the PyTorch programs people write.
"""

# `import chainrule as torch` then `torch.nn.Linear`, `torch.optim.Adam`, `torch.utils.data`
from . import autograd, backend, data, nn, optim, testing, utils
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
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
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
