"""Layer-table rows: RNN, LSTM, GRU (layers, directions, batch_first, initial states, unbatched,
projections) and the three cells, against torch.nn on copied weights; then what a row cannot
state (dropout between layers, double backward through the unrolled path, errors)."""

import numpy as np
import pytest

import chainrule
from chainrule.ops.recurrent import fused_rnn
from tests.nn.modcheck import ModuleCase, params, run_module_case

try:
    import torch
except ImportError:
    torch = None

pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")

T, B, I, H = 4, 3, 5, 6  # steps, batch, input and hidden sizes: small keeps the table fast


def _with_state(n_states, n_ld=1, h=H, c=H):
    """Inputs (x, h0[, c0]) and a call that passes the states as PyTorch's hx."""

    def make(rng):
        arrays = [rng.uniform(-2, 2, (T, B, I)), rng.uniform(-1, 1, (n_ld, B, h))]
        if n_states == 2:
            arrays.append(rng.uniform(-1, 1, (n_ld, B, c)))
        return arrays

    def call(module, x, h0, c0=None):
        return module(x, (h0, c0) if n_states == 2 else h0)

    return dict(make_inputs=make, call=call)


X, XB = [(T, B, I)], [(B, T, I)]  # (T, B, I) inputs, and batch_first ones
CASES = [
    ModuleCase("rnn_tanh", lambda nn: nn.RNN(I, H), inputs=X),
    ModuleCase("rnn_relu", lambda nn: nn.RNN(I, H, nonlinearity="relu"), inputs=X),
    ModuleCase("rnn_deep_bidir", lambda nn: nn.RNN(I, H, 2, bidirectional=True), inputs=X),
    ModuleCase("rnn_h0", lambda nn: nn.RNN(I, H), **_with_state(1)),
    ModuleCase("rnn_nobias_bf", lambda nn: nn.RNN(I, H, bias=False, batch_first=True), inputs=XB),
    ModuleCase("rnn_unbatched", lambda nn: nn.RNN(I, H, 2), inputs=[(T, I)]),
    ModuleCase("lstm", lambda nn: nn.LSTM(I, H), inputs=X),
    ModuleCase("lstm_states", lambda nn: nn.LSTM(I, H), **_with_state(2)),
    ModuleCase("lstm_deep_bidir", lambda nn: nn.LSTM(I, H, 2, bidirectional=True), inputs=X),
    ModuleCase("lstm_bf_nobias", lambda nn: nn.LSTM(I, H, bias=False, batch_first=True),
               inputs=XB),
    ModuleCase("lstm_proj", lambda nn: nn.LSTM(I, H, 2, proj_size=3, bidirectional=True),
               inputs=X),
    ModuleCase("lstm_proj_states", lambda nn: nn.LSTM(I, H, proj_size=3), **_with_state(2, h=3)),
    ModuleCase("lstm_unbatched", lambda nn: nn.LSTM(I, H, batch_first=True), inputs=[(T, I)]),
    # longer than the fused backward's chunk of 8 steps, and not a multiple of it
    ModuleCase("lstm_long_bidir", lambda nn: nn.LSTM(I, H, bidirectional=True),
               inputs=[(19, B, I)]),
    ModuleCase("gru", lambda nn: nn.GRU(I, H), inputs=X),
    ModuleCase("gru_h0_deep", lambda nn: nn.GRU(I, H, 2), **_with_state(1, n_ld=2)),
    ModuleCase("gru_bidir_bf", lambda nn: nn.GRU(I, H, bidirectional=True, batch_first=True),
               inputs=XB),
    ModuleCase("gru_nobias", lambda nn: nn.GRU(I, H, bias=False), inputs=X),
    ModuleCase("gru_unbatched", lambda nn: nn.GRU(I, H), inputs=[(T, I)]),
    ModuleCase("rnncell", lambda nn: nn.RNNCell(I, H), inputs=[(B, I), (B, H)]),
    ModuleCase("rnncell_relu_nobias", lambda nn: nn.RNNCell(I, H, False, "relu"), inputs=[(B, I)]),
    ModuleCase("rnncell_unbatched", lambda nn: nn.RNNCell(I, H), inputs=[(I,), (H,)]),
    ModuleCase("lstmcell", lambda nn: nn.LSTMCell(I, H), inputs=[(B, I), (B, H), (B, H)],
               call=lambda m, x, h, c: m(x, (h, c))),
    ModuleCase("lstmcell_zero_state", lambda nn: nn.LSTMCell(I, H), inputs=[(B, I)]),
    ModuleCase("lstmcell_unbatched", lambda nn: nn.LSTMCell(I, H, bias=False), inputs=[(I,)]),
    ModuleCase("grucell", lambda nn: nn.GRUCell(I, H), inputs=[(B, I), (B, H)]),
    ModuleCase("grucell_unbatched", lambda nn: nn.GRUCell(I, H), inputs=[(I,)]),
]  # fmt: skip


@pytest.mark.parametrize("case,dtype,mode", params(CASES))
def test_module(case, dtype, mode):
    run_module_case(case, dtype, mode)


@pytest.mark.parametrize("case,dtype,mode", params([c for c in CASES if c.name.endswith(
    ("tanh", "relu", "bidir", "states", "proj", "h0_deep"))]))  # fmt: skip
def test_module_unrolled(case, dtype, mode):
    """The unrolled cells (the double-backward path) agree with torch as the fused ops do."""
    with fused_rnn(False):
        run_module_case(case, dtype, mode)


# -------------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers_only_in_training(cls):
    chainrule.manual_seed(0)
    m = getattr(chainrule.nn, cls)(I, H, num_layers=2, dropout=0.5)
    x = chainrule.randn(T, B, I)

    def out():
        return m(x)[0].detach().numpy()

    m.eval()
    eval_out = out()
    assert np.array_equal(out(), eval_out)
    m.train()
    assert not np.allclose(out(), eval_out)
    m.dropout = 0.0
    assert np.allclose(out(), eval_out)


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        chainrule.nn.LSTM(I, H, dropout=0.2)


def test_parameter_names_and_init_bounds():
    m = chainrule.nn.LSTM(I, 16, num_layers=2, bidirectional=True, proj_size=4)
    names = [n for n, _ in m.named_parameters()]
    assert names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert names[5] == "weight_ih_l0_reverse" and names[-1] == "weight_hr_l1_reverse"
    assert tuple(m.weight_ih_l1.shape) == (64, 8) and tuple(m.weight_hh_l1.shape) == (64, 4)
    for p in m.parameters():
        a = np.abs(p.detach().numpy())
        assert a.max() <= 0.25 and a.max() > 0.2  # U(-1/√16, 1/√16)


def test_double_backward_needs_the_unrolled_path():
    w = chainrule.nn.GRU(I, H)
    x = chainrule.randn(T, B, I, requires_grad=True)
    (g,) = chainrule.autograd.grad(w(x)[0].sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="fused_rnn"):
        chainrule.autograd.grad(g.sum(), x)
    with fused_rnn(False):
        (g,) = chainrule.autograd.grad(w(x)[0].sum(), x, create_graph=True)
    (gg,) = chainrule.autograd.grad((g * g).sum(), x)
    assert gg.shape == x.shape and np.isfinite(gg.numpy()).all()


def test_repr_and_errors():
    assert repr(chainrule.nn.LSTM(4, 8, 2, batch_first=True)) == (
        "LSTM(4, 8, num_layers=2, batch_first=True)"
    )
    assert (
        repr(chainrule.nn.RNNCell(4, 8, nonlinearity="relu")) == "RNNCell(4, 8, nonlinearity=relu)"
    )
    lstm = chainrule.nn.LSTM(4, 8)
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        lstm(chainrule.randn(3, 2, 5))
    with pytest.raises(RuntimeError, match="Expected hidden\\[0\\] size"):
        lstm(chainrule.randn(3, 2, 4), (chainrule.zeros(1, 3, 8), chainrule.zeros(1, 3, 8)))
    with pytest.raises(RuntimeError, match="does not match the weights' dtype"):
        lstm(chainrule.randn(3, 2, 4).double())
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        chainrule.nn.LSTM(4, 8, proj_size=8)
