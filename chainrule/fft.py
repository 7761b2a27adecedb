"""``chainrule.fft``: the discrete Fourier transforms of ``torch.fft``, with gradients.

Three ops cover every transform: complex-to-complex (``fft``, ``ifft``, ``fft2``, ``ifft2``,
``fftn``, ``ifftn``; a real input is taken as complex), real-to-complex (``rfft``, ``rfft2``,
``rfftn``: the one-sided half spectrum) and complex-to-real (``irfft``, ``irfft2``,
``irfftn``); the Hermitian transforms (``hfft``, ``ihfft`` and their 2-D and n-D forms) are
these with a conjugation. Each is linear, so its gradient is its adjoint, written with the
other two:

    c2c:  y = F x            gx = Fᴴ gy      (Fᴴ: the opposite direction with the dual norm)
    r2c:  y = P F x          gx = Re(Fᴴ Pᵀ gy)   (Pᵀ zero-pads the half spectrum to n)
    c2r:  y = F⁻¹ H x        gx = D (r2c gy)     (D doubles the bins that H mirrors)

with the norms "backward" and "forward" dual to each other and "ortho" self-dual, and a
resize (zero-pad or truncate to ``n``/``s``) in front of each, whose adjoint is the opposite
resize. These are PyTorch's conventions (gradients of complex tensors are conjugate Wirtinger
derivatives), so the backward rules are themselves differentiable. Dtypes as PyTorch: float32
in, complex64 out; float64 and complex128 stay in double precision.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import backend
from .amp import autocast_mode as _amp
from .backend import array_module
from .ops._core import Op, cast
from .ops.creation import tensor
from .ops.tensor_methods import Conj
from .tensor import Tensor

__all__ = [
    "fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn",
    "rfftn", "irfftn", "hfft", "ihfft", "hfft2", "ihfft2", "hfftn", "ihfftn", "fftfreq",
    "rfftfreq", "fftshift", "ifftshift",
]  # fmt: skip

_COMPLEX_OF = {backend.float64: backend.complex128, backend.complex128: backend.complex128}
_REAL_OF = {backend.complex128: backend.float64, backend.float64: backend.float64}
_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}


# ------------------------------------------------------------------------ array helpers
def _resize_arrays(a, dims, sizes):
    """a truncated or zero-padded (at the end) to `sizes` along `dims`."""
    xp = array_module(a)
    index = [slice(None)] * a.ndim
    pads = [(0, 0)] * a.ndim
    for d, n in zip(dims, sizes):
        if n < a.shape[d]:
            index[d] = slice(0, n)
        elif n > a.shape[d]:
            pads[d] = (0, n - a.shape[d])
    a = a[tuple(index)]
    return xp.pad(a, pads) if any(p != (0, 0) for p in pads) else a


def _bin_weights(m: int, n: int, dim: int, ndim: int, dtype):
    """1 for the bins of a half spectrum (m of them, n the real length) that appear once in the
    full spectrum, 2 for those mirrored (1 … n - m)."""
    w = np.ones(m, dtype=dtype)
    w[1 : 1 + max(n - m, 0)] = 2
    return w.reshape((m,) + (1,) * (ndim - 1 - dim))


# ------------------------------------------------------------------------ the three ops
class Resize(Op):
    """y = x zero-padded or truncated to `sizes` along `dims`;  gx = gy resized back"""

    @staticmethod
    def forward(ctx, x, dims, sizes):
        ctx.dims = dims
        ctx.sizes = tuple(x.shape[d] for d in dims)
        return _resize_arrays(x, dims, sizes).copy()

    @staticmethod
    def backward(ctx, gy):
        return _resize(gy, ctx.dims, ctx.sizes), None, None


class C2C(Op):
    """y = fftn(x) (or ifftn) over `dims` with `norm`;  gx = ifftn(gy) (or fftn) with the dual
    norm, resized back to x's sizes; its real part for a real x"""

    @staticmethod
    def forward(ctx, x, dims, norm, inverse, out_dtype):
        ctx.dims, ctx.norm, ctx.inverse = dims, norm, inverse
        ctx.x_dtype = x.dtype
        fn = array_module(x).fft.ifftn if inverse else array_module(x).fft.fftn
        return fn(x, axes=dims, norm=norm).astype(out_dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        gx = _c2c(gy, ctx.dims, _DUAL[ctx.norm], not ctx.inverse)
        if ctx.x_dtype.kind != "c":
            gx = _real(gx, ctx.x_dtype)
        return gx, None, None, None, None


class R2C(Op):
    """y = rfftn(x) over `dims` (the last one halved to n//2 + 1 bins);
    gx = Re(ifftn(gy zero-padded to n)) with the dual norm"""

    @staticmethod
    def forward(ctx, x, dims, norm, out_dtype):
        ctx.dims, ctx.norm, ctx.n = dims, norm, x.shape[dims[-1]]
        ctx.x_dtype = x.dtype
        y = array_module(x).fft.rfftn(x, axes=dims, norm=norm)
        return y.astype(out_dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        g = _resize(gy, ctx.dims[-1:], (ctx.n,))
        g = _c2c(g, ctx.dims, _DUAL[ctx.norm], True)
        return _real(g, ctx.x_dtype), None, None, None


class C2R(Op):
    """y = irfftn(x) over `dims`, real length n on the last one (x has n//2 + 1 bins there);
    gx = rfftn(gy) with the dual norm, the mirrored bins doubled"""

    @staticmethod
    def forward(ctx, x, dims, norm, n, out_dtype):
        ctx.dims, ctx.norm = dims, norm
        ctx.x_dtype = x.dtype
        sizes = [x.shape[d] for d in dims[:-1]] + [n]
        y = array_module(x).fft.irfftn(x, s=sizes, axes=dims, norm=norm)
        return y.astype(out_dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        g = _r2c(gy, ctx.dims, _DUAL[ctx.norm])
        d = ctx.dims[-1]
        m, n = g.shape[d], gy.shape[d]
        real_dtype = np.float64 if g.dtype == backend.complex128 else np.float32
        gx = g * _bin_weights(m, n, d, g.ndim, real_dtype)
        if ctx.x_dtype.kind != "c":  # a real x is taken as complex with zero imaginary parts
            gx = _real(gx, ctx.x_dtype)
        return gx, None, None, None, None


# ------------------------------------------- the ops on arrays, or differentiably on Tensors
def _complex_dtype(dtype):
    return (
        backend.complex128 if dtype in (backend.float64, backend.complex128) else backend.complex64
    )


def _resize(a, dims, sizes):
    if tuple(a.shape[d] for d in dims) == tuple(sizes):
        return a
    if isinstance(a, Tensor):
        return Resize.apply(a, tuple(dims), tuple(sizes))
    return _resize_arrays(a, dims, sizes)


def _c2c(a, dims, norm, inverse):
    if isinstance(a, Tensor):
        return C2C.apply(a, dims, norm, inverse, _complex_dtype(a.dtype))
    return C2C.forward(_NoCtx(), a, dims, norm, inverse, _complex_dtype(a.dtype))


def _r2c(a, dims, norm):
    if isinstance(a, Tensor):
        return R2C.apply(a, dims, norm, _complex_dtype(a.dtype))
    return R2C.forward(_NoCtx(), a, dims, norm, _complex_dtype(a.dtype))


def _real(a, dtype):
    if isinstance(a, Tensor):
        from .ops.tensor_methods import real

        return real(a)
    return a.real.astype(dtype)


class _NoCtx:
    """A throwaway ctx for calling an op's forward on arrays inside a backward rule."""


# ------------------------------------------------------------------------ argument handling
def _check(name: str, input, norm) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"fft.{name}(): argument 'input' must be Tensor, not {type(input).__name__}"
        )
    if norm not in (None, "backward", "forward", "ortho"):
        raise ValueError(f'Invalid normalization mode: "{norm}"')
    if _amp.active:  # the FFTs are on autocast's float32 list
        (input,) = _amp.autocast_inputs("fp32", input)
    if input.dtype.kind in "biu":
        input = cast(input, backend.get_default_dtype())
    return input


def _dims(name: str, input: Tensor, s, dim) -> tuple[tuple[int, ...], tuple[int, ...] | None]:
    """(dims, sizes): numpy's rules (s alone: the last len(s) dims; neither: all dims)."""
    if isinstance(dim, numbers.Integral):
        dim = (int(dim),)
    if s is not None and isinstance(s, numbers.Integral):
        s = (int(s),)
    if dim is None:
        dim = tuple(range(input.ndim - len(s), input.ndim)) if s is not None else range(input.ndim)
    nd = max(input.ndim, 1)
    for d in dim:
        if not -nd <= d < nd:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but "
                f"got {d})"
            )
    dims = tuple(d % nd for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"fft.{name}: dims must be unique, got {list(dim)}")
    if s is None:
        return dims, None
    if len(s) != len(dims):
        raise RuntimeError(
            f"fft.{name}: When given, dim and shape arguments must have the same length "
            f"(got s={list(s)} and dim={list(dim)})"
        )
    sizes = tuple(input.shape[d] if n == -1 else int(n) for d, n in zip(dims, s))
    for n in sizes:
        if n < 1:
            raise RuntimeError(f"Invalid number of data points ({n}) specified")
    return dims, sizes


def _norm(norm) -> str:
    return "backward" if norm is None else norm


def _c2c_public(name, input, s, dim, norm, inverse) -> Tensor:
    input = _check(name, input, norm)
    dims, sizes = _dims(name, input, s, dim)
    if sizes is not None:
        input = _resize(input, dims, sizes)
    return C2C.apply(input, dims, _norm(norm), inverse, _complex_dtype(input.dtype))


def _r2c_public(name, input, s, dim, norm) -> Tensor:
    input = _check(name, input, norm)
    if input.dtype.kind == "c":
        raise RuntimeError(f"fft.{name} expects a real input tensor, but got {input.dtype}")
    dims, sizes = _dims(name, input, s, dim)
    if sizes is not None:
        input = _resize(input, dims, sizes)
    return R2C.apply(input, dims, _norm(norm), _complex_dtype(input.dtype))


def _c2r_public(name, input, s, dim, norm) -> Tensor:
    input = _check(name, input, norm)
    dims, sizes = _dims(name, input, s, dim)
    last = dims[-1]
    n = 2 * (input.shape[last] - 1) if sizes is None else sizes[-1]
    if n < 1:
        raise RuntimeError(f"Invalid number of data points ({n}) specified")
    half = [input.shape[d] for d in dims[:-1]] if sizes is None else list(sizes[:-1])
    input = _resize(input, dims, half + [n // 2 + 1])
    real = backend.float64 if input.dtype in (backend.complex128, backend.float64) else None
    real = real or backend.float32
    return C2R.apply(input, dims, _norm(norm), n, real)


# ------------------------------------------------------------------------ public transforms
def fft(input: Tensor, n=None, dim: int = -1, norm=None) -> Tensor:
    """The 1-D discrete Fourier transform along ``dim``, of length ``n`` (zero-padded or
    truncated). ``norm``: "backward" (none, the default), "ortho" (1/√n) or "forward" (1/n).

    Example:
        >>> import chainrule as torch
        >>> torch.fft.fft(torch.tensor([1.0, 0.0, 0.0, 0.0])).real.tolist()
        [1.0, 1.0, 1.0, 1.0]
    """
    return _c2c_public("fft", input, None if n is None else (n,), dim, norm, False)


def ifft(input: Tensor, n=None, dim: int = -1, norm=None) -> Tensor:
    """The inverse of ``fft`` ("backward" norm: scaled by 1/n)."""
    return _c2c_public("ifft", input, None if n is None else (n,), dim, norm, True)


def rfft(input: Tensor, n=None, dim: int = -1, norm=None) -> Tensor:
    """The FFT of a real signal: the n//2 + 1 non-negative frequencies."""
    return _r2c_public("rfft", input, None if n is None else (n,), dim, norm)


def irfft(input: Tensor, n=None, dim: int = -1, norm=None) -> Tensor:
    """The inverse of ``rfft``: a real signal of length n (default 2·(bins - 1)). The imaginary
    parts of the zero (and, for even n, the Nyquist) bin are ignored, as in PyTorch."""
    return _c2r_public("irfft", input, None if n is None else (n,), dim, norm)


def fft2(input: Tensor, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _c2c_public("fft2", input, s, dim, norm, False)


def ifft2(input: Tensor, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _c2c_public("ifft2", input, s, dim, norm, True)


def rfft2(input: Tensor, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _r2c_public("rfft2", input, s, dim, norm)


def irfft2(input: Tensor, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _c2r_public("irfft2", input, s, dim, norm)


def fftn(input: Tensor, s=None, dim=None, norm=None) -> Tensor:
    return _c2c_public("fftn", input, s, dim, norm, False)


def ifftn(input: Tensor, s=None, dim=None, norm=None) -> Tensor:
    return _c2c_public("ifftn", input, s, dim, norm, True)


def rfftn(input: Tensor, s=None, dim=None, norm=None) -> Tensor:
    return _r2c_public("rfftn", input, s, dim, norm)


def irfftn(input: Tensor, s=None, dim=None, norm=None) -> Tensor:
    return _c2r_public("irfftn", input, s, dim, norm)


# hfft: the FFT of a Hermitian signal given by its half spectrum; with real results,
# fftn(H x) = conj(fftn(H x)) = N · ifftn(H conj(x)): an irfftn of conj(x) with the dual norm
def _conj(x: Tensor) -> Tensor:
    return Conj.apply(x) if x.dtype.kind == "c" else x


def hfft(input: Tensor, n=None, dim: int = -1, norm=None) -> Tensor:
    """The FFT of a Hermitian-symmetric signal given by its one-sided half: real, length n."""
    dual = _DUAL[_norm(norm)]
    return _c2r_public("hfft", _conj(_check("hfft", input, norm)), _s(n), dim, dual)


def ihfft(input: Tensor, n=None, dim: int = -1, norm=None) -> Tensor:
    """The inverse of ``hfft``: the one-sided inverse FFT of a real signal."""
    return Conj.apply(_r2c_public("ihfft", input, _s(n), dim, _DUAL[_norm(norm)]))


def hfft2(input: Tensor, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return _c2r_public("hfft2", _conj(_check("hfft2", input, norm)), s, dim, _DUAL[_norm(norm)])


def ihfft2(input: Tensor, s=None, dim=(-2, -1), norm=None) -> Tensor:
    return Conj.apply(_r2c_public("ihfft2", input, s, dim, _DUAL[_norm(norm)]))


def hfftn(input: Tensor, s=None, dim=None, norm=None) -> Tensor:
    return _c2r_public("hfftn", _conj(_check("hfftn", input, norm)), s, dim, _DUAL[_norm(norm)])


def ihfftn(input: Tensor, s=None, dim=None, norm=None) -> Tensor:
    return Conj.apply(_r2c_public("ihfftn", input, s, dim, _DUAL[_norm(norm)]))


def _s(n):
    return None if n is None else (n,)


# ------------------------------------------------------------------------ frequencies, shifts
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
