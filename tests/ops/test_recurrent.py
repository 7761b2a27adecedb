"""Op-table rows: the recurrent cells and the multi-layer functional forms (torch.lstm, torch.gru,
torch.rnn_tanh, torch.rnn_relu and the *_cell ops), fused and unrolled."""

import numpy as np
import pytest

from chainrule.ops import recurrent
from chainrule.ops.recurrent import fused_rnn
from tests.opcheck import OpCase, params, run_case

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")

T, B, I, H = 3, 2, 3, 2  # small: gradcheck builds full Jacobians
GATES = {"lstm": 4, "gru": 3, "rnn_tanh": 1, "rnn_relu": 1}


def _fn(m, name):
    """chainrule.ops.recurrent.<name> or torch.<name>."""
    return getattr(recurrent if m.__name__ == "chainrule" else m, name)


def _cell(name, bias=True):
    gates = GATES[name.removesuffix("_cell")]

    def make(rng):
        arrays = [rng.uniform(-2, 2, (B, I)), rng.uniform(-1, 1, (B, H))]
        if name == "lstm_cell":
            arrays.append(rng.uniform(-1, 1, (B, H)))
        arrays += [rng.uniform(-1, 1, (gates * H, I)), rng.uniform(-1, 1, (gates * H, H))]
        if bias:
            arrays += [rng.uniform(-1, 1, gates * H), rng.uniform(-1, 1, gates * H)]
        return arrays

    def fn(m, x, h, *rest):
        if name == "lstm_cell":
            return _fn(m, name)(x, (h, rest[0]), *rest[1:])
        return _fn(m, name)(x, h, *rest)

    return dict(fn=fn, make=make)


def _layers(name, layers=1, bidirectional=False, bias=True, batch_first=False, proj=0):
    gates, d = GATES[name], 2 if bidirectional else 1
    h_out = proj or H

    def make(rng):
        x = rng.uniform(-2, 2, (B, T, I) if batch_first else (T, B, I))
        arrays = [x, rng.uniform(-1, 1, (layers * d, B, h_out))]
        if name == "lstm":
            arrays.append(rng.uniform(-1, 1, (layers * d, B, H)))
        for layer in range(layers):
            for _ in range(d):
                n_in = I if layer == 0 else h_out * d
                arrays += [
                    rng.uniform(-1, 1, (gates * H, n_in)),
                    rng.uniform(-1, 1, (gates * H, h_out)),
                ]
                if bias:
                    arrays += [rng.uniform(-1, 1, gates * H), rng.uniform(-1, 1, gates * H)]
                if proj:
                    arrays.append(rng.uniform(-1, 1, (proj, H)))
        return arrays

    def fn(m, x, h, *rest):
        hx, weights = ((h, rest[0]), rest[1:]) if name == "lstm" else (h, rest)
        return _fn(m, name)(
            x, hx, list(weights), bias, layers, 0.0, True, bidirectional, batch_first
        )

    return dict(fn=fn, make=make)


UNROLLED = [
    OpCase("rnn_tanh_cell", **_cell("rnn_tanh_cell")),
    OpCase("rnn_relu_cell", **_cell("rnn_relu_cell")),
    OpCase("lstm_cell", **_cell("lstm_cell")),
    OpCase("lstm_cell_nobias", **_cell("lstm_cell", bias=False)),
    OpCase("gru_cell", **_cell("gru_cell")),
]
# the fused layers are once differentiable: gradgrad rows run under fused_rnn(False) below
LAYERS = [
    OpCase("lstm", **_layers("lstm")),
    OpCase("lstm_bidir_2layer", **_layers("lstm", 2, True)),
    OpCase("lstm_nobias_batch_first", **_layers("lstm", bias=False, batch_first=True)),
    OpCase("lstm_proj", **_layers("lstm", bidirectional=True, proj=1)),
    OpCase("gru", **_layers("gru")),
    OpCase("gru_bidir_2layer", **_layers("gru", 2, True)),
    OpCase("gru_nobias", **_layers("gru", bias=False, batch_first=True)),
    OpCase("rnn_tanh", **_layers("rnn_tanh", 2, True)),
    OpCase("rnn_relu", **_layers("rnn_relu", bidirectional=True)),
    OpCase("rnn_tanh_nobias", **_layers("rnn_tanh", bias=False)),
]
for case in LAYERS:
    case.gradgrad = False


@pytest.mark.parametrize("case,sig,device", params(UNROLLED + LAYERS))
def test_op(case, sig, device):
    run_case(case, sig, device)


@pytest.mark.parametrize("case,sig,device", params(LAYERS[:1] + LAYERS[4:6] + LAYERS[7:9]))
def test_op_unrolled_gradgrad(case, sig, device):
    """The unrolled path is differentiable twice (gradgradcheck on)."""
    unrolled = OpCase(**{**case.__dict__, "gradgrad": True, "dtypes": ("float64",)})
    with fused_rnn(False):
        run_case(unrolled, sig, device)


def test_fused_rnn_restores_the_default():
    with fused_rnn(False):
        assert not recurrent._fused
    assert recurrent._fused


def test_fused_gradient_under_create_graph_is_first_order_exact():
    """create_graph=True through a fused layer gives the exact first derivative; only a second
    derivative through it raises, naming the fix."""
    import chainrule

    rng = np.random.default_rng(0)
    arrays = _layers("gru")["make"](rng)
    xs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    y = _layers("gru")["fn"](chainrule, *xs)[0]
    (g,) = chainrule.autograd.grad(y.sum(), xs[0], create_graph=True)
    (g_ref,) = chainrule.autograd.grad(_layers("gru")["fn"](chainrule, *xs)[0].sum(), xs[0])
    np.testing.assert_allclose(g.detach().numpy(), g_ref.numpy())
    with pytest.raises(RuntimeError, match="not twice differentiable"):
        g.sum().backward()
