"""Op-table rows: chainrule.linalg's decompositions and inverses (ops/decomp.py) and norms.

Rows on raw symmetric inputs (cholesky, eigh) check parity with torch only: both read one
triangle, so finite differences over the full matrix disagree with the symmetric gradient both
return. Their gradchecks go through ``x xᵀ + 3I``. Eigen/singular vectors are compared through
sign-fixed or sign-free combinations (their signs are arbitrary).
"""

import numpy as np
import pytest

import chainrule
from chainrule.testing import assert_close
from tests.compat import wiring
from tests.opcheck import OpCase, params, run_case

wiring.install()  # chainrule.linalg, chainrule.det… until chainrule/__init__.py exports them


def _square(*batch, n=3):
    return lambda rng: [rng.normal(size=batch + (n, n)) + 3 * np.eye(n)]


def _spd(m, x):
    return x @ x.mT + 3 * m.eye(x.shape[-1], dtype=x.dtype)


def _sym(rng, n=3):
    a = rng.normal(size=(n, n))
    return a @ a.T + n * np.eye(n)


def _sign_fixed_eigh(m, x):
    w, v = m.linalg.eigh(_spd(m, x))
    return w, v * v[..., :1, :].sign()


def _svd_combo(m, x):
    u, s, vh = m.linalg.svd(x, full_matrices=False)
    return s, u @ vh, (u * s.unsqueeze(-2)) @ vh


def _qr_fixed(m, x):
    q, r = m.linalg.qr(x)
    d = r.diagonal(0, -2, -1).sign()
    return q * d.unsqueeze(-2), r * d.unsqueeze(-1)


CASES = [
    OpCase("inv", lambda m, a: m.linalg.inv(a), make=_square()),
    OpCase("inv_batch", lambda m, a: m.linalg.inv(a), make=_square(2)),
    OpCase(
        "solve",
        lambda m, a, b: m.linalg.solve(a, b),
        make=lambda rng: _square()(rng) + [rng.normal(size=(3, 2))],
    ),
    OpCase(
        "solve_vector",
        lambda m, a, b: m.linalg.solve(a, b),
        make=lambda rng: _square(2)(rng) + [rng.normal(size=(2, 3))],
    ),
    OpCase(
        "solve_broadcast",
        lambda m, a, b: m.linalg.solve(a, b),
        make=lambda rng: _square()(rng) + [rng.normal(size=(2, 3, 1))],
    ),
    OpCase(
        "solve_right",
        lambda m, a, b: m.linalg.solve(a, b, left=False),
        make=lambda rng: _square()(rng) + [rng.normal(size=(2, 3))],
    ),
    OpCase("det", lambda m, a: m.linalg.det(a), make=_square(2)),
    OpCase("det_negative", lambda m, a: m.linalg.det(a), make=lambda rng: [-_square()(rng)[0]]),
    OpCase("slogdet", lambda m, a: m.linalg.slogdet(a)[1], make=_square(2)),
    OpCase(
        "slogdet_signed",
        lambda m, a: m.linalg.slogdet(a)[0] * m.linalg.slogdet(a)[1],
        make=lambda rng: [np.stack([-_square()(rng)[0], _square()(rng)[0]])],
    ),
    OpCase("logdet", lambda m, a: m.logdet(a), make=lambda rng: [_sym(rng)]),
    OpCase("cholesky", lambda m, x: m.linalg.cholesky(_spd(m, x)), make=_square(n=3)),
    OpCase("cholesky_batch", lambda m, x: m.linalg.cholesky(_spd(m, x)), make=_square(2)),
    OpCase(
        "cholesky_upper", lambda m, x: m.linalg.cholesky(_spd(m, x), upper=True), make=_square()
    ),
    OpCase(
        "cholesky_raw",
        lambda m, a: m.linalg.cholesky(a),
        make=lambda rng: [_sym(rng)],
        gradcheck=False,
    ),
    OpCase("eigh_values", lambda m, x: m.linalg.eigh(_spd(m, x))[0], make=_square(2)),
    OpCase("eigvalsh", lambda m, x: m.linalg.eigvalsh(_spd(m, x)), make=_square()),
    OpCase("eigh_vectors", _sign_fixed_eigh, make=_square()),
    OpCase(
        "eigh_raw",
        lambda m, a: m.linalg.eigh(a)[0],
        make=lambda rng: [_sym(rng, 4)],
        gradcheck=False,
    ),
    OpCase("svdvals", lambda m, x: m.linalg.svdvals(x), make=lambda rng: [rng.normal(size=(4, 3))]),
    OpCase("svd_tall", _svd_combo, make=lambda rng: [rng.normal(size=(4, 3))]),
    OpCase("svd_wide", _svd_combo, make=lambda rng: [rng.normal(size=(2, 3, 5))]),
    OpCase(
        "svd_full_matrices_s",
        lambda m, x: m.linalg.svd(x)[1],
        make=lambda rng: [rng.normal(size=(4, 2))],
    ),
    OpCase("qr", _qr_fixed, make=lambda rng: [rng.normal(size=(4, 3))]),
    OpCase("qr_square_batch", _qr_fixed, make=lambda rng: [rng.normal(size=(2, 3, 3))]),
    # norms: compositions of vector_norm and svdvals
    OpCase("matrix_norm_fro", lambda m, x: m.linalg.matrix_norm(x), shapes=[(3, 4), (2, 3, 3)]),
    OpCase("matrix_norm_nuc", lambda m, x: m.linalg.matrix_norm(x, "nuc"), shapes=[(3, 4)]),
    OpCase("matrix_norm_2", lambda m, x: m.linalg.matrix_norm(x, 2), shapes=[(3, 4)]),
    OpCase(
        "matrix_norm_1", lambda m, x: m.linalg.matrix_norm(x, 1, keepdim=True), shapes=[(2, 3, 4)]
    ),
    OpCase("matrix_norm_inf", lambda m, x: m.linalg.matrix_norm(x, float("inf")), shapes=[(3, 4)]),
    OpCase("linalg_norm_vector", lambda m, x: m.linalg.norm(x, dim=1), shapes=[(3, 4)]),
    OpCase("linalg_norm_matrix", lambda m, x: m.linalg.norm(x), shapes=[(3, 4)]),
    OpCase("linalg_norm_ord3", lambda m, x: m.linalg.norm(x, 3), shapes=[(5,)]),
    OpCase(
        "vector_norm", lambda m, x: m.linalg.vector_norm(x, 1.5, dim=(0, 1)), shapes=[(2, 3, 2)]
    ),
    OpCase(
        "cross", lambda m, a, b: m.linalg.cross(a, b), shapes=[((4, 3), (4, 3)), ((1, 3), (2, 3))]
    ),
    OpCase("matrix_power", lambda m, a: m.linalg.matrix_power(a, 3), make=_square()),
    OpCase("matrix_power_neg", lambda m, a: m.linalg.matrix_power(a, -2), make=_square()),
    OpCase(
        "multi_dot",
        lambda m, a, b, c: m.linalg.multi_dot([a, b, c]),
        shapes=[((2, 3), (3, 4), (4, 2))],
    ),
    # torch.<name> and Tensor.<name> spellings
    OpCase("torch_det", lambda m, a: m.det(a), make=_square(2)),
    OpCase("tensor_inverse", lambda m, a: a.inverse(), make=_square()),
    OpCase("torch_slogdet", lambda m, a: m.slogdet(a)[1], make=_square()),
    OpCase("tensor_matrix_power", lambda m, a: a.matrix_power(2), make=_square()),
    OpCase("lgamma", domain=(0.2, 5.0), shapes=[(3, 4), ()]),
    OpCase("lgamma_negative", lambda m, x: x.lgamma(), domain=(-2.9, -2.1)),
    OpCase("digamma", domain=(0.3, 6.0), shapes=[(3, 4)]),
    OpCase("digamma_negative", lambda m, x: m.digamma(x), domain=(-1.8, -1.2)),
    OpCase("polygamma_1", lambda m, x: m.polygamma(1, x), domain=(0.5, 4.0), rtol=1e-3),
    OpCase("special_gammaln", lambda m, x: m.special.gammaln(x), domain=(0.5, 3.0)),
    # value-only: parity of values; a gradient raises (test below)
    OpCase(
        "pinv",
        lambda m, a: m.linalg.pinv(a),
        make=lambda rng: [rng.normal(size=(4, 3))],
        requires_grad=(False,),
    ),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_decomp(case, sig, device):
    run_case(case, sig, device)


def test_matrix_rank_matches_torch():
    torch = pytest.importorskip("torch")
    a = np.random.default_rng(0).normal(size=(2, 5, 3))
    a[1, :, 2] = a[1, :, 0]  # rank 2
    ours = chainrule.linalg.matrix_rank(chainrule.tensor(a))
    assert ours.tolist() == torch.linalg.matrix_rank(torch.tensor(a)).tolist() == [3, 2]


def test_value_only_ops_raise_on_backward():
    a = chainrule.randn(4, 3, dtype=chainrule.float64, requires_grad=True)
    y = chainrule.linalg.pinv(a).sum()
    with pytest.raises(NotImplementedError, match="derivative of linalg.pinv"):
        y.backward()


def test_singular_and_indefinite_errors():
    with pytest.raises(chainrule.linalg.LinAlgError, match="singular"):
        chainrule.linalg.inv(chainrule.zeros(3, 3))
    with pytest.raises(chainrule.linalg.LinAlgError, match="not positive-definite"):
        chainrule.linalg.cholesky(-chainrule.eye(3))
    with pytest.raises(RuntimeError, match="square matrices"):
        chainrule.linalg.inv(chainrule.zeros(2, 3))
    with pytest.raises(RuntimeError, match="Expected a floating point"):
        chainrule.linalg.det(chainrule.ones(2, 2, dtype=chainrule.int64))


def test_solve_rhs_reconstructs():
    a = chainrule.tensor([[3.0, 1.0], [1.0, 2.0]])
    b = chainrule.tensor([9.0, 8.0])
    assert_close(a @ chainrule.linalg.solve(a, b), b)


def test_gamma_functions_without_scipy(monkeypatch):
    """The NumPy series used where SciPy is missing agrees with torch (reflection included)."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(chainrule.special, "_scipy", None)
    x = np.array([-2.5, -0.3, 0.05, 0.7, 1.0, 3.3, 12.0, 150.0])
    for ours, theirs in [
        (chainrule.special.gammaln, torch.special.gammaln),
        (chainrule.special.digamma, torch.special.digamma),
        (lambda t: chainrule.special.polygamma(1, t), lambda t: torch.special.polygamma(1, t)),
    ]:
        assert_close(ours(chainrule.tensor(x)), theirs(torch.tensor(x)), rtol=1e-8, atol=1e-8)
