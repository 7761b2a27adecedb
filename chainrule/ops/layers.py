"""The core layers' functional forms: linear, bilinear, the dropouts and embedding.

Two are primitives. ``linear`` is in every model's hot path: one op for x Wᵀ + b is one graph
node instead of three (transpose, matmul, add), and a batch of any rank runs as one GEMM over
its flattened leading dims, forward and backward. ``embedding`` is a row gather whose backward
scatters into the rows (no gradient for the padding row). The dropouts share one op that
multiplies by a fixed random mask (and, for alpha dropout, adds a fixed shift): the mask is not
differentiable, so the op keeps only the mask, never its input, and works in place.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .. import backend
from ..amp import autocast_mode as _amp
from ..autograd import engine
from ..backend import array_module
from ..tensor import Tensor
from ._core import Op, check_same_device, commit_inplace
from .creation import _gen
from .index import index_add_zeros
from .linalg import _dims_str, einsum, matmul
from .normalization import sum_leading


# ----------------------------------------------------------------------------------- linear
class Linear(Op):
    """y = x Wᵀ + b;  gx = gy W, gW = gyᵀ x, gb = Σ gy  (leading dims of x flattened)"""

    @staticmethod
    def forward(ctx, x, w, b):
        ctx.save_for_backward(x, w)
        if x.ndim > 2:  # one GEMM over the whole batch
            y = (x.reshape(-1, x.shape[-1]) @ w.T).reshape(x.shape[:-1] + w.shape[:1])
        else:
            y = x @ w.T
        if b is not None:
            y += b  # y is fresh: adding in place saves an output-sized allocation
        if y.dtype != x.dtype:  # bfloat16's matmul gives float32: round once, as PyTorch
            y = y.astype(x.dtype)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        out_f, in_f = w.shape
        gy2 = gy.reshape(-1, out_f)
        gx = (gy2 @ w).reshape(x.shape) if need_x else None
        gw = gy2.T @ x.reshape(-1, in_f) if need_w else None
        gb = sum_leading(gy2, 1) if need_b else None
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight.T + bias: weight is (out_features, in_features), input (*, in_features).

    Example:
        >>> import chainrule as torch
        >>> import chainrule.nn.functional as F
        >>> F.linear(torch.ones(2, 3), torch.ones(4, 3), torch.zeros(4)).shape
        chainrule.Size([2, 4])
    """
    if _amp.active:  # autocast: PyTorch runs linear in the lower precision
        return _amp.run_lower(linear, input, weight, bias)
    xd, wd = input._data, weight._data  # raw arrays: this check runs on every layer call
    if wd.ndim != 2 or xd.ndim == 0:
        y = matmul(input, weight.T if wd.ndim == 2 else weight)
        return y if bias is None else y + bias
    if xd.__class__ is not wd.__class__:
        check_same_device(input, weight)
    if xd.shape[-1] != wd.shape[1] or xd.dtype != wd.dtype:
        _check_linear(input, weight)
    if bias is not None and (bias._data.dtype != wd.dtype or bias._data.shape != wd.shape[:1]):
        _check_linear(input, weight, bias)
    return Linear.apply(input, weight, bias)


def _check_linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> None:
    """The errors of linear, with the shapes and in_features named."""
    in_f = weight.shape[1]
    if input.shape[-1] != in_f:
        rows = math.prod(input.shape[:-1])
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({rows}x{input.shape[-1]} and "
            f"{_dims_str(weight.shape[::-1])}): the weight (shape {list(weight.shape)}) expects "
            f"in_features={in_f} in the input's last dim, but the input has shape "
            f"{list(input.shape)}"
        )
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        other = input.dtype if input.dtype != weight.dtype else bias.dtype
        raise RuntimeError(
            f"mat1 and mat2 must have the same dtype, but got {backend.dtype_name(other)} and "
            f"{backend.dtype_name(weight.dtype)}: cast the input with .to({weight.dtype}) "
            "(or the module with .to(dtype))"
        )
    if bias is not None and tuple(bias.shape) not in ((weight.shape[0],), (1,), ()):
        raise RuntimeError(
            f"linear: bias of shape {list(bias.shape)} does not match out_features="
            f"{weight.shape[0]}"
        )


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None):
    """y_k = x1ᵀ A_k x2 + b_k: input1 (*, in1), input2 (*, in2), weight (out, in1, in2)."""
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-D, got shape {list(weight.shape)}")
    out_f, in1, in2 = weight.shape
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear(): input batch dimensions do not match: got {list(input1.shape[:-1])} "
            f"and {list(input2.shape[:-1])}"
        )
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise RuntimeError(
            f"bilinear(): input sizes do not match the weight: input1 {list(input1.shape)}, "
            f"input2 {list(input2.shape)}, weight {list(weight.shape)} (out, in1, in2)"
        )
    lead = tuple(input1.shape[:-1])
    y = einsum("bi,oij,bj->bo", input1.reshape(-1, in1), weight, input2.reshape(-1, in2))
    y = y.reshape(lead + (out_f,))
    return y if bias is None else y + bias


# ---------------------------------------------------------------------------------- dropout
class MaskedAffine(Op):
    """y = x · m + c for a fixed mask m and shift c (dropout's noise);  gx = gy · m"""

    @staticmethod
    def forward(ctx, x, m, c):
        ctx.m = m
        y = x * m
        if c is not None:
            y += c
        return y

    @staticmethod
    def backward(ctx, gy):
        return gy * ctx.m, None, None


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(x: Tensor, p: float, shape) -> np.ndarray:
    """1 with probability 1 - p, else 0, in x's dtype (and on x's device)."""
    dt = x._data.dtype
    u = _gen(None).random(shape, dtype=np.float32 if dt == np.float32 else np.float64)
    m = (u >= p).astype(dt)
    return backend.to_device(m, x.device) if x.device.type != "cpu" else m


def _noise_shape(x: Tensor, feature: bool):
    """Elementwise noise, or one draw per (sample, channel) for the feature (channel) forms."""
    if not feature:
        return tuple(x.shape)
    return tuple(x.shape[:2]) + (1,) * (x.ndim - 2)


def _dropout(x: Tensor, p: float, training: bool, inplace: bool, feature: bool, name: str):
    _check_p(p)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    if p == 1.0:
        m = array_module(x._data).zeros(_noise_shape(x, feature), x._data.dtype)
    else:
        m = _keep_mask(x, p, _noise_shape(x, feature))
        m *= 1.0 / (1.0 - p)  # scale the kept units so that the expectation is unchanged
    y = MaskedAffine.apply(x, m, None)
    return commit_inplace(x, y, name + "_") if inplace else y


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (training only).

    The mask comes from the default generator: ``chainrule.manual_seed`` makes it repeatable.
    """
    return _dropout(input, p, training, inplace, False, "dropout")


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of a (N, C, L) or (C, L) input with probability p."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial "
            "dimension, a channel dimension, and an optional batch dimension (i.e. 2D or 3D "
            "inputs)."
        )
    return _feature_dropout(input, p, training, inplace, batched=input.ndim == 3)


def _feature_dropout(input, p, training, inplace, batched, name="feature_dropout"):
    if batched:
        return _dropout(input, p, training, inplace, True, name)
    # one sample without a batch dim: draw per channel, as if it had one
    if not training or p == 0.0:
        _check_p(p)
        return input
    m_shape = (1,) + tuple(input.shape)
    y = _dropout(input.reshape(m_shape), p, training, False, True, name).reshape(input.shape)
    return commit_inplace(input, y, name + "_") if inplace else y


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of a (N, C, H, W) input with probability p. A 3-D input is taken as
    (N, C, L) with a warning, as in PyTorch."""
    _check_p(p)
    if input.ndim not in (3, 4):
        warnings.warn(
            f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 3D or 4D inputs).",
            stacklevel=2,
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            stacklevel=2,
        )
    return _dropout(input, p, training, inplace, True, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of a (N, C, D, H, W) or (C, D, H, W) input with probability p."""
    _check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 4D or 5D inputs).",
            stacklevel=2,
        )
    return _feature_dropout(input, p, training, inplace, batched=input.ndim != 4)


# SELU's negative saturation value: -scale · alpha
_ALPHA_PRIME = 1.7580993408473766


def _alpha_dropout(x, p, training, inplace, feature, name):
    """Dropped units are set to SELU's saturation value, then an affine map a·y + b restores
    zero mean and unit variance (Klambauer et al. 2017)."""
    _check_p(p)
    if not training or p == 0.0 or x.numel() == 0:
        return x
    shape = _noise_shape(x, feature)
    if p == 1.0:
        y = MaskedAffine.apply(x, array_module(x._data).zeros(shape, x._data.dtype), None)
    else:
        keep = _keep_mask(x, p, shape)
        a = 1.0 / math.sqrt((_ALPHA_PRIME**2 * p + 1) * (1 - p))
        shift = (keep - 1) * (_ALPHA_PRIME * a) + _ALPHA_PRIME * a * p
        y = MaskedAffine.apply(x, keep * a, shift.astype(x._data.dtype))
    return commit_inplace(x, y, name + "_") if inplace else y


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout that keeps a SELU network's self-normalisation (mean 0, variance 1)."""
    return _alpha_dropout(input, p, training, inplace, False, "alpha_dropout")


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """alpha_dropout of whole channels."""
    return _alpha_dropout(input, p, training, inplace, True, "feature_alpha_dropout")


# -------------------------------------------------------------------------------- embedding
class Embedding(Op):
    """y = W[idx];  gW = zeros with gW[idx] += gy (rows of padding_idx get nothing)"""

    @staticmethod
    def forward(ctx, w, idx, padding_idx, scale_grad_by_freq):
        ctx.idx, ctx.n = idx, w.shape[0]
        ctx.padding_idx, ctx.by_freq = padding_idx, scale_grad_by_freq
        return array_module(w).take(w, idx, axis=0)  # faster than w[idx] for a row gather

    @staticmethod
    def backward(ctx, gy):
        args = (ctx.idx, ctx.n, ctx.padding_idx, ctx.by_freq)
        if isinstance(gy, Tensor):  # create_graph: the scatter as an op of its own
            return EmbeddingBackward.apply(gy, *args), None, None, None
        return _embedding_grad(gy, *args), None, None, None


class EmbeddingBackward(Op):
    """y = embedding's gW (gy scattered into rows);  g_gy = gy_y[idx], zero at padding_idx
    (PyTorch's embedding double backward: the frequency scaling is not applied again)"""

    @staticmethod
    def forward(ctx, gy, idx, n, padding_idx, by_freq):
        ctx.idx, ctx.padding_idx = idx, padding_idx
        return _embedding_grad(gy, idx, n, padding_idx, by_freq)

    @staticmethod
    def backward(ctx, gg):
        g = gg[ctx.idx]
        if ctx.padding_idx is not None:
            keep = ctx.idx != ctx.padding_idx
            g = g * keep.reshape(keep.shape + (1,)).astype(g.dtype)
        return g, None, None, None, None


def _embedding_grad(gy, idx, n: int, padding_idx, by_freq: bool):
    """zeros (n, D) with rows idx += gy, scaled by 1/count with by_freq, padding row zero."""
    xp = array_module(gy)
    scale = None
    if padding_idx is not None:
        scale = idx != padding_idx
    if by_freq:
        inv = 1.0 / xp.maximum(xp.bincount(idx.reshape(-1), minlength=n), 1)
        scale = inv[idx] if scale is None else inv[idx] * scale
    if scale is not None:
        gy = gy * scale.reshape(scale.shape + (1,)).astype(gy.dtype)
    return index_add_zeros((n,) + tuple(gy.shape[idx.ndim :]), idx, gy)


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of `weight` picked by the integer tensor `input`: output shape input.shape + (D,).

    Args:
        padding_idx: this row gets no gradient (negative counts from the end).
        max_norm: rows looked up are first renormalised in place to norm ≤ max_norm.
        scale_grad_by_freq: divide each row's gradient by its count in the batch.
    """
    if input.dtype.kind not in "iu":
        raise RuntimeError(
            "Expected tensor for argument #1 'indices' to have one of the following scalar "
            f"types: Long, Int; but got {backend.dtype_name(input.dtype)} instead (while "
            "checking arguments for embedding): convert the indices with .long()"
        )
    if weight.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D, got shape {list(weight.shape)}")
    if sparse:
        raise NotImplementedError(
            "embedding(sparse=True): chainrule has no sparse gradients; use sparse=False"
        )
    n = weight.shape[0]
    if padding_idx is not None:
        if padding_idx >= n or padding_idx < -n:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= n
    idx = input._data
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
        raise IndexError(
            f"index out of range in self: index {bad} for an embedding of {n} rows (valid "
            f"indices are 0..{n - 1})"
        )
    if max_norm is not None:
        _embedding_renorm_(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, idx, padding_idx, scale_grad_by_freq)


def _embedding_renorm_(weight: Tensor, idx, max_norm: float, norm_type: float) -> None:
    """Scale the rows of weight named in idx to norm ≤ max_norm, in place and without a graph
    (PyTorch's embedding_renorm_)."""
    xp = array_module(weight._data)
    rows = xp.unique(idx.reshape(-1))
    w = weight._data[rows]
    norms = xp.sum(xp.abs(w) ** norm_type, axis=1) ** (1.0 / norm_type)
    scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
    with engine.no_grad():
        weight._data[rows] = w * scale[:, None]
        weight._vc.bump("embedding_renorm_")


# torch.bilinear matches F.bilinear; torch.dropout(input, p, train) and torch.embedding(weight,
# input) spell their arguments differently from nn.functional, so they are not exported as such
METHODS: list = []
__all__ = ["bilinear"]
