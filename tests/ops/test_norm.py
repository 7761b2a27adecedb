"""Op-table rows: batch_norm (training and eval, running statistics), layer_norm, group_norm,
instance_norm, rms_norm, normalize and local_response_norm; then the errors."""

import types

import numpy as np
import pytest

import chainrule
from chainrule.ops import normalization as norm
from tests.opcheck import OpCase, params, run_case

try:
    import torch
    import torch.nn.functional as torch_F
except ImportError:
    torch = torch_F = None

OURS = types.SimpleNamespace(**{n: getattr(norm, n) for n in dir(norm)})


def F(m):
    return torch_F if m is torch else OURS


def fn(name, *args, **kwargs):
    return lambda m, *xs: getattr(F(m), name)(*xs, *args, **kwargs)


def bn_train(m, x, w=None, b=None, **kwargs):
    return F(m).batch_norm(x, None, None, w, b, training=True, **kwargs)


def with_stats(m, x, w, b, momentum=0.1):
    """Training batch_norm that also returns the running statistics it updated in place."""
    c = x.shape[1]
    rm = m.zeros(c, dtype=x.dtype) + m.arange(c, dtype=x.dtype) * 0.1
    rv = m.ones(c, dtype=x.dtype) * 2
    y = F(m).batch_norm(x, rm, rv, w, b, training=True, momentum=momentum)
    return y, rm, rv


def running(c):
    """make(): x (4, c, 3), weight, bias, then running mean and (positive) running var."""
    return lambda rng: [
        rng.uniform(-2, 2, (4, c, 3)), rng.uniform(0.5, 1.5, c), rng.uniform(-1, 1, c),
        rng.uniform(-1, 1, c), rng.uniform(0.5, 2, c),
    ]  # fmt: skip


STATS = dict(requires_grad=(True, True, True, False, False))


def bn_eval(m, x, w, b, rm, rv):
    return F(m).batch_norm(x, rm, rv, w, b, training=False, eps=1e-3)


def instance_stats(m, x, w, b):
    c = x.shape[1]
    rm, rv = m.zeros(c, dtype=x.dtype), m.ones(c, dtype=x.dtype)
    return F(m).instance_norm(x, rm, rv, w, b, momentum=0.2), rm, rv


CASES = [
    # batch_norm in training: batch statistics per channel (dim 1), over batch and spatial dims
    OpCase("batch_norm", bn_train, shapes=[((4, 3), (3,), (3,)), ((2, 3, 4), (3,), (3,))]),
    OpCase("batch_norm_2d", bn_train, shapes=[((2, 3, 2, 2), (3,), (3,))]),
    OpCase("batch_norm_3d", bn_train, shapes=[((2, 2, 2, 1, 2), (2,), (2,))]),
    OpCase("batch_norm_no_affine", bn_train, shapes=[(4, 3), (2, 3, 2)]),
    OpCase("batch_norm_weight_only", lambda m, x, w: bn_train(m, x, w), shapes=[((3, 2, 2), (2,))]),
    OpCase("batch_norm_bias_only", lambda m, x, b: bn_train(m, x, None, b),
           shapes=[((3, 2, 2), (2,))]),
    OpCase("batch_norm_eps", lambda m, x, w, b: bn_train(m, x, w, b, eps=0.5),
           shapes=[((5, 3), (3,), (3,))]),
    # running statistics updated in place (unbiased variance) and returned for comparison
    OpCase("batch_norm_running", with_stats, shapes=[((4, 3), (3,), (3,)), ((2, 3, 2, 2),
           (3,), (3,))], gradcheck=False),
    OpCase("batch_norm_running_momentum", lambda m, x, w, b: with_stats(m, x, w, b, 0.7),
           shapes=[((3, 2, 3), (2,), (2,))], gradcheck=False),
    # eval: the running statistics, an affine map with gradients to x, weight and bias
    OpCase("batch_norm_eval", bn_eval, make=running(3), **STATS),
    OpCase("batch_norm_eval_no_affine",
           lambda m, x, w, b, rm, rv: F(m).batch_norm(x, rm, rv, training=False),
           make=running(2), **STATS),
    # layer_norm over the last 1 or 2 dims, with and without affine parameters
    OpCase("layer_norm", lambda m, x, w, b: F(m).layer_norm(x, (4,), w, b),
           shapes=[((3, 4), (4,), (4,)), ((2, 3, 4), (4,), (4,)), ((4,), (4,), (4,))]),
    OpCase("layer_norm_2dims", lambda m, x, w, b: F(m).layer_norm(x, [3, 4], w, b, eps=1e-3),
           shapes=[((2, 3, 4), (3, 4), (3, 4))]),
    OpCase("layer_norm_no_affine", lambda m, x: F(m).layer_norm(x, (4,)), shapes=[(3, 4)]),
    # 4096+ elements: the sums run as GEMVs (normalization.sum_trailing / sum_leading)
    OpCase("layer_norm_gemv_sums", lambda m, x, w, b: F(m).layer_norm(x, [6, 20], w, b),
           shapes=[((40, 6, 20), (6, 20), (6, 20))], gradcheck=False),
    OpCase("layer_norm_int_shape", lambda m, x, w: F(m).layer_norm(x, 5, w),  # torch: a list only
           torch_fn=lambda m, x, w: F(m).layer_norm(x, [5], w), shapes=[((2, 5), (5,))]),
    # group_norm: groups of channels per sample
    OpCase("group_norm", lambda m, x, w, b: F(m).group_norm(x, 3, w, b),
           shapes=[((2, 6, 3), (6,), (6,))]),
    # groups of two elements are ill-conditioned: torch's own float32 gradient is 8e-5 away
    # from its float64 one here
    OpCase("group_norm_2d", lambda m, x, w, b: F(m).group_norm(x, 3, w, b),
           shapes=[((2, 6), (6,), (6,))], parity_atol32=2e-4),
    OpCase("group_norm_4d", lambda m, x, w, b: F(m).group_norm(x, 2, w, b, eps=1e-3),
           shapes=[((2, 4, 2, 2), (4,), (4,))]),
    OpCase("group_norm_no_affine", lambda m, x: F(m).group_norm(x, 1), shapes=[(2, 4, 3)]),
    # instance_norm: each (sample, channel) over its spatial dims
    OpCase("instance_norm", lambda m, x, w, b: F(m).instance_norm(x, weight=w, bias=b),
           shapes=[((2, 3, 4), (3,), (3,)), ((2, 2, 2, 3), (2,), (2,))]),
    OpCase("instance_norm_running", instance_stats, shapes=[((3, 2, 4), (2,), (2,))],
           gradcheck=False),
    OpCase("instance_norm_eval",
           lambda m, x, w, b, rm, rv: F(m).instance_norm(x, rm, rv, w, b, use_input_stats=False),
           make=running(3), **STATS),
    # rms_norm: eps=None is the dtype's machine epsilon
    OpCase("rms_norm", lambda m, x, w: F(m).rms_norm(x, (4,), w),
           shapes=[((3, 4), (4,)), ((2, 3, 4), (4,))]),
    OpCase("rms_norm_no_weight", lambda m, x: F(m).rms_norm(x, [3, 4], eps=1e-3),
           shapes=[(2, 3, 4)]),
    # normalize: unit p-norm vectors along dim
    OpCase("normalize", fn("normalize"), shapes=[(3, 4), (2, 3, 2)]),
    OpCase("normalize_p1_dim0", fn("normalize", p=1.0, dim=0), shapes=[(3, 4)], domain=(0.2, 2)),
    OpCase("normalize_p3_last", fn("normalize", p=3, dim=-1), shapes=[(3, 4)]),
    OpCase("normalize_zero_vector", fn("normalize"), make=lambda rng: [np.zeros((2, 3))],
           gradcheck=False),
    # local_response_norm across channels
    OpCase("local_response_norm", fn("local_response_norm", 3), shapes=[(2, 5, 3)]),
    OpCase("local_response_norm_even", fn("local_response_norm", 2, 0.1, 0.5, 2.0),
           shapes=[(2, 4, 2, 2)]),
    OpCase("local_response_norm_wide", fn("local_response_norm", 5, 0.3), shapes=[(1, 3, 2)]),
]  # fmt: skip


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


def test_batch_norm_stats_are_detached_from_running_buffers():
    """Training batch_norm updates the buffers in place, bumping their version, with no graph."""
    x = chainrule.randn(8, 3, requires_grad=True)
    rm, rv = chainrule.zeros(3), chainrule.ones(3)
    v0 = rm._version
    norm.batch_norm(x, rm, rv, training=True).sum().backward()
    assert rm._version == v0 + 1 and not rm.requires_grad and not rv.requires_grad
    np.testing.assert_allclose(rm.numpy(), 0.1 * x.detach().numpy().mean(0), rtol=1e-5)


# ------------------------------------------------------------------------------------ errors
def test_batch_norm_one_value_per_channel():
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        norm.batch_norm(chainrule.ones(1, 3), None, None, training=True)


def test_batch_norm_eval_needs_running_stats():
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        norm.batch_norm(chainrule.ones(4, 3), None, None, training=False)


def test_batch_norm_channel_mismatch():
    with pytest.raises(RuntimeError, match="running_mean should contain 4 elements not 3"):
        norm.batch_norm(chainrule.ones(2, 4), chainrule.zeros(3), chainrule.ones(3))


def test_layer_norm_shape_mismatch():
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[4\], expected input with "
                       r"shape \[\*, 4\], but got input of size\[4, 3\]"):  # fmt: skip
        norm.layer_norm(chainrule.ones(4, 3), (4,))
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape"):
        norm.layer_norm(chainrule.ones(4, 3), (3,), chainrule.ones(4))


def test_group_norm_divisibility():
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        norm.group_norm(chainrule.ones(4, 6), 4)


def test_layer_norm_double_backward_reaches_statistics():
    """The second derivative flows through μ and σ (recomputed from x under create_graph)."""
    x = chainrule.randn(3, 5, dtype=chainrule.float64, requires_grad=True)
    (g,) = chainrule.autograd.grad((norm.layer_norm(x, (5,)) ** 3).sum(), x, create_graph=True)
    (gg,) = chainrule.autograd.grad(g.sum(), x)
    xt = torch.tensor(x.detach().numpy(), requires_grad=True)
    (gt,) = torch.autograd.grad((torch_F.layer_norm(xt, (5,)) ** 3).sum(), xt, create_graph=True)
    (ggt,) = torch.autograd.grad(gt.sum(), xt)
    np.testing.assert_allclose(gg.numpy(), ggt.numpy(), rtol=1e-8, atol=1e-10)
