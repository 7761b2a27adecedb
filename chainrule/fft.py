"""``chainrule.fft``: the discrete Fourier transforms of ``torch.fft`` (value only).

The transforms run NumPy's (or CuPy's) FFT and keep PyTorch's dtypes (float32 in, complex64
out). They have no gradient yet: differentiating one raises an error that says so.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .backend import array_module
from .ops.creation import tensor
from .ops.decomp import ValueOnly
from .tensor import Tensor

__all__ = [
    "fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
    "fftfreq", "rfftfreq", "fftshift", "ifftshift",
]  # fmt: skip

_COMPLEX_OF = {backend.float64: backend.complex128, backend.complex128: backend.complex128}
_REAL_OF = {backend.complex128: backend.float64, backend.float64: backend.float64}


def _out_dtypes(x: Tensor):
    dt = x.dtype if backend.is_floating(x.dtype) or backend.is_complex(x.dtype) else None
    if dt is None:
        dt = backend.get_default_dtype()
    return _COMPLEX_OF.get(dt, backend.complex64), _REAL_OF.get(dt, backend.float32)


def _transform(name: str, input: Tensor, real_out: bool, call) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"fft.{name}(): argument 'input' must be Tensor, not {type(input).__name__}"
        )
    cdt, rdt = _out_dtypes(input)
    out_dt = rdt if real_out else cdt

    def fn(a):
        return call(array_module(a).fft, a).astype(out_dt, copy=False)

    return ValueOnly.apply(input, f"fft.{name}", fn)


def fft(input, n=None, dim=-1, norm=None):
    return _transform("fft", input, False, lambda f, a: f.fft(a, n, dim, norm))


def ifft(input, n=None, dim=-1, norm=None):
    return _transform("ifft", input, False, lambda f, a: f.ifft(a, n, dim, norm))


def rfft(input, n=None, dim=-1, norm=None):
    return _transform("rfft", input, False, lambda f, a: f.rfft(a, n, dim, norm))


def irfft(input, n=None, dim=-1, norm=None):
    return _transform("irfft", input, True, lambda f, a: f.irfft(a, n, dim, norm))


def fft2(input, s=None, dim=(-2, -1), norm=None):
    return _transform("fft2", input, False, lambda f, a: f.fft2(a, s, dim, norm))


def ifft2(input, s=None, dim=(-2, -1), norm=None):
    return _transform("ifft2", input, False, lambda f, a: f.ifft2(a, s, dim, norm))


def rfft2(input, s=None, dim=(-2, -1), norm=None):
    return _transform("rfft2", input, False, lambda f, a: f.rfft2(a, s, dim, norm))


def irfft2(input, s=None, dim=(-2, -1), norm=None):
    return _transform("irfft2", input, True, lambda f, a: f.irfft2(a, s, dim, norm))


def fftn(input, s=None, dim=None, norm=None):
    return _transform("fftn", input, False, lambda f, a: f.fftn(a, s, dim, norm))


def ifftn(input, s=None, dim=None, norm=None):
    return _transform("ifftn", input, False, lambda f, a: f.ifftn(a, s, dim, norm))


def fftfreq(n: int, d: float = 1.0, *, dtype=None, device=None, requires_grad=False):
    """The sample frequencies of an n-point FFT with spacing d."""
    dt = backend.as_dtype(dtype) or backend.get_default_dtype()
    return tensor(np.fft.fftfreq(int(n), d), dtype=dt, device=device, requires_grad=requires_grad)


def rfftfreq(n: int, d: float = 1.0, *, dtype=None, device=None, requires_grad=False):
    dt = backend.as_dtype(dtype) or backend.get_default_dtype()
    return tensor(np.fft.rfftfreq(int(n), d), dtype=dt, device=device, requires_grad=requires_grad)


def fftshift(input: Tensor, dim=None) -> Tensor:
    """Move the zero frequency to the centre (a roll: differentiable)."""
    dims = tuple(range(input.ndim)) if dim is None else dim
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return input.roll([input.shape[d] // 2 for d in dims], dims)


def ifftshift(input: Tensor, dim=None) -> Tensor:
    dims = tuple(range(input.ndim)) if dim is None else dim
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return input.roll([-(input.shape[d] // 2) for d in dims], dims)
