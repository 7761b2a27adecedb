"""Op-table rows: activation functions, with rows AT every kink (parity with PyTorch's
convention there), then the few behaviours a row cannot state."""

import numpy as np
import pytest

import chainrule
from chainrule.ops import activation
from tests.opcheck import OpCase, params, run_case

try:
    import torch
    import torch.nn.functional as torch_F
except ImportError:
    torch = torch_F = None

U = [(3, 4), (), (2, 3, 2)]
NO_GRAD = dict(gradcheck=False)


def F(m):
    """The module that holds the activation functions: torch.nn.functional, or ours."""
    return torch_F if m is torch else activation


def fn(name, *args, **kwargs):
    return lambda m, x: getattr(F(m), name)(x, *args, **kwargs)


def inplace(name, *args, **kwargs):
    """F.name(x, inplace=True) on a non-leaf copy, so that the graph runs through it."""
    return lambda m, x: getattr(F(m), name)(x * 1, *args, inplace=True, **kwargs)


def kinks(*values):
    return lambda rng: [np.array(values)]


CASES = [
    OpCase("relu", fn("relu"), shapes=U),
    OpCase("relu_kink", fn("relu"), make=kinks(-1.0, 0.0, 2.0), **NO_GRAD),
    OpCase("relu_int", fn("relu"), make=lambda rng: [rng.integers(-3, 3, (3, 4))]),
    OpCase("relu_top_level", lambda m, x: m.relu(x), shapes=[(3, 4)]),
    OpCase("relu_method", lambda m, x: x.relu(), shapes=[(3, 4)]),
    OpCase("relu_", lambda m, x: (x * 1).relu_(), shapes=[(3, 4)]),
    OpCase("relu_inplace", inplace("relu"), shapes=[(3, 4)]),
    OpCase("relu6", fn("relu6"), shapes=U, domain=(-3, 9)),
    OpCase("relu6_kinks", fn("relu6"), make=kinks(-1.0, 0.0, 3.0, 6.0, 7.0), **NO_GRAD),
    OpCase("relu6_int", fn("relu6"), make=lambda rng: [rng.integers(-3, 9, (3, 4))]),
    OpCase("leaky_relu", fn("leaky_relu"), shapes=U),
    OpCase("leaky_relu_slope", fn("leaky_relu", 0.2), shapes=U),
    OpCase("leaky_relu_kink", fn("leaky_relu", 0.2), make=kinks(-1.0, 0.0, 2.0), **NO_GRAD),
    OpCase("leaky_relu_inplace", inplace("leaky_relu", 0.1), shapes=[(3, 4)]),
    OpCase("leaky_relu_", lambda m, x: F(m).leaky_relu_(x * 1, 0.3), shapes=[(3, 4)]),
    OpCase("elu", fn("elu"), shapes=U),
    OpCase("elu_alpha", fn("elu", 0.5), shapes=U),
    OpCase("elu_kink", fn("elu", 2.0), make=kinks(-1.0, 0.0, 2.0), **NO_GRAD),
    OpCase("elu_inplace", inplace("elu", 1.5), shapes=[(3, 4)]),
    OpCase("elu_", lambda m, x: F(m).elu_(x * 1), shapes=[(3, 4)]),
    OpCase("selu", fn("selu"), shapes=U),
    OpCase("selu_kink", fn("selu"), make=kinks(-1.0, 0.0, 2.0), **NO_GRAD),
    OpCase("selu_top_level", lambda m, x: m.selu(x), shapes=[(3, 4)]),
    OpCase("selu_", lambda m, x: m.selu_(x * 1), shapes=[(3, 4)]),
    OpCase("celu", fn("celu"), shapes=U),
    OpCase("celu_alpha", fn("celu", 2.0), shapes=U),
    OpCase("celu_kink", fn("celu", 0.5), make=kinks(-1.0, 0.0, 2.0), **NO_GRAD),
    OpCase("celu_top_level", lambda m, x: m.celu(x, 0.7), shapes=[(3, 4)]),
    OpCase("celu_", lambda m, x: m.celu_(x * 1), shapes=[(3, 4)]),
    OpCase("gelu", fn("gelu"), shapes=U, domain=(-4, 4)),
    OpCase("gelu_tanh", fn("gelu", approximate="tanh"), shapes=U, domain=(-4, 4)),
    OpCase("gelu_tails", fn("gelu"), make=kinks(-12.0, -6.0, 0.0, 6.0, 12.0)),
    OpCase("silu", fn("silu"), shapes=U, domain=(-5, 5)),
    OpCase("silu_inplace", inplace("silu"), shapes=[(3, 4)]),
    OpCase("mish", fn("mish"), shapes=U, domain=(-5, 5)),
    OpCase("mish_inplace", inplace("mish"), shapes=[(3, 4)]),
    OpCase("softplus", fn("softplus"), shapes=U, domain=(-5, 5)),
    OpCase("softplus_beta", fn("softplus", beta=2.0, threshold=5.0), shapes=U, domain=(-4, 4)),
    OpCase("softplus_threshold", fn("softplus", threshold=1.0), shapes=[(3, 4)], domain=(-3, 3)),
    OpCase("softplus_extremes", fn("softplus"), make=kinks(-800.0, -30.0, 0.0, 19.0, 21.0, 800.0)),
    OpCase("softsign", fn("softsign"), shapes=U, domain=(-4, 4)),
    OpCase("softsign_kink", fn("softsign"), make=kinks(0.0), **NO_GRAD),
    OpCase("hardtanh", fn("hardtanh"), shapes=U),
    OpCase("hardtanh_bounds", fn("hardtanh", -0.5, 1.5), shapes=U),
    OpCase("hardtanh_kinks", fn("hardtanh"), make=kinks(-2.0, -1.0, 0.0, 1.0, 2.0), **NO_GRAD),
    OpCase("hardtanh_int", fn("hardtanh", -2, 2), make=lambda rng: [rng.integers(-4, 4, (3, 4))]),
    OpCase("hardtanh_inplace", inplace("hardtanh", -0.5, 0.5), shapes=[(3, 4)]),
    OpCase("hardtanh_", lambda m, x: F(m).hardtanh_(x * 1), shapes=[(3, 4)]),
    OpCase("hardsigmoid", fn("hardsigmoid"), shapes=U, domain=(-5, 5)),
    OpCase(
        "hardsigmoid_kinks", fn("hardsigmoid"), make=kinks(-4.0, -3.0, 0.0, 3.0, 4.0), **NO_GRAD
    ),
    OpCase("hardsigmoid_inplace", inplace("hardsigmoid"), shapes=[(3, 4)], domain=(-5, 5)),
    OpCase("hardswish", fn("hardswish"), shapes=U, domain=(-5, 5)),
    OpCase("hardswish_kinks", fn("hardswish"), make=kinks(-4.0, -3.0, 0.0, 3.0, 4.0), **NO_GRAD),
    OpCase("hardswish_inplace", inplace("hardswish"), shapes=[(3, 4)], domain=(-5, 5)),
    OpCase("logsigmoid", fn("logsigmoid"), shapes=U, domain=(-10, 10)),
    OpCase("logsigmoid_extremes", fn("logsigmoid"), make=kinks(-800.0, -40.0, 0.0, 40.0, 800.0)),
    OpCase("threshold", fn("threshold", 0.5, -2.0), shapes=U),
    OpCase("threshold_kink", fn("threshold", 0.5, -2.0), make=kinks(0.0, 0.5, 1.0), **NO_GRAD),
    OpCase("threshold_top_level", lambda m, x: m.threshold(x, 0.1, 20.0), shapes=[(3, 4)]),
    OpCase("threshold_", lambda m, x: m.threshold_(x * 1, 0.1, 2.0), shapes=[(3, 4)]),
    OpCase("threshold_inplace", inplace("threshold", 0.1, 2.0), shapes=[(3, 4)]),
    OpCase("softshrink", fn("softshrink"), shapes=U),
    OpCase("softshrink_lambda", fn("softshrink", 1.0), shapes=U),
    OpCase("softshrink_kinks", fn("softshrink"), make=kinks(-1.0, -0.5, 0.0, 0.5, 1.0), **NO_GRAD),
    OpCase("hardshrink", fn("hardshrink"), shapes=U),
    OpCase("hardshrink_kinks", fn("hardshrink"), make=kinks(-1.0, -0.5, 0.0, 0.5, 1.0), **NO_GRAD),
    OpCase("hardshrink_top_level", lambda m, x: m.hardshrink(x, 1.0), shapes=[(3, 4)]),
    OpCase("hardshrink_method", lambda m, x: x.hardshrink(0.3), shapes=[(3, 4)]),
    OpCase("tanhshrink", fn("tanhshrink"), shapes=U),
    OpCase("glu", fn("glu"), shapes=[(3, 4), (2, 6)]),
    OpCase("glu_dim", fn("glu", 0), shapes=[(4, 3), (2, 3, 2)]),
    OpCase("glu_negative_dim", fn("glu", -2), shapes=[(2, 4, 3)]),
    OpCase("prelu", lambda m, x, w: F(m).prelu(x, w), shapes=[((2, 3, 4), (3,)), ((2, 3), (3,))]),
    OpCase("prelu_single", lambda m, x, w: F(m).prelu(x, w), shapes=[((3, 4), (1,)), ((5,), (1,))]),
    OpCase(
        "prelu_kink",
        lambda m, x, w: F(m).prelu(x, w),
        make=lambda rng: [np.array([[-1.0, 0.0, 2.0]]), np.array([0.25])],
        **NO_GRAD,
    ),
    OpCase("prelu_top_level", lambda m, x, w: m.prelu(x, w), shapes=[((2, 3, 2), (3,))]),
    OpCase("prelu_method", lambda m, x, w: x.prelu(w), shapes=[((2, 3), (3,))]),
    OpCase("rrelu_eval", fn("rrelu"), shapes=U),
    OpCase("rrelu_eval_bounds", fn("rrelu", 0.1, 0.5), shapes=U),
    OpCase("rrelu_top_level", lambda m, x: m.rrelu(x), shapes=[(3, 4)]),
    OpCase("rrelu_", lambda m, x: m.rrelu_(x * 1), shapes=[(3, 4)]),
    OpCase("sigmoid", lambda m, x: x.sigmoid(), shapes=[(3, 4)], domain=(-5, 5)),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


# ------------------------------------------------------------------ names match PyTorch's
@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_names_match_torch():
    assert [n for n in activation.__all__ if not hasattr(torch, n)] == []
    methods = [e if isinstance(e, str) else e[0] for e in activation.METHODS]
    assert [n for n in methods if not hasattr(torch.Tensor, n)] == []
    functional = [
        "relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "celu",
        "gelu", "silu", "mish", "softplus", "softsign", "hardtanh", "hardtanh_", "hardsigmoid",
        "hardswish", "logsigmoid", "threshold", "threshold_", "softshrink", "hardshrink",
        "tanhshrink", "glu", "prelu", "rrelu", "rrelu_",
    ]  # fmt: skip
    for name in functional:
        assert hasattr(torch_F, name), name
        assert callable(getattr(activation, name)), name
    for name in ["relu", "relu_", "selu", "celu", "threshold", "hardshrink", "prelu", "rrelu"]:
        assert getattr(chainrule, name) is getattr(activation, name), name


# ------------------------------------------------------------------- behaviour beyond rows
def test_rrelu_training_draws_a_slope_per_element_within_bounds():
    chainrule.manual_seed(0)
    x = chainrule.full((1000,), -2.0, requires_grad=True)
    y = activation.rrelu(x, 0.1, 0.3, training=True)
    slope = y.detach().numpy() / -2.0
    assert slope.min() >= 0.1 and slope.max() <= 0.3 and slope.std() > 0.03
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), slope, rtol=1e-6)
    z = chainrule.tensor([3.0])
    assert activation.rrelu(z, training=True).item() == 3.0


def test_inplace_activation_in_a_graph_keeps_the_right_gradient():
    # the composition saves its input: in place, it must not read the overwritten values
    x = chainrule.tensor([-2.0, -0.5, 1.0, 3.0], requires_grad=True)
    h = x * 2
    y = activation.elu(h, alpha=1.0, inplace=True)
    assert y is h
    y.sum().backward()
    h_values = np.array([-4.0, -1.0, 2.0, 6.0])
    expected = 2 * np.where(h_values > 0, 1.0, np.exp(h_values))
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-5)


def test_relu_inplace_on_leaf_is_refused_but_allowed_under_no_grad():
    w = chainrule.tensor([-1.0, 1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        activation.relu(w, inplace=True)
    with chainrule.no_grad():
        activation.relu_(w)
    np.testing.assert_array_equal(w.detach().numpy(), [0.0, 1.0])


def test_argument_errors_match_pytorch():
    x = chainrule.ones(3, 5)
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        activation.glu(x)
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers"):
        activation.prelu(x, chainrule.ones(4))
    with pytest.raises(RuntimeError, match="approximate argument"):
        activation.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="min_val cannot be greater"):
        activation.hardtanh(x, 1.0, -1.0)


def test_logsigmoid_and_softplus_are_stable():
    x = chainrule.tensor([-1000.0, -50.0, 50.0, 1000.0], requires_grad=True)
    y = activation.logsigmoid(x) + activation.softplus(x)
    y.sum().backward()
    assert np.isfinite(y.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()
    expected = [-1000.0, -50.0, 0.0, 0.0]
    np.testing.assert_allclose(activation.logsigmoid(x).detach().numpy(), expected, atol=1e-20)
