"""Op-table rows: convolutions, their transposes, unfold/fold and the pools, against
torch.nn.functional (float32/float64), with gradcheck and gradgradcheck."""

import numpy as np
import pytest

import chainrule
from chainrule.ops import conv as conv_ops
from tests.opcheck import OpCase, params, run_case
from tests.ops.test_reduce import check_double_backward_from_implicit_root, double_backward_params

try:
    import torch
except ImportError:
    torch = None

# torch warns that padding='same' with an even kernel copies its input; chainrule does not
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")


def F(m):
    """The functional namespace of m: torch.nn.functional, or chainrule's conv family."""
    return torch.nn.functional if m is torch else conv_ops


def row(name, call, shapes, **kw):
    """A row calling F(m).<op>(*inputs, **kwargs) through `call(F, *inputs)`."""
    return OpCase(name, lambda m, *a: call(F(m), *a), shapes=shapes, **kw)


def _ties(rng, shape=(2, 2, 5, 5)):
    return [np.round(rng.uniform(0, 2, size=shape))]  # many equal maxima in every window


def _unpool_inputs(rng, shape=(2, 2, 3, 3), k=2):
    """Values and valid max_pool2d(k) indices: one position inside each k x k window."""
    n, c, h, w = shape
    di = rng.integers(0, k, size=shape)
    dj = rng.integers(0, k, size=shape)
    rows = np.arange(h).reshape(-1, 1) * k + di
    cols = np.arange(w) * k + dj
    return [rng.uniform(-2, 2, size=shape), rows * (w * k) + cols]


X, W3 = (2, 2, 5, 5), (3, 2, 3, 3)

CASES = [
    # ---------------------------------------------------------------- conv2d
    row("conv2d", lambda f, x, w, b: f.conv2d(x, w, b), [(X, W3, (3,))]),
    row("conv2d_no_bias", lambda f, x, w: f.conv2d(x, w), [(X, W3), ((1, 1, 4, 6), (2, 1, 1, 1))]),
    row("conv2d_stride_pad", lambda f, x, w: f.conv2d(x, w, stride=2, padding=1), [(X, W3)]),
    row(
        "conv2d_mixed",
        lambda f, x, w, b: f.conv2d(x, w, b, stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
        [((1, 2, 6, 7), (2, 2, 2, 3), (2,))],
    ),
    row("conv2d_dilation", lambda f, x, w: f.conv2d(x, w, dilation=2, padding=2), [(X, W3)]),
    row("conv2d_groups", lambda f, x, w: f.conv2d(x, w, groups=2), [((1, 4, 5, 5), (4, 2, 3, 3))]),
    row(
        "conv2d_depthwise",
        lambda f, x, w, b: f.conv2d(x, w, b, padding=1, groups=3),
        [((1, 3, 4, 4), (6, 1, 3, 3), (6,))],
    ),
    row(
        "conv2d_same_even_kernel",  # the odd padding element goes bottom/right
        lambda f, x, w: f.conv2d(x, w, padding="same"),
        [((1, 2, 5, 5), (2, 2, 2, 4))],
    ),
    row("conv2d_valid", lambda f, x, w: f.conv2d(x, w, padding="valid"), [(X, W3)]),
    row("conv2d_narrow_output", lambda f, x, w: f.conv2d(x, w), [((1, 1, 5, 7), (2, 1, 3, 6))]),
    row("conv2d_unbatched", lambda f, x, w, b: f.conv2d(x, w, b), [((2, 5, 5), W3, (3,))]),
    # a gw block of 1024+ entries (out channels x C/G·kh·kw): the weight gradient is one GEMM
    # over the whole batch (_im2col_batch_inside), in wide and strided layouts and with groups
    row(
        "conv2d_big_weight_block",
        lambda f, x, w, b: f.conv2d(x, w, b, padding=1),
        [((2, 8, 6, 6), (16, 8, 3, 3), (16,))],
        gradcheck=False,
    ),
    row(
        "conv2d_big_weight_block_strided",
        lambda f, x, w: f.conv2d(x, w, stride=2, padding=1),
        [((2, 8, 7, 6), (16, 8, 3, 3))],
        gradcheck=False,
    ),
    row(
        "conv2d_big_weight_block_groups",
        lambda f, x, w: f.conv2d(x, w, groups=2, dilation=(1, 2)),
        [((2, 16, 5, 7), (32, 8, 3, 3))],
        gradcheck=False,
    ),
    # ---------------------------------------------------------------- conv1d
    row("conv1d", lambda f, x, w, b: f.conv1d(x, w, b), [((2, 2, 7), (3, 2, 3), (3,))]),
    row(
        "conv1d_stride_pad_dilation",
        lambda f, x, w: f.conv1d(x, w, stride=2, padding=2, dilation=2),
        [((2, 2, 9), (3, 2, 3))],
    ),
    row("conv1d_groups", lambda f, x, w: f.conv1d(x, w, groups=2), [((2, 4, 6), (2, 2, 2))]),
    row("conv1d_same", lambda f, x, w: f.conv1d(x, w, padding="same"), [((2, 2, 6), (3, 2, 4))]),
    row("conv1d_unbatched", lambda f, x, w: f.conv1d(x, w), [((2, 7), (3, 2, 3))]),
    # ---------------------------------------------------------------- transposes
    row(
        "conv_transpose2d",
        lambda f, x, w, b: f.conv_transpose2d(x, w, b),
        [((2, 3, 3, 3), (3, 2, 3, 3), (2,))],
    ),
    row(
        "conv_transpose2d_stride_output_padding",
        lambda f, x, w: f.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        [((1, 3, 3, 3), (3, 2, 3, 3))],
    ),
    row(
        "conv_transpose2d_groups_dilation",
        lambda f, x, w, b: f.conv_transpose2d(x, w, b, stride=(1, 2), groups=2, dilation=2),
        [((1, 4, 3, 3), (4, 1, 2, 2), (2,))],
    ),
    row(
        "conv_transpose2d_unbatched",
        lambda f, x, w: f.conv_transpose2d(x, w, stride=2),
        [((3, 2, 2), (3, 2, 3, 3))],
    ),  # fmt: skip
    row(
        "conv_transpose2d_output_padding_from_dilation",  # stride 1: rows no window reaches
        lambda f, x, w: f.conv_transpose2d(x, w, dilation=2, output_padding=1),
        [((1, 2, 3, 3), (2, 2, 2, 2))],
    ),
    row(
        "conv_transpose1d",
        lambda f, x, w, b: f.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2),
        [((2, 3, 4), (3, 2, 3), (2,))],
    ),
    row(
        "conv_transpose1d_groups",
        lambda f, x, w: f.conv_transpose1d(x, w, groups=3),
        [((2, 3, 4), (3, 1, 2))],
    ),  # fmt: skip
    # ---------------------------------------------------------------- unfold / fold
    row("unfold", lambda f, x: f.unfold(x, 2), [X]),
    row(
        "unfold_all_args",
        lambda f, x: f.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)),
        [X, (2, 5, 6)],
    ),
    row("fold", lambda f, x: f.fold(x, (4, 5), 2), [(2, 8, 12), (8, 12)]),
    row(
        "fold_all_args",
        lambda f, x: f.fold(x, (5, 5), (2, 3), dilation=(2, 1), padding=1, stride=2),
        [(1, 12, 9)],
    ),
    # ---------------------------------------------------------------- max pools
    row("max_pool2d", lambda f, x: f.max_pool2d(x, 2), [(2, 2, 4, 6), (2, 5, 5)]),
    row(
        "max_pool2d_overlapping_ceil",
        lambda f, x: f.max_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
        [(2, 2, 6, 5)],
    ),
    row(
        "max_pool2d_ceil_drops_window_in_padding",  # PyTorch drops the last window here
        lambda f, x: f.max_pool2d(x, 2, stride=2, padding=1, ceil_mode=True),
        [(1, 2, 4, 4)],
    ),
    row(
        "max_pool2d_dilation_indices",
        lambda f, x: f.max_pool2d(x, (2, 3), (1, 2), (1, 1), dilation=2, return_indices=True),
        [(2, 2, 6, 7)],
    ),
    row(
        "max_pool2d_ties_go_to_the_first",
        lambda f, x: f.max_pool2d(x, 3, stride=1, padding=1, return_indices=True),
        [],
        make=_ties,
        gradcheck=False,
    ),
    row(
        "max_pool2d_ties_non_overlapping",
        lambda f, x: f.max_pool2d(x, 2, return_indices=True),
        [],
        make=lambda rng: _ties(rng, (2, 2, 4, 4)),
        gradcheck=False,
    ),
    row(
        "max_pool1d",
        lambda f, x: f.max_pool1d(x, 3, stride=2, padding=1, ceil_mode=True, return_indices=True),
        [(2, 3, 8), (3, 8)],
    ),
    row("max_pool1d_dilation", lambda f, x: f.max_pool1d(x, 2, 1, dilation=3), [(2, 2, 7)]),
    row(
        "max_pool1d_ties",
        lambda f, x: f.max_pool1d(x, 3, 1, return_indices=True),
        [],
        make=lambda rng: _ties(rng, (2, 2, 7)),
        gradcheck=False,
    ),
    # ---------------------------------------------------------------- average pools
    row("avg_pool2d", lambda f, x: f.avg_pool2d(x, 2), [(2, 2, 4, 6), (2, 5, 5)]),
    row(
        "avg_pool2d_pad_ceil",
        lambda f, x: f.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True),
        [(2, 2, 6, 5)],
    ),
    row(
        "avg_pool2d_exclude_pad",
        lambda f, x: f.avg_pool2d(x, (3, 2), 2, (1, 1), ceil_mode=True, count_include_pad=False),
        [(2, 2, 6, 5)],
    ),
    row(
        "avg_pool2d_divisor_override",
        lambda f, x: f.avg_pool2d(x, 2, 1, padding=1, divisor_override=3),
        [(1, 2, 4, 4)],
    ),
    row(
        "avg_pool1d",
        lambda f, x: f.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
        [(2, 3, 8), (3, 8)],
    ),
    row("avg_pool1d_include_pad", lambda f, x: f.avg_pool1d(x, 4, 3, 2), [(2, 2, 9)]),
    # ---------------------------------------------------------------- adaptive pools
    row("adaptive_avg_pool2d", lambda f, x: f.adaptive_avg_pool2d(x, (3, 2)), [(2, 2, 7, 5)]),
    row(
        "adaptive_avg_pool2d_none_and_global",
        lambda f, x: (f.adaptive_avg_pool2d(x, (None, 3)), f.adaptive_avg_pool2d(x, 1)),
        [(2, 2, 4, 5), (2, 4, 5)],
    ),
    row("adaptive_avg_pool1d", lambda f, x: f.adaptive_avg_pool1d(x, 4), [(2, 3, 7), (3, 6)]),
    row(
        "adaptive_max_pool2d",
        lambda f, x: f.adaptive_max_pool2d(x, (3, 2), return_indices=True),
        [(2, 2, 7, 5), (2, 4, 4)],
    ),
    row("adaptive_max_pool1d", lambda f, x: f.adaptive_max_pool1d(x, 3), [(2, 3, 7)]),
    row(
        "adaptive_max_pool2d_ties",
        lambda f, x: f.adaptive_max_pool2d(x, (2, 3), return_indices=True),
        [],
        make=lambda rng: _ties(rng, (2, 2, 5, 7)),
        gradcheck=False,
    ),
    # ---------------------------------------------------------------- unpooling
    row(
        "max_unpool2d",
        lambda f, x, i: f.max_unpool2d(x, i, 2),
        [],
        make=_unpool_inputs,
        requires_grad=(True, False),
    ),
    row(
        "max_unpool2d_output_size",
        lambda f, x, i: f.max_unpool2d(x, i, 2, output_size=(7, 7)),
        [],
        make=_unpool_inputs,
        requires_grad=(True, False),
    ),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


@pytest.mark.parametrize("case,sig,device", double_backward_params(CASES))
def test_double_backward_from_implicit_root(case, sig, device):
    check_double_backward_from_implicit_root(case, sig, device)


def _t(*shape, dtype=None):
    return chainrule.ones(*shape, dtype=dtype or chainrule.float32)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: conv_ops.conv2d(_t(2, 3), _t(1, 1, 1, 1)), r"Expected 3D \(unbatched\) or 4D "
         r"\(batched\) input to conv2d, but got input of size: \[2, 3\]"),
        (lambda: conv_ops.conv1d(_t(2, 3, 4, 5), _t(1, 3, 1)), "input to conv1d"),
        (lambda: conv_ops.conv2d(_t(4, 1, 28, 28), _t(6, 3, 5, 5)), r"Given groups=1, weight of "
         r"size \[6, 3, 5, 5\], expected input\[4, 1, 28, 28\] to have 3 channels, but got 1"),
        (lambda: conv_ops.conv2d(_t(1, 4, 5, 5), _t(3, 2, 3, 3), groups=2), "divisible by 2"),
        (lambda: conv_ops.conv2d(_t(1, 1, 4, 4), _t(1, 1, 5, 5)), r"padded input size per "
         r"channel: \(4 x 4\). Kernel size: \(5 x 5\). Kernel size can't be greater"),
        (lambda: conv_ops.conv2d(_t(1, 1, 4, 4), _t(2, 1, 3, 3), _t(3)), "bias to be "
         r"1-dimensional with 2 elements, but got bias of size \[3\]"),
        (lambda: conv_ops.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), stride=2, padding="same"),
         "not supported for strided convolutions"),
        (lambda: conv_ops.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), padding="full"),
         "Invalid padding string 'full'"),
        (lambda: conv_ops.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3))
         , "expected a 4-D weight"),
        (lambda: conv_ops.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3, dtype=chainrule.float64)),
         "should have the same dtype"),
        (lambda: conv_ops.conv_transpose2d(_t(1, 2, 3, 3), _t(3, 1, 3, 3)),
         r"Given transposed=1, groups=1, weight of size \[3, 1, 3, 3\], expected input"),
        (lambda: conv_ops.conv_transpose2d(_t(1, 1, 3, 3), _t(1, 1, 3, 3), output_padding=1),
         "output padding must be smaller than either stride or dilation"),
        (lambda: conv_ops.max_pool2d(_t(1, 1, 4, 4), 2, padding=2),
         "pad should be at most half of effective kernel size"),
        (lambda: conv_ops.max_pool2d(_t(1, 1, 2, 2), 3), "Output size is too small"),
        (lambda: conv_ops.avg_pool2d(_t(1, 1, 4, 4), 2, padding=2), "pad should be smaller"),
        (lambda: conv_ops.max_pool2d(_t(4, 4), 2), "Expected 3D or 4D"),
        (lambda: conv_ops.fold(_t(1, 8, 11), (4, 5), 2), "number of sliding blocks 3 \\* 4"),
    ],
)  # fmt: skip
def test_errors_name_the_shapes(call, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        call()


def test_conv2d_backward_does_not_keep_the_columns():
    """Columns are recomputed in backward: the graph holds only the input and the weight."""
    x = chainrule.ones(2, 1, 8, 8)
    w = chainrule.ones(3, 1, 3, 3, requires_grad=True)
    y = conv_ops.conv2d(x, w)
    saved = y.grad_fn.saved
    assert len(saved) == 2 and saved[0] is x._data and saved[1] is w._data


@pytest.mark.parametrize(
    "call",
    [
        lambda m, x: F(m).conv2d(x, m.ones(4, 3, 3, 3), padding=1),
        lambda m, x: F(m).max_pool2d(x, 2),
        lambda m, x: F(m).avg_pool2d(x, 2),
        lambda m, x: F(m).conv_transpose2d(x, m.ones(3, 2, 3, 3), stride=2),
    ],
)
def test_empty_batch_gives_an_empty_output_of_torchs_shape(call):
    if torch is None:
        pytest.skip("torch is not installed")
    ours = call(chainrule, chainrule.zeros(0, 3, 5, 5))
    theirs = call(torch, torch.zeros(0, 3, 5, 5))
    assert tuple(ours.shape) == tuple(theirs.shape)


@pytest.mark.parametrize(
    "window",
    [
        [[1.0, np.nan], [np.nan, 2.0]],  # several NaNs: PyTorch's gradient goes to the last
        [[np.nan, 3.0], [5.0, 2.0]],
        [[4.0, 5.0], [5.0, np.nan]],
        [[7.0, 7.0], [1.0, 7.0]],  # ties: the first
    ],
)
@pytest.mark.parametrize("stride", [2, 1])
def test_max_pool_gradient_and_indices_follow_torch_with_nans_and_ties(window, stride):
    if torch is None:
        pytest.skip("torch is not installed")
    a = np.array(window, np.float32)
    a = np.concatenate([a, a[::-1]], axis=1)[None, None]  # (1, 1, 2, 4)
    results = []
    for m in (chainrule, torch):
        x = m.tensor(a, requires_grad=True)
        y, idx = F(m).max_pool2d(x, 2, stride=stride, return_indices=True)
        y.sum().backward()
        results.append((y.detach().numpy(), idx.numpy(), x.grad.numpy()))
    (y1, i1, g1), (y2, i2, g2) = results
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(g1, g2)
