"""Layer-table rows: MultiheadAttention (self and cross attention, kdim/vdim, masks,
add_bias_kv, add_zero_attn, batch_first, unbatched, need_weights and per-head weights) against
torch.nn on copied weights; then dropout and initialisation."""

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

L, S, N, E, HEADS = 4, 5, 2, 8, 2


def _self(**kw):
    """Self-attention (query is key is value), keyword arguments passed to forward."""
    return lambda module, x: module(x, x, x, **kw)


def _masked(kind="bool", need_weights=True):
    """Cross-attention with a key padding mask and an attn_mask (True / -inf = masked out)."""

    def make(rng):
        kpm = np.zeros((N, S), bool)
        kpm[1, -2:] = True
        am = rng.random((L, S)) > 0.7
        am[:, 0] = False  # no fully masked row (need_weights gives NaN there, as PyTorch)
        if kind == "float":
            kpm, am = (
                np.where(kpm, -np.inf, 0.0),
                np.where(am, -np.inf, rng.uniform(-1, 0, am.shape)),
            )
        q, k, v = (rng.uniform(-2, 2, s) for s in ((L, N, E), (S, N, E), (S, N, E)))
        return [q, k, v, kpm, am]

    def call(module, q, k, v, kpm, am):
        return module(q, k, v, key_padding_mask=kpm, attn_mask=am, need_weights=need_weights)

    rg = (True, True, True, False, False)
    return dict(make_inputs=make, call=call, requires_grad=rg)


def _causal(module, x):
    mask = module.__class__.__module__.startswith("torch") and torch.nn.Transformer
    mask = (mask or chainrule.nn.Transformer).generate_square_subsequent_mask(x.shape[0])
    return module(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)


def _mha(**kw):
    return lambda nn: nn.MultiheadAttention(E, HEADS, **kw)


X, QKV = [(L, N, E)], [(L, N, E), (S, N, E), (S, N, E)]
CASES = [
    ModuleCase("mha_self", _mha(), inputs=X, call=_self()),
    ModuleCase("mha_cross", _mha(), inputs=QKV),
    ModuleCase("mha_per_head_weights", _mha(), inputs=X, call=_self(average_attn_weights=False)),
    ModuleCase("mha_no_weights", _mha(), inputs=X, call=_self(need_weights=False)),
    ModuleCase("mha_kdim_vdim", _mha(kdim=3, vdim=5), inputs=[(L, N, E), (S, N, 3), (S, N, 5)]),
    ModuleCase("mha_batch_first", _mha(batch_first=True),
               inputs=[(N, L, E), (N, S, E), (N, S, E)]),
    ModuleCase("mha_batch_first_self", _mha(batch_first=True), inputs=[(N, L, E)],
               call=_self(need_weights=False)),
    ModuleCase("mha_unbatched", _mha(), inputs=[(L, E), (S, E), (S, E)]),
    ModuleCase("mha_no_bias", _mha(bias=False), inputs=X, call=_self()),
    ModuleCase("mha_bias_kv_zero_attn", _mha(add_bias_kv=True, add_zero_attn=True), inputs=X,
               call=_self()),
    ModuleCase("mha_bool_masks", _mha(), **_masked()),
    ModuleCase("mha_float_masks_no_weights", _mha(), **_masked("float", need_weights=False)),
    ModuleCase("mha_causal", _mha(), inputs=X, call=_causal),
]  # fmt: skip


@pytest.mark.parametrize("case,dtype,mode", params(CASES))
def test_module(case, dtype, mode):
    run_module_case(case, dtype, mode)


def test_dropout_in_training_only():
    chainrule.manual_seed(0)
    mha = chainrule.nn.MultiheadAttention(E, HEADS, dropout=0.5)
    x = chainrule.randn(L, N, E)

    def out():
        return mha(x, x, x)[0].detach().numpy()

    mha.eval()
    ref = out()
    assert np.array_equal(out(), ref)
    mha.train()
    assert not np.allclose(out(), ref)


def test_parameters_and_init_as_pytorch():
    mha = chainrule.nn.MultiheadAttention(E, HEADS, kdim=3, vdim=5, add_bias_kv=True)
    names = list(mha.state_dict())
    ref = list(torch.nn.MultiheadAttention(E, HEADS, kdim=3, vdim=5, add_bias_kv=True).state_dict())
    assert names == ref
    mha = chainrule.nn.MultiheadAttention(64, 4)
    assert not np.any(mha.in_proj_bias.detach().numpy())
    assert not np.any(mha.out_proj.bias.detach().numpy())
    bound = np.sqrt(6 / (64 + 192))  # xavier_uniform_ of the (192, 64) packed weight
    w = mha.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound


def test_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        chainrule.nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="must be greater than 0"):
        chainrule.nn.MultiheadAttention(0, 4)
    mha = chainrule.nn.MultiheadAttention(E, HEADS)
    x = chainrule.randn(L, N, E)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)
