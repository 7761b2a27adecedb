"""Layer-table rows: the loss modules against torch.nn's, with weights carried by state_dict."""

import sys
import warnings

import numpy as np
import pytest

import chainrule
import chainrule.nn  # noqa: F401  (binds chainrule.nn for modcheck)
from chainrule.ops import loss as L
from tests.nn.modcheck import ModuleCase, params, run_module_case

try:
    import torch
except ImportError:
    torch = None


def lib(nn):
    """chainrule for chainrule.nn, torch for torch.nn."""
    return sys.modules[nn.__name__.rsplit(".", 1)[0]]


def weights(nn, *values):
    return lib(nn).tensor(np.asarray(values, dtype=np.float32))


def classes(n, c, spatial=(), ignore=None):
    def make(rng):
        t = rng.integers(0, c, (n, *spatial))
        if ignore is not None:
            t.reshape(-1)[::3] = ignore
        return [rng.standard_normal((n, c, *spatial)), t]

    return make


def pair(shape):
    return lambda rng: [rng.standard_normal(shape), rng.standard_normal(shape)]


def signs(*shapes, target):
    return lambda rng: [rng.standard_normal(s) for s in shapes] + [rng.choice([-1.0, 1.0], target)]


def unit(shape):
    return lambda rng: [rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)]


def log_probs(shape):
    def make(rng):
        p, q = rng.uniform(0.1, 1, shape), rng.uniform(0.1, 1, shape)
        return [np.log(p / p.sum(-1, keepdims=True)), q / q.sum(-1, keepdims=True)]

    return make


NO_TARGET_GRAD = (True, False)

CASES = [
    ModuleCase("mse", lambda nn: nn.MSELoss(), make_inputs=pair((3, 4))),
    ModuleCase("mse_sum", lambda nn: nn.MSELoss(reduction="sum"), make_inputs=pair((3, 4))),
    ModuleCase("mse_legacy_none", lambda nn: nn.MSELoss(reduce=False), make_inputs=pair((3, 4))),
    ModuleCase("l1", lambda nn: nn.L1Loss(reduction="none"), make_inputs=pair((3, 4))),
    ModuleCase("l1_legacy_sum", lambda nn: nn.L1Loss(size_average=False), make_inputs=pair((5,))),
    ModuleCase("smooth_l1", lambda nn: nn.SmoothL1Loss(beta=0.5), make_inputs=pair((3, 4))),
    ModuleCase("huber", lambda nn: nn.HuberLoss("sum", delta=0.8), make_inputs=pair((3, 4))),
    ModuleCase(
        "cross_entropy",
        lambda nn: nn.CrossEntropyLoss(),
        make_inputs=classes(4, 5),
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase(
        "cross_entropy_weight_smoothing",
        lambda nn: nn.CrossEntropyLoss(
            weights(nn, 0.5, 2.0, 1.0), ignore_index=-1, label_smoothing=0.2
        ),
        make_inputs=classes(5, 3, ignore=-1),
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase(
        "cross_entropy_spatial_none",
        lambda nn: nn.CrossEntropyLoss(weights(nn, 0.5, 2.0, 1.0), reduction="none"),
        make_inputs=classes(2, 3, (2, 2), ignore=-100),
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase(
        "cross_entropy_probs",
        lambda nn: nn.CrossEntropyLoss(label_smoothing=0.1),
        make_inputs=log_probs((3, 4)),
    ),
    ModuleCase(
        "nll_weight_ignore",
        lambda nn: nn.NLLLoss(weights(nn, 1.0, 3.0, 0.5, 2.0), ignore_index=2),
        make_inputs=classes(6, 4),
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase(
        "nll_legacy_sum",
        lambda nn: nn.NLLLoss(size_average=False),
        make_inputs=classes(4, 3),
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase("bce", lambda nn: nn.BCELoss(), make_inputs=unit((3, 4))),
    ModuleCase(
        "bce_weight",
        lambda nn: nn.BCELoss(weights(nn, 1.0, 2.0, 0.5, 1.5), reduction="sum"),
        make_inputs=unit((3, 4)),
    ),
    ModuleCase(
        "bce_logits_pos_weight",
        lambda nn: nn.BCEWithLogitsLoss(
            weights(nn, [2.0], [1.0], [0.5]), pos_weight=weights(nn, 1.0, 3.0, 0.5, 2.0)
        ),
        make_inputs=pair((3, 4)),
    ),
    ModuleCase("bce_logits", lambda nn: nn.BCEWithLogitsLoss(), make_inputs=pair((3, 4))),
    ModuleCase(
        "kl_div_batchmean",
        lambda nn: nn.KLDivLoss(reduction="batchmean"),
        make_inputs=log_probs((3, 4)),
    ),
    ModuleCase(
        "kl_div_log_target",
        lambda nn: nn.KLDivLoss(reduction="sum", log_target=True),
        make_inputs=lambda rng: [np.log(x) for x in log_probs((2, 3))(rng)[1:]] * 2,
    ),
    ModuleCase(
        "cosine_embedding",
        lambda nn: nn.CosineEmbeddingLoss(margin=0.1),
        make_inputs=signs((4, 3), (4, 3), target=(4,)),
        requires_grad=(True, True, False),
    ),
    ModuleCase(
        "margin_ranking",
        lambda nn: nn.MarginRankingLoss(margin=0.2, reduction="none"),
        make_inputs=signs((5,), (5,), target=(5,)),
    ),
    ModuleCase(
        "triplet",
        lambda nn: nn.TripletMarginLoss(margin=1.5, p=1.0, swap=True),
        make_inputs=lambda rng: [rng.standard_normal((3, 4)) for _ in range(3)],
    ),
    ModuleCase(
        "soft_margin",
        lambda nn: nn.SoftMarginLoss(),
        make_inputs=signs((3, 4), target=(3, 4)),
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase(
        "hinge_embedding",
        lambda nn: nn.HingeEmbeddingLoss(margin=0.5),
        make_inputs=signs((3, 4), target=(3, 4)),
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase(
        "poisson_nll",
        lambda nn: nn.PoissonNLLLoss(full=True),
        make_inputs=lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 4, (3, 4))],
    ),
    ModuleCase(
        "gaussian_nll",
        lambda nn: nn.GaussianNLLLoss(full=True, reduction="sum"),
        make_inputs=lambda rng: (
            [rng.standard_normal((3, 4)) for _ in range(2)] + [rng.uniform(0.2, 2, (3, 1))]
        ),
    ),
    ModuleCase(
        "multi_margin",
        lambda nn: nn.MultiMarginLoss(p=2, margin=0.5, weight=weights(nn, 1.0, 2.0, 0.5, 1.0)),
        make_inputs=classes(3, 4),
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase(
        "multilabel_margin",
        lambda nn: nn.MultiLabelMarginLoss(reduction="sum"),
        make_inputs=lambda rng: [rng.standard_normal((2, 3)), np.array([[2, -1, 0], [0, 1, -1]])],
        requires_grad=NO_TARGET_GRAD,
    ),
    ModuleCase(
        "multilabel_soft_margin",
        lambda nn: nn.MultiLabelSoftMarginLoss(weights(nn, 1.0, 2.0, 0.5, 1.0)),
        make_inputs=lambda rng: [rng.standard_normal((3, 4)), rng.integers(0, 2, (3, 4)) * 1.0],
        requires_grad=NO_TARGET_GRAD,
    ),
]


for _case in CASES:
    _case.modes = ("train",)  # a loss has no train/eval behaviour: one mode is enough
del _case


@pytest.fixture(autouse=True)
def _quiet_legacy_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


@pytest.mark.parametrize("case,dtype,mode", params(CASES))
def test_loss_module(case, dtype, mode):
    run_module_case(case, dtype, mode)


# ------------------------------------------------------------------ module API beyond the math
def test_weight_buffers_have_pytorchs_state_dict_keys():
    w = chainrule.tensor([1.0, 2.0])
    assert list(chainrule.nn.CrossEntropyLoss(w).state_dict()) == ["weight"]
    assert list(chainrule.nn.CrossEntropyLoss().state_dict()) == []
    both = chainrule.nn.BCEWithLogitsLoss(w, pos_weight=w)
    assert list(both.state_dict()) == ["weight", "pos_weight"]
    assert list(chainrule.nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert list(chainrule.nn.NLLLoss(w).buffers())[0] is w
    assert list(chainrule.nn.MSELoss().parameters()) == []


def test_legacy_size_average_and_reduce_map_to_reduction_with_a_warning():
    for kwargs, reduction in [
        ({"size_average": False}, "sum"),
        ({"reduce": False}, "none"),
        ({"size_average": True, "reduce": True}, "mean"),
        ({"size_average": True, "reduce": False}, "none"),
    ]:
        with pytest.warns(UserWarning, match=f"please use reduction='{reduction}' instead"):
            assert chainrule.nn.MSELoss(**kwargs).reduction == reduction
        if torch is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert torch.nn.MSELoss(**kwargs).reduction == reduction


def test_repr_and_attributes_match_pytorch():
    m = chainrule.nn.CrossEntropyLoss(ignore_index=3, label_smoothing=0.1)
    assert repr(m) == "CrossEntropyLoss()"
    assert (m.ignore_index, m.label_smoothing, m.reduction, m.weight) == (3, 0.1, "mean", None)
    t = chainrule.nn.TripletMarginLoss(margin=2.0, p=1.0, swap=True)
    assert (t.margin, t.p, t.eps, t.swap) == (2.0, 1.0, 1e-6, True)


def test_bad_constructor_arguments_raise_like_pytorch():
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        chainrule.nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        chainrule.nn.TripletMarginLoss(margin=0.0)


def test_weight_follows_module_to_dtype():
    m = chainrule.nn.CrossEntropyLoss(chainrule.tensor([1.0, 2.0, 3.0])).to(chainrule.float64)
    assert m.weight.dtype == chainrule.float64
    x = chainrule.randn(4, 3, dtype=chainrule.float64, requires_grad=True)
    y = m(x, chainrule.tensor([0, 1, 2, 1]))
    assert y.dtype == chainrule.float64
    assert np.isclose(y.item(), L.cross_entropy(x, chainrule.tensor([0, 1, 2, 1]), m.weight).item())
