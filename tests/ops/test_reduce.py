"""Op-table rows: reductions (sum, mean, prod, var/std, max/min, logsumexp, norms, cumulative)."""

import math

import numpy as np
import pytest

import chainrule
from tests.opcheck import OpCase, _grad_mask, _inputs, _to_chainrule, params, run_case, torch

INF = math.inf
# p-norms other than 1, 2 and inf differentiate |x|^p, whose double backward needs Tensor ** (pow,
# from the elementwise family)
POW = hasattr(chainrule, "pow")


def _ties(rng):
    """Rows with tied maxima and minima, and a constant row."""
    return [np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 1.0, 2.0], [-1.0, -1.0, -1.0, -1.0]])]


def _zeros(rng):
    """Slices with no, one, two and three zeros (prod and cumprod gradients at 0)."""
    x = rng.uniform(0.5, 1.5, (4, 5)) * rng.choice([-1.0, 1.0], (4, 5))
    x[1, 2] = 0.0
    x[2, [0, 3]] = 0.0
    x[3, [1, 2, 4]] = 0.0
    return [x]


def _nans(rng):
    x = rng.uniform(-2, 2, (3, 5))
    x[0, 1] = x[2, [0, 4]] = np.nan
    return [x]


def _away_from_zero(rng):
    return [rng.uniform(0.3, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))]


def _zero_row(rng):
    x = rng.uniform(-2, 2, (3, 4))
    x[1] = 0.0
    return [x]


def _ints(rng):
    return [rng.integers(-4, 5, (3, 4))]


def _vector_norm(m):
    return m.linalg.vector_norm if m is torch else m.vector_norm


def _no_grad(name, fn, make, **kw):
    return OpCase(name, fn, make=make, requires_grad=(False,), **kw)


CASES = [
    # sum
    OpCase("sum", shapes=[(3, 4), (), (2, 3, 4)]),
    OpCase("sum_dim", lambda m, x: m.sum(x, 1), shapes=[(3, 4)]),
    OpCase("sum_neg_keepdim", lambda m, x: x.sum(dim=-1, keepdim=True), shapes=[(3, 4), (2, 3, 4)]),
    OpCase("sum_tuple", lambda m, x: x.sum(dim=(0, 2)), shapes=[(2, 3, 4)]),
    OpCase("sum_list_neg", lambda m, x: x.sum([-1, 0], keepdim=True), shapes=[(2, 3, 4)]),
    OpCase("sum_0d_dim", lambda m, x: x.sum(0), shapes=[()]),
    OpCase("sum_0d_dim_keepdim", lambda m, x: x.sum(-1, keepdim=True), shapes=[()]),
    OpCase("sum_dtype", lambda m, x: x.sum(1, dtype=m.float64), shapes=[(3, 4)]),
    _no_grad("sum_int", lambda m, x: x.sum(1), _ints),
    _no_grad("sum_bool", lambda m, x: x.sum(), lambda rng: [rng.uniform(size=(3, 4)) > 0.5]),
    # mean, nansum, nanmean
    OpCase("mean", shapes=[(3, 4), ()]),
    OpCase("mean_dim", lambda m, x: x.mean(-1, keepdim=True), shapes=[(3, 4), (2, 3, 4)]),
    OpCase("mean_tuple", lambda m, x: m.mean(x, (0, -1)), shapes=[(2, 3, 4)]),
    OpCase("mean_dtype", lambda m, x: x.mean(0, dtype=m.float64), shapes=[(3, 4)]),
    _no_grad("mean_int_dtype", lambda m, x: x.mean(dtype=m.float64), _ints),
    OpCase("nansum", lambda m, x: m.nansum(x, 1), make=_nans),
    OpCase("nansum_all", lambda m, x: m.nansum(x), make=_nans),
    OpCase("nanmean", lambda m, x: m.nanmean(x, -1, keepdim=True), make=_nans),
    # prod: the gradient where elements are 0 is the product of the others
    OpCase("prod", shapes=[(3, 4), (), (5,)], domain=(0.5, 1.5)),
    OpCase("prod_dim", lambda m, x: x.prod(1), shapes=[(3, 4)], domain=(-1.5, 1.5)),
    OpCase("prod_neg_keepdim", lambda m, x: x.prod(-2, keepdim=True), shapes=[(2, 3, 4)]),
    OpCase("prod_0d_dim", lambda m, x: x.prod(0), shapes=[()]),
    OpCase("prod_zeros_dim", lambda m, x: x.prod(1), make=_zeros),
    OpCase("prod_zeros_dim0", lambda m, x: x.prod(0, keepdim=True), make=_zeros),
    OpCase("prod_one_zero_all", lambda m, x: x[1].prod(), make=_zeros),
    OpCase("prod_two_zeros_all", lambda m, x: x[2].prod(), make=_zeros),
    OpCase("prod_zeros_all", lambda m, x: x.prod(), make=_zeros),
    _no_grad("prod_int", lambda m, x: x.prod(0), _ints),
    # var, std
    OpCase("var", shapes=[(3, 4), (5,)]),
    OpCase("var_dim", lambda m, x: x.var(1), shapes=[(3, 4)]),
    OpCase(
        "var_correction0", lambda m, x: m.var(x, -1, correction=0, keepdim=True), shapes=[(3, 4)]
    ),
    OpCase("var_correction2", lambda m, x: m.var(x, (0, 2), correction=2), shapes=[(2, 3, 4)]),
    OpCase("var_unbiased_false", lambda m, x: x.var(0, False), shapes=[(3, 4)]),
    OpCase("var_legacy_bool", lambda m, x: m.var(x, False), shapes=[(3, 4)]),
    OpCase("var_0d", lambda m, x: m.var(x, correction=0), shapes=[()]),
    OpCase("std", shapes=[(3, 4), (5,)]),
    OpCase("std_dim", lambda m, x: x.std(-1, keepdim=True), shapes=[(3, 4), (2, 3, 4)]),
    OpCase("std_correction0", lambda m, x: m.std(x, (0, 1), correction=0), shapes=[(2, 3, 4)]),
    OpCase("std_constant_row", lambda m, x: x.std(1), make=_ties, gradcheck=False),
    OpCase("var_mean", lambda m, x: m.var_mean(x, 1), shapes=[(3, 4)]),
    OpCase("std_mean", lambda m, x: m.std_mean(x, -1, keepdim=True), shapes=[(3, 4)]),
    # max, min and friends
    OpCase("max", shapes=[(3, 4), (), (5,)]),
    OpCase("min", shapes=[(3, 4), ()]),
    OpCase("max_dim", lambda m, x: m.max(x, 1), shapes=[(3, 4), (2, 3, 4)]),
    OpCase("max_dim_neg_keepdim", lambda m, x: x.max(dim=-1, keepdim=True), shapes=[(2, 3, 4)]),
    OpCase("max_dim_0d", lambda m, x: x.max(0), shapes=[()]),
    OpCase("min_dim", lambda m, x: x.min(0), shapes=[(3, 4)]),
    OpCase("min_dim_keepdim", lambda m, x: m.min(x, -2, True), shapes=[(2, 3, 4)]),
    OpCase("max_values", lambda m, x: x.max(1).values * 2, shapes=[(3, 4)]),
    OpCase("amax", lambda m, x: m.amax(x, (0, -1)), shapes=[(2, 3, 4)]),
    OpCase("amax_all", lambda m, x: x.amax(), shapes=[(3, 4)]),
    OpCase("amax_keepdim", lambda m, x: x.amax(1, keepdim=True), shapes=[(3, 4)]),
    OpCase("amin", lambda m, x: m.amin(x, -1), shapes=[(3, 4), ()]),
    OpCase("aminmax", lambda m, x: m.aminmax(x, dim=1), shapes=[(3, 4)]),
    OpCase("aminmax_all", lambda m, x: m.aminmax(x), shapes=[(3, 4)]),
    # ties: PyTorch's convention only (full reductions and amax share, dim reductions pick one)
    OpCase("max_ties", lambda m, x: x.max(), make=_ties, gradcheck=False),
    OpCase("min_ties", lambda m, x: m.min(x), make=_ties, gradcheck=False),
    OpCase("max_dim_ties", lambda m, x: x.max(1), make=_ties, gradcheck=False),
    OpCase("min_dim_ties", lambda m, x: x.min(1), make=_ties, gradcheck=False),
    OpCase("amax_ties", lambda m, x: x.amax(1), make=_ties, gradcheck=False),
    OpCase("amin_ties", lambda m, x: x.amin(-1, keepdim=True), make=_ties, gradcheck=False),
    OpCase("aminmax_ties", lambda m, x: m.aminmax(x, dim=1), make=_ties, gradcheck=False),
    OpCase("median_ties", lambda m, x: x[:2].median(), make=_ties, gradcheck=False),
    _no_grad("argmax", lambda m, x: m.argmax(x), lambda rng: [rng.uniform(size=(3, 4))]),
    _no_grad("argmax_dim", lambda m, x: x.argmax(1), lambda rng: [rng.uniform(size=(3, 4))]),
    _no_grad(
        "argmax_keepdim",
        lambda m, x: x.argmax(-1, keepdim=True),
        lambda rng: [rng.uniform(size=(3, 4))],
    ),
    _no_grad(
        "argmax_none_keepdim",
        lambda m, x: x.argmax(keepdim=True),
        lambda rng: [rng.uniform(size=(3, 4))],
    ),
    _no_grad("argmin_dim", lambda m, x: m.argmin(x, 0), lambda rng: [rng.uniform(size=(3, 4))]),
    _no_grad("argmax_ties", lambda m, x: x.argmax(1), _ties),
    _no_grad("argmin_int", lambda m, x: x.argmin(), _ints),
    # median
    OpCase("median", lambda m, x: x.median(), shapes=[(5,), (3, 4)]),
    OpCase("median_dim", lambda m, x: m.median(x, 1), shapes=[(3, 5), (3, 4)]),
    OpCase("median_dim_keepdim", lambda m, x: x.median(-1, keepdim=True), shapes=[(2, 3, 4)]),
    OpCase("nanmedian_dim", lambda m, x: x.nanmedian(1), make=_nans),
    OpCase("nanmedian", lambda m, x: x.nanmedian(), make=_nans),
    OpCase("nanmedian_ties", lambda m, x: x[:2].nanmedian(), make=_ties, gradcheck=False),
    # logsumexp
    OpCase("logsumexp", lambda m, x: m.logsumexp(x, 1), shapes=[(3, 4)]),
    OpCase("logsumexp_tuple", lambda m, x: x.logsumexp((0, -1), keepdim=True), shapes=[(2, 3, 4)]),
    OpCase("logsumexp_0d", lambda m, x: x.logsumexp(0), shapes=[()]),
    OpCase("logsumexp_large", lambda m, x: x.logsumexp(-1), shapes=[(3, 4)], domain=(80, 120)),
    _no_grad("logsumexp_int", lambda m, x: m.logsumexp(x, 1), _ints),
    # cumulative
    OpCase("cumsum", lambda m, x: x.cumsum(1), shapes=[(3, 4)]),
    OpCase("cumsum_neg", lambda m, x: m.cumsum(x, -1), shapes=[(2, 3, 4), (5,)]),
    OpCase("cumsum_dim0", lambda m, x: m.cumsum(x, 0), shapes=[(2, 3, 4), ()]),
    OpCase("cumsum_dtype", lambda m, x: x.cumsum(0, dtype=m.float64), shapes=[(3, 4)]),
    _no_grad("cumsum_int", lambda m, x: x.cumsum(1), _ints),
    OpCase("cumprod", lambda m, x: x.cumprod(1), shapes=[(3, 4)], domain=(0.5, 1.5)),
    OpCase("cumprod_neg", lambda m, x: m.cumprod(x, -2), shapes=[(2, 3, 4)]),
    OpCase("cumprod_0d", lambda m, x: m.cumprod(x, -1), shapes=[()]),
    OpCase("cumprod_zeros", lambda m, x: x.cumprod(1), make=_zeros),
    OpCase("cumprod_zeros_dim0", lambda m, x: x.cumprod(0), make=_zeros),
    _no_grad("cumprod_int", lambda m, x: x.cumprod(0), _ints),
    # norms
    OpCase("norm", shapes=[(3, 4), (5,)]),
    OpCase("norm_fro_dim", lambda m, x: x.norm(dim=(0, 1)), shapes=[(2, 3, 4)]),
    OpCase("norm_p1", lambda m, x: m.norm(x, 1), make=_away_from_zero),
    OpCase("norm_p3_dim", lambda m, x: x.norm(3, dim=1), shapes=[(3, 4)], gradgrad=POW),
    OpCase(
        "norm_p1_5", lambda m, x: x.norm(1.5, -1, keepdim=True), make=_away_from_zero, gradgrad=POW
    ),
    OpCase("norm_p0_5", lambda m, x: x.norm(0.5, dim=0), make=_away_from_zero, gradgrad=POW),
    OpCase("norm_inf", lambda m, x: x.norm(INF, dim=1, keepdim=True), shapes=[(3, 4)]),
    OpCase("norm_neg_inf", lambda m, x: x.norm(-INF), make=_away_from_zero),
    OpCase("norm_p0", lambda m, x: x.norm(0, dim=1), shapes=[(3, 4)]),
    OpCase(
        "norm_dtype", lambda m, x: x.norm(dtype=m.float64), shapes=[(3, 4)], dtypes=("float32",)
    ),
    OpCase("vector_norm", lambda m, x: _vector_norm(m)(x), shapes=[(3, 4), ()]),
    OpCase(
        "vector_norm_dim",
        lambda m, x: _vector_norm(m)(x, 3, (0, -1), True),
        shapes=[(2, 3, 4)],
        gradgrad=POW,
    ),
    OpCase(
        "vector_norm_inf_ties", lambda m, x: _vector_norm(m)(x, INF, 1), make=_ties, gradcheck=False
    ),
    # the gradient of a norm at the zero vector: 0, as PyTorch
    OpCase("norm_at_zero", lambda m, x: x.norm(dim=1), make=_zero_row, gradcheck=False),
    OpCase("norm_p3_at_zero", lambda m, x: x.norm(3, dim=1), make=_zero_row, gradcheck=False),
    OpCase("norm_p1_5_at_zero", lambda m, x: x.norm(1.5, dim=1), make=_zero_row, gradcheck=False),
    OpCase("norm_p0_5_at_zero", lambda m, x: x.norm(0.5, dim=1), make=_zero_row, gradcheck=False),
    OpCase("norm_p1_at_zero", lambda m, x: x.norm(1, dim=1), make=_zero_row, gradcheck=False),
    # boolean and counting reductions: no graph
    _no_grad("all", lambda m, x: m.all(x), _ties),
    _no_grad("all_dim", lambda m, x: x.all(1), _ties),
    _no_grad("any_tuple", lambda m, x: x.any((0, 1), keepdim=True), _zero_row),
    _no_grad("any_bool", lambda m, x: x.any(-1), lambda rng: [rng.uniform(size=(3, 4)) > 0.7]),
    _no_grad("all_uint8", lambda m, x: x.all(), lambda rng: [np.array([1, 2, 0], dtype=np.uint8)]),
    _no_grad("count_nonzero", lambda m, x: m.count_nonzero(x), _zero_row),
    _no_grad("count_nonzero_dim", lambda m, x: x.count_nonzero(dim=(0, 1)), _zero_row),
    _no_grad("count_nonzero_neg", lambda m, x: m.count_nonzero(x, -1), _zero_row),
]

if hasattr(chainrule, "maximum"):  # binary max/min are maximum/minimum, from elementwise
    CASES += [
        OpCase("max_binary", lambda m, a, b: m.max(a, b), shapes=[((3, 4), (4,))]),
        OpCase("min_binary", lambda m, a, b: a.min(b), shapes=[((3, 4), (3, 4))]),
    ]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


def test_max_dim_returns_named_int64_indices():
    x = chainrule.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 7.0]], requires_grad=True)
    out = x.max(dim=1)
    assert out.indices.dtype == chainrule.int64 and not out.indices.requires_grad
    assert out.indices.tolist() == [1, 0]
    values, indices = out
    assert values is out.values and values.requires_grad


def test_mean_of_integers_names_the_fix():
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype.*Got: Long"):
        chainrule.tensor([1, 2]).mean()


def test_var_of_integers_is_refused():
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        chainrule.tensor([1, 2]).var()


def test_max_of_empty_needs_a_dim():
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified"):
        chainrule.zeros(0).max()


def test_prod_gradient_with_zeros_matches_product_of_others():
    x = chainrule.tensor([2.0, 0.0, 3.0, 4.0], requires_grad=True)
    x.prod().backward()
    assert x.grad.tolist() == [0.0, 24.0, 0.0, 0.0]


def test_reductions_double_backward_through_create_graph():
    x = chainrule.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=chainrule.float64, requires_grad=True)
    (g,) = chainrule.autograd.grad(x.std(1).sum(), x, create_graph=True)
    (h,) = chainrule.autograd.grad(g.sum(), x)
    assert np.allclose(h.numpy(), 0.0)  # rows of 2 elements: the gradient of std is ±1/√2


def test_nan_propagates_and_max_sends_its_gradient_to_the_nan():
    x = chainrule.tensor([1.0, float("nan"), 3.0], requires_grad=True)
    y = x.max()
    y.backward()
    assert np.isnan(y.item()) and x.grad.tolist() == [0.0, 1.0, 0.0]  # as torch
    values, indices = chainrule.tensor([[1.0, float("nan"), 3.0], [1.0, 2.0, 0.0]]).max(1)
    assert np.isnan(values[0].item()) and indices.tolist() == [1, 1]
    assert np.isnan(chainrule.tensor([1.0, float("nan")]).median().item())
    m = chainrule.tensor([[1.0, float("nan"), 3.0], [3.0, 2.0, 0.0]]).median(1)
    assert np.isnan(m.values[0].item()) and m.indices.tolist() == [1, 1]


def test_logsumexp_of_all_minus_inf_is_minus_inf():
    x = chainrule.tensor([[-INF, 0.0], [-INF, -INF]])
    assert x.logsumexp(1).tolist() == [0.0, -INF]


def check_double_backward_from_implicit_root(case, sig, device):
    """Under create_graph a root gradient that autograd makes itself is a plain array while the
    saved values are Tensors: rules must still build a graph, and agree with an explicit root."""
    arrays = _inputs(case, sig, 0)
    mask = _grad_mask(case, arrays)
    results = []
    for explicit in (False, True):
        xs = _to_chainrule(arrays, mask, "float64", device)
        out = case.call(chainrule, *xs)
        outs = [o for o in (out if isinstance(out, tuple) else (out,)) if o.requires_grad]
        total = outs[0].sum()
        for o in outs[1:]:
            total = total + o.sum()
        diff = [x for x, m in zip(xs, mask) if m]
        root = [chainrule.ones((), dtype=chainrule.float64)] if explicit else None
        gs = chainrule.autograd.grad([total], diff, root, create_graph=True, allow_unused=True)
        s = None
        for g in gs:
            if g is not None and g.requires_grad:
                s = (g * g).sum() if s is None else s + (g * g).sum()
        if s is None:
            return
        hs = chainrule.autograd.grad(s, diff, allow_unused=True)
        results.append([None if h is None else h.numpy() for h in hs])
    for h_implicit, h_explicit in zip(*results):
        assert (h_implicit is None) == (h_explicit is None)
        assert h_implicit is None or np.allclose(h_implicit, h_explicit, equal_nan=True)


def double_backward_params(cases):
    return params([c for c in cases if c.gradcheck and c.gradgrad and c.requires_grad is None])


@pytest.mark.parametrize("case,sig,device", double_backward_params(CASES))
def test_double_backward_from_implicit_root(case, sig, device):
    check_double_backward_from_implicit_root(case, sig, device)


@pytest.mark.parametrize("dtype", ["float32", "float64", "complex64"])
def test_mean_gives_numpy_means_bits_on_every_axis_choice(dtype):
    """Mean computes np.mean's arithmetic without its Python layers: the bits must agree."""
    import itertools

    rng = np.random.default_rng(0)
    for shape in [(7,), (3, 5), (2, 3, 4), (1, 1), (1000,), (33, 17, 5)]:
        x = (rng.standard_normal(shape) * 1000).astype(dtype)
        t = chainrule.tensor(x)
        for r in range(len(shape) + 1):
            for axes in itertools.combinations(range(len(shape)), r):
                for keepdim in (False, True):
                    got = t.mean(axes, keepdim=keepdim) if axes else t.mean()
                    want = np.mean(x, axis=axes if axes else None, keepdims=keepdim and bool(axes))
                    assert got.numpy().tobytes() == np.asarray(want).tobytes(), (shape, axes)


def test_the_gradient_of_a_full_mean_is_a_writable_array_of_the_input_shape():
    x = chainrule.ones(3, 4, requires_grad=True)
    x.mean().backward()
    assert x.grad.shape == (3, 4) and np.all(x.grad.numpy() == 1 / 12)
    x.grad.add_(1)  # a filled array, not a read-only broadcast view
