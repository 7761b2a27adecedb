"""Op-table rows and parity checks: the long tail of torch.* functions (searching, counting,
differences, integrals, distances, rotations, quantiles, windows)."""

import numpy as np
import pytest

import chainrule
from tests.opcheck import OpCase, params, run_case

torch = pytest.importorskip("torch")


def _distinct(shape):
    """Distinct values (no ties: sort-based gradients are then well defined)."""
    return lambda rng: [rng.permutation(np.prod(shape)).reshape(shape) * 0.37 - 2.0]


CASES = [
    OpCase("diff", lambda m, x: m.diff(x), shapes=[(3, 4), (5,)]),
    OpCase("diff_n2_dim0", lambda m, x: m.diff(x, n=2, dim=0), shapes=[(4, 3)]),
    OpCase("diff_prepend", lambda m, x, p: m.diff(x, dim=1, prepend=p), shapes=[((3, 4), (3, 1))]),
    OpCase("diff_method", lambda m, x: x.diff(append=x[..., :1]), shapes=[(2, 3)]),
    OpCase("trapezoid", lambda m, y: m.trapezoid(y), shapes=[(3, 4), (5,)]),
    OpCase("trapezoid_dx", lambda m, y: m.trapezoid(y, dx=0.5, dim=0), shapes=[(3, 4)]),
    OpCase("trapezoid_x", lambda m, y, x: m.trapezoid(y, x), shapes=[((3, 4), (4,))]),
    OpCase("cross", lambda m, a, b: m.cross(a, b, dim=1), shapes=[((2, 3), (2, 3))]),
    OpCase("dist", lambda m, a, b: m.dist(a, b), shapes=[((3, 4), (3, 4))]),
    OpCase("dist_p1", lambda m, a, b: m.dist(a, b, 1), shapes=[((3, 4), (4,))]),
    OpCase(
        "cdist", lambda m, a, b: m.cdist(a, b), shapes=[((3, 2), (4, 2)), ((2, 3, 2), (2, 2, 2))]
    ),
    OpCase("cdist_p1", lambda m, a, b: m.cdist(a, b, p=1.0), shapes=[((3, 2), (4, 2))]),
    OpCase("rot90", lambda m, x: m.rot90(x), shapes=[(3, 4)]),
    OpCase("rot90_k3", lambda m, x: m.rot90(x, 3, [1, 2]), shapes=[(2, 3, 4)]),
    OpCase("rot90_k2", lambda m, x: x.rot90(-2, [0, 1]), shapes=[(3, 4)]),
    OpCase("cartesian_prod", lambda m, a, b: m.cartesian_prod(a, b), shapes=[((3,), (2,))]),
    OpCase("quantile", lambda m, x: m.quantile(x, 0.3), make=_distinct((3, 4))),
    OpCase(
        "quantile_dim",
        lambda m, x: m.quantile(x, m.tensor([0.25, 0.9], dtype=x.dtype), dim=1, keepdim=True),
        make=_distinct((3, 5)),
    ),  # fmt: skip
    OpCase(
        "quantile_lower",
        lambda m, x: x.quantile(0.6, dim=0, interpolation="lower"),
        make=_distinct((4, 3)),
    ),  # fmt: skip
    OpCase(
        "quantile_midpoint",
        lambda m, x: m.quantile(x, 0.5, interpolation="midpoint"),
        make=_distinct((6,)),
    ),  # fmt: skip
    OpCase(
        "quantile_nearest",
        lambda m, x: m.quantile(x, 0.4, dim=-1, interpolation="nearest"),
        make=_distinct((2, 6)),
    ),  # fmt: skip
    OpCase("unfold", lambda m, x: x.unfold(1, 2, 1), shapes=[(3, 4)]),
    OpCase("unfold_step", lambda m, x: x.unfold(0, 3, 2), shapes=[(7,), (5, 2)]),
    OpCase(
        "mode_values",
        lambda m, x: m.mode(x, 1).values,
        make=lambda rng: [rng.integers(0, 3, (3, 6)).astype(float)],
        gradcheck=False,
    ),  # fmt: skip
]


@pytest.mark.parametrize("case, sig, device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


def _both(fn):
    ours = fn(chainrule)
    theirs = fn(torch)
    if isinstance(ours, tuple):
        return [(a.numpy(), b.numpy()) for a, b in zip(ours, theirs)]
    return [(ours.numpy(), theirs.numpy())]


SEQ = [1.0, 3.0, 3.0, 5.0, 7.0]
INDEX_ROWS = {
    "searchsorted": lambda m: m.searchsorted(m.tensor(SEQ), m.tensor([[3.0, 6.0], [0.0, 9.0]])),
    "searchsorted_right": lambda m: m.searchsorted(m.tensor(SEQ), m.tensor([3.0, 7.0]), right=True),
    "searchsorted_side": lambda m: m.searchsorted(m.tensor(SEQ), m.tensor([3.0]), side="right"),
    "searchsorted_rows": lambda m: m.searchsorted(
        m.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]]), m.tensor([[2.5], [2.5]])
    ),
    "searchsorted_int32": lambda m: m.searchsorted(m.tensor(SEQ), m.tensor([4.0]), out_int32=True),
    "bucketize": lambda m: m.bucketize(m.tensor([0.5, 3.0, 8.0]), m.tensor(SEQ)),
    "bucketize_right": lambda m: m.bucketize(m.tensor([3.0, 5.0]), m.tensor(SEQ), right=True),
    "isin": lambda m: m.isin(m.tensor([[1, 2], [3, 4]]), m.tensor([2, 4, 6])),
    "isin_invert": lambda m: m.isin(m.tensor([1, 2, 3]), m.tensor([2]), invert=True),
    "unique_consecutive": lambda m: m.unique_consecutive(
        m.tensor([1, 1, 2, 2, 3, 1, 1, 2]), return_inverse=True, return_counts=True
    ),
    "unique_consecutive_dim": lambda m: m.unique_consecutive(
        m.tensor([[1, 1], [1, 1], [2, 3], [1, 1]]), dim=0
    ),
    "mode": lambda m: m.mode(m.tensor([[1, 2, 2, 3, 3], [4, 4, 4, 1, 1]]), dim=1),
    "mode_keepdim": lambda m: m.mode(m.tensor([[1.0, 5.0], [1.0, 2.0], [3.0, 2.0]]), 0, True),
    "tril_indices": lambda m: m.tril_indices(3, 4, 1),
    "triu_indices": lambda m: m.triu_indices(4, 3, -1),
    "stride": lambda m: m.tensor(list(m.ones(2, 3, 4).stride())),
    "storage_offset": lambda m: m.tensor([m.arange(10)[3:].storage_offset()]),
}


@pytest.mark.parametrize("name", list(INDEX_ROWS))
def test_values_match_torch(name):
    for ours, theirs in _both(INDEX_ROWS[name]):
        assert ours.dtype == theirs.dtype, name
        np.testing.assert_array_equal(ours, theirs, err_msg=name)


def test_cross_without_dim_warns_like_torch():
    a = chainrule.ones(3, 2)
    with pytest.warns(UserWarning, match="without specifying the dim"):
        chainrule.cross(a, a)


def test_quantile_rejects_out_of_range_q():
    with pytest.raises(RuntimeError, match=r"range \[0, 1\]"):
        chainrule.quantile(chainrule.ones(3), 1.5)


def test_unfold_larger_than_the_dim_says_so():
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 0 is 3"):
        chainrule.ones(3).unfold(0, 4, 1)
