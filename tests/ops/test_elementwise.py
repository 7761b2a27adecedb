"""Op-table rows: elementwise arithmetic and math functions."""

import pytest

from tests.opcheck import OpCase, params, run_case

CASES = [
    OpCase("add", shapes=[((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3)), ((2, 1, 3), (4, 1))]),
    OpCase("sub", shapes=[((3, 4), (4,)), ((), ())]),
    OpCase("mul", shapes=[((3, 4), (3, 1)), ((), (5,))]),
    OpCase("div", shapes=[((3, 4), (4,))], make=None, domain=(0.5, 2.0)),
    OpCase("neg", shapes=[(3, 4), ()]),
    OpCase("exp", shapes=[(3, 4), ()]),
    OpCase("log", shapes=[(3, 4), ()], domain=(0.2, 3.0)),
    OpCase("tanh", shapes=[(3, 4), ()], domain=(-3, 3)),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)
