"""Padding layers against torch.nn on the same inputs (values, gradients, reprs)."""

import pytest
from modcheck import ModuleCase, params, run_module_case

import chainrule
import chainrule.nn  # noqa: F401

torch = pytest.importorskip("torch")

CASES = [
    ModuleCase("constant1d", lambda nn: nn.ConstantPad1d((1, 2), 3.5), inputs=[(2, 3, 4)]),
    ModuleCase("constant2d", lambda nn: nn.ConstantPad2d(1, -1.0), inputs=[(1, 2, 3, 3)]),
    ModuleCase(
        "constant3d", lambda nn: nn.ConstantPad3d((1, 0, 0, 1, 1, 1), 0.5), inputs=[(1, 1, 2, 2, 2)]
    ),  # fmt: skip
    ModuleCase("zero1d", lambda nn: nn.ZeroPad1d(2), inputs=[(2, 3)]),
    ModuleCase("zero2d", lambda nn: nn.ZeroPad2d((1, 1, 2, 0)), inputs=[(1, 2, 3, 3)]),
    ModuleCase("zero2d_crop", lambda nn: nn.ZeroPad2d((-1, 1, 0, -1)), inputs=[(1, 1, 4, 4)]),
    ModuleCase("reflect1d", lambda nn: nn.ReflectionPad1d(2), inputs=[(2, 3, 5)]),
    ModuleCase("reflect2d", lambda nn: nn.ReflectionPad2d((1, 2, 2, 1)), inputs=[(1, 2, 4, 4)]),
    ModuleCase("replicate1d", lambda nn: nn.ReplicationPad1d((3, 1)), inputs=[(2, 2, 3)]),
    ModuleCase("replicate2d", lambda nn: nn.ReplicationPad2d(2), inputs=[(1, 2, 3, 3)]),
    ModuleCase("replicate3d", lambda nn: nn.ReplicationPad3d(1), inputs=[(1, 1, 2, 2, 2)]),
    ModuleCase("circular1d", lambda nn: nn.CircularPad1d((1, 2)), inputs=[(2, 2, 4)]),
    ModuleCase("circular2d", lambda nn: nn.CircularPad2d(1), inputs=[(1, 2, 3, 3)]),
]


@pytest.mark.parametrize("case, dtype, mode", params(CASES))
def test_padding_layer_matches_torch(case, dtype, mode):
    run_module_case(case, dtype, mode)


@pytest.mark.parametrize(
    "make",
    [
        lambda nn: nn.ZeroPad2d((1, 1, 2, 0)),
        lambda nn: nn.ConstantPad1d(2, 3.5),
        lambda nn: nn.ReflectionPad2d(1),
        lambda nn: nn.CircularPad1d((1, 2)),
    ],
)
def test_padding_repr_matches_torch(make):
    assert repr(make(chainrule.nn)) == repr(make(torch.nn))


def test_wrong_number_of_widths_says_what_is_expected():
    with pytest.raises(ValueError, match="4-tuple"):
        chainrule.nn.ZeroPad2d((1, 2, 3))
