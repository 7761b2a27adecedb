"""torch.fft with gradients: op rows (gradcheck, gradgradcheck, values and gradients against
torch in float32 and float64) for every transform, norm mode, padding and truncation, on real
and complex inputs. Complex tensors go in as (real, imaginary) pairs and come out as a trailing
pair dim (PyTorch's ``view_as_real``), so the real-valued harness checks complex gradients too.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
from tests.opcheck import OpCase, params, run_case


class _Complex(chainrule.autograd.Function):
    """z = re + i·im;  g_re = Re(gz), g_im = Im(gz)  (conjugate-Wirtinger gradients)"""

    @staticmethod
    def forward(ctx, re, im):
        return chainrule.tensor(re.detach().numpy() + 1j * im.detach().numpy())

    @staticmethod
    def backward(ctx, gz):
        return chainrule.real(gz), chainrule.imag(gz)


class _AsReal(chainrule.autograd.Function):
    """y[..., 0] = Re z, y[..., 1] = Im z;  gz = g[..., 0] + i·g[..., 1]"""

    @staticmethod
    def forward(ctx, z):
        a = z.detach().numpy()
        return chainrule.tensor(np.stack([a.real, a.imag], -1))

    @staticmethod
    def backward(ctx, g):
        return _Complex.apply(g[..., 0], g[..., 1])


def _complex(m, re, im):
    return m.complex(re, im) if m is not chainrule else _Complex.apply(re, im)


def _as_real(m, z):
    if not z.is_complex():
        return z
    return m.view_as_real(z.resolve_conj()) if m is not chainrule else _AsReal.apply(z)


def _row(name, fn, shapes, complex_input=False):
    """fn(m, x) -> a tensor; with complex_input the row's inputs are (real, imaginary)."""
    if complex_input:
        return OpCase(name, lambda m, re, im: _as_real(m, fn(m, _complex(m, re, im))),
                      shapes=[(s, s) for s in shapes])  # fmt: skip
    return OpCase(name, lambda m, x: _as_real(m, fn(m, x)), shapes=shapes)


CASES = [
    _row("fft", lambda m, x: m.fft.fft(x), [(6,), (3, 5)]),
    _row("fft_complex", lambda m, x: m.fft.fft(x), [(5,), (2, 4)], complex_input=True),
    _row("fft_pad_ortho", lambda m, x: m.fft.fft(x, n=7, norm="ortho"), [(3, 5)]),
    _row("fft_trunc_forward_dim0", lambda m, x: m.fft.fft(x, n=2, dim=0, norm="forward"), [(3, 5)]),
    _row("ifft_complex", lambda m, x: m.fft.ifft(x), [(2, 5)], complex_input=True),
    _row("ifft_pad", lambda m, x: m.fft.ifft(x, n=6, norm="ortho"), [(4,)], complex_input=True),
    _row("rfft_even", lambda m, x: m.fft.rfft(x), [(8,), (2, 6)]),
    _row("rfft_odd", lambda m, x: m.fft.rfft(x), [(7,), (3, 5)]),
    _row("rfft_pad_ortho", lambda m, x: m.fft.rfft(x, n=9, norm="ortho"), [(2, 6)]),
    _row("rfft_trunc_forward", lambda m, x: m.fft.rfft(x, n=4, norm="forward"), [(2, 7)]),
    _row("rfft_dim0", lambda m, x: m.fft.rfft(x, dim=0), [(5, 3)]),
    _row("irfft", lambda m, x: m.fft.irfft(x), [(5,), (2, 4)], complex_input=True),
    _row("irfft_odd_n", lambda m, x: m.fft.irfft(x, n=7), [(2, 4)], complex_input=True),
    _row(
        "irfft_pad_ortho",
        lambda m, x: m.fft.irfft(x, n=12, norm="ortho"),
        [(3,)],
        complex_input=True,
    ),
    _row(
        "irfft_trunc_forward",
        lambda m, x: m.fft.irfft(x, n=4, norm="forward"),
        [(2, 6)],
        complex_input=True,
    ),
    _row("irfft_real_input", lambda m, x: m.fft.irfft(x, n=6), [(2, 4)]),
    _row("fft2", lambda m, x: m.fft.fft2(x), [(3, 4), (2, 2, 3)]),
    _row("ifft2_complex_s", lambda m, x: m.fft.ifft2(x, s=(4, 2)), [(3, 3)], complex_input=True),
    _row("rfft2", lambda m, x: m.fft.rfft2(x, norm="ortho"), [(3, 4), (2, 3, 5)]),
    _row("irfft2", lambda m, x: m.fft.irfft2(x), [(3, 3)], complex_input=True),
    _row(
        "irfft2_s",
        lambda m, x: m.fft.irfft2(x, s=(4, 5), norm="forward"),
        [(3, 3)],
        complex_input=True,
    ),
    _row("fftn_dims", lambda m, x: m.fft.fftn(x, dim=(0, 2)), [(2, 3, 4)]),
    _row("ifftn_all", lambda m, x: m.fft.ifftn(x, norm="ortho"), [(2, 3, 2)], complex_input=True),
    _row("rfftn_s", lambda m, x: m.fft.rfftn(x, s=(3, 4)), [(2, 3, 5)]),
    _row("irfftn", lambda m, x: m.fft.irfftn(x, dim=(0, 1)), [(3, 3, 2)], complex_input=True),
    _row("hfft", lambda m, x: m.fft.hfft(x), [(4,), (2, 3)], complex_input=True),
    _row(
        "hfft_n_ortho", lambda m, x: m.fft.hfft(x, n=5, norm="ortho"), [(2, 4)], complex_input=True
    ),
    _row("hfft_real_input", lambda m, x: m.fft.hfft(x, n=6, norm="forward"), [(2, 4)]),
    _row("ihfft", lambda m, x: m.fft.ihfft(x), [(6,), (2, 5)]),
    _row("ihfft_n_forward", lambda m, x: m.fft.ihfft(x, n=8, norm="forward"), [(2, 5)]),
    _row("hfft2", lambda m, x: m.fft.hfft2(x), [(3, 3)], complex_input=True),
    _row("ihfft2", lambda m, x: m.fft.ihfft2(x, norm="ortho"), [(3, 4)]),
    _row("hfftn_s", lambda m, x: m.fft.hfftn(x, s=(2, 4)), [(3, 3)], complex_input=True),
    _row("ihfftn", lambda m, x: m.fft.ihfftn(x, dim=(0, 1)), [(3, 4, 2)]),
    _row("rfft_filter_irfft", lambda m, x: m.fft.irfft(m.fft.rfft(x) * m.arange(4.0), n=6), [(6,)]),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_fft_op(case, sig, device):
    run_case(case, sig, device)


def test_dtypes_follow_torch():
    x = chainrule.ones(4)
    assert chainrule.fft.fft(x).dtype == chainrule.complex64
    assert chainrule.fft.rfft(x.double()).dtype == chainrule.complex128
    assert chainrule.fft.irfft(chainrule.fft.rfft(x)).dtype == chainrule.float32
    assert (
        chainrule.fft.fft(chainrule.arange(4)).dtype == chainrule.complex64
    )  # ints: default float
    x.requires_grad_(True)
    chainrule.fft.rfft(x).abs().sum().backward()
    assert x.grad.dtype == chainrule.float32


def test_bad_norm_and_dims_raise_torchs_errors():
    x = chainrule.ones(4)
    with pytest.raises(ValueError, match="Invalid normalization mode"):
        chainrule.fft.fft(x, norm="unitary")
    with pytest.raises(IndexError, match="Dimension out of range"):
        chainrule.fft.fft(x, dim=1)
    with pytest.raises(RuntimeError, match="Invalid number of data points"):
        chainrule.fft.fft(x, n=0)


def test_autocast_runs_ffts_in_float32():
    x = chainrule.ones(4, dtype=chainrule.bfloat16)
    with chainrule.autocast("cpu"):
        assert chainrule.fft.rfft(x).dtype == chainrule.complex64
        assert chainrule.fft.irfft(chainrule.fft.rfft(x)).dtype == chainrule.float32
