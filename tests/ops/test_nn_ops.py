"""Op-table rows: softmax, log_softmax, softmin."""

import numpy as np
import pytest

import chainrule
from chainrule.ops.nn import softmin
from tests.opcheck import OpCase, params, run_case
from tests.ops.test_reduce import check_double_backward_from_implicit_root, double_backward_params


def _softmin(m, x, dim):
    if m is chainrule:
        return softmin(x, dim)
    return m.nn.functional.softmin(x, dim)


CASES = [
    OpCase("softmax", lambda m, x: m.softmax(x, 1), shapes=[(3, 4)]),
    OpCase("softmax_dim0", lambda m, x: m.softmax(x, dim=0), shapes=[(3, 4), (5,)]),
    OpCase("softmax_neg", lambda m, x: x.softmax(-1), shapes=[(2, 3, 4)]),
    OpCase("softmax_mid", lambda m, x: x.softmax(-2), shapes=[(2, 3, 4)]),
    OpCase("softmax_0d", lambda m, x: m.softmax(x, 0), shapes=[()]),
    OpCase("softmax_large", lambda m, x: m.softmax(x, 1), shapes=[(3, 4)], domain=(80, 120)),
    OpCase("softmax_dtype", lambda m, x: m.softmax(x, 1, dtype=m.float64), shapes=[(3, 4)]),
    OpCase("log_softmax", lambda m, x: m.log_softmax(x, 1), shapes=[(3, 4)]),
    OpCase("log_softmax_neg", lambda m, x: x.log_softmax(-1), shapes=[(2, 3, 4), (5,)]),
    OpCase("log_softmax_dim0", lambda m, x: x.log_softmax(0), shapes=[(3, 4), ()]),
    OpCase("log_softmax_large", lambda m, x: x.log_softmax(1), shapes=[(3, 4)], domain=(-120, 120)),
    OpCase("log_softmax_dtype", lambda m, x: x.log_softmax(0, dtype=m.float64), shapes=[(3, 4)]),
    OpCase("softmin", lambda m, x: _softmin(m, x, 1), shapes=[(3, 4)]),
    OpCase("softmin_neg", lambda m, x: _softmin(m, x, -1), shapes=[(2, 3, 4)]),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


@pytest.mark.parametrize("case,sig,device", double_backward_params(CASES))
def test_double_backward_from_implicit_root(case, sig, device):
    check_double_backward_from_implicit_root(case, sig, device)


def test_softmax_does_not_overflow_float32():
    x = chainrule.tensor([[1000.0, 1000.0], [-1000.0, 0.0]])
    y = chainrule.softmax(x, 1)
    assert np.allclose(y.numpy(), [[0.5, 0.5], [0.0, 1.0]])
    assert np.isfinite(chainrule.log_softmax(x, 1).numpy()).all()


def test_softmax_of_integers_names_the_fix():
    with pytest.raises(RuntimeError, match="not implemented for 'Long'.*dtype=chainrule.float32"):
        chainrule.softmax(chainrule.tensor([1, 2]), 0)


def test_softmax_without_dim_warns_and_picks_pytorchs_legacy_dim():
    x = chainrule.zeros(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = chainrule.softmax(x)
    assert np.allclose(y.numpy(), 1 / 3)  # dim 1 for 2-D input
