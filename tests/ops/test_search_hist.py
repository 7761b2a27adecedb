"""nanquantile, quantile with NaN, histc and histogram against torch: op rows for the
differentiable ones, exact equality of counts and bin edges for the histograms (values on the
edges included)."""

import numpy as np
import pytest

import chainrule
from tests.opcheck import OpCase, params, run_case

torch = pytest.importorskip("torch")


def _distinct(shape):
    return lambda rng: [rng.permutation(int(np.prod(shape))).reshape(shape) * 0.37 - 2.0]


CASES = [
    OpCase("nanquantile", lambda m, x: m.nanquantile(x, 0.3), make=_distinct((3, 4))),
    OpCase(
        "nanquantile_dim_keepdim",
        lambda m, x: x.nanquantile(m.tensor([0.1, 0.75], dtype=x.dtype), dim=0, keepdim=True),
        make=_distinct((4, 3)),
    ),
    OpCase(
        "nanquantile_nearest",
        lambda m, x: m.nanquantile(x, 0.5, dim=-1, interpolation="nearest"),
        make=_distinct((2, 5)),
    ),
]


@pytest.mark.parametrize("case, sig, device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


def _with_nans():
    x = np.random.default_rng(0).standard_normal((3, 5, 4))
    x[0, 1, 2] = np.nan
    x[1, :, 0] = np.nan  # a row of NaN only
    x[2, 2, :] = np.nan
    return x


@pytest.mark.parametrize("fn", ["quantile", "nanquantile"])
@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (1, False), (-1, True)])
def test_quantiles_with_nan_match_torch(fn, interpolation, dim, keepdim):
    x = _with_nans()
    results = []
    for m in (chainrule, torch):
        t = m.tensor(x, requires_grad=True)
        q = m.tensor([0.0, 0.4, 1.0], dtype=m.float64)
        y = getattr(m, fn)(t, q, dim=dim, keepdim=keepdim, interpolation=interpolation)
        g = np.random.default_rng(1).standard_normal(tuple(y.shape))
        (y.nan_to_num() * m.tensor(g)).sum().backward()
        results.append((np.asarray(y.detach()), np.asarray(t.grad)))
    (a, ga), (b, gb) = results
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(ga, gb, rtol=1e-12)


def test_quantile_errors_and_autocast():
    with pytest.raises(RuntimeError, match="must be either float or double"):
        chainrule.nanquantile(chainrule.arange(4), 0.5)
    with pytest.raises(RuntimeError, match="same dtype"):
        chainrule.quantile(chainrule.ones(4), chainrule.tensor([0.5], dtype=chainrule.float64))
    with chainrule.autocast("cpu"):  # quantile is on autocast's float32 list
        y = chainrule.quantile(chainrule.ones(4, dtype=chainrule.bfloat16), 0.5)
    assert y.dtype == chainrule.float32


def _samples(dtype, trial):
    x = np.random.default_rng(trial).standard_normal(40).astype(dtype)
    x[:6] = np.round(x[:6] * 4) / 4  # values exactly on bin edges
    return x


HISTC_ARGS = [
    {"bins": 7},
    {"bins": 4, "min": -1, "max": 1},
    {"bins": 8, "min": -1.0, "max": 1.0},
    {"bins": 3, "min": 0.25, "max": 0.75},
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", HISTC_ARGS, ids=str)
def test_histc_matches_torch_exactly(dtype, kwargs):
    for trial in range(10):
        x = _samples(dtype, trial)
        ours = chainrule.histc(chainrule.tensor(x), **kwargs)
        theirs = torch.histc(torch.tensor(x), **kwargs)
        assert str(ours.dtype) == dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


HISTOGRAM_ARGS = {
    "data_range": lambda m, x: {"bins": 7},
    "range": lambda m, x: {"bins": 4, "range": (-1.0, 1.0)},
    "density": lambda m, x: {"bins": 8, "range": (-1, 1), "density": True},
    "weight": lambda m, x: {"bins": 5, "weight": m.tensor(np.abs(x))},
    "edges": lambda m, x: {"bins": m.tensor(np.array([-2, -0.5, 0, 0.25, 1.5], dtype=x.dtype))},
    "edges_density": lambda m, x: {
        "bins": m.tensor(np.array([-1, 0, 2], dtype=x.dtype)),
        "density": True,
    },
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(HISTOGRAM_ARGS))
def test_histogram_matches_torch(dtype, name):
    for trial in range(10):
        x = _samples(dtype, trial)
        ours = chainrule.histogram(chainrule.tensor(x), **HISTOGRAM_ARGS[name](chainrule, x))
        theirs = torch.histogram(torch.tensor(x), **HISTOGRAM_ARGS[name](torch, x))
        np.testing.assert_array_equal(ours.bin_edges.numpy(), theirs.bin_edges.numpy())
        np.testing.assert_allclose(ours.hist.numpy(), theirs.hist.numpy(), rtol=1e-6)
        assert str(ours.hist.dtype) == dtype


def test_histogram_degenerate_ranges_and_errors_follow_torch():
    ones = np.ones(3, np.float32)
    for m in (chainrule, torch):
        m_ones = m.tensor(ones)
        assert m.histc(m_ones, bins=4).tolist() == [0.0, 0.0, 3.0, 0.0]  # range [0, 2]
        assert m.histogram(m_ones, bins=4).bin_edges.tolist() == [0.5, 0.75, 1.0, 1.25, 1.5]
        assert m_ones.histc(2, 0, 1).tolist() == [0.0, 3.0]  # max is in the last bin
    with pytest.raises(RuntimeError, match="not implemented"):
        chainrule.histc(chainrule.arange(3))
    with pytest.raises(RuntimeError, match="max must be larger than min"):
        chainrule.histc(chainrule.ones(3), bins=3, min=3, max=1)
    with pytest.raises(RuntimeError, match="not finite"):
        chainrule.histc(chainrule.tensor([1.0, float("nan")]))
    assert not chainrule.histc(chainrule.ones(3, requires_grad=True)).requires_grad
