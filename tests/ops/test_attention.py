"""Op-table rows: scaled_dot_product_attention (masks, causal, scale, GQA) and
multi_head_attention_forward; then fully masked rows and the argument errors."""

import numpy as np
import pytest

import chainrule
from chainrule.ops import attention
from tests.opcheck import OpCase, params, run_case

try:
    import torch
except ImportError:
    torch = None

Q, K, V = (2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3)  # (N, heads, L or S, E)


def _sdpa(m):
    if m is torch:
        return torch.nn.functional.scaled_dot_product_attention
    return attention.scaled_dot_product_attention


def _mha(m):
    if m is torch:
        return torch.nn.functional.multi_head_attention_forward
    return attention.multi_head_attention_forward


def _bool_mask(shape, *, full_row=None):
    """q, k, v and a constant boolean mask (True = take part), optionally a fully masked row."""

    def make(rng):
        keep = rng.random(shape) > 0.4
        if full_row is not None:
            keep[..., full_row, :] = False
        return [rng.uniform(-2, 2, Q), rng.uniform(-2, 2, K), rng.uniform(-2, 2, V), keep]

    return make


def _with_mask(m, q, k, v, mask, **kw):
    return _sdpa(m)(q, k, v, attn_mask=mask, **kw)


QKV = [(Q, K, V), ((3, 4), (5, 4), (5, 2))]
CASES = [
    OpCase("sdpa", lambda m, q, k, v: _sdpa(m)(q, k, v), shapes=QKV),
    OpCase("sdpa_scale", lambda m, q, k, v: _sdpa(m)(q, k, v, scale=0.3), shapes=QKV[:1]),
    OpCase("sdpa_causal", lambda m, q, k, v: _sdpa(m)(q, k, v, is_causal=True), shapes=QKV),
    # 4096+ attention weights: the softmax sums run as GEMVs
    OpCase("sdpa_causal_gemv_sums", lambda m, q, k, v: _sdpa(m)(q, k, v, is_causal=True),
           shapes=[((2, 2, 40, 4), (2, 2, 40, 4), (2, 2, 40, 4))], gradcheck=False),
    OpCase("sdpa_causal_square", lambda m, q, k, v: _sdpa(m)(q, k, v, is_causal=True),
           shapes=[((1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 3))]),
    OpCase("sdpa_float_mask", lambda m, q, k, v, a: _sdpa(m)(q, k, v, a),
           shapes=[(Q, K, V, (3, 5)), (Q, K, V, (2, 1, 3, 5))]),
    OpCase("sdpa_bool_mask", _with_mask, make=_bool_mask((3, 5)),
           requires_grad=(True, True, True, False)),
    OpCase("sdpa_bool_mask_full_row", _with_mask, make=_bool_mask((2, 1, 3, 5), full_row=1),
           requires_grad=(True, True, True, False)),
    OpCase("sdpa_gqa", lambda m, q, k, v: _sdpa(m)(q, k, v, enable_gqa=True),
           shapes=[((2, 4, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3))]),
]  # fmt: skip

L, S, N, E, HEADS = 3, 4, 2, 4, 2


def _mha_row(need_weights, average=True, masks=False, zero_attn=False, bias_kv=False):
    def make(rng):
        arrays = [
            rng.uniform(-1, 1, (L, N, E)), rng.uniform(-1, 1, (S, N, E)),
            rng.uniform(-1, 1, (S, N, E)), rng.uniform(-0.5, 0.5, (3 * E, E)),
            rng.uniform(-0.5, 0.5, 3 * E), rng.uniform(-0.5, 0.5, (E, E)),
            rng.uniform(-0.5, 0.5, E),
        ]  # fmt: skip
        if bias_kv:
            arrays += [rng.uniform(-1, 1, (1, 1, E)), rng.uniform(-1, 1, (1, 1, E))]
        if masks:
            kpm = np.zeros((N, S), bool)
            kpm[0, -1] = True
            am = rng.random((L, S)) > 0.7  # True = masked out (MHA's convention)
            am[:, 0] = False  # no fully masked row: the need_weights path gives NaN there
            arrays += [kpm, am]
        return arrays

    def fn(m, q, k, v, w, b, wo, bo, *rest):
        bk = bv = kpm = am = None
        if bias_kv:
            bk, bv, rest = rest[0], rest[1], rest[2:]
        if masks:
            kpm, am = rest
        return _mha(m)(q, k, v, E, HEADS, w, b, bk, bv, zero_attn, 0.0, wo, bo,
                       key_padding_mask=kpm, need_weights=need_weights, attn_mask=am,
                       average_attn_weights=average)  # fmt: skip

    n = 7 + 2 * bias_kv
    rg = (True,) * n + ((False, False) if masks else ())
    return dict(fn=fn, make=make, requires_grad=rg)


MHA = [
    OpCase("mha_weights", **_mha_row(True)),
    OpCase("mha_weights_per_head_masks", **_mha_row(True, average=False, masks=True)),
    OpCase("mha_no_weights", **_mha_row(False)),
    OpCase("mha_no_weights_masks", **_mha_row(False, masks=True)),
    OpCase("mha_zero_attn_bias_kv", **_mha_row(True, zero_attn=True, bias_kv=True)),
]
for case in MHA:  # keep the Jacobians small: gradgrad is covered by the sdpa rows
    case.gradgrad = False


@pytest.mark.parametrize("case,sig,device", params(CASES + MHA))
def test_op(case, sig, device):
    run_case(case, sig, device)


def test_fully_masked_rows_give_zeros_and_zero_gradients():
    q, k, v = (chainrule.randn(*s, requires_grad=True) for s in (Q, K, V))
    keep = np.ones((3, 5), bool)
    keep[2] = False
    y = attention.scaled_dot_product_attention(q, k, v, chainrule.tensor(keep))
    assert np.array_equal(y.detach().numpy()[..., 2, :], np.zeros((2, 2, 3)))
    y.sum().backward()
    assert np.array_equal(q.grad.numpy()[..., 2, :], np.zeros((2, 2, 4)))
    add = np.zeros((3, 5))
    add[0] = -np.inf
    y = attention.scaled_dot_product_attention(q, k, v, chainrule.tensor(add))
    assert np.array_equal(y.detach().numpy()[..., 0, :], np.zeros((2, 2, 3)))


def test_sdpa_dropout_changes_the_output():
    chainrule.manual_seed(0)
    q, k, v = (chainrule.randn(*s) for s in (Q, K, V))
    plain = attention.scaled_dot_product_attention(q, k, v).numpy()
    dropped = attention.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy()
    assert not np.allclose(plain, dropped)


def test_errors():
    q, k, v = (chainrule.randn(*s) for s in (Q, K, V))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set"):
        attention.scaled_dot_product_attention(q, k, v, chainrule.ones(3, 5), is_causal=True)
    with pytest.raises(RuntimeError, match="same dtype"):
        attention.scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(RuntimeError, match="multiple of the number of key/value heads"):
        attention.scaled_dot_product_attention(
            chainrule.randn(1, 3, 2, 4),
            chainrule.randn(1, 2, 2, 4),
            chainrule.randn(1, 2, 2, 4),
            enable_gqa=True,
        )
