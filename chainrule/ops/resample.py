"""Resampling and similarity: interpolate (nearest, nearest-exact, linear, bilinear, bicubic,
trilinear, area), pixel_shuffle, pixel_unshuffle and cosine_similarity.

All are compositions: interpolation gathers rows with index_select and mixes neighbours with
weights, one spatial dim at a time (bilinear, bicubic and trilinear kernels and area averages
are separable), so the gradients and double gradients come from those ops. Bicubic uses Keys'
kernel with A = -0.75 and clamps taps at the border, as PyTorch does.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..tensor import Tensor
from .creation import tensor
from .index import index_select

_MODES = {
    "nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2, "bicubic": 2,
    "trilinear": 3, "area": None,
}  # fmt: skip
_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) choice for Keys' cubic convolution kernel


def _per_dim(value, n: int, name: str) -> list:
    if value is None:
        return [None] * n
    if isinstance(value, numbers.Number):
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(
            f"Input and {name} must have the same number of spatial dimensions, but got input "
            f"with spatial dimensions of {n} and {name} of length {len(value)}. Please provide "
            f"input tensor in (N, C, d1, d2, ...,dK) format and {name} in (o1, o2, ...,oK) format."
        )
    return value


def _source_coords(out_size, in_size, scale, mode, align_corners):
    """Where each output position samples the input (float coordinates), as PyTorch computes."""
    dst = np.arange(out_size, dtype=np.float64)
    if mode in ("nearest", "nearest-exact"):
        s = in_size / out_size if scale is None else 1.0 / scale
        src = np.floor(dst * s) if mode == "nearest" else np.floor((dst + 0.5) * s)
        return np.minimum(src, in_size - 1).astype(np.int64)
    if align_corners:
        s = (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
        return dst * s
    s = in_size / out_size if scale is None else 1.0 / scale
    return np.maximum((dst + 0.5) * s - 0.5, 0.0)


def _cubic_weights(t):
    """Keys' kernel at the four taps around a sample at fraction t past the second one."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def _mix(x: Tensor, dim: int, out_size: int, taps) -> Tensor:
    """Σ_k w_k · x[i_k] along dim, for taps [(indices, weights)] of length out_size each."""
    shape = [1] * x.ndim
    shape[dim] = out_size
    out = None
    for idx, w in taps:
        term = index_select(x, dim, tensor(idx, device=x.device))
        term = term * tensor(w.astype(x.dtype).reshape(shape), device=x.device)
        out = term if out is None else out + term
    return out


def _area_dim(x: Tensor, dim: int, out_size: int) -> Tensor:
    """Adaptive average pooling along dim: output i averages input [⌊i·n/m⌋, ⌈(i+1)·n/m⌉)."""
    n = x.shape[dim]
    i = np.arange(out_size)
    start = (i * n) // out_size
    end = -((-(i + 1) * n) // out_size)
    length = end - start
    taps = [(np.minimum(start + j, n - 1), (j < length) / length) for j in range(int(length.max()))]
    return _mix(x, dim, out_size, taps)


def _cubic_dim(x: Tensor, dim: int, out_size: int, scale, align_corners) -> Tensor:
    n = x.shape[dim]
    dst = np.arange(out_size, dtype=np.float64)
    if align_corners:
        src = dst * ((n - 1) / (out_size - 1) if out_size > 1 else 0.0)
    else:  # not clamped at 0 for the cubic kernel, as PyTorch
        src = (dst + 0.5) * (n / out_size if scale is None else 1.0 / scale) - 0.5
    i0 = np.floor(src)
    weights = _cubic_weights(src - i0)
    i0 = i0.astype(np.int64)
    taps = [(np.clip(i0 - 1 + k, 0, n - 1), weights[k]) for k in range(4)]
    return _mix(x, dim, out_size, taps)


def _resize_dim(x: Tensor, dim: int, out_size: int, scale, mode, align_corners) -> Tensor:
    in_size = x.shape[dim]
    if mode == "area":
        return _area_dim(x, dim, out_size)
    if mode == "bicubic":
        return _cubic_dim(x, dim, out_size, scale, align_corners)
    src = _source_coords(out_size, in_size, scale, mode, align_corners)
    if mode in ("nearest", "nearest-exact"):
        return index_select(x, dim, tensor(src, device=x.device))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    w = (src - i0).astype(x.dtype)
    shape = [1] * x.ndim
    shape[dim] = out_size
    w = tensor(w.reshape(shape), device=x.device)
    lo = index_select(x, dim, tensor(i0, device=x.device))
    hi = index_select(x, dim, tensor(i1, device=x.device))
    return lo + (hi - lo) * w


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims (all but N, C) to ``size`` or by ``scale_factor``.

    Args:
        mode: 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear' and 'bicubic'
            (4-D), 'trilinear' (5-D), 'area' (adaptive average pooling, any of them).
        align_corners: for the linear modes, map corner pixels' centres onto each other.

    Example:
        >>> import chainrule as torch
        >>> torch.nn.functional.interpolate(torch.ones(1, 1, 2, 2), scale_factor=2).shape
        chainrule.Size([1, 1, 4, 4])
    """
    if mode not in _MODES:
        raise NotImplementedError(
            f"interpolate: mode '{mode}' is not implemented in chainrule (available: "
            f"{', '.join(_MODES)})"
        )
    n = input.ndim - 2
    if n < 1:
        raise ValueError(f"interpolate expects a batched (N, C, ...) input, got {input.ndim}-D")
    if _MODES[mode] is not None and _MODES[mode] != n:
        want = {1: "3D", 2: "4D", 3: "5D"}[_MODES[mode]]
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {want} input")
    if mode in ("nearest", "nearest-exact", "area") and align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: linear | "
            "bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented in chainrule")
    if (size is None) == (scale_factor is None):
        raise ValueError("only one of size or scale_factor should be defined")
    sizes = _per_dim(size, n, "size")
    scales = _per_dim(scale_factor, n, "scale_factor")
    spatial = input.shape[2:]
    if size is None:
        sizes = [int(math.floor(s * f)) for s, f in zip(spatial, scales)]
    if size is not None or recompute_scale_factor:
        scales = [None] * n  # the scale comes from the sizes
    out = input
    for k in range(n):
        if sizes[k] != spatial[k] or scales[k] not in (None, 1):
            out = _resize_dim(out, 2 + k, int(sizes[k]), scales[k], mode, bool(align_corners))
    return out if out is not input else input.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


# ------------------------------------------------------------------------------ pixel shuffle
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) -> (*, C, H·r, W·r)."""
    r = int(upscale_factor)
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(
            f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
            f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}"
        )
    nb = len(batch)
    x = input.reshape(tuple(batch) + (c // (r * r), r, r, h, w))
    perm = tuple(range(nb)) + tuple(nb + i for i in (0, 3, 1, 4, 2))
    return x.permute(perm).reshape(tuple(batch) + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) -> (*, C·r², H, W)."""
    r = int(downscale_factor)
    *batch, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(
            f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but "
            f"input has height {h} and width {w} and downscale_factor is {r}"
        )
    nb = len(batch)
    x = input.reshape(tuple(batch) + (c, h // r, r, w // r, r))
    perm = tuple(range(nb)) + tuple(nb + i for i in (0, 2, 4, 1, 3))
    return x.permute(perm).reshape(tuple(batch) + (c * r * r, h // r, w // r))


# ------------------------------------------------------------------------------ similarity
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps)) along ``dim`` (inputs broadcast)."""
    n1 = x1.norm(2, dim, keepdim=True).clamp(min=eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


METHODS: list = []
__all__ = ["interpolate", "upsample", "pixel_shuffle", "pixel_unshuffle", "cosine_similarity"]
