"""Layer table: every core layer, normalisation, dropout, embedding, activation and reshaping
module beside torch.nn on copied weights (train and eval, float32 and float64); then the
default initialisations' distributions, reprs, running statistics over several steps and the
errors people meet."""

import math
import warnings

import numpy as np
import pytest

import chainrule
import chainrule.nn as cnn
from tests.nn.modcheck import ModuleCase, params, run_module_case

try:
    import torch
except ImportError:
    torch = None


def randomized(make):
    """make(nn), with the affine parameters and running statistics moved off their
    ones/zeros start (so that eval rows test something)."""

    def build(nn):
        m = make(nn)
        for name in ("weight", "bias"):
            p = getattr(m, name, None)
            if p is not None:
                nn.init.uniform_(p, 0.5, 1.5)
        if getattr(m, "running_mean", None) is not None:
            m.running_mean.add_(0.3)
            m.running_var.mul_(1.7)
        return m

    return build


def ints(shape, high):
    return lambda rng: [rng.integers(0, high, shape)]


def inplace_call(module, x):
    return module(x * 1)  # a non-leaf, so that an in-place activation can run in the graph


TRAIN = ("train",)
EVAL = ("eval",)

CASES = [
    # ------------------------------------------------------------------ core layers
    ModuleCase("identity", lambda nn: nn.Identity(3, unused=True), inputs=[(2, 3)]),
    ModuleCase("linear", lambda nn: nn.Linear(3, 4), inputs=[(2, 3)]),
    ModuleCase("linear_batched", lambda nn: nn.Linear(3, 4), inputs=[(2, 5, 3)]),
    ModuleCase("linear_vector", lambda nn: nn.Linear(3, 2), inputs=[(3,)]),
    ModuleCase("linear_no_bias", lambda nn: nn.Linear(5, 2, bias=False), inputs=[(4, 5)]),
    ModuleCase("bilinear", lambda nn: nn.Bilinear(3, 2, 4), inputs=[(5, 3), (5, 2)]),
    ModuleCase("bilinear_no_bias", lambda nn: nn.Bilinear(2, 2, 3, bias=False),
               inputs=[(2, 4, 2), (2, 4, 2)]),
    # ---------------------------------------------------------------- batch norm
    ModuleCase("batchnorm1d", randomized(lambda nn: nn.BatchNorm1d(3)), inputs=[(4, 3)]),
    ModuleCase("batchnorm1d_3d", randomized(lambda nn: nn.BatchNorm1d(3)), inputs=[(4, 3, 5)]),
    ModuleCase("batchnorm1d_no_bias", randomized(lambda nn: nn.BatchNorm1d(3, bias=False)),
               inputs=[(4, 3)]),
    ModuleCase("batchnorm1d_no_affine", randomized(lambda nn: nn.BatchNorm1d(3, affine=False)),
               inputs=[(4, 3)]),
    ModuleCase("batchnorm1d_no_stats",
               randomized(lambda nn: nn.BatchNorm1d(3, track_running_stats=False)),
               inputs=[(4, 3)]),
    ModuleCase("batchnorm1d_cumulative", randomized(lambda nn: nn.BatchNorm1d(3, momentum=None)),
               inputs=[(6, 3)]),
    ModuleCase("batchnorm1d_momentum_eps",
               randomized(lambda nn: nn.BatchNorm1d(2, eps=1e-2, momentum=0.5)),
               inputs=[(3, 2, 2)]),
    ModuleCase("batchnorm2d", randomized(lambda nn: nn.BatchNorm2d(3)), inputs=[(2, 3, 4, 4)]),
    ModuleCase("batchnorm3d", randomized(lambda nn: nn.BatchNorm3d(2)),
               inputs=[(2, 2, 2, 3, 2)]),
    ModuleCase("instancenorm1d", lambda nn: nn.InstanceNorm1d(3), inputs=[(2, 3, 5)]),
    ModuleCase("instancenorm1d_unbatched", lambda nn: nn.InstanceNorm1d(3), inputs=[(3, 5)]),
    ModuleCase("instancenorm1d_affine_stats",
               randomized(lambda nn: nn.InstanceNorm1d(3, affine=True, track_running_stats=True)),
               inputs=[(2, 3, 5)]),
    ModuleCase("instancenorm2d", randomized(lambda nn: nn.InstanceNorm2d(2, affine=True)),
               inputs=[(2, 2, 3, 3)]),
    ModuleCase("instancenorm3d", lambda nn: nn.InstanceNorm3d(2), inputs=[(2, 2, 2, 2, 2)]),
    # ------------------------------------------------------------ other normalisations
    ModuleCase("layernorm", randomized(lambda nn: nn.LayerNorm(4)), inputs=[(2, 3, 4)]),
    ModuleCase("layernorm_2dims", randomized(lambda nn: nn.LayerNorm([3, 4], eps=1e-3)),
               inputs=[(2, 3, 4)]),
    ModuleCase("layernorm_no_affine", lambda nn: nn.LayerNorm(4, elementwise_affine=False),
               inputs=[(3, 4)]),
    ModuleCase("layernorm_no_bias", randomized(lambda nn: nn.LayerNorm(4, bias=False)),
               inputs=[(3, 4)]),
    ModuleCase("groupnorm", randomized(lambda nn: nn.GroupNorm(2, 4)), inputs=[(2, 4, 3)]),
    ModuleCase("groupnorm_no_bias", randomized(lambda nn: nn.GroupNorm(2, 4, bias=False)),
               inputs=[(2, 4, 3)]),
    ModuleCase("groupnorm_no_affine", lambda nn: nn.GroupNorm(3, 6, affine=False),
               inputs=[(2, 6, 2, 2)]),
    ModuleCase("rmsnorm", randomized(lambda nn: nn.RMSNorm(4)), inputs=[(2, 3, 4)]),
    ModuleCase("rmsnorm_eps", randomized(lambda nn: nn.RMSNorm([3, 4], eps=1e-3)),
               inputs=[(2, 3, 4)]),
    ModuleCase("rmsnorm_no_affine", lambda nn: nn.RMSNorm(4, elementwise_affine=False),
               inputs=[(3, 4)]),
    ModuleCase("local_response_norm", lambda nn: nn.LocalResponseNorm(3, 0.1), inputs=[(2, 5, 3)]),
    # -------------------------------------------- dropout: identity in eval, p=0 and p=1 in train
    ModuleCase("dropout_eval", lambda nn: nn.Dropout(0.3), inputs=[(3, 4)], modes=EVAL),
    ModuleCase("dropout_p0", lambda nn: nn.Dropout(0.0), inputs=[(3, 4)]),
    ModuleCase("dropout_p1", lambda nn: nn.Dropout(1.0), inputs=[(3, 4)]),
    ModuleCase("dropout_p1_inplace", lambda nn: nn.Dropout(1.0, inplace=True), inputs=[(3, 4)],
               call=inplace_call),
    ModuleCase("dropout1d", lambda nn: nn.Dropout1d(0.3), inputs=[(2, 3, 4)], modes=EVAL),
    ModuleCase("dropout1d_p1", lambda nn: nn.Dropout1d(1.0), inputs=[(2, 3, 4), ]),
    ModuleCase("dropout2d", lambda nn: nn.Dropout2d(0.3), inputs=[(2, 3, 2, 2)], modes=EVAL),
    ModuleCase("dropout2d_p1", lambda nn: nn.Dropout2d(1.0), inputs=[(2, 3, 2, 2)]),
    ModuleCase("dropout3d", lambda nn: nn.Dropout3d(0.3), inputs=[(2, 3, 1, 2, 2)], modes=EVAL),
    ModuleCase("alpha_dropout", lambda nn: nn.AlphaDropout(0.3), inputs=[(3, 4)], modes=EVAL),
    ModuleCase("alpha_dropout_p0", lambda nn: nn.AlphaDropout(0.0), inputs=[(3, 4)]),
    ModuleCase("feature_alpha_dropout", lambda nn: nn.FeatureAlphaDropout(0.3),
               inputs=[(2, 3, 4)], modes=EVAL),
    # ------------------------------------------------------------------------ embedding
    ModuleCase("embedding", lambda nn: nn.Embedding(10, 3), make_inputs=ints((2, 5), 10)),
    ModuleCase("embedding_padding", lambda nn: nn.Embedding(6, 4, padding_idx=2),
               make_inputs=ints((3, 4), 6)),
    ModuleCase("embedding_max_norm", lambda nn: nn.Embedding(10, 3, max_norm=1.0),
               make_inputs=ints((2, 3), 10)),
    ModuleCase("embedding_freq", lambda nn: nn.Embedding(5, 2, scale_grad_by_freq=True),
               make_inputs=ints((6,), 5)),
    # ---------------------------------------------------------------------- activations
    ModuleCase("relu", lambda nn: nn.ReLU(), inputs=[(3, 4)]),
    ModuleCase("relu_inplace", lambda nn: nn.ReLU(inplace=True), inputs=[(3, 4)],
               call=inplace_call),
    ModuleCase("relu6", lambda nn: nn.ReLU6(), inputs=[(3, 4)], domain=(-3, 9)),
    ModuleCase("leaky_relu", lambda nn: nn.LeakyReLU(0.2), inputs=[(3, 4)]),
    ModuleCase("leaky_relu_inplace", lambda nn: nn.LeakyReLU(inplace=True), inputs=[(3, 4)],
               call=inplace_call),
    ModuleCase("prelu", lambda nn: nn.PReLU(), inputs=[(3, 4)]),
    ModuleCase("prelu_channels", lambda nn: nn.PReLU(3, init=0.1), inputs=[(2, 3, 4)]),
    ModuleCase("rrelu", lambda nn: nn.RReLU(0.1, 0.3), inputs=[(3, 4)], modes=EVAL),
    ModuleCase("elu", lambda nn: nn.ELU(0.5), inputs=[(3, 4)]),
    ModuleCase("elu_inplace", lambda nn: nn.ELU(inplace=True), inputs=[(3, 4)],
               call=inplace_call),
    ModuleCase("celu", lambda nn: nn.CELU(1.5), inputs=[(3, 4)]),
    ModuleCase("selu", lambda nn: nn.SELU(), inputs=[(3, 4)]),
    ModuleCase("gelu", lambda nn: nn.GELU(), inputs=[(3, 4)], domain=(-4, 4)),
    ModuleCase("gelu_tanh", lambda nn: nn.GELU(approximate="tanh"), inputs=[(3, 4)]),
    ModuleCase("silu", lambda nn: nn.SiLU(), inputs=[(3, 4)]),
    ModuleCase("mish", lambda nn: nn.Mish(), inputs=[(3, 4)]),
    ModuleCase("softplus", lambda nn: nn.Softplus(2.0, 3.0), inputs=[(3, 4)]),
    ModuleCase("softsign", lambda nn: nn.Softsign(), inputs=[(3, 4)]),
    ModuleCase("hardtanh", lambda nn: nn.Hardtanh(-0.5, 0.7), inputs=[(3, 4)]),
    ModuleCase("hardsigmoid", lambda nn: nn.Hardsigmoid(), inputs=[(3, 4)], domain=(-4, 4)),
    ModuleCase("hardswish", lambda nn: nn.Hardswish(), inputs=[(3, 4)], domain=(-4, 4)),
    ModuleCase("sigmoid", lambda nn: nn.Sigmoid(), inputs=[(3, 4)]),
    ModuleCase("tanh", lambda nn: nn.Tanh(), inputs=[(3, 4)]),
    ModuleCase("logsigmoid", lambda nn: nn.LogSigmoid(), inputs=[(3, 4)]),
    ModuleCase("tanhshrink", lambda nn: nn.Tanhshrink(), inputs=[(3, 4)]),
    ModuleCase("softshrink", lambda nn: nn.Softshrink(0.3), inputs=[(3, 4)]),
    ModuleCase("hardshrink", lambda nn: nn.Hardshrink(0.3), inputs=[(3, 4)]),
    ModuleCase("threshold", lambda nn: nn.Threshold(0.1, 20.0), inputs=[(3, 4)]),
    ModuleCase("glu", lambda nn: nn.GLU(1), inputs=[(3, 4)]),
    ModuleCase("softmax", lambda nn: nn.Softmax(dim=1), inputs=[(3, 4)]),
    ModuleCase("log_softmax", lambda nn: nn.LogSoftmax(dim=-1), inputs=[(2, 3, 4)]),
    ModuleCase("softmin", lambda nn: nn.Softmin(dim=0), inputs=[(3, 4)]),
    ModuleCase("softmax2d", lambda nn: nn.Softmax2d(), inputs=[(2, 3, 2, 2)]),
    # ----------------------------------------------------------------------- reshaping
    ModuleCase("flatten", lambda nn: nn.Flatten(), inputs=[(2, 3, 2, 2)]),
    ModuleCase("flatten_range", lambda nn: nn.Flatten(0, 1), inputs=[(2, 3, 2)]),
    ModuleCase("unflatten", lambda nn: nn.Unflatten(1, (2, 3)), inputs=[(2, 6)]),
    ModuleCase("unflatten_infer", lambda nn: nn.Unflatten(-1, (2, -1)), inputs=[(3, 4)]),
]  # fmt: skip


@pytest.mark.parametrize("case,dtype,mode", params(CASES))
def test_module(case, dtype, mode):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_module_case(case, dtype, mode)


# -------------------------------------------------------------------------------- repr
REPRS = [
    lambda nn: nn.Identity(), lambda nn: nn.Linear(3, 4), lambda nn: nn.Linear(3, 4, bias=False),
    lambda nn: nn.Bilinear(2, 3, 4), lambda nn: nn.BatchNorm1d(3),
    lambda nn: nn.BatchNorm2d(3, momentum=None, affine=False, track_running_stats=False),
    lambda nn: nn.BatchNorm3d(4, eps=1e-3), lambda nn: nn.InstanceNorm2d(3, affine=True),
    lambda nn: nn.BatchNorm1d(3, bias=False),
    lambda nn: nn.LayerNorm(4), lambda nn: nn.LayerNorm([3, 4], elementwise_affine=False),
    lambda nn: nn.GroupNorm(2, 4), lambda nn: nn.GroupNorm(2, 4, bias=False),
    lambda nn: nn.LayerNorm(4, bias=False), lambda nn: nn.RMSNorm(4),
    lambda nn: nn.RMSNorm([2, 3], 1e-3),
    lambda nn: nn.LocalResponseNorm(3), lambda nn: nn.Dropout(), lambda nn: nn.Dropout(0.2, True),
    lambda nn: nn.Dropout1d(0.1), lambda nn: nn.Dropout2d(), lambda nn: nn.Dropout3d(),
    lambda nn: nn.AlphaDropout(0.2), lambda nn: nn.FeatureAlphaDropout(),
    lambda nn: nn.Embedding(10, 3), lambda nn: nn.Embedding(10, 3, padding_idx=-2, max_norm=1.0),
    lambda nn: nn.Embedding(10, 3, norm_type=1.0, scale_grad_by_freq=True),
    lambda nn: nn.ReLU(), lambda nn: nn.ReLU(True), lambda nn: nn.ReLU6(inplace=True),
    lambda nn: nn.LeakyReLU(), lambda nn: nn.LeakyReLU(0.2, True), lambda nn: nn.PReLU(3),
    lambda nn: nn.RReLU(), lambda nn: nn.ELU(), lambda nn: nn.CELU(2.0, True),
    lambda nn: nn.SELU(), lambda nn: nn.GELU(), lambda nn: nn.GELU("tanh"),
    lambda nn: nn.SiLU(True), lambda nn: nn.Mish(), lambda nn: nn.Softplus(),
    lambda nn: nn.Softsign(), lambda nn: nn.Hardtanh(), lambda nn: nn.Hardtanh(-2.0, 3.0, True),
    lambda nn: nn.Hardsigmoid(), lambda nn: nn.Hardswish(),
    lambda nn: nn.Sigmoid(), lambda nn: nn.Tanh(), lambda nn: nn.LogSigmoid(),
    lambda nn: nn.Tanhshrink(), lambda nn: nn.Softshrink(), lambda nn: nn.Hardshrink(0.2),
    lambda nn: nn.Threshold(0.1, 20), lambda nn: nn.GLU(), lambda nn: nn.Softmax(1),
    lambda nn: nn.Softmax(), lambda nn: nn.LogSoftmax(-1), lambda nn: nn.Softmin(0),
    lambda nn: nn.Softmax2d(), lambda nn: nn.Flatten(), lambda nn: nn.Unflatten(1, (2, 3)),
]  # fmt: skip


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("make", REPRS, ids=lambda f: repr(f(cnn)))
def test_repr_matches_torch(make):
    assert repr(make(cnn)) == repr(make(torch.nn))


# ---------------------------------------------------------------- default initialisation
def _uniform_moments(a: np.ndarray, bound: float, what: str) -> None:
    assert a.min() >= -bound and a.max() <= bound, what
    assert a.min() < -0.95 * bound and a.max() > 0.95 * bound, what
    assert abs(a.mean()) < 5 * bound / math.sqrt(3 * a.size), what
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.05), what


def test_linear_default_init():
    """weight and bias ~ U(-1/√in_features, 1/√in_features), as PyTorch."""
    m = cnn.Linear(400, 300)
    _uniform_moments(m.weight.detach().numpy(), 1 / 20, "weight")
    _uniform_moments(m.bias.detach().numpy(), 1 / 20, "bias")


def test_bilinear_default_init():
    m = cnn.Bilinear(200, 30, 40)
    _uniform_moments(m.weight.detach().numpy(), 1 / math.sqrt(200), "weight")
    _uniform_moments(cnn.Bilinear(200, 3, 4000).bias.detach().numpy(), 1 / math.sqrt(200), "bias")


def test_embedding_default_init():
    """N(0, 1), with the padding row zero."""
    w = cnn.Embedding(500, 100, padding_idx=3).weight.detach().numpy()
    assert not w[3].any()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 5 / math.sqrt(rest.size)
    assert rest.std() == pytest.approx(1.0, rel=0.02)


def test_constant_inits():
    assert np.all(cnn.PReLU(5).weight.detach().numpy() == 0.25)
    for m in (cnn.BatchNorm1d(4), cnn.LayerNorm(4), cnn.GroupNorm(2, 4), cnn.InstanceNorm1d(
            4, affine=True, track_running_stats=True)):  # fmt: skip
        assert np.all(m.weight.detach().numpy() == 1)
        assert np.all(m.bias.detach().numpy() == 0)
    assert np.all(cnn.RMSNorm(4).weight.detach().numpy() == 1)
    bn = cnn.BatchNorm2d(3)
    assert np.all(bn.running_mean.detach().numpy() == 0) and np.all(
        bn.running_var.detach().numpy() == 1
    )
    assert bn.num_batches_tracked.dtype == chainrule.int64 and bn.num_batches_tracked.item() == 0


def test_reset_parameters_redraws():
    m = cnn.Linear(20, 10)
    before = m.weight.detach().numpy().copy()
    m.reset_parameters()
    assert not np.array_equal(before, m.weight.detach().numpy())


def test_factory_kwargs():
    f64 = chainrule.float64
    for m in (cnn.Linear(3, 4, dtype=f64), cnn.LayerNorm(3, dtype=f64),
              cnn.BatchNorm1d(3, device="cpu", dtype=f64), cnn.Embedding(4, 3, dtype=f64),
              cnn.PReLU(dtype=f64)):  # fmt: skip
        assert all(p.dtype == chainrule.float64 for p in m.parameters())
    assert cnn.BatchNorm1d(3, dtype=chainrule.float64).num_batches_tracked.dtype == chainrule.int64


# ------------------------------------------------------------------- running statistics
@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_running_stats_over_steps(momentum):
    """Several training steps, then eval: the running statistics (exponential, or cumulative
    for momentum=None) and num_batches_tracked follow PyTorch's."""
    ours, theirs = cnn.BatchNorm1d(3, momentum=momentum), torch.nn.BatchNorm1d(3, momentum=momentum)
    rng = np.random.default_rng(0)
    for _ in range(4):
        x = rng.normal(2.0, 3.0, (5, 3)).astype(np.float32)
        ours(chainrule.tensor(x))
        theirs(torch.tensor(x))
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(
            ours.state_dict()[k].detach().numpy(), v.detach().numpy(), rtol=1e-5, err_msg=k
        )
    x = rng.normal(size=(2, 3)).astype(np.float32)
    np.testing.assert_allclose(
        ours.eval()(chainrule.tensor(x)).detach().numpy(),
        theirs.eval()(torch.tensor(x)).detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )


def test_batchnorm_eval_does_not_move_stats():
    bn = cnn.BatchNorm1d(3).eval()
    bn(chainrule.randn(4, 3))
    assert bn.num_batches_tracked.item() == 0 and np.all(bn.running_mean.detach().numpy() == 0)


def test_batchnorm_loads_state_dict_without_num_batches_tracked():
    """Old checkpoints (and plain dicts without version metadata) lack the counter: PyTorch
    loads them strictly all the same."""
    src = cnn.BatchNorm1d(3)
    src(chainrule.randn(4, 3))
    sd = {k: v for k, v in src.state_dict().items() if k != "num_batches_tracked"}
    dst = cnn.BatchNorm1d(3)
    result = dst.load_state_dict(sd)
    assert not result.missing_keys and not result.unexpected_keys
    np.testing.assert_array_equal(dst.running_mean.numpy(), src.running_mean.numpy())
    assert dst.num_batches_tracked.item() == 0
    with pytest.raises(RuntimeError, match="running_var"):
        dst.load_state_dict({k: v for k, v in sd.items() if k != "running_var"})


def test_embedding_from_pretrained():
    w = chainrule.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    e = cnn.Embedding.from_pretrained(w)
    assert not e.weight.requires_grad and e.weight.shape == (3, 2)
    np.testing.assert_array_equal(e(chainrule.tensor([2, 0])).detach().numpy(), [[5, 6], [1, 2]])
    assert cnn.Embedding.from_pretrained(w, freeze=False, padding_idx=1).weight.requires_grad


def test_embedding_padding_row_gets_no_gradient():
    e = cnn.Embedding(5, 2, padding_idx=0)
    e(chainrule.tensor([[0, 1, 0, 1]])).sum().backward()
    np.testing.assert_array_equal(e.weight.grad.detach().numpy()[:2], [[0, 0], [2, 2]])


def test_dropout_identity_in_eval_and_random_in_train():
    d = cnn.Dropout(0.5)
    x = chainrule.ones(100, 100)
    assert d.eval()(x) is x
    y = d.train()(x).detach().numpy()
    assert set(np.unique(y)) == {0.0, 2.0}


# -------------------------------------------------------------------------------- errors
ERRORS = [
    (lambda: cnn.Linear(5, 2)(chainrule.ones(4, 3)), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(4x3 and 5x2\).*in_features=5"),
    (lambda: cnn.LayerNorm(4)(chainrule.ones(4, 3)), RuntimeError,
     r"Given normalized_shape=\[4\], expected input with shape \[\*, 4\]"),
    (lambda: cnn.BatchNorm2d(3)(chainrule.ones(2, 3, 4)), ValueError,
     r"expected 4D input \(got 3D input\)"),
    (lambda: cnn.BatchNorm1d(3)(chainrule.ones(2, 3, 4, 5)), ValueError,
     r"expected 2D or 3D input \(got 4D input\)"),
    (lambda: cnn.BatchNorm1d(4)(chainrule.ones(2, 3)), RuntimeError,
     "running_mean should contain 3 elements not 4"),
    (lambda: cnn.BatchNorm1d(3)(chainrule.ones(1, 3)), ValueError,
     "Expected more than 1 value per channel when training"),
    (lambda: cnn.InstanceNorm1d(3, affine=True)(chainrule.ones(2, 4, 5)), ValueError,
     "expected input's size at dim=1 to match num_features"),
    (lambda: cnn.GroupNorm(3, 4), ValueError,
     r"num_channels \(4\) must be divisible by num_groups \(3\)"),
    (lambda: cnn.Dropout(1.5), ValueError, "dropout probability has to be between 0 and 1"),
    (lambda: cnn.Embedding(5, 2, padding_idx=5), AssertionError,
     "Padding_idx must be within num_embeddings"),
    (lambda: cnn.Embedding(5, 2)(chainrule.tensor([5])), IndexError, "index out of range"),
    (lambda: cnn.PReLU(3)(chainrule.ones(2, 4)), RuntimeError,
     "Mismatch of parameter numbers and input channel size"),
    (lambda: cnn.Unflatten(1, 6), TypeError, "unflattened_size must be a tuple of ints"),
    (lambda: cnn.Hardtanh(1.0, -1.0), AssertionError, "max_val"),
    (lambda: cnn.Linear(3, 2)(chainrule.ones(4, 3, dtype=chainrule.float64)), RuntimeError,
     "mat1 and mat2 must have the same dtype"),
]  # fmt: skip


@pytest.mark.parametrize("call,error,message", ERRORS)
def test_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
