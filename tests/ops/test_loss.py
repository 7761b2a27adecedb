"""Op-table rows: the losses of chainrule.ops.loss (torch.nn.functional's), every reduction."""

import warnings

import numpy as np
import pytest

import chainrule
from chainrule.ops import loss as L
from tests.opcheck import OpCase, params, run_case
from tests.ops.test_reduce import check_double_backward_from_implicit_root, double_backward_params

REDUCTIONS = ("none", "mean", "sum")


def F(m):
    """The functional namespace of m: chainrule's losses or torch.nn.functional."""
    return L if m is chainrule else m.nn.functional


def loss(name, **kw):
    """fn(m, *inputs) = F(m).name(*inputs, **kw)."""
    return lambda m, *a: getattr(F(m), name)(*a, **kw)


def classes(n, c, spatial=(), ignore=None):
    """make(rng): logits (n, c, *spatial) and class indices (n, *spatial), some ignored."""

    def make(rng):
        x = rng.standard_normal((n, c, *spatial))
        t = rng.integers(0, c, (n, *spatial))
        if ignore is not None:
            t.reshape(-1)[::3] = ignore
        return [x, t]

    return make


def with_weight(make, c):
    return lambda rng: make(rng) + [rng.uniform(0.5, 2.0, c)]


def probs(shape, cdim=1):
    def make(rng):
        p = rng.uniform(0.1, 1.0, shape)
        return [rng.standard_normal(shape), p / p.sum(cdim, keepdims=True)]

    return make


def binary(shape, extra=()):
    """probabilities in (0.05, 0.95), targets in (0, 1), then extra weights of these shapes."""

    def make(rng):
        out = [rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)]
        return out + [rng.uniform(0.5, 2.0, s) for s in extra]

    return make


def signs(*shapes, target):
    """float inputs of these shapes and a ±1 target."""

    def make(rng):
        return [rng.standard_normal(s) for s in shapes] + [rng.choice([-1.0, 1.0], target)]

    return make


NO_TARGET_GRAD = (True, False)
PAIR = [((3, 4), (3, 4)), ((), ())]

CASES = []
for red in REDUCTIONS:
    CASES += [
        OpCase(f"mse_{red}", loss("mse_loss", reduction=red), shapes=PAIR),
        OpCase(f"l1_{red}", loss("l1_loss", reduction=red), shapes=PAIR),
        OpCase(f"smooth_l1_{red}", loss("smooth_l1_loss", reduction=red), shapes=PAIR),
        OpCase(f"huber_{red}", loss("huber_loss", reduction=red, delta=0.7), shapes=PAIR),
        OpCase(
            f"mse_weight_{red}",
            lambda m, x, t, w, red=red: F(m).mse_loss(x, t, reduction=red, weight=w),
            shapes=[((3, 4),) * 3],
        ),
        OpCase(
            f"l1_weight_{red}",
            lambda m, x, t, w, red=red: F(m).l1_loss(x, t, reduction=red, weight=w),
            shapes=[((3, 4),) * 3],
        ),
        OpCase(
            f"huber_weight_{red}",
            lambda m, x, t, w, red=red: F(m).huber_loss(x, t, red, 1.5, w),
            shapes=[((3, 4),) * 3],
        ),
        # class indices
        OpCase(
            f"cross_entropy_{red}",
            loss("cross_entropy", reduction=red),
            make=classes(4, 5),
            requires_grad=NO_TARGET_GRAD,
        ),
        OpCase(
            f"cross_entropy_weight_ignore_{red}",
            lambda m, x, t, w, red=red: F(m).cross_entropy(x, t, w, reduction=red),
            make=with_weight(classes(5, 4, ignore=-100), 4),
            requires_grad=(True, False, False),
        ),
        OpCase(
            f"cross_entropy_smoothing_{red}",
            loss("cross_entropy", reduction=red, label_smoothing=0.2, ignore_index=-1),
            make=classes(5, 4, ignore=-1),
            requires_grad=NO_TARGET_GRAD,
        ),
        OpCase(
            f"cross_entropy_smoothing_weight_{red}",
            lambda m, x, t, w, red=red: F(m).cross_entropy(
                x, t, w, reduction=red, label_smoothing=0.3
            ),
            make=with_weight(classes(5, 4, ignore=-100), 4),
            requires_grad=(True, False, False),
        ),
        OpCase(
            f"cross_entropy_spatial_{red}",
            lambda m, x, t, w, red=red: F(m).cross_entropy(
                x, t, w, reduction=red, label_smoothing=0.1
            ),
            make=with_weight(classes(2, 3, (2, 3), ignore=-100), 3),
            requires_grad=(True, False, False),
        ),
        OpCase(
            f"cross_entropy_probs_{red}",
            loss("cross_entropy", reduction=red),
            make=probs((3, 4)),
        ),
        OpCase(
            f"cross_entropy_probs_weight_smoothing_{red}",
            lambda m, x, t, w, red=red: F(m).cross_entropy(
                x, t, w, reduction=red, label_smoothing=0.25
            ),
            make=lambda rng: probs((2, 3, 2))(rng) + [rng.uniform(0.5, 2, 3)],
            requires_grad=(True, True, False),
        ),
        OpCase(
            f"nll_{red}",
            loss("nll_loss", reduction=red),
            make=classes(4, 5),
            requires_grad=NO_TARGET_GRAD,
        ),
        OpCase(
            f"nll_weight_ignore_{red}",
            lambda m, x, t, w, red=red: F(m).nll_loss(x, t, w, ignore_index=1, reduction=red),
            make=with_weight(classes(5, 3, ignore=1), 3),
            requires_grad=(True, False, False),
        ),
        OpCase(
            f"nll_spatial_{red}",
            lambda m, x, t, w, red=red: F(m).nll_loss(x, t, w, reduction=red),
            make=with_weight(classes(2, 3, (2, 2, 2), ignore=-100), 3),
            requires_grad=(True, False, False),
        ),
        # binary
        OpCase(f"bce_{red}", loss("binary_cross_entropy", reduction=red), make=binary((3, 4))),
        OpCase(
            f"bce_weight_{red}",
            lambda m, x, t, w, red=red: F(m).binary_cross_entropy(x, t, w, reduction=red),
            make=binary((3, 4), [(4,)]),
            requires_grad=(True, True, False),
        ),
        OpCase(
            f"bce_logits_{red}",
            loss("binary_cross_entropy_with_logits", reduction=red),
            shapes=[((3, 4), (3, 4)), ((), ())],
            domain=(-3, 3),
        ),
        OpCase(
            f"bce_logits_weights_{red}",
            lambda m, x, t, w, pw, red=red: F(m).binary_cross_entropy_with_logits(
                x, t, w, reduction=red, pos_weight=pw
            ),
            make=lambda rng: (
                [rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))]
                + [rng.uniform(0.5, 2, (3, 1)), rng.uniform(0.5, 3, (4,))]
            ),
            requires_grad=(True, True, False, False),  # torch: weights take no gradient
        ),
        # divergence, margins, ranking
        OpCase(
            f"kl_div_{red}",
            loss("kl_div", reduction=red),
            make=lambda rng: [np.log(probs((3, 4))(rng)[1]), probs((3, 4))(rng)[1]],
        ),
        OpCase(
            f"kl_div_log_target_{red}",
            loss("kl_div", reduction=red, log_target=True),
            make=lambda rng: [np.log(probs((3, 4))(rng)[1]), np.log(probs((3, 4))(rng)[1])],
        ),
        OpCase(
            f"cosine_embedding_{red}",
            loss("cosine_embedding_loss", reduction=red, margin=0.2),
            make=signs((4, 3), (4, 3), target=(4,)),
            requires_grad=(True, True, False),
        ),
        OpCase(
            f"margin_ranking_{red}",
            loss("margin_ranking_loss", reduction=red, margin=0.3),
            make=signs((5,), (5,), target=(5,)),
        ),
        OpCase(
            f"triplet_{red}",
            loss("triplet_margin_loss", reduction=red, margin=2.0),
            shapes=[((3, 4),) * 3],
        ),
        OpCase(
            f"soft_margin_{red}",
            loss("soft_margin_loss", reduction=red),
            make=signs((3, 4), target=(3, 4)),
            requires_grad=NO_TARGET_GRAD,
        ),
        OpCase(
            f"hinge_embedding_{red}",
            loss("hinge_embedding_loss", reduction=red, margin=1.5),
            make=signs((3, 4), target=(3, 4)),
            requires_grad=NO_TARGET_GRAD,
        ),
        OpCase(
            f"poisson_nll_{red}",
            loss("poisson_nll_loss", reduction=red),
            make=lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 3, (3, 4))],
        ),
        OpCase(
            f"gaussian_nll_{red}",
            loss("gaussian_nll_loss", reduction=red),
            make=lambda rng: (
                [rng.standard_normal((3, 4)) for _ in range(2)] + [rng.uniform(0.2, 2, (3, 4))]
            ),
        ),
        OpCase(
            f"multi_margin_{red}",
            loss("multi_margin_loss", reduction=red, margin=0.8),
            make=classes(4, 5),
            requires_grad=NO_TARGET_GRAD,
        ),
        OpCase(
            f"multilabel_margin_{red}",  # a repeated class counts twice, as in torch
            loss("multilabel_margin_loss", reduction=red),
            make=lambda rng: [
                rng.standard_normal((3, 4)),
                np.array([[3, 0, -1, 1], [1, 1, -1, 2], [0, 1, 2, 3]]),
            ],
            requires_grad=NO_TARGET_GRAD,
        ),
        OpCase(
            f"multilabel_soft_margin_{red}",
            loss("multilabel_soft_margin_loss", reduction=red),
            make=lambda rng: [rng.standard_normal((3, 4)), rng.integers(0, 2, (3, 4)) * 1.0],
            requires_grad=NO_TARGET_GRAD,
        ),
    ]

CASES += [
    # options that need one reduction only
    OpCase("smooth_l1_beta", loss("smooth_l1_loss", beta=0.4), shapes=PAIR),
    OpCase("smooth_l1_beta0", loss("smooth_l1_loss", beta=0.0), shapes=PAIR),
    OpCase("huber_delta_large", loss("huber_loss", delta=3.0), shapes=PAIR),
    OpCase("mse_legacy_sum", loss("mse_loss", size_average=False), shapes=PAIR),
    OpCase("l1_legacy_none", loss("l1_loss", reduce=False), shapes=PAIR),
    OpCase(
        "cross_entropy_1d",
        loss("cross_entropy", reduction="none", label_smoothing=0.1),
        make=lambda rng: [rng.standard_normal(5), np.array(3)],
        requires_grad=NO_TARGET_GRAD,
    ),
    OpCase(
        "cross_entropy_1d_mean",
        loss("cross_entropy"),
        make=lambda rng: [rng.standard_normal(5), np.array(0)],
        requires_grad=NO_TARGET_GRAD,
    ),
    OpCase("cross_entropy_probs_1d", loss("cross_entropy"), make=probs((5,), 0)),
    OpCase(
        "cross_entropy_spatial_3d",
        loss("cross_entropy", ignore_index=2),
        make=classes(2, 3, (2, 1, 2)),
        requires_grad=NO_TARGET_GRAD,
    ),
    OpCase(
        "cross_entropy_large_logits",
        lambda m, x, t: F(m).cross_entropy(x * 60, t, label_smoothing=0.1),
        make=classes(4, 5),
        requires_grad=NO_TARGET_GRAD,
        parity_rtol32=1e-3,
    ),
    OpCase(
        "cross_entropy_uint8_target",
        loss("cross_entropy"),
        make=lambda rng: [rng.standard_normal((4, 3)), rng.integers(0, 3, 4).astype(np.uint8)],
        requires_grad=NO_TARGET_GRAD,
    ),
    OpCase(
        "nll_1d",
        loss("nll_loss", reduction="none"),
        make=lambda rng: [rng.standard_normal(5), np.array(1)],
        requires_grad=NO_TARGET_GRAD,
    ),
    OpCase(
        "bce_logits_large",
        loss("binary_cross_entropy_with_logits"),
        shapes=[((3, 4), (3, 4))],
        domain=(-60, 60),
    ),
    OpCase(
        "bce_logits_at_zero",  # the |x| form's kink would give slope -t here instead of 1/2 - t
        loss("binary_cross_entropy_with_logits", reduction="sum"),
        make=lambda rng: [np.zeros(4), rng.uniform(0, 1, 4)],
    ),
    OpCase(
        "kl_div_zero_targets",  # xlogy: 0 ln 0 = 0
        loss("kl_div", reduction="sum"),
        make=lambda rng: [rng.standard_normal((2, 3)), np.array([[0.0, 0.5, 0.5], [1, 0, 0]])],
        requires_grad=NO_TARGET_GRAD,
    ),
    # saturated probabilities: PyTorch clamps the log at -100 and x(1 - x) at 1e-12
    OpCase(
        "bce_saturated",
        loss("binary_cross_entropy", reduction="sum"),
        make=lambda rng: [np.array([0.0, 1.0, 0.0, 1.0, 0.5]), np.array([0.0, 1.0, 1.0, 0.0, 1])],
        gradcheck=False,
    ),
    OpCase(
        "kl_div_batchmean_legacy",
        loss("kl_div", size_average=False),
        make=lambda rng: [np.log(probs((3, 4))(rng)[1]), probs((3, 4))(rng)[1]],
    ),
    OpCase(
        "kl_div_batchmean",
        loss("kl_div", reduction="batchmean"),
        make=lambda rng: [np.log(probs((3, 4))(rng)[1]), probs((3, 4))(rng)[1]],
    ),
    OpCase(
        "kl_div_batchmean_log_target",
        loss("kl_div", reduction="batchmean", log_target=True),
        make=lambda rng: [rng.standard_normal((2, 3)), rng.standard_normal((2, 3))],
    ),
    OpCase(
        "cosine_embedding_1d",
        loss("cosine_embedding_loss", margin=-0.5),
        make=signs((4,), (4,), target=()),
        requires_grad=(True, True, False),
    ),
    OpCase(
        "cosine_embedding_margin0",
        loss("cosine_embedding_loss", reduction="none"),
        make=signs((5, 3), (5, 3), target=(5,)),
        requires_grad=(True, True, False),
    ),
    OpCase(
        "margin_ranking_0d", loss("margin_ranking_loss", margin=0.1), make=signs((), (), target=())
    ),
    OpCase("triplet_swap", loss("triplet_margin_loss", swap=True), shapes=[((4, 3),) * 3]),
    OpCase("triplet_p1", loss("triplet_margin_loss", p=1, margin=3.0), shapes=[((3, 4),) * 3]),
    OpCase(
        "triplet_p3_eps",
        loss("triplet_margin_loss", p=3, eps=0.1, margin=2.0),
        shapes=[((4,),) * 3],
    ),
    OpCase(
        "pairwise_distance", loss("pairwise_distance"), shapes=[((3, 4), (3, 4)), ((3, 4), (4,))]
    ),
    OpCase(
        "pairwise_distance_p1_keepdim",
        loss("pairwise_distance", p=1.0, eps=0.0, keepdim=True),
        shapes=[((2, 3, 4), (2, 3, 4))],
    ),
    OpCase(
        "poisson_nll_rate_full",
        loss("poisson_nll_loss", log_input=False, full=True),
        make=lambda rng: [rng.uniform(0.2, 3, (3, 4)), rng.uniform(0, 4, (3, 4))],
    ),
    OpCase(
        "poisson_nll_full",
        loss("poisson_nll_loss", full=True, reduction="sum"),
        make=lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 4, (3, 4))],
    ),
    OpCase(
        "gaussian_nll_homoscedastic",
        loss("gaussian_nll_loss", full=True),
        make=lambda rng: (
            [rng.standard_normal((3, 4)) for _ in range(2)] + [rng.uniform(0.2, 2, (3,))]
        ),
    ),
    OpCase(
        "gaussian_nll_broadcast_var",
        loss("gaussian_nll_loss", reduction="sum"),
        make=lambda rng: (
            [rng.standard_normal((2, 3, 2)) for _ in range(2)] + [rng.uniform(0.2, 2, (2, 1, 2))]
        ),
    ),
    OpCase(
        "gaussian_nll_var_below_eps",
        loss("gaussian_nll_loss", eps=0.5),
        gradcheck=False,  # PyTorch clamps var under no_grad: its gradient ignores the clamp
        make=lambda rng: (
            [rng.standard_normal((3, 4)) for _ in range(2)] + [rng.uniform(0.1, 1.0, (3, 4))]
        ),
    ),
    OpCase(
        "gaussian_nll_float_var",
        lambda m, x, t: F(m).gaussian_nll_loss(x, t, 0.7),
        shapes=[((3, 4), (3, 4))],
    ),
    OpCase(
        "multi_margin_p2_weight",
        lambda m, x, t, w: F(m).multi_margin_loss(x, t, p=2, weight=w, reduction="none"),
        make=with_weight(classes(4, 5), 5),
        requires_grad=(True, False, False),
    ),
    OpCase(
        "multi_margin_1d",
        loss("multi_margin_loss"),
        make=lambda rng: [rng.standard_normal(4), np.array(2)],
        requires_grad=NO_TARGET_GRAD,
    ),
    OpCase(
        "multilabel_margin_1d",
        loss("multilabel_margin_loss"),
        make=lambda rng: [rng.standard_normal(4), np.array([3, 0, -1, 1])],
        requires_grad=NO_TARGET_GRAD,
    ),
    OpCase(
        "multilabel_soft_margin_weight",
        loss("multilabel_soft_margin_loss"),
        make=lambda rng: (
            [rng.standard_normal((3, 4)), rng.integers(0, 2, (3, 4)) * 1.0]
            + [rng.uniform(0.5, 2, (4,))]
        ),
        requires_grad=(True, False, False),
    ),
    OpCase(
        "one_hot",
        loss("one_hot", num_classes=5),
        make=lambda rng: [rng.integers(0, 5, (2, 3))],
        requires_grad=(False,),
    ),
    OpCase(
        "one_hot_inferred",
        loss("one_hot"),
        make=lambda rng: [rng.integers(0, 4, (6,))],
        requires_grad=(False,),
    ),
]


@pytest.fixture(autouse=True)
def _quiet_legacy_warnings():
    """kl_div 'mean' and the legacy size_average/reduce args warn on both sides."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


@pytest.mark.parametrize("case,sig,device", double_backward_params(CASES))
def test_double_backward_from_implicit_root(case, sig, device):
    check_double_backward_from_implicit_root(case, sig, device)


# ---------------------------------------------------------------- errors and warnings for people
def _t(a, **kw):
    return chainrule.tensor(a, **kw)


@pytest.mark.parametrize(
    "x_shape,target,error,message",
    [
        (
            (2, 5, 4),
            np.zeros((2, 5), int),
            RuntimeError,
            r"Expected target size \[2, 4\], got \[2, 5\]",
        ),
        (
            (2, 5),
            np.zeros(3, int),
            ValueError,
            r"input batch_size \(2\) to match target batch_size \(3\)",
        ),
        ((2, 5), np.zeros((2, 3), int), RuntimeError, "multi-target not supported"),
        (
            (2, 5),
            np.array([1, 7]),
            IndexError,
            r"Target 7 is out of bounds.*\[0, 4\] for 5 classes",
        ),
        ((2, 5), np.array([1, -3]), IndexError, "Target -3 is out of bounds"),
        (
            (2, 5),
            np.array([1.0, 2.0]),
            RuntimeError,
            r"Long or Byte, but got Double.*target.long\(\)",
        ),
        (
            (2, 5),
            np.zeros((2, 5), int),
            RuntimeError,
            "floating point type for target with class prob",
        ),
        ((5,), np.array([1, 2]), RuntimeError, "a 1-D input .* takes a 0-d class index target"),
    ],
)
def test_class_target_errors_name_the_shapes_and_the_fix(x_shape, target, error, message):
    x = chainrule.zeros(*x_shape)
    for fn in (L.cross_entropy, lambda a, b: L.nll_loss(a.log_softmax(1 if a.ndim > 1 else 0), b)):
        if "class prob" in message and fn is not L.cross_entropy:
            continue
        with pytest.raises(error, match=message):
            fn(x, _t(target))


def test_class_weight_of_the_wrong_size_and_bad_smoothing():
    x, t = chainrule.zeros(2, 5), _t([1, 2])
    with pytest.raises(RuntimeError, match="for all 5 classes or no classes.*shape: \\[4\\]"):
        L.cross_entropy(x, t, weight=chainrule.ones(4))
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument 'weight'"):
        L.nll_loss(x, t, weight=chainrule.ones(5, requires_grad=True))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        L.cross_entropy(x, t, label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point"):
        L.cross_entropy(x, chainrule.zeros(2, 5), ignore_index=1)


def test_ignored_targets_may_be_out_of_range_and_all_ignored_mean_is_nan_as_torch():
    x = chainrule.randn(3, 4, requires_grad=True)
    t = _t([-100, 2, -100])
    y = L.cross_entropy(x, t, reduction="none")
    assert y.tolist()[0] == 0.0 and y.tolist()[2] == 0.0
    y = L.cross_entropy(x, _t([-100, -100, -100]))
    assert np.isnan(y.item())
    with pytest.raises(IndexError, match="ignore_index=-1"):
        L.cross_entropy(x, _t([-100, 2, 0]), ignore_index=-1)


def test_invalid_reduction_is_a_value_error():
    x = chainrule.zeros(3)
    for fn in (L.mse_loss, L.l1_loss, L.binary_cross_entropy_with_logits, L.kl_div):
        with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
            fn(x, x, reduction="foo")
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        L.cross_entropy(chainrule.zeros(2, 3), _t([0, 1]), reduction="foo")


def test_regression_losses_warn_about_broadcasting_targets_like_torch():
    x, t = chainrule.zeros(3, 1), chainrule.zeros(3)
    for fn in (L.mse_loss, L.l1_loss, L.smooth_l1_loss, L.huber_loss):
        with pytest.warns(UserWarning, match="target size .*3.* different to the input size"):
            assert tuple(fn(x, t, reduction="none").shape) == (3, 3)


def test_binary_cross_entropy_checks_its_probabilities_and_sizes():
    with pytest.raises(RuntimeError, match="between 0 and 1.*binary_cross_entropy_with_logits"):
        L.binary_cross_entropy(_t([0.5, 1.5]), _t([0.0, 1.0]))
    with pytest.raises(ValueError, match="different to the input size"):
        L.binary_cross_entropy(_t([0.5, 0.5]), _t([1.0]))
    with pytest.raises(RuntimeError, match=r"weight of size \[5\] does not broadcast"):
        L.binary_cross_entropy(_t([0.5, 0.5]), _t([1.0, 0.0]), weight=chainrule.ones(5))
    with pytest.raises(ValueError, match="must be the same as input size"):
        L.binary_cross_entropy_with_logits(_t([0.5, 0.5]), _t([1.0]))


def test_kl_div_mean_warns_that_batchmean_is_the_kl_divergence():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        L.kl_div(chainrule.zeros(2, 3), chainrule.ones(2, 3))


def test_stable_forms_stay_finite_in_float32():
    x = _t([[1000.0, -1000.0, 0.0]], requires_grad=True)
    y = L.cross_entropy(x, _t([1]))
    y.backward()
    assert np.isclose(y.item(), 2000.0) and np.isfinite(x.grad.numpy()).all()
    z = _t([200.0, -200.0], requires_grad=True)
    b = L.binary_cross_entropy_with_logits(z, _t([0.0, 1.0]), reduction="sum")
    b.backward()
    assert np.isclose(b.item(), 400.0) and z.grad.tolist() == [1.0, -1.0]


def test_cross_entropy_gradient_at_logit_zero_is_softmax_minus_onehot():
    x = chainrule.zeros(1, 4, requires_grad=True)
    L.cross_entropy(x, _t([2])).backward()
    assert np.allclose(x.grad.numpy(), [[0.25, 0.25, -0.75, 0.25]])


def test_one_hot_errors():
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        L.one_hot(_t([1, 5]), 3)
    with pytest.raises(RuntimeError, match="Class values must be non-negative"):
        L.one_hot(_t([1, -1]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_hessian_vector_product_matches_torch(reduction):
    """Double backward through the primitive (create_graph with an implicit root), against
    torch's on the same logits, weights, ignored targets and smoothing."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((4, 3)), np.array([0, 2, -100, 1])
    w, v = rng.uniform(0.5, 2, 3), rng.standard_normal((4, 3))
    hvps = []
    for m in (chainrule, torch):
        xs = m.tensor(x, requires_grad=True)
        y = F(m).cross_entropy(
            xs, m.tensor(t), m.tensor(w), reduction=reduction, label_smoothing=0.2
        )
        (g,) = m.autograd.grad(y.sum(), xs, create_graph=True)
        (h,) = m.autograd.grad((g * m.tensor(v)).sum(), xs)
        hvps.append(h.detach().numpy())
    assert np.allclose(hvps[0], hvps[1], rtol=1e-7, atol=1e-10)
