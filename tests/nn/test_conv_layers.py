"""Layer-table rows: convolutions, their transposes, pools, Fold and Unfold against torch.nn,
with weights carried by state_dict; plus reprs and default initialisation."""

import math

import numpy as np
import pytest

import chainrule
import chainrule.nn  # noqa: F401  (binds chainrule.nn for modcheck)
from tests.nn.modcheck import ModuleCase, params, run_module_case

try:
    import torch
except ImportError:
    torch = None

# torch warns that padding='same' with an even kernel copies its input; chainrule does not
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def _pool_then_unpool(nn):
    class PoolUnpool(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = nn.MaxPool2d(2, return_indices=True)
            self.unpool = nn.MaxUnpool2d(2)

        def forward(self, x):
            y, i = self.pool(x)
            return self.unpool(y, i, output_size=x.shape)

    return PoolUnpool()


CASES = [
    # ---------------------------------------------------------------- convolutions
    ModuleCase("conv2d", lambda nn: nn.Conv2d(3, 4, 3, padding=1), inputs=[(2, 3, 6, 6)]),
    ModuleCase(
        "conv2d_stride_dilation_groups_no_bias",
        lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), dilation=(1, 2), groups=2, bias=False),
        inputs=[(2, 4, 7, 7)],
    ),
    ModuleCase("conv2d_same", lambda nn: nn.Conv2d(2, 3, 4, padding="same"), inputs=[(1, 2, 5, 6)]),
    ModuleCase(
        "conv2d_valid_unbatched", lambda nn: nn.Conv2d(2, 3, 3, padding="valid"), inputs=[(2, 5, 5)]
    ),  # fmt: skip
    ModuleCase(
        "conv2d_reflect",
        lambda nn: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="reflect"),
        inputs=[(2, 2, 5, 5)],
    ),
    ModuleCase(
        "conv2d_replicate_same",
        lambda nn: nn.Conv2d(2, 3, (2, 3), padding="same", padding_mode="replicate"),
        inputs=[(2, 2, 5, 5)],
    ),
    ModuleCase(
        "conv2d_circular",
        lambda nn: nn.Conv2d(2, 2, 3, stride=2, padding=1, padding_mode="circular"),
        inputs=[(1, 2, 5, 6)],
    ),
    ModuleCase("conv1d", lambda nn: nn.Conv1d(3, 4, 3, stride=2, padding=1), inputs=[(2, 3, 9)]),
    ModuleCase(
        "conv1d_same_dilation_groups",
        lambda nn: nn.Conv1d(4, 4, 3, padding="same", dilation=2, groups=4, bias=False),
        inputs=[(2, 4, 8)],
    ),
    ModuleCase("conv1d_unbatched", lambda nn: nn.Conv1d(4, 2, 3), inputs=[(4, 8)]),
    ModuleCase(
        "conv1d_circular",
        lambda nn: nn.Conv1d(2, 3, 3, padding=2, padding_mode="circular"),
        inputs=[(2, 2, 6)],
    ),
    ModuleCase(
        "conv_transpose2d",
        lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
        inputs=[(2, 3, 4, 4)],
    ),
    ModuleCase(
        "conv_transpose2d_groups_dilation_no_bias",
        lambda nn: nn.ConvTranspose2d(4, 2, (2, 3), groups=2, dilation=(2, 1), bias=False),
        inputs=[(1, 4, 3, 3)],
    ),
    ModuleCase(
        "conv_transpose2d_unbatched",
        lambda nn: nn.ConvTranspose2d(4, 2, 2, stride=2),
        inputs=[(4, 3, 3)],
    ),  # fmt: skip
    ModuleCase(
        "conv_transpose2d_output_size",
        lambda nn: nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1),
        inputs=[(1, 2, 4, 4)],
        call=lambda m, x: m(x, output_size=[8, 8]),
    ),
    ModuleCase(
        "conv_transpose1d",
        lambda nn: nn.ConvTranspose1d(3, 2, 3, stride=3, padding=1, output_padding=1),
        inputs=[(2, 3, 5)],
    ),
    # ---------------------------------------------------------------- pools
    ModuleCase("max_pool2d", lambda nn: nn.MaxPool2d(2), inputs=[(2, 3, 6, 6)]),
    ModuleCase("max_pool2d_unbatched", lambda nn: nn.MaxPool2d(2), inputs=[(3, 4, 5)]),
    ModuleCase(
        "max_pool2d_indices",
        lambda nn: nn.MaxPool2d(
            3, stride=2, padding=1, dilation=1, ceil_mode=True, return_indices=True
        ),
        inputs=[(2, 2, 7, 6)],
    ),  # fmt: skip
    ModuleCase("max_pool1d", lambda nn: nn.MaxPool1d(3, 2, padding=1), inputs=[(2, 3, 8)]),
    ModuleCase("avg_pool2d", lambda nn: nn.AvgPool2d(3, 2, 1), inputs=[(2, 2, 7, 6)]),
    ModuleCase(
        "avg_pool2d_no_pad_count_divisor",
        lambda nn: nn.AvgPool2d(
            (2, 3), ceil_mode=True, count_include_pad=False, divisor_override=None
        ),
        inputs=[(2, 2, 5, 7)],
    ),  # fmt: skip
    ModuleCase(
        "avg_pool2d_divisor", lambda nn: nn.AvgPool2d(2, divisor_override=2), inputs=[(1, 2, 4, 4)]
    ),  # fmt: skip
    ModuleCase(
        "avg_pool1d", lambda nn: nn.AvgPool1d(3, 2, 1, ceil_mode=True), inputs=[(2, 3, 8)]
    ),  # fmt: skip
    ModuleCase(
        "adaptive_avg_pool2d", lambda nn: nn.AdaptiveAvgPool2d((3, 2)), inputs=[(2, 2, 7, 5)]
    ),  # fmt: skip
    ModuleCase(
        "adaptive_avg_pool2d_global", lambda nn: nn.AdaptiveAvgPool2d(1), inputs=[(2, 3, 4, 4)]
    ),  # fmt: skip
    ModuleCase("adaptive_avg_pool1d", lambda nn: nn.AdaptiveAvgPool1d(3), inputs=[(2, 2, 7)]),
    ModuleCase(
        "adaptive_max_pool2d",
        lambda nn: nn.AdaptiveMaxPool2d((2, 3), return_indices=True),
        inputs=[(2, 2, 5, 7)],
    ),
    ModuleCase("adaptive_max_pool1d", lambda nn: nn.AdaptiveMaxPool1d(4), inputs=[(2, 2, 9)]),
    ModuleCase("max_pool_unpool", _pool_then_unpool, inputs=[(2, 2, 5, 5)]),
    ModuleCase(
        "unfold",
        lambda nn: nn.Unfold((2, 3), dilation=1, padding=1, stride=2),
        inputs=[(2, 2, 5, 5)],
    ),  # fmt: skip
    ModuleCase("fold", lambda nn: nn.Fold((4, 5), 2), inputs=[(2, 8, 12)]),
    # ---------------------------------------------------------------- a LeNet-5
    ModuleCase(
        "lenet5",
        lambda nn: nn.Sequential(
            nn.Conv2d(1, 6, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(256, 120),
            nn.ReLU(),
            nn.Linear(120, 84),
            nn.ReLU(),
            nn.Linear(84, 10),
        ),  # fmt: skip
        inputs=[(2, 1, 28, 28)],
        rtol32=1e-3,
        atol32=1e-4,
    ),
]


@pytest.mark.parametrize("case,dtype,mode", params(CASES))
def test_layer(case, dtype, mode):
    run_module_case(case, dtype, mode)


REPRS = [
    lambda nn: nn.Conv2d(3, 8, 3),
    lambda nn: nn.Conv2d(3, 8, (3, 5), stride=2, padding=(1, 2), dilation=2, groups=1),
    lambda nn: nn.Conv2d(4, 8, 3, padding="same", groups=2, bias=False, padding_mode="reflect"),
    lambda nn: nn.Conv1d(2, 4, 5, padding="valid"),
    lambda nn: nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1, groups=2),
    lambda nn: nn.ConvTranspose1d(4, 2, 3),
    lambda nn: nn.MaxPool2d(3, 2, 1, ceil_mode=True),
    lambda nn: nn.MaxPool1d(2),
    lambda nn: nn.AvgPool2d(2, padding=1),
    lambda nn: nn.AvgPool1d(3, 2),
    lambda nn: nn.AdaptiveAvgPool2d((5, None)),
    lambda nn: nn.AdaptiveAvgPool1d(4),
    lambda nn: nn.AdaptiveMaxPool2d(2, return_indices=True),
    lambda nn: nn.MaxUnpool2d(2),
    lambda nn: nn.Fold((4, 5), 2),
    lambda nn: nn.Unfold(3, padding=1),
]


@pytest.mark.parametrize("make", REPRS, ids=lambda f: "repr")
def test_repr_is_pytorchs(make):
    if torch is None:
        pytest.skip("torch is not installed")
    assert repr(make(chainrule.nn)) == repr(make(torch.nn))


@pytest.mark.parametrize(
    "make,fan_in",
    [
        (lambda nn: nn.Conv2d(16, 32, 3), 16 * 9),
        (lambda nn: nn.Conv1d(8, 64, 5, groups=4), 2 * 5),
        (lambda nn: nn.ConvTranspose2d(32, 16, 4), 16 * 16),  # fan_in from weight dim 1
    ],
)
def test_default_init_is_uniform_within_one_over_sqrt_fan_in(make, fan_in):
    """kaiming_uniform_(a=√5) and the bias rule both give U(-1/√fan_in, 1/√fan_in)."""
    chainrule.manual_seed(0)
    layer = make(chainrule.nn)
    bound = 1 / math.sqrt(fan_in)
    for p in (layer.weight, layer.bias):
        v = p.detach().numpy()
        assert np.abs(v).max() <= bound
        assert np.abs(v).max() > 0.8 * bound
    w = layer.weight.detach().numpy()
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound  # the std of U(-b, b)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda nn: nn.Conv2d(3, 4, 3, groups=2), "in_channels must be divisible by groups"),
        (lambda nn: nn.Conv2d(4, 3, 3, groups=2), "out_channels must be divisible by groups"),
        (lambda nn: nn.Conv2d(4, 4, 3, groups=0), "groups must be a positive integer"),
        (lambda nn: nn.Conv2d(2, 2, 3, stride=2, padding="same"), "strided convolutions"),
        (lambda nn: nn.Conv2d(2, 2, 3, padding="full"), "Invalid padding string 'full'"),
        (lambda nn: nn.Conv2d(2, 2, 3, padding_mode="mirror"), "padding_mode must be one of"),
        (lambda nn: nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"), 'Only "zeros"'),
    ],
)
def test_constructor_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make(chainrule.nn)


def test_conv_transpose_output_size_out_of_range():
    layer = chainrule.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1)
    with pytest.raises(ValueError, match="requested an output size of"):
        layer(chainrule.ones(1, 2, 4, 4), output_size=[10, 10])
