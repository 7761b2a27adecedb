"""Tensor methods that make tensors from tensors (``new_zeros``, ``new_tensor``…), ``real`` and
``imag``, ``t_``, and the legacy type constructors ``FloatTensor``, ``LongTensor``….
"""

from __future__ import annotations

import numpy as np

from .. import backend
from ..backend import as_dtype
from ..tensor import Tensor
from . import tensor_numpy
from ._core import Op, array_module, commit_inplace, shape_arg
from .creation import empty, full, ones, tensor, zeros
from .shape import t


def _factory_kwargs(self: Tensor, dtype, device):
    return (self.dtype if dtype is None else dtype), (self.device if device is None else device)


def new_zeros(
    self: Tensor,
    *size,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
) -> Tensor:
    """Zeros of ``size`` with this tensor's dtype and device (unless given)."""
    dt, dev = _factory_kwargs(self, dtype, device)
    return zeros(shape_arg(size), dtype=dt, device=dev, requires_grad=requires_grad)


def new_ones(
    self: Tensor,
    *size,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
) -> Tensor:
    """Ones of ``size`` with this tensor's dtype and device (unless given)."""
    dt, dev = _factory_kwargs(self, dtype, device)
    return ones(shape_arg(size), dtype=dt, device=dev, requires_grad=requires_grad)


def new_empty(
    self: Tensor,
    *size,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
) -> Tensor:
    """An uninitialised tensor of ``size`` with this tensor's dtype and device (unless given)."""
    dt, dev = _factory_kwargs(self, dtype, device)
    return empty(shape_arg(size), dtype=dt, device=dev, requires_grad=requires_grad)


def new_full(
    self: Tensor,
    size,
    fill_value,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
) -> Tensor:
    """``fill_value`` everywhere in ``size``, with this tensor's dtype and device (unless given)."""
    dt, dev = _factory_kwargs(self, dtype, device)
    return full(shape_arg((size,)), fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


def new_tensor(
    self: Tensor,
    data,
    *,
    dtype=None,
    device=None,
    requires_grad: bool = False,
    layout=None,
    pin_memory: bool = False,
) -> Tensor:
    """A copy of ``data`` with this tensor's dtype and device (unless given), cut from any graph."""
    dt, dev = _factory_kwargs(self, dtype, device)
    if isinstance(data, Tensor):
        data = data.detach()
    return tensor(data, dtype=dt, device=dev, requires_grad=requires_grad)


# ------------------------------------------------------------------------------ real, imag
class Real(Op):
    """y = Re(x);  gx = gy (as a complex number with zero imaginary part)"""

    @staticmethod
    def forward(ctx, x):
        ctx.dtype = x.dtype
        return x.real.copy()

    @staticmethod
    def backward(ctx, gy):
        return gy + 0j * gy


class Imag(Op):
    """y = Im(x);  gx = i·gy  (PyTorch's conjugate-Wirtinger convention)"""

    @staticmethod
    def forward(ctx, x):
        return x.imag.copy()

    @staticmethod
    def backward(ctx, gy):
        return gy * 1j


class Conj(Op):
    """y = conj(x);  gx = conj(gy)"""

    @staticmethod
    def forward(ctx, x):
        return x.conj()

    @staticmethod
    def backward(ctx, gy):
        return array_module(gy).conj(gy)


class Complex(Op):
    """y = re + i·im;  g_re = Re(gy), g_im = Im(gy)"""

    @staticmethod
    def forward(ctx, re, im):
        out = array_module(re).empty(re.shape, np.result_type(re.dtype, np.complex64))
        out.real, out.imag = re, im
        return out

    @staticmethod
    def backward(ctx, gy):
        return gy.real + 0, gy.imag + 0  # copies: the gradient buffer is not the leaves' to keep


class ViewAsReal(Op):
    """y[..., 0] = Re(x), y[..., 1] = Im(x);  gx = y's gradient read back as complex"""

    @staticmethod
    def forward(ctx, x):
        return array_module(x).stack([x.real, x.imag], axis=-1)

    @staticmethod
    def backward(ctx, gy):
        return gy[..., 0] + 1j * gy[..., 1]


def conj(input: Tensor) -> Tensor:
    """The complex conjugate (a real tensor itself). chainrule conjugates eagerly: the result
    is a new tensor, so ``is_conj()`` is always False."""
    if not backend.is_complex(input.dtype):
        return input
    return Conj.apply(input)


def conj_physical(input: Tensor) -> Tensor:
    return conj(input)


def resolve_conj(input: Tensor) -> Tensor:
    return input


def is_conj(input: Tensor) -> bool:
    return False


def complex(real: Tensor, imag: Tensor) -> Tensor:
    """``real + i·imag`` from two float tensors of the same dtype (complex64 from float32,
    complex128 from float64)."""
    if not isinstance(real, Tensor) or not isinstance(imag, Tensor):
        raise TypeError(
            f"complex(): expected both inputs to be Tensors, got {type(real).__name__} and "
            f"{type(imag).__name__}"
        )
    if real.dtype != imag.dtype or real.dtype not in (np.float32, np.float64):
        raise RuntimeError(
            f"Expected both inputs to be Float or Double tensors but got "
            f"{backend.dtype_name(real.dtype)} and {backend.dtype_name(imag.dtype)}"
        )
    if tuple(real.shape) != tuple(imag.shape):
        raise RuntimeError(
            f"complex(): real has shape {list(real.shape)} and imag {list(imag.shape)}: "
            f"broadcast them first (torch.broadcast_tensors)"
        )
    return Complex.apply(real, imag)


def view_as_real(input: Tensor) -> Tensor:
    """A complex tensor as a real one with a last dim of 2 (real, imaginary). A copy in
    chainrule (PyTorch returns a view sharing memory)."""
    if not backend.is_complex(input.dtype):
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return ViewAsReal.apply(input)


def view_as_complex(input: Tensor) -> Tensor:
    """A real tensor with a last dim of 2 as a complex one. A copy in chainrule (PyTorch
    returns a view sharing memory)."""
    if input.dtype not in (np.float32, np.float64) or input.ndim == 0 or input.shape[-1] != 2:
        raise RuntimeError(
            f"view_as_complex expects a float or double tensor whose last dimension has size 2, "
            f"got {backend.dtype_name(input.dtype)} of shape {list(input.shape)}"
        )
    return complex(input[..., 0], input[..., 1])


def real(input: Tensor) -> Tensor:
    """The real part of a complex tensor; a real tensor itself."""
    if not backend.is_complex(input.dtype):
        return input
    return Real.apply(input)


def imag(input: Tensor) -> Tensor:
    """The imaginary part of a complex tensor."""
    if not backend.is_complex(input.dtype):
        raise RuntimeError(
            "imag is not implemented for tensors with non-complex dtypes "
            f"(got {backend.dtype_name(input.dtype)})"
        )
    return Imag.apply(input)


def t_(input: Tensor) -> Tensor:
    """In-place transpose of a ≤2-D tensor (square matrices only: chainrule keeps an in-place
    op's shape)."""
    if input.ndim == 2 and input.shape[0] != input.shape[1]:
        raise RuntimeError(
            f"t_(): chainrule transposes in place only square matrices, got shape "
            f"{list(input.shape)}; use x = x.t() instead"
        )
    return commit_inplace(input, t(input).clone(), "t_")


# ------------------------------------------------------------------ torch.det and friends
# torch.<name> and Tensor.<name> spellings of chainrule.linalg/special functions (imported when
# called: chainrule.linalg imports chainrule.ops)
def det(input: Tensor) -> Tensor:
    """det A (batched), differentiable; ``torch.linalg.det``."""
    from .. import linalg

    return linalg.det(input)


def logdet(input: Tensor) -> Tensor:
    """log det A: NaN where det < 0."""
    from .. import linalg

    return linalg.logdet(input)


def slogdet(input: Tensor):
    """(sign, log|det A|); ``torch.linalg.slogdet``."""
    from .. import linalg

    return linalg.slogdet(input)


def inverse(input: Tensor) -> Tensor:
    """A⁻¹; ``torch.linalg.inv``."""
    from .. import linalg

    return linalg.inv(input)


def pinverse(input: Tensor, rcond: float = 1e-15) -> Tensor:
    """The pseudo-inverse (value only); ``torch.linalg.pinv``."""
    from .. import linalg

    return linalg.pinv(input, rtol=rcond)


def matrix_power(input: Tensor, n: int) -> Tensor:
    from .. import linalg

    return linalg.matrix_power(input, n)


def lgamma(input: Tensor) -> Tensor:
    """log|Γ(x)|; ``torch.special.gammaln``."""
    from .. import special

    return special.gammaln(input)


def digamma(input: Tensor) -> Tensor:
    from .. import special

    return special.digamma(input)


def polygamma(n: int, input: Tensor) -> Tensor:
    from .. import special

    return special.polygamma(n, input)


def _polygamma_method(self: Tensor, n: int) -> Tensor:
    return polygamma(n, self)


# ------------------------------------------------------------------------------ legacy types
class _LegacyType(type):
    """``torch.FloatTensor([1, 2])`` makes a float32 tensor; ``isinstance(x, torch.FloatTensor)``
    is True for a CPU float32 tensor, as in PyTorch."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"

    def __call__(cls, *args, device=None) -> Tensor:
        return Tensor(*args, dtype=cls.dtype, device=device)

    def __repr__(cls) -> str:
        return f"<class 'chainrule.{cls.__name__}'>"


def _legacy(name: str, dtype) -> type:
    return _LegacyType(name, (), {"dtype": as_dtype(dtype), "__module__": "chainrule"})


FloatTensor = _legacy("FloatTensor", backend.float32)
DoubleTensor = _legacy("DoubleTensor", backend.float64)
HalfTensor = _legacy("HalfTensor", backend.float16)
BFloat16Tensor = _legacy("BFloat16Tensor", backend.bfloat16)
LongTensor = _legacy("LongTensor", backend.int64)
IntTensor = _legacy("IntTensor", backend.int32)
ShortTensor = _legacy("ShortTensor", backend.int16)
CharTensor = _legacy("CharTensor", backend.int8)
ByteTensor = _legacy("ByteTensor", backend.uint8)
BoolTensor = _legacy("BoolTensor", backend.bool_)

_LEGACY = [
    "FloatTensor", "DoubleTensor", "HalfTensor", "BFloat16Tensor", "LongTensor", "IntTensor",
    "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor",
]  # fmt: skip
_LINALG = [
    "det", "logdet", "slogdet", "inverse", "pinverse", "matrix_power", "lgamma", "digamma",
    "polygamma",
]  # fmt: skip


# ------------------------------------------------------------------ memory layout and windows
def unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Every window of ``size`` elements along ``dimension``, ``step`` apart, as a new last dim
    (Tensor.unfold; a gather, so the gradient adds up where windows overlap)."""
    from ._core import canonical_dim
    from .index import index_select

    d = canonical_dim(dimension, self.ndim) if self.ndim else 0
    n = self.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    starts = np.arange(0, n - size + 1, step)
    windows = (starts[:, None] + np.arange(size)[None, :]).reshape(-1)
    x = self if self.ndim else self.reshape(1)
    picked = index_select(x, d, tensor(windows, device=self.device))
    shape = list(x.shape)
    shape[d : d + 1] = [len(starts), size]
    return picked.reshape(shape).movedim(d + 1, -1)


def stride(self: Tensor, dim: int | None = None):
    """The step in elements between neighbours along each dim (of the underlying array)."""
    item = self._data.dtype.itemsize
    strides = tuple(s // item for s in self._data.strides)
    return strides if dim is None else strides[dim]


def storage_offset(self: Tensor) -> int:
    """Where this view starts in its base's memory, in elements (0 for a tensor that owns it)."""
    if self._base is None:
        return 0
    return (_address(self._data) - _address(self._base._data)) // self._data.dtype.itemsize


def data_ptr(self: Tensor) -> int:
    """The address of the first element."""
    return _address(self._data)


def _address(a) -> int:
    if isinstance(a, np.ndarray):
        return a.__array_interface__["data"][0]
    return int(a._data.ptr)  # CuPy


def _m_h(self: Tensor) -> Tensor:
    """The conjugate transpose of the last two dims (mT for real tensors)."""
    out = self.mT
    return out.conj() if self.is_complex() else out


METHODS = [
    "unfold", "stride", "storage_offset", "data_ptr", ("mH", property(_m_h)),
    "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor", "t_",
    ("real", property(real)), ("imag", property(imag)), ("polygamma", _polygamma_method),
    "conj", "conj_physical", "resolve_conj", "is_conj",
] + [n for n in _LINALG if n != "polygamma"]  # fmt: skip
__all__ = [
    "real", "imag", "conj", "conj_physical", "resolve_conj", "is_conj", "complex",
    "view_as_real", "view_as_complex",
] + _LINALG + _LEGACY  # fmt: skip

tensor_numpy.register(conj=conj)
