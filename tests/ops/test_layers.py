"""Op-table rows: linear, bilinear, the dropouts and embedding; then the random behaviours a row
cannot state (dropout's mask statistics and its consistency between forward and backward)."""

import types
import warnings

import numpy as np
import pytest

import chainrule
from chainrule.ops import layers
from tests.opcheck import OpCase, params, run_case

try:
    import torch
    import torch.nn.functional as torch_F
except ImportError:
    torch = torch_F = None

OURS = types.SimpleNamespace(**{n: getattr(layers, n) for n in dir(layers)})


def F(m):
    """torch.nn.functional, or chainrule's functional forms."""
    return torch_F if m is torch else OURS


def fn(name, *args, **kwargs):
    return lambda m, *xs: getattr(F(m), name)(*xs, *args, **kwargs)


def ints(shape, high, low=0, dims=((10, 3),)):
    """make(): float weights of the given dims, then integer indices."""
    return lambda rng: [rng.uniform(-1, 1, d) for d in dims] + [rng.integers(low, high, shape)]


EMB = dict(requires_grad=(True, False))
PARITY = dict(gradcheck=False, **EMB)


def emb(**kwargs):
    return lambda m, w, i: F(m).embedding(i, w, **kwargs)


CASES = [
    # linear: 2-D, batched (3-D and 4-D: one GEMM over the leading dims), 1-D, without bias
    OpCase("linear", fn("linear"), shapes=[((2, 3), (4, 3), (4,)), ((2, 2, 3), (4, 3), (4,))]),
    OpCase("linear_4d", fn("linear"), shapes=[((2, 1, 2, 3), (2, 3), (2,))]),
    # 4096+ elements of gy: the bias gradient runs as a GEMV
    OpCase("linear_gemv_bias_grad", fn("linear"), shapes=[((4, 50, 3), (25, 3), (25,))],
           gradcheck=False),
    OpCase("linear_vector", fn("linear"), shapes=[((3,), (4, 3), (4,))]),
    OpCase("linear_no_bias", fn("linear"), shapes=[((5, 3), (2, 3)), ((2, 2, 3), (4, 3))]),
    OpCase("linear_bias_kw", lambda m, x, w, b: F(m).linear(x, w, bias=b),
           shapes=[((2, 3), (4, 3), (4,))]),
    OpCase("linear_empty_batch", fn("linear"), shapes=[((0, 3), (4, 3), (4,))], gradcheck=False),
    # bilinear: y_k = x1ᵀ A_k x2 + b_k
    OpCase("bilinear", fn("bilinear"), shapes=[((2, 3), (2, 4), (5, 3, 4), (5,))]),
    OpCase("bilinear_batched", fn("bilinear"), shapes=[((2, 2, 3), (2, 2, 2), (3, 3, 2))]),
    # dropout: identity at p=0 and in eval, zeros at p=1 (random masks get bespoke tests)
    OpCase("dropout_p0", fn("dropout", 0.0), shapes=[(3, 4), ()]),
    OpCase("dropout_p1", fn("dropout", 1.0), shapes=[(3, 4)]),
    OpCase("dropout_eval", fn("dropout", 0.5, training=False), shapes=[(3, 4)]),
    OpCase("dropout_p1_inplace", lambda m, x: F(m).dropout(x * 1, 1.0, inplace=True),
           shapes=[(3, 4)]),
    OpCase("dropout1d_p0", fn("dropout1d", 0.0), shapes=[(2, 3, 4), (3, 4)]),
    OpCase("dropout1d_p1", fn("dropout1d", 1.0), shapes=[(2, 3, 4), (3, 4)]),
    OpCase("dropout2d_p1", fn("dropout2d", 1.0), shapes=[(2, 3, 2, 2)]),
    OpCase("dropout2d_eval", fn("dropout2d", 0.3, training=False), shapes=[(2, 3, 2, 2)]),
    OpCase("dropout3d_p1", fn("dropout3d", 1.0), shapes=[(2, 2, 2, 1, 2), (2, 2, 1, 2)]),
    OpCase("alpha_dropout_eval", fn("alpha_dropout", 0.5), shapes=[(3, 4)]),
    OpCase("alpha_dropout_p0", fn("alpha_dropout", 0.0, True), shapes=[(3, 4)]),
    OpCase("alpha_dropout_p1", fn("alpha_dropout", 1.0, True), shapes=[(3, 4)]),
    OpCase("feature_alpha_dropout_p1", fn("feature_alpha_dropout", 1.0, True),
           shapes=[(2, 3, 2)]),
    # embedding: repeated indices add up. padding_idx's row gets no gradient and
    # scale_grad_by_freq divides by counts: neither is the true derivative, so those rows check
    # parity with torch only (which pins both conventions)
    OpCase("embedding", emb(), make=ints((2, 4), 10), **EMB),
    OpCase("embedding_1d", emb(), make=ints((5,), 10), **EMB),
    OpCase("embedding_0d", emb(), make=lambda rng: [rng.uniform(-1, 1, (4, 3)), np.array(2)],
           **EMB),
    OpCase("embedding_int32", emb(),
           make=lambda rng: [rng.uniform(-1, 1, (6, 2)), rng.integers(0, 6, (3, 2), np.int32)],
           **EMB),
    OpCase("embedding_padding", emb(padding_idx=0), make=ints((3, 4), 4), **PARITY),
    OpCase("embedding_padding_negative", emb(padding_idx=-1), make=ints((3, 4), 10), **PARITY),
    OpCase("embedding_freq", emb(scale_grad_by_freq=True), make=ints((3, 4), 4), **PARITY),
    OpCase("embedding_freq_padding", emb(scale_grad_by_freq=True, padding_idx=2),
           make=ints((3, 4), 4), **PARITY),
    # max_norm renormalises the looked-up rows in place first (no finite differences through
    # an in-place renorm: parity only)
    OpCase("embedding_max_norm", emb(max_norm=0.5), make=ints((2, 3), 10), **PARITY),
    OpCase("embedding_max_norm_p1", emb(max_norm=0.7, norm_type=1.0), make=ints((4,), 10),
           **PARITY),
]  # fmt: skip


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_case(case, sig, device)


# ------------------------------------------------------------------------ random behaviour
def test_dropout_mask_statistics():
    """About p of the elements are zeroed; the kept ones are scaled by exactly 1 / (1 - p)."""
    chainrule.manual_seed(0)
    x = chainrule.ones(200, 500)
    for p in (0.1, 0.5, 0.8):
        y = layers.dropout(x, p).numpy()
        kept = y != 0
        assert abs(1 - kept.mean() - p) < 4 * np.sqrt(p * (1 - p) / y.size)
        np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)


def test_dropout_masks_input_and_gradient_consistently():
    """The gradient passes exactly where the forward kept a unit, scaled the same way; the same
    seed gives the same mask."""
    x = chainrule.randn(30, 40, requires_grad=True)
    chainrule.manual_seed(3)
    y = layers.dropout(x, 0.4)
    g = chainrule.randn(30, 40)
    y.backward(g)
    mask = (y.detach() / x.detach()).numpy()
    assert np.all(np.isclose(mask, 0) | np.isclose(mask, 1 / 0.6))
    np.testing.assert_allclose(x.grad.numpy(), g.numpy() * mask, rtol=1e-5)
    chainrule.manual_seed(3)
    np.testing.assert_array_equal(layers.dropout(x, 0.4).detach().numpy(), y.detach().numpy())


def test_dropout_inplace_on_graph():
    """inplace=True in the middle of a graph: the gradient is the mask (dropout saves no input)."""
    x = chainrule.randn(20, 20, requires_grad=True)
    h = x * 2
    chainrule.manual_seed(1)
    y = layers.dropout(h, 0.5, inplace=True)
    assert y is h
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (y.detach().numpy() != 0) * 2.0)


def test_dropout_float32_stays_float32():
    x = chainrule.ones(4, 4)
    assert layers.dropout(x, 0.3).dtype == chainrule.float32


@pytest.mark.parametrize("name,shape", [("dropout1d", (40, 50, 7)), ("dropout2d", (40, 50, 3, 3))])
def test_channel_dropout_zeros_whole_channels(name, shape):
    chainrule.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = getattr(layers, name)(chainrule.ones(*shape), 0.3).numpy()
    per_channel = y.reshape(shape[0], shape[1], -1)
    assert (per_channel == per_channel[..., :1]).all()  # one draw per (sample, channel)
    kept = per_channel[..., 0] != 0
    assert abs(1 - kept.mean() - 0.3) < 0.05
    np.testing.assert_allclose(per_channel[..., 0][kept], 1 / 0.7, rtol=1e-6)


def test_alpha_dropout_keeps_mean_and_variance():
    """On standard normal input, alpha dropout keeps mean 0 and variance 1."""
    chainrule.manual_seed(0)
    x = chainrule.randn(400, 500, dtype=chainrule.float64)
    y = layers.alpha_dropout(x, 0.3, training=True).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.02
    values, counts = np.unique(y, return_counts=True)
    dropped = y == values[counts.argmax()]  # every dropped unit has the same value
    assert abs(dropped.mean() - 0.3) < 0.01


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize("p", [-0.1, 1.5])
@pytest.mark.parametrize("name", ["dropout", "dropout1d", "dropout2d", "alpha_dropout"])
def test_dropout_probability_out_of_range(name, p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        getattr(layers, name)(chainrule.ones(2, 3, 4), p)


def test_dropout1d_rank_error():
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input, but received a 4D input"):
        layers.dropout1d(chainrule.ones(2, 3, 4, 5))


def test_linear_shape_error_names_in_features():
    x, w = chainrule.ones(4, 3), chainrule.ones(2, 5)
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x3 and "
                       r"5x2\).*in_features=5"):  # fmt: skip
        layers.linear(x, w)


def test_linear_dtype_error():
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype"):
        layers.linear(chainrule.ones(4, 3, dtype=chainrule.float64), chainrule.ones(2, 3))


def test_embedding_errors():
    w = chainrule.ones(5, 2)
    with pytest.raises(IndexError, match="index out of range in self"):
        layers.embedding(chainrule.tensor([1, 5]), w)
    with pytest.raises(RuntimeError, match="'indices' to have one of the following scalar types"):
        layers.embedding(chainrule.tensor([1.0]), w)
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        layers.embedding(chainrule.tensor([1]), w, padding_idx=5)


def test_linear_is_one_node():
    """x @ W.T + b records one graph node (the point of the fused primitive)."""
    x = chainrule.randn(8, 3, requires_grad=True)
    w = chainrule.randn(4, 3, requires_grad=True)
    y = layers.linear(x, w, chainrule.randn(4, requires_grad=True))
    assert type(y.grad_fn).__name__ == "Linear"
    assert all(e is None or not hasattr(e[0], "next") for e in y.grad_fn.next)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 1}, {"scale_grad_by_freq": True}])
def test_embedding_double_backward_matches_torch(kwargs):
    """Regression: with scale_grad_by_freq the double backward applied the 1/count scaling a
    second time; PyTorch (and the finite differences of the first derivative) apply it once."""
    rng = np.random.default_rng(0)
    w0, idx = rng.standard_normal((6, 3)), np.array([[0, 1, 1], [2, 0, 5]])
    results = []
    for m, emb_fn in ((chainrule, layers.embedding), (torch, torch_F.embedding)):
        w = m.tensor(w0, requires_grad=True)
        y = emb_fn(m.tensor(idx), w, **kwargs)
        (g,) = m.autograd.grad((y**3).sum(), w, create_graph=True)
        (gg,) = m.autograd.grad((g**2).sum(), w)
        results.append(gg.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)


def test_bfloat16_linear_stays_bfloat16_and_rounds_once_like_torch():
    torch = pytest.importorskip("torch")
    x = np.linspace(-1, 1, 12).reshape(4, 3)
    w, b = np.linspace(-2, 1, 6).reshape(2, 3), np.array([0.3, -0.7])
    outs = []
    for m in (chainrule, torch):
        args = [m.tensor(a, dtype=m.bfloat16) for a in (x, w, b)]
        y = m.nn.functional.linear(*args)
        assert str(y.dtype).endswith("bfloat16")
        outs.append(y.float().numpy())
    np.testing.assert_array_equal(outs[0], outs[1])
