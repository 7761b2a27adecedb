"""chainrule.distributions against torch.distributions: log_prob, entropy, mean, variance, KL,
sample shapes and statistics, and gradients through rsample (the reparameterisation trick)."""

import numpy as np
import pytest

import chainrule
import chainrule.distributions as D
from chainrule.testing import assert_close, gradcheck

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
LOC = RNG.normal(size=(3, 1))
SCALE = RNG.uniform(0.5, 2.0, size=(4,))
PROBS = RNG.uniform(0.1, 0.9, size=(2, 3))
LOGITS = RNG.normal(size=(2, 5))
LOW = RNG.normal(size=(3,))

# (name, make(m, *params), param arrays, value array for log_prob)
CASES = [
    ("normal", lambda m, a, b: m.distributions.Normal(a, b), [LOC, SCALE], RNG.normal(size=(3, 4))),
    (
        "normal_scalar",
        lambda m, a, b: m.distributions.Normal(a, b),
        [np.array(0.3), np.array(1.7)],
        RNG.normal(size=(5,)),
    ),  # fmt: skip
    (
        "uniform",
        lambda m, a, b: m.distributions.Uniform(a, a + b),
        [LOW, np.array([1.0, 2, 3])],
        LOW + 0.5,
    ),  # fmt: skip
    (
        "bernoulli_probs",
        lambda m, p: m.distributions.Bernoulli(probs=p),
        [PROBS],
        RNG.integers(0, 2, size=(2, 3)).astype(float),
    ),  # fmt: skip
    (
        "bernoulli_logits",
        lambda m, lg: m.distributions.Bernoulli(logits=lg),
        [LOGITS],
        RNG.integers(0, 2, size=(2, 5)).astype(float),
    ),  # fmt: skip
    (
        "categorical_probs",
        lambda m, p: m.distributions.Categorical(probs=p),
        [PROBS],
        np.array([0, 2]),
    ),  # fmt: skip
    (
        "categorical_logits",
        lambda m, lg: m.distributions.Categorical(logits=lg),
        [LOGITS],
        np.array([[4, 1], [0, 3], [2, 2]]),
    ),  # fmt: skip
]


def _both(make, params, dtype):
    cps = [chainrule.tensor(p.astype(dtype), requires_grad=True) for p in params]
    tps = [torch.tensor(p.astype(dtype), requires_grad=True) for p in params]
    return make(chainrule, *cps), make(torch, *tps), (cps, tps)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name,make,params,value", CASES, ids=[c[0] for c in CASES])
def test_parity_with_torch(name, make, params, value, dtype):
    ours, theirs, _ = _both(make, params, dtype)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    v = value.astype(dtype) if value.dtype.kind == "f" else value
    assert tuple(ours.batch_shape) == tuple(theirs.batch_shape)
    assert_close(ours.log_prob(chainrule.tensor(v)), theirs.log_prob(torch.tensor(v)), **tol)
    assert_close(ours.entropy(), theirs.entropy(), **tol)
    if "categorical" not in name:  # Categorical's mean/variance are NaN in both
        assert_close(ours.mean, theirs.mean, **tol)
        assert_close(ours.variance, theirs.variance, **tol)


@pytest.mark.parametrize("name,make,params,value", CASES, ids=[c[0] for c in CASES])
def test_log_prob_gradients_match_torch(name, make, params, value):
    ours, theirs, (cps, tps) = _both(make, params, "float64")
    v = value.astype("float64") if value.dtype.kind == "f" else value
    (ours.log_prob(chainrule.tensor(v)).sum() + ours.entropy().sum()).backward()
    (theirs.log_prob(torch.tensor(v)).sum() + theirs.entropy().sum()).backward()
    for c, t in zip(cps, tps):
        assert_close(c.grad, t.grad, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("cls", ["Normal", "Uniform"])
def test_rsample_is_reparameterised(cls):
    """Gradients flow through rsample to both parameters (finite differences, fixed noise)."""
    a = chainrule.tensor([0.2, -0.5], dtype=chainrule.float64, requires_grad=True)
    b = chainrule.tensor([1.3, 0.7], dtype=chainrule.float64, requires_grad=True)

    def f(a, b):
        chainrule.manual_seed(5)
        d = getattr(D, cls)(a, b) if cls == "Normal" else D.Uniform(a, a + b)
        return (d.rsample((3,)) ** 2).sum()

    assert gradcheck(f, [a, b])
    f(a, b).backward()
    assert a.grad is not None and b.grad is not None and float(b.grad.abs().sum()) > 0


def test_sample_has_no_graph_and_right_shape():
    d = D.Normal(chainrule.zeros(2, requires_grad=True), chainrule.ones(2))
    s = d.sample((4, 3))
    assert tuple(s.shape) == (4, 3, 2) and not s.requires_grad
    assert d.rsample((4,)).requires_grad


def test_sample_statistics():
    chainrule.manual_seed(0)
    n = D.Normal(chainrule.tensor([1.0, -2.0]), chainrule.tensor([0.5, 2.0])).sample((20000,))
    assert_close(n.mean(0), chainrule.tensor([1.0, -2.0]), atol=0.05, rtol=0)
    assert_close(n.std(0), chainrule.tensor([0.5, 2.0]), atol=0.05, rtol=0)
    b = D.Bernoulli(probs=chainrule.tensor([0.2, 0.7])).sample((20000,))
    assert_close(b.mean(0), chainrule.tensor([0.2, 0.7]), atol=0.02, rtol=0)
    c = D.Categorical(probs=chainrule.tensor([0.1, 0.6, 0.3])).sample((20000,))
    assert c.dtype == chainrule.int64 and tuple(c.shape) == (20000,)
    freq = np.bincount(c.numpy(), minlength=3) / 20000
    np.testing.assert_allclose(freq, [0.1, 0.6, 0.3], atol=0.02)
    u = D.Uniform(chainrule.tensor(2.0), chainrule.tensor(5.0)).sample((1000,))
    assert float(u.min()) >= 2.0 and float(u.max()) < 5.0


def test_categorical_batch_sample_shape():
    d = D.Categorical(logits=chainrule.zeros(4, 6))
    assert tuple(d.sample().shape) == (4,) and tuple(d.sample((2, 3)).shape) == (2, 3, 4)


KL_CASES = [
    (
        "Normal",
        lambda m: (m.tensor([0.1, 1.0]), m.tensor([1.5, 0.4])),
        lambda m: (m.tensor([-0.3, 0.2]), m.tensor([0.8, 1.1])),
    ),  # fmt: skip
    ("Bernoulli", lambda m: (m.tensor([0.3, 0.9]),), lambda m: (m.tensor([0.5, 0.2]),)),
    (
        "Categorical",
        lambda m: (m.tensor([[0.2, 0.3, 0.5]]),),
        lambda m: (m.tensor([[0.6, 0.3, 0.1]]),),
    ),  # noqa: E501
]


@pytest.mark.parametrize("cls,pa,qa", KL_CASES, ids=[c[0] for c in KL_CASES])
def test_kl_divergence(cls, pa, qa):
    ours = D.kl_divergence(getattr(D, cls)(*pa(chainrule)), getattr(D, cls)(*qa(chainrule)))
    theirs = torch.distributions.kl_divergence(
        getattr(torch.distributions, cls)(*pa(torch)), getattr(torch.distributions, cls)(*qa(torch))
    )
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.Bernoulli()
    with pytest.raises(NotImplementedError, match="rsample"):
        D.Categorical(logits=chainrule.zeros(3)).rsample()
    with pytest.raises(NotImplementedError, match="register_kl"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Bernoulli(probs=0.5))
    with pytest.raises(ValueError, match="scale"):
        D.Normal(chainrule.tensor(0.0), chainrule.tensor(-1.0), validate_args=True)
