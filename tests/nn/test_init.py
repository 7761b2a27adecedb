"""nn.init: the gain table and fan computation against PyTorch's, the moments of large samples
against each scheme's formula, and the exact fills (eye, dirac, constants) against PyTorch's."""

import math
import warnings

import numpy as np
import pytest

import chainrule
from chainrule.nn import init

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

# ------------------------------------------------------------------------------ gain and fans
GAINS = [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 3), ("leaky_relu", math.sqrt(5)),
    ("selu", None),
]  # fmt: skip


@needs_torch
@pytest.mark.parametrize("nonlinearity,param", GAINS)
def test_calculate_gain_matches_torch(nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    "args,message",
    [(("softmax",), "Unsupported nonlinearity softmax"),
     (("leaky_relu", "0.1"), "negative_slope 0.1 not a valid number"),
     (("leaky_relu", True), "negative_slope True not a valid number")],
)  # fmt: skip
def test_calculate_gain_errors(args, message):
    with pytest.raises(ValueError, match=message):
        init.calculate_gain(*args)


@needs_torch
@pytest.mark.parametrize("shape", [(3, 5), (4, 3, 2, 2), (2, 3, 5), (6, 1, 3, 2, 2), (0, 4)])
def test_fans_match_torch(shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(chainrule.empty(*shape)) == expected


@pytest.mark.parametrize("shape", [(5,), ()])
def test_fans_need_two_dims(shape):
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(chainrule.empty(*shape))


def test_mode_error():
    with pytest.raises(ValueError, match=r"Mode fan_avg not supported, please use one of"):
        init.kaiming_uniform_(chainrule.empty(3, 4), mode="fan_avg")


# ---------------------------------------------------------------------------------- moments
def _phi(z):
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def _Phi(z):
    return (1 + math.erf(z / math.sqrt(2))) / 2


def _truncated(mean, std, a, b):
    """Mean and std of N(mean, std²) truncated to [a, b]."""
    al, be = (a - mean) / std, (b - mean) / std
    z = _Phi(be) - _Phi(al)
    m = mean + std * (_phi(al) - _phi(be)) / z
    v = std**2 * (1 + (al * _phi(al) - be * _phi(be)) / z - ((_phi(al) - _phi(be)) / z) ** 2)
    return m, math.sqrt(v)


def _uniform(bound):
    """(mean, std, bounds) of U(-bound, bound)."""
    return 0.0, bound / math.sqrt(3), (-bound, bound)


KU = 1 / math.sqrt(200)  # kaiming_uniform_(a=√5) on fan_in 200: Linear's default, bound 1/√fan_in
# (name, fill, shape, (mean, std, (lo, hi) or None))
MOMENTS = [
    ("uniform", lambda t: init.uniform_(t, -2.0, 3.0), (300, 200),
     (0.5, 5 / math.sqrt(12), (-2, 3))),
    ("uniform_default", init.uniform_, (300, 200), (0.5, 1 / math.sqrt(12), (0, 1))),
    ("normal", lambda t: init.normal_(t, 1.0, 2.0), (300, 200), (1.0, 2.0, None)),
    ("trunc_normal", lambda t: init.trunc_normal_(t, 0.5, 1.0, -1.0, 1.5), (300, 200),
     _truncated(0.5, 1.0, -1.0, 1.5) + ((-1.0, 1.5),)),
    ("trunc_normal_default", init.trunc_normal_, (300, 200),
     _truncated(0.0, 1.0, -2.0, 2.0) + ((-2.0, 2.0),)),
    ("trunc_normal_vit", lambda t: init.trunc_normal_(t, std=0.02), (300, 200), (0.0, 0.02, None)),
    ("xavier_uniform", lambda t: init.xavier_uniform_(t, gain=2.0), (300, 200),
     _uniform(2 * math.sqrt(6 / 500))),
    ("xavier_uniform_conv", init.xavier_uniform_, (32, 16, 3, 3),
     _uniform(math.sqrt(6 / (16 * 9 + 32 * 9)))),
    ("xavier_normal", lambda t: init.xavier_normal_(t, gain=0.5), (300, 200),
     (0.0, 0.5 * math.sqrt(2 / 500), None)),
    ("kaiming_uniform_linear_default", lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
     (300, 200), _uniform(KU)),
    ("kaiming_uniform_relu_fan_out",
     lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"), (64, 16, 3, 3),
     _uniform(math.sqrt(2) * math.sqrt(3 / (64 * 9)))),
    ("kaiming_normal", init.kaiming_normal_, (300, 200),
     (0.0, math.sqrt(2 / (1 + 0.01**2)) / math.sqrt(200), None)),
    ("kaiming_normal_tanh_fan_out",
     lambda t: init.kaiming_normal_(t, mode="FAN_OUT", nonlinearity="tanh"), (300, 200),
     (0.0, 5 / 3 / math.sqrt(300), None)),
    ("kaiming_normal_leaky", lambda t: init.kaiming_normal_(t, a=0.2), (300, 200),
     (0.0, math.sqrt(2 / 1.04) / math.sqrt(200), None)),
]  # fmt: skip


@pytest.mark.parametrize("name,fill,shape,expected", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_moments(name, fill, shape, expected):
    mean, std, bounds = expected
    chainrule.manual_seed(0)
    t = chainrule.empty(*shape, dtype=chainrule.float64)
    assert fill(t) is t
    a = t.numpy().ravel()
    assert abs(a.mean() - mean) < 5 * std / math.sqrt(a.size), f"{name}: mean {a.mean()}"
    assert a.std() == pytest.approx(std, rel=0.02), f"{name}: std {a.std()} vs {std}"
    if bounds is not None:
        lo, hi = bounds
        assert a.min() >= lo and a.max() <= hi
        span = hi - lo  # the sample reaches near both ends
        assert a.min() < lo + 0.01 * span and a.max() > hi - 0.01 * span


# ------------------------------------------------------------------------------- orthogonal
@pytest.mark.parametrize("shape", [(50, 20), (20, 50), (30, 30), (8, 3, 2, 2)])
def test_orthogonal(shape):
    t = init.orthogonal_(chainrule.empty(*shape, dtype=chainrule.float64), gain=2.0)
    q = t.numpy().reshape(shape[0], -1)
    small = min(q.shape)
    gram = q.T @ q if q.shape[0] >= q.shape[1] else q @ q.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(small), atol=1e-12)


def test_orthogonal_is_haar():
    """The sign fix makes Q uniform: diagonal entries are symmetric around 0 (without it,
    QR's convention biases them)."""
    chainrule.manual_seed(0)
    diag = [np.diag(init.orthogonal_(chainrule.empty(4, 4)).numpy()) for _ in range(2000)]
    assert abs(np.mean(diag)) < 0.03


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions are supported"):
        init.orthogonal_(chainrule.empty(5))


# ---------------------------------------------------------------------------- exact fills
@needs_torch
@pytest.mark.parametrize(
    "name,args,shape",
    [("eye_", (), (3, 5)), ("eye_", (), (4, 2)), ("dirac_", (), (4, 3, 3)),
     ("dirac_", (2,), (6, 3, 3, 3)), ("dirac_", (), (2, 4, 1, 3, 2)), ("constant_", (0.3,), (2, 3)),
     ("zeros_", (), (2, 3)), ("ones_", (), (4,))],
)  # fmt: skip
def test_exact_fills_match_torch(name, args, shape):
    ours = getattr(init, name)(chainrule.empty(*shape), *args)
    theirs = getattr(torch.nn.init, name)(torch.empty(shape), *args)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize(
    "call,message",
    [(lambda: init.eye_(chainrule.empty(2, 2, 2)), "Only tensors with 2 dimensions"),
     (lambda: init.dirac_(chainrule.empty(2, 2)), "Only tensors with 3, 4, or 5 dimensions"),
     (lambda: init.dirac_(chainrule.empty(5, 2, 3), groups=2), "dim 0 must be divisible by groups"),
     (lambda: init.sparse_(chainrule.empty(2, 2, 2), 0.5), "Only tensors with 2 dimensions")],
)  # fmt: skip
def test_fill_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_sparse():
    t = init.sparse_(chainrule.empty(100, 300, dtype=chainrule.float64), 0.3, std=0.5)
    a = t.numpy()
    assert ((a == 0).sum(axis=0) == 30).all()  # ceil(0.3 · rows) zeros in every column
    assert a[a != 0].std() == pytest.approx(0.5, rel=0.03)


# ------------------------------------------------------------------------------- behaviour
def test_fills_a_parameter_without_a_graph():
    w = chainrule.nn.Parameter(chainrule.empty(4, 3))
    for fill in (init.kaiming_uniform_, init.normal_, init.orthogonal_, init.zeros_, init.eye_):
        assert fill(w) is w
        assert w.requires_grad and w.grad_fn is None and w.is_leaf


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept(dtype):
    dt = getattr(chainrule, dtype)
    for fill in (init.xavier_normal_, init.trunc_normal_, init.orthogonal_, init.dirac_):
        shape = (3, 2, 3) if fill is init.dirac_ else (3, 4)
        assert fill(chainrule.empty(*shape, dtype=dt)).dtype == dt


@pytest.mark.parametrize(
    "fill", [init.uniform_, init.normal_, init.trunc_normal_, init.xavier_uniform_,
             init.xavier_normal_, init.kaiming_uniform_, init.kaiming_normal_, init.orthogonal_],
)  # fmt: skip
def test_generator_makes_draws_repeatable(fill):
    a = fill(chainrule.empty(5, 4), generator=chainrule.Generator().manual_seed(7)).numpy()
    b = fill(chainrule.empty(5, 4), generator=chainrule.Generator().manual_seed(7)).numpy()
    c = fill(chainrule.empty(5, 4), generator=chainrule.Generator().manual_seed(8)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_kaiming_on_zero_elements_warns():
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        init.kaiming_uniform_(chainrule.empty(0, 3))


def test_trunc_normal_warns_far_from_bounds():
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        init.trunc_normal_(chainrule.empty(3), mean=10.0, std=1.0, a=-2.0, b=2.0)
    assert any("more than 2 std" in str(x.message) for x in w)


@pytest.mark.parametrize("old", ["uniform", "normal", "xavier_uniform", "kaiming_normal", "eye"])
def test_deprecated_names_warn_and_fill(old):
    t = chainrule.zeros(3, 4)
    with pytest.warns(FutureWarning, match=f"`nn.init.{old}` is now deprecated in favor of"):
        assert getattr(init, old)(t) is t
    assert t.numpy().any()
