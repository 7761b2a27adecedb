"""Gradients through complex numbers follow PyTorch's conjugate-Wirtinger convention: each
program below is run in chainrule and in torch on the same inputs, and every leaf's gradient
must agree. Also the complex helpers themselves: conj, complex, view_as_real/complex, mH."""

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")

PROGRAMS = {
    "mul by a constant, imaginary part": lambda m, x, y, r: (x * (1 + 2j)).imag.sum(),
    "product of two complex, modulus": lambda m, x, y, r: (x * y).abs().sum(),
    "quotient, real part": lambda m, x, y, r: (x / y).real.sum(),
    "quotient by a real": lambda m, x, y, r: (x / (r * r + 1)).imag.sum(),
    "real times a complex constant": lambda m, x, y, r: (r * (1 + 2j)).imag.sum(),
    "conj": lambda m, x, y, r: (x.conj() * y).real.sum(),
    "complex(real, imag)": lambda m, x, y, r: (m.complex(r, r * 2) * x).imag.sum(),
    "view_as_real": lambda m, x, y, r: (m.view_as_real(x * y) ** 2).sum(),
    "view_as_complex": lambda m, x, y, r: (
        (m.view_as_complex(m.stack([r, r * 3], -1)) * y).abs().sum()
    ),
    "real cast to complex": lambda m, x, y, r: (r.to(m.complex128) * x).real.sum(),
    "mH of an outer product": lambda m, x, y, r: (m.outer(x, y).mH * m.outer(y, x)).real.sum(),
    "matmul of two complex matrices": lambda m, x, y, r: (
        (m.outer(x, r) @ m.outer(r, y)).abs().sum()
    ),
    "complex vector dot": lambda m, x, y, r: (x @ y).real,
    "exp (a phase factor)": lambda m, x, y, r: ((r * 1j).exp() * x).real.sum(),
    "exp of a complex tensor": lambda m, x, y, r: (x.exp() * y).imag.sum(),
}


def _grads(m, program):
    rng = np.random.default_rng(0)
    xr, xi, yr, yi = rng.standard_normal((4, 3))
    x = m.tensor(xr + 1j * xi, requires_grad=True)
    y = m.tensor(yr + 1j * yi, requires_grad=True)
    r = m.tensor(xr, requires_grad=True)
    program(m, x, y, r).backward()
    return [None if t.grad is None else t.grad.detach().resolve_conj().numpy() for t in (x, y, r)]


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_complex_gradients_match_torch(name):
    ours, theirs = _grads(chainrule, PROGRAMS[name]), _grads(torch, PROGRAMS[name])
    for a, b in zip(ours, theirs):
        assert (a is None) == (b is None)
        if a is not None:
            assert a.dtype == b.dtype
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_complex_helpers_values_and_errors():
    z = chainrule.tensor([1 + 2j, -3j])
    assert np.array_equal(z.conj().numpy(), [1 - 2j, 3j]) and not z.is_conj()
    assert chainrule.conj(chainrule.ones(2)).dtype == chainrule.float32  # real: itself
    pair = chainrule.view_as_real(z)
    assert pair.shape == (2, 2) and pair.dtype == chainrule.float32
    assert np.array_equal(chainrule.view_as_complex(pair).numpy(), z.numpy())
    c = chainrule.complex(chainrule.ones(2, dtype=chainrule.float64), chainrule.zeros(2).double())
    assert c.dtype == chainrule.complex128
    with pytest.raises(RuntimeError, match="Float or Double"):
        chainrule.complex(chainrule.ones(2), chainrule.ones(2).double())
    with pytest.raises(RuntimeError, match="last dimension has size 2"):
        chainrule.view_as_complex(chainrule.ones(3))
    with pytest.raises(RuntimeError, match="only supported for complex"):
        chainrule.view_as_real(chainrule.ones(3))


HOLOMORPHIC = ["exp", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal",
               "sin", "cos", "tan", "tanh", "sinh", "cosh", "asin", "acos", "atan", "asinh",
               "acosh", "atanh", "sigmoid"]  # fmt: skip


@pytest.mark.parametrize("name", HOLOMORPHIC)
def test_holomorphic_functions_conjugate_their_derivative_like_torch(name):
    def grad(m):
        rng = np.random.default_rng(1)
        re, im = rng.uniform(0.2, 0.7, (2, 4))
        x = m.tensor(re + 1j * im, requires_grad=True)
        y = getattr(m, name)(x)
        (y * m.tensor([1 + 2j, 0.5j, -1, 2 - 1j])).real.sum().backward()
        return x.grad.detach().resolve_conj().numpy()

    np.testing.assert_allclose(grad(chainrule), grad(torch), rtol=1e-12, atol=1e-12)


POWERS = {
    "tensor ** 2": lambda m, x, e: (x**2).imag.sum(),
    "tensor ** 0.5": lambda m, x, e: (x**0.5).real.sum(),
    "tensor ** complex number": lambda m, x, e: (x ** (1 + 1j)).real.sum(),
    "tensor ** tensor": lambda m, x, e: (x**e).real.sum(),
    "2 ** tensor": lambda m, x, e: (2**x).imag.sum(),
    "square": lambda m, x, e: x.square().real.sum(),
}


@pytest.mark.parametrize("name", list(POWERS))
def test_complex_powers_match_torch(name):
    def grads(m):
        rng = np.random.default_rng(1)
        a = rng.uniform(0.2, 0.7, (4, 3))
        x = m.tensor(a[0] + 1j * a[1], requires_grad=True)
        e = m.tensor(a[2] + 1j * a[3], requires_grad=True)
        POWERS[name](m, x, e).backward()
        return [None if t.grad is None else t.grad.detach().resolve_conj().numpy() for t in (x, e)]

    for ours, theirs in zip(grads(chainrule), grads(torch)):
        assert (ours is None) == (theirs is None)
        if ours is not None:
            np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_real_powers_keep_float32():
    x = chainrule.tensor([0.5, 2.0], requires_grad=True)
    (2**x).sum().backward()
    assert x.grad.dtype == chainrule.float32
