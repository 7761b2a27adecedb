"""Layer-table rows: TransformerEncoderLayer/DecoderLayer (post- and pre-norm, relu/gelu/
callable activations, masks, batch_first), the stacks and the full Transformer, against
torch.nn on copied weights (dropout=0 for parity); then dropout, deep copies, state_dict keys
and the causal mask."""

import numpy as np
import pytest

import chainrule
from tests.nn.modcheck import ModuleCase, params, run_module_case

try:
    import torch
except ImportError:
    torch = None

pytestmark = [  # torch's own advice, about its internals
    pytest.mark.filterwarnings("ignore:enable_nested_tensor is True:UserWarning"),
    pytest.mark.filterwarnings("ignore:Support for mismatched:UserWarning"),
]

D, HEADS, FF, S, T, N = 8, 2, 16, 5, 4, 2  # model size, heads, feed-forward, lengths, batch


def _enc(nn, **kw):
    return nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.0, **kw)


def _dec(nn, **kw):
    return nn.TransformerDecoderLayer(D, HEADS, FF, dropout=0.0, **kw)


def _mask_of(module):
    m = torch if type(module).__module__.startswith("torch") else chainrule
    return m.nn.Transformer.generate_square_subsequent_mask


def _enc_masked(module, src, kpm):
    mask = _mask_of(module)(src.shape[0])
    return module(src, src_mask=mask, src_key_padding_mask=kpm)


def _padding(rng):
    kpm = np.zeros((N, S), bool)
    kpm[0, -1] = True
    return [rng.uniform(-2, 2, (S, N, D)), kpm]


def _dec_call(module, tgt, memory):
    mask = _mask_of(module)(tgt.shape[1] if module.self_attn.batch_first else tgt.shape[0])
    return module(tgt, memory, tgt_mask=mask, tgt_is_causal=True)


def _full_call(module, src, tgt):
    mask = _mask_of(module)(tgt.shape[0])
    return module(src, tgt, tgt_mask=mask)


X, XB, TM, TMB = [(S, N, D)], [(N, S, D)], [(T, N, D), (S, N, D)], [(N, T, D), (N, S, D)]
CASES = [
    ModuleCase("encoder_layer", lambda nn: _enc(nn), inputs=X),
    ModuleCase("encoder_layer_norm_first_gelu",
               lambda nn: _enc(nn, norm_first=True, activation="gelu"), inputs=X),
    ModuleCase("encoder_layer_batch_first_module_act",
               lambda nn: _enc(nn, batch_first=True, activation=nn.Tanh()), inputs=XB),
    ModuleCase("encoder_layer_no_bias", lambda nn: _enc(nn, bias=False, layer_norm_eps=1e-3),
               inputs=X),
    ModuleCase("encoder_layer_masks", lambda nn: _enc(nn), make_inputs=_padding, call=_enc_masked,
               requires_grad=(True, False)),
    ModuleCase("encoder_layer_unbatched", lambda nn: _enc(nn), inputs=[(S, D)]),
    ModuleCase("encoder", lambda nn: nn.TransformerEncoder(_enc(nn), 2, nn.LayerNorm(D)),
               inputs=X),
    ModuleCase("encoder_causal", lambda nn: nn.TransformerEncoder(_enc(nn, batch_first=True), 2),
               inputs=XB, call=lambda m, x: m(x, mask=_mask_of(m)(S), is_causal=True)),
    ModuleCase("decoder_layer", lambda nn: _dec(nn), inputs=TM),
    ModuleCase("decoder_layer_norm_first_causal",
               lambda nn: _dec(nn, norm_first=True, batch_first=True), inputs=TMB,
               call=_dec_call),
    ModuleCase("decoder", lambda nn: nn.TransformerDecoder(_dec(nn), 2, nn.LayerNorm(D)),
               inputs=TM),
    ModuleCase("transformer", lambda nn: nn.Transformer(D, HEADS, 1, 1, FF, dropout=0.0),
               inputs=[(S, N, D), (T, N, D)], call=_full_call),
    ModuleCase("transformer_batch_first_norm_first", lambda nn: nn.Transformer(
        D, HEADS, 2, 1, FF, dropout=0.0, batch_first=True, norm_first=True, activation="gelu"),
        inputs=[(N, S, D), (N, T, D)]),
]  # fmt: skip


@pytest.mark.parametrize("case,dtype,mode", params(CASES))
def test_module(case, dtype, mode):
    run_module_case(case, dtype, mode)


def test_dropout_in_training_only():
    chainrule.manual_seed(0)
    layer = chainrule.nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.3)
    x = chainrule.randn(S, N, D)

    def out():
        return layer(x).detach().numpy()

    layer.eval()
    ref = out()
    assert np.array_equal(out(), ref)
    layer.train()
    assert not np.allclose(out(), ref)


def test_stack_deep_copies_the_layer_and_has_pytorch_keys():
    layer = chainrule.nn.TransformerEncoderLayer(D, HEADS, FF)
    enc = chainrule.nn.TransformerEncoder(layer, 2)
    assert enc.layers[0] is not layer and enc.layers[0].linear1.weight is not layer.linear1.weight
    assert np.array_equal(
        enc.layers[1].linear1.weight.detach().numpy(), layer.linear1.weight.detach().numpy()
    )
    ours = list(chainrule.nn.Transformer(D, HEADS, 2, 2, FF).state_dict())
    theirs = list(torch.nn.Transformer(D, HEADS, 2, 2, FF).state_dict())
    assert ours == theirs
    assert "encoder.layers.0.self_attn.in_proj_weight" in ours


def test_transformer_reinitialises_matrices_with_xavier():
    model = chainrule.nn.Transformer(64, 4, 1, 1, 256)
    w = model.encoder.layers[0].linear1.weight.detach().numpy()  # (256, 64)
    bound = np.sqrt(6 / (256 + 64))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_square_subsequent_mask():
    m = chainrule.nn.Transformer.generate_square_subsequent_mask(3).numpy()
    ref = torch.nn.Transformer.generate_square_subsequent_mask(3).numpy()
    assert np.array_equal(m, ref) and m.dtype == ref.dtype


def test_errors():
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        chainrule.nn.TransformerEncoderLayer(D, HEADS, activation="tanh")
    model = chainrule.nn.Transformer(D, HEADS, 1, 1, FF)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(chainrule.randn(S, 2, D), chainrule.randn(T, 3, D))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal"):
        model(chainrule.randn(S, 2, D), chainrule.randn(T, 2, D + 1))
