"""Attention: scaled_dot_product_attention and multi_head_attention_forward.

Two primitives. ``AttentionWeights``, P = softmax(scale · q kᵀ + mask): scores, masking and the
softmax are one graph node instead of four, and its backward needs only q, k and P (its own
output), so it is a composition of matmuls and stays differentiable to any order. ``Attention``,
P v in one node, which keeps q, k and v but not P (recomputed in backward, as flash attention
does: P is a transformer block's largest activation); sdpa uses it unless there is dropout on
P. The rest (dropout, the projections) are ordinary ops.

Masks follow PyTorch. In ``scaled_dot_product_attention`` a boolean mask marks the positions that
TAKE PART (True = attend); in ``multi_head_attention_forward`` (and ``nn.MultiheadAttention``) a
boolean ``attn_mask`` or ``key_padding_mask`` marks those that are MASKED OUT. Float masks are
added to the scores in both. A query row whose keys are all masked gets zero weights (and a zero
output) from sdpa, as in PyTorch; the need_weights path of multi-head attention gives NaN there,
as PyTorch's does.
"""

from __future__ import annotations

import math

import numpy as np

from ..amp import autocast_mode as _amp
from ..backend import array_module, split_rows
from ..tensor import Tensor
from ._core import Op
from .elementwise import _raw
from .normalization import sum_trailing

_CAUSAL: dict = {}  # (L, S, dtype, array module) -> the causal mask as 0 / -inf, made once


def _causal_mask(n_l: int, n_s: int, dtype, xp):
    """0 where query i may attend key j (j <= i, top-left aligned), -inf elsewhere."""
    key = (n_l, n_s, dtype, xp.__name__)
    m = _CAUSAL.get(key)
    if m is None:
        m = _CAUSAL[key] = xp.where(xp.tri(n_l, n_s, dtype=bool), 0, -np.inf).astype(dtype)
    return m


def _softmax_scores(q, k, add, block, scale, safe):
    """softmax(scale · q kᵀ + add + block) over the keys, on arrays."""
    xp = array_module(q)
    s = (q * scale) @ xp.swapaxes(k, -1, -2)  # fresh: the rest works in place
    for mask in (add, block):
        if mask is None:
            continue
        if np.broadcast_shapes(s.shape, mask.shape) == s.shape:
            s += mask  # a 0 / -inf add, not where(): several times faster
        else:
            s = s + mask
    m = xp.amax(s, axis=-1, keepdims=True)
    masked = add is not None or block is not None
    if safe and masked:
        # a row with every key masked has max -inf: exp(-inf - 0) = 0 gives zero weights
        m[xp.isneginf(m)] = 0
    s -= m
    xp.exp(s, out=s)
    z = sum_trailing(s, 1)
    if safe and masked:
        z[z == 0] = 1
    s /= z
    return s


class AttentionWeights(Op):
    """P = softmax(scale · q kᵀ + add + block);  gS = P (gP - Σ gP·P),
    gq = scale · gS k, gk = scale · gSᵀ q, g_add = gS  (block: a constant 0 / -inf mask)"""

    @staticmethod
    def forward(ctx, q, k, add, block, scale, safe):
        p = _softmax_scores(q, k, add, block, scale, safe)
        ctx.save_for_backward(q, k, p)
        ctx.scale = scale
        return p

    @staticmethod
    def backward(ctx, gp):
        q, k, p = ctx.saved_tensors
        xp = array_module(p)
        r = sum_trailing(gp * p, 1)
        if isinstance(p, Tensor):  # create_graph: the same rule as differentiable ops
            gs = (gp - r) * p
        else:
            gs = gp - r
            gs *= p
        need = ctx.needs_input_grad
        gq = gk = None
        if need[0]:
            gq = (gs @ k) * ctx.scale
        if need[1]:
            gk = (xp.swapaxes(gs, -1, -2) @ q) * ctx.scale
        return gq, gk, (gs if need[2] else None), None, None, None


class Attention(Op):
    """y = P v, P = softmax(scale · q kᵀ + add + block);  gv = Pᵀ gy, gP = gy vᵀ,
    gS = P (gP - Σ gP·P), gq = scale · gS k, gk = scale · gSᵀ q, g_add = gS

    A primitive for memory: P (batch x heads x L x S, a transformer block's largest
    activation) is not kept for backward but recomputed there from q and k (one GEMM and a
    softmax), as flash attention does; PyTorch's CPU sdpa keeps no P either. sdpa uses it
    when there is no dropout on P."""

    @staticmethod
    def forward(ctx, q, k, v, add, block, scale, safe):
        ctx.save_for_backward(q, k, v, add)
        ctx.block, ctx.scale, ctx.safe = block, scale, safe
        if not _by_batch(q, k, v):
            return _softmax_scores(q, k, add, block, scale, safe) @ v
        y = np.empty(q.shape[:-1] + v.shape[-1:], np.result_type(q, v))

        def part(lo, hi):
            p = _softmax_scores(q[lo:hi], k[lo:hi], _rows(add, q, lo, hi), block, scale, safe)
            np.matmul(p, v[lo:hi], out=y[lo:hi])

        split_rows(part, q.shape[0], _score_size(q, k), gemms=True)
        return y

    @staticmethod
    def backward(ctx, gy):
        q, k, v, add = ctx.saved_tensors
        xp = array_module(gy)
        need = ctx.needs_input_grad
        if not (isinstance(q, Tensor) or isinstance(gy, Tensor)):
            return _attention_grads(ctx, q, k, v, add, gy, need)
        # create_graph: the same rule through differentiable ops
        p = AttentionWeights.apply(q, k, add, ctx.block, ctx.scale, ctx.safe)
        gp = gy @ xp.swapaxes(v, -1, -2)
        gs = (gp - sum_trailing(gp * p, 1)) * p
        gv = xp.swapaxes(p, -1, -2) @ gy if need[2] else None
        gq = (gs @ k) * ctx.scale if need[0] else None
        gk = (xp.swapaxes(gs, -1, -2) @ q) * ctx.scale if need[1] else None
        return gq, gk, gv, (gs if need[3] else None), None, None, None


def _by_batch(q, k, v) -> bool:
    """Can attention on these arrays run in parts along the leading (batch) axis?"""
    return (
        array_module(q) is np
        and q.ndim >= 3
        and q.shape[0] > 1
        and q.shape[:-2] == k.shape[:-2] == v.shape[:-2]
    )


def _rows(a, q, lo, hi):
    """a's part for batch rows lo:hi where a has the batch axis, else all of a (it broadcasts)."""
    if a is None or a.ndim != q.ndim or a.shape[0] == 1:
        return a
    return a[lo:hi]


def _score_size(q, k) -> int:
    return math.prod(q.shape[:-1]) * k.shape[-2]


def _attention_grads(ctx, q, k, v, add, gy, need):
    """Attention.backward on arrays: P recomputed, one batch part at a time on several threads
    where the scores are large (backend.split_rows)."""
    block, scale, safe = ctx.block, ctx.scale, ctx.safe
    if not _by_batch(q, k, v) or gy.shape[:-2] != q.shape[:-2]:
        return _attention_grads_into(q, k, v, add, gy, need, block, scale, safe, (None,) * 4)
    outs = (
        np.empty(q.shape, q.dtype) if need[0] else None,
        np.empty(k.shape, k.dtype) if need[1] else None,
        np.empty(v.shape, v.dtype) if need[2] else None,
        np.empty(q.shape[:-1] + k.shape[-2:-1], q.dtype) if need[3] else None,
    )

    def part(lo, hi):
        parts = tuple(None if o is None else o[lo:hi] for o in outs)
        _attention_grads_into(q[lo:hi], k[lo:hi], v[lo:hi], _rows(add, q, lo, hi),
                              gy[lo:hi], need, block, scale, safe, parts)  # fmt: skip

    split_rows(part, q.shape[0], _score_size(q, k), gemms=True)
    return outs + (None, None, None)


def _attention_grads_into(q, k, v, add, gy, need, block, scale, safe, outs):
    """gq, gk, gv, gS (into outs where given: None makes fresh arrays)."""
    xp = array_module(gy)
    p = _softmax_scores(q, k, add, block, scale, safe)
    gs = xp.matmul(gy, xp.swapaxes(v, -1, -2), out=outs[3])  # gP, then gS in place
    r = sum_trailing(gs * p, 1)
    gs -= r
    gs *= p
    gq = gk = gv = None
    if need[2]:
        gv = xp.matmul(xp.swapaxes(p, -1, -2), gy, out=outs[2])
    if need[0]:
        gq = xp.matmul(gs, k, out=outs[0])
        gq *= scale
    if need[1]:
        gk = xp.matmul(xp.swapaxes(gs, -1, -2), q, out=outs[1])
        gk *= scale
    return gq, gk, gv, (gs if need[3] else None), None, None, None


def _masks(attn_mask, is_causal, n_l, n_s, dtype, xp):
    """sdpa's mask arguments as (a float Tensor to add, which gets a gradient, or None;
    a constant 0 / -inf array for boolean and causal masks, or None)."""
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError(
                "_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                "is_causal=True: fold the causal mask into attn_mask, or drop one of them"
            )
        return None, _causal_mask(n_l, n_s, dtype, xp)
    if attn_mask is None:
        return None, None
    if attn_mask.dtype.kind == "b":
        keep = _raw(attn_mask)
        return None, array_module(keep).where(keep, 0, -np.inf).astype(dtype)
    add = attn_mask if isinstance(attn_mask, Tensor) else Tensor._make(attn_mask)
    return (add if add.dtype == dtype else add.to(dtype)), None


def attention_weights(query, key, attn_mask=None, is_causal=False, scale=None, safe=True):
    """softmax(query @ keyᵀ · scale + mask) over the keys: sdpa's weights (PyTorch's mask
    convention: a boolean True takes part)."""
    n_l, n_s, e = query.shape[-2], key.shape[-2], query.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(e)
    add, block = _masks(attn_mask, is_causal, n_l, n_s, query.dtype, array_module(query._data))
    return AttentionWeights.apply(query, key, add, block, float(scale), safe)


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> Tensor:
    """softmax(query keyᵀ · scale + mask) value, with dropout on the weights.

    Args:
        query: (..., L, E); key: (..., S, E); value: (..., S, Ev).
        attn_mask: broadcastable to (..., L, S): boolean (True = take part) or float (added).
        dropout_p: dropout probability on the attention weights (applied whenever > 0, as in
            PyTorch: pass 0 in evaluation).
        is_causal: query i attends to keys j <= i (top-left aligned when L != S).
        scale: defaults to 1 / sqrt(E).
        enable_gqa: key/value may have fewer heads (dim -3) than query, which must be a multiple.

    Returns:
        (..., L, Ev). Rows whose keys are all masked give zeros.

    Example:
        >>> import chainrule as torch
        >>> q = k = v = torch.ones(1, 2, 4)
        >>> torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        chainrule.Size([1, 2, 4])
    """
    if _amp.active:  # autocast: PyTorch runs attention in the lower precision
        return _amp.run_lower(scaled_dot_product_attention, query, key, value, attn_mask,
                              dropout_p, is_causal, scale, enable_gqa)  # fmt: skip
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise RuntimeError(
            "Expected query, key, and value to have the same dtype, but got query.dtype: "
            f"{query.dtype} key.dtype: {key.dtype} and value.dtype: {value.dtype} instead."
        )
    if enable_gqa and query.ndim >= 3:
        n_q, n_kv = query.shape[-3], key.shape[-3]
        if n_q != n_kv:
            if n_q % n_kv:
                raise RuntimeError(
                    f"enable_gqa: the number of query heads ({n_q}) must be a multiple of the "
                    f"number of key/value heads ({n_kv})"
                )
            key = key.repeat_interleave(n_q // n_kv, -3)
            value = value.repeat_interleave(n_q // n_kv, -3)
    if dropout_p > 0.0:
        from .layers import dropout

        p = attention_weights(query, key, attn_mask, is_causal, scale)
        return dropout(p, dropout_p, True) @ value
    n_l, n_s, e = query.shape[-2], key.shape[-2], query.shape[-1]
    scale = 1.0 / math.sqrt(e) if scale is None else scale
    add, block = _masks(attn_mask, is_causal, n_l, n_s, query.dtype, array_module(query._data))
    return Attention.apply(query, key, value, add, block, float(scale), True)


# ---------------------------------------------------------------------- multi-head attention
def _canonical_mask(mask, name: str, dtype):
    """MHA's masks as additive floats: a boolean True (masked out) becomes -inf."""
    if mask is None:
        return None
    if mask.dtype.kind == "b":
        from .creation import zeros

        return zeros(mask.shape, dtype=dtype).masked_fill(mask, float("-inf"))
    if mask.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask


def _in_projection(query, key, value, w, b, w_q=None, w_k=None, w_v=None):
    """q, k, v = query W_qᵀ + b_q, key W_kᵀ + b_k, value W_vᵀ + b_v; W is the packed
    [W_q; W_k; W_v] unless the separate weights are given."""
    from .layers import linear

    e = query.shape[-1]
    if w_q is None:
        if key is query and value is query:  # self-attention: one GEMM for all three
            return linear(query, w, b).chunk(3, -1)
        w_q, w_k, w_v = w[:e], w[e : 2 * e], w[2 * e :]
    b_q = b_k = b_v = None
    if b is not None:
        b_q, b_k, b_v = b[:e], b[e : 2 * e], b[2 * e :]
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
):
    """PyTorch's ``F.multi_head_attention_forward``: inputs (L, N, E) (or unbatched (L, E));
    returns (output (L, N, E), weights (N, L, S) averaged over heads, (N, heads, L, S) if not,
    or None without need_weights). Boolean masks here mark positions that are masked OUT."""
    from .creation import zeros
    from .layers import dropout, linear
    from .shape import cat

    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k/static_v")
    batched = query.ndim == 3
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    n_l, n_b, e = query.shape
    if e != embed_dim_to_check:
        raise AssertionError(
            f"was expecting embedding dimension of {embed_dim_to_check}, but got {e}"
        )
    head_dim = e // num_heads
    if head_dim * num_heads != e:
        raise AssertionError(f"embed_dim {e} not divisible by num_heads {num_heads}")
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # sdpa makes the causal mask itself
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", query.dtype)
        is_causal = False

    if use_separate_proj_weight:
        q, k, v = _in_projection(
            query, key, value, None, in_proj_bias, q_proj_weight, k_proj_weight, v_proj_weight
        )
    else:
        q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias)

    if attn_mask is not None and attn_mask.ndim == 2:
        attn_mask = attn_mask.unsqueeze(0)
    if bias_k is not None:
        k = cat([k, bias_k.expand(1, n_b, e)])
        v = cat([v, bias_v.expand(1, n_b, e)])
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)

    bh = n_b * num_heads
    q = q.reshape(n_l, bh, head_dim).transpose(0, 1)
    k = k.reshape(k.shape[0], bh, head_dim).transpose(0, 1)
    v = v.reshape(v.shape[0], bh, head_dim).transpose(0, 1)
    if add_zero_attn:
        k = cat([k, zeros((bh, 1, head_dim), dtype=k.dtype)], dim=1)
        v = cat([v, zeros((bh, 1, head_dim), dtype=v.dtype)], dim=1)
        attn_mask = _pad_last(attn_mask)
        key_padding_mask = _pad_last(key_padding_mask)
    n_s = k.shape[1]
    if key_padding_mask is not None:
        kpm = key_padding_mask.reshape(n_b, 1, 1, n_s).expand(n_b, num_heads, 1, n_s)
        kpm = kpm.reshape(bh, 1, n_s)
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        w = attention_weights(q, k, attn_mask, scale=1.0 / math.sqrt(head_dim), safe=False)
        if dropout_p > 0.0:
            w = dropout(w, dropout_p, True)
        y = w @ v
        y = y.transpose(0, 1).reshape(n_l * n_b, e)
        y = linear(y, out_proj_weight, out_proj_bias).reshape(n_l, n_b, -1)
        w = w.reshape(n_b, num_heads, n_l, n_s)
        if average_attn_weights:
            w = w.mean(dim=1)
        if not batched:
            y, w = y.squeeze(1), w.squeeze(0)
        return y, w

    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.ndim == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(n_b, num_heads, -1, n_s)
    q = q.reshape(n_b, num_heads, n_l, head_dim)
    k = k.reshape(n_b, num_heads, n_s, head_dim)
    v = v.reshape(n_b, num_heads, n_s, head_dim)
    y = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    y = y.permute(2, 0, 1, 3).reshape(n_b * n_l, e)
    y = linear(y, out_proj_weight, out_proj_bias).reshape(n_l, n_b, -1)
    if not batched:
        y = y.squeeze(1)
    return y, None


def _pad_last(mask):
    """A mask with one more key column that takes part (PyTorch's pad(mask, (0, 1)))."""
    if mask is None:
        return None
    from .creation import zeros
    from .shape import cat

    return cat([mask, zeros(mask.shape[:-1] + (1,), dtype=mask.dtype)], -1)


METHODS: list = []
__all__: list = []  # torch has no torch.scaled_dot_product_attention: nn.functional exports it
