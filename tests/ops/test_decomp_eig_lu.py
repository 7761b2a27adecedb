"""linalg.eig / eigvals, the LU family (lu_factor, lu_factor_ex, lu, lu_unpack, lu_solve) and
solve_triangular: op rows with gradcheck (float64 finite differences), gradgradcheck for all but
eig, and values and gradients against torch in float32 and float64. Complex results are compared
through a trailing (real, imaginary) dim, as in tests/ops/test_fft.py."""

import numpy as np
import pytest

import chainrule
from tests.opcheck import OpCase, params, run_case
from tests.ops.test_fft import _as_real

torch = pytest.importorskip("torch")


def _general(*shape):
    """A random matrix with well separated eigenvalues (some complex pairs)."""

    def make(rng):
        a = rng.standard_normal(shape)
        return [a + 0.5 * np.eye(shape[-1]) * np.arange(shape[-1])]

    return make


def _triangular(a_shape, b_shape):
    """A with a dominant diagonal (well conditioned whichever triangle is read), and B."""

    def make(rng):
        a = rng.uniform(-1, 1, a_shape) + 3 * np.eye(a_shape[-1])
        return [a, rng.uniform(-1, 1, b_shape)]

    return make


def _lu_solve(m, a, b, **kw):
    return m.linalg.lu_solve(*m.linalg.lu_factor(a), b, **kw)


def _unpack(m):
    return chainrule.linalg.lu_unpack if m is chainrule else torch.lu_unpack


def _abs2(m, v):
    """|v|² elementwise: a loss that does not depend on the eigenvectors' phases."""
    return (_as_real(m, v) ** 2).sum(-1)


CASES = [
    OpCase("eigvals", lambda m, a: _as_real(m, m.linalg.eigvals(a)), make=_general(4, 4),
           gradgrad=False, parity_rtol32=1e-3, parity_atol32=1e-4),
    OpCase("eigvals_batch", lambda m, a: _as_real(m, m.linalg.eigvals(a)), make=_general(2, 3, 3),
           gradgrad=False, parity_rtol32=1e-3, parity_atol32=1e-4),
    OpCase("eig_vectors", lambda m, a: _abs2(m, m.linalg.eig(a).eigenvectors),
           make=_general(3, 3), gradgrad=False, parity_rtol32=1e-3, parity_atol32=1e-4),
    OpCase("eig_both", lambda m, a: [_as_real(m, m.linalg.eig(a)[0]), _abs2(m, m.linalg.eig(a)[1])],
           make=_general(3, 3), gradgrad=False, parity_rtol32=1e-3, parity_atol32=1e-4),
    OpCase("lu_factor", lambda m, a: m.linalg.lu_factor(a).LU, shapes=[(4, 4), (2, 3, 3)]),
    OpCase("lu_factor_wide", lambda m, a: m.linalg.lu_factor(a)[0], shapes=[(3, 5)]),
    OpCase("lu_factor_tall", lambda m, a: m.linalg.lu_factor_ex(a).LU, shapes=[(5, 3)]),
    OpCase("lu", lambda m, a: m.linalg.lu(a)[1:], shapes=[(4, 4), (2, 2, 4), (4, 2)]),
    OpCase("lu_unpack", lambda m, a: _unpack(m)(*m.linalg.lu_factor(a))[1:], shapes=[(3, 3)]),
    OpCase("lu_solve", _lu_solve, shapes=[((4, 4), (4, 2)), ((2, 3, 3), (2, 3, 1))]),
    OpCase("lu_solve_adjoint", lambda m, a, b: _lu_solve(m, a, b, adjoint=True),
           shapes=[((3, 3), (3, 2))]),
    OpCase("lu_solve_right", lambda m, a, b: _lu_solve(m, a, b, left=False),
           shapes=[((3, 3), (2, 3))]),
    OpCase("lu_solve_right_adjoint", lambda m, a, b: _lu_solve(m, a, b, left=False, adjoint=True),
           shapes=[((3, 3), (2, 3))]),
    OpCase("solve_triangular_upper", lambda m, a, b: m.linalg.solve_triangular(a, b, upper=True),
           make=_triangular((3, 3), (3, 2))),
    OpCase("solve_triangular_lower_right_unit",
           lambda m, a, b: m.linalg.solve_triangular(a, b, upper=False, left=False,
                                                     unitriangular=True),
           make=_triangular((2, 3, 3), (2, 4, 3))),
]  # fmt: skip


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_decomposition_op(case, sig, device):
    run_case(case, sig, device)


def test_pivots_permutation_and_info_equal_torchs():
    a = np.random.default_rng(3).standard_normal((2, 4, 4))
    a[1, :, 0] = 0  # a singular matrix: a zero column
    ours = chainrule.linalg.lu_factor_ex(chainrule.tensor(a))
    theirs = torch.linalg.lu_factor_ex(torch.tensor(a))
    assert ours.pivots.dtype == chainrule.int32 and ours.info.dtype == chainrule.int32
    np.testing.assert_array_equal(ours.pivots.numpy(), theirs.pivots.numpy())
    np.testing.assert_array_equal(ours.info.numpy(), theirs.info.numpy())
    np.testing.assert_allclose(ours.LU.numpy(), theirs.LU.numpy(), atol=1e-12)
    P, L, U = chainrule.linalg.lu(chainrule.tensor(a[0]))
    np.testing.assert_allclose((P @ L @ U).numpy(), a[0], atol=1e-12)
    np.testing.assert_array_equal(P.numpy(), torch.linalg.lu(torch.tensor(a[0])).P.numpy())


def test_singular_and_unsupported_inputs_raise_torchs_errors():
    singular = chainrule.tensor([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(chainrule.linalg.LinAlgError, match=r"U\[2,2\] is zero"):
        chainrule.linalg.lu_factor(singular)
    with pytest.raises(RuntimeError, match="without pivoting"):
        chainrule.linalg.lu_factor(singular, pivot=False)
    with pytest.raises(RuntimeError, match="square"):
        chainrule.linalg.eig(chainrule.ones(2, 3))
    with pytest.raises(chainrule.linalg.LinAlgError, match="infs or NaNs"):
        chainrule.linalg.eig(chainrule.tensor([[float("nan"), 0.0], [0.0, 1.0]]))


def test_eig_dtypes_and_phase_dependent_loss():
    a = chainrule.tensor([[2.0, 1.0], [0.0, 3.0]], requires_grad=True)
    w, v = chainrule.linalg.eig(a)
    assert w.dtype == chainrule.complex64 and v.dtype == chainrule.complex64
    assert chainrule.linalg.eigvals(a.double()).dtype == chainrule.complex128
    with pytest.raises(RuntimeError, match="e\\^\\{i phi\\}"):
        chainrule.imag(v).sum().backward()  # depends on the arbitrary phase of v
