"""Convolution and pooling: conv1d/2d, their transposes, unfold/fold, max/avg/adaptive pools.

Everything runs on 4-D (N, C, H, W) arrays; the 1-D forms add a height of 1. A ``_Geometry``
describes how a kernel slides over an input (sizes, stride, padding, dilation, groups).

conv2d is a primitive for measured speed: im2col through a strided view of the (padded) input,
copied into (G, K, n·L) columns for a chunk of n images at a time (about 1 MiB of columns: a
whole batch's would be kh·kw times the input and set the step's memory peak), and one GEMM per
group and chunk. With stride 1 the columns are "wide": each column is one contiguous run of
the flattened input (the output is computed over the full padded width and the extra Wp - Wo
columns are dropped), which makes the copy a memcpy instead of a gather of short rows; the
transpose (conv's input gradient) then works by kernel rows: one GEMM against kw shifted views
of gy and kh adds, not kh·kw. Columns are recomputed in backward from the saved input rather
than kept. Three linear ops close under
differentiation, so double backward comes for free:

    Conv(x, w)           y  = w ⋆ x                      (the convolution)
    ConvTranspose(g, w)  gx = wᵀ ⋆ᵀ g   (adjoint in x)   (conv_transpose, conv's input grad)
    ConvWeight(x, g)     gw = g ⋆ x     (adjoint in w)   (conv's weight grad)

Each one's backward is made of the other two. Pools are sums over kernel offsets of strided
views (``Windows``), with their adjoint (``WindowsT``) as the backward, again a closed pair.
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from ..amp import autocast_mode as _amp
from ..backend import array_module, split_rows
from ..backend import one_blas_thread_when_busy as _one_blas_thread
from ..tensor import Tensor
from ._core import Op


# ------------------------------------------------------------------------------------ geometry
class _Geometry:
    """A kernel (kh, kw) sliding over x (N, C, H, W) padded to (Hp, Wp), giving (Ho, Wo)."""

    __slots__ = (
        "N", "C", "H", "W", "O", "G", "kh", "kw", "sh", "sw", "dh", "dw", "pt", "pb", "pl",
        "pr", "Hp", "Wp", "Ho", "Wo", "wide", "L",
    )  # fmt: skip

    def __init__(self, xshape, out_channels, kernel, stride, padding, dilation, groups=1, out=None):
        self.N, self.C, self.H, self.W = xshape
        self.O, self.G = out_channels, groups
        (self.kh, self.kw), (self.sh, self.sw), (self.dh, self.dw) = kernel, stride, dilation
        (self.pt, self.pb), (self.pl, self.pr) = padding
        self.Hp = self.H + self.pt + self.pb
        self.Wp = self.W + self.pl + self.pr
        self.Ho = (self.Hp - self.dh * (self.kh - 1) - 1) // self.sh + 1
        self.Wo = (self.Wp - self.dw * (self.kw - 1) - 1) // self.sw + 1
        if out is not None:  # conv_transpose: output_padding rows that no window reaches
            self.Ho, self.Wo = out
        # wide columns pay (Wp / Wo) more GEMM work for a contiguous copy: worth it up to ~2x
        self.wide = self.sh == self.sw == 1 and self.Wp <= 2 * self.Wo
        self.L = (self.Ho - 1) * self.Wp + self.Wo if self.wide else self.Ho * self.Wo

    def with_batch(self, n: int) -> _Geometry:
        """The same geometry over n images (a chunk of the batch)."""
        g = copy.copy(self)
        g.N = n
        return g

    @property
    def Kg(self):  # noqa: N802  (columns per group: C/G · kh · kw)
        return self.C // self.G * self.kh * self.kw

    @property
    def xshape(self):
        return (self.N, self.C, self.H, self.W)

    @property
    def yshape(self):
        return (self.N, self.O, self.Ho, self.Wo)

    def offsets(self):
        return [(i, j) for i in range(self.kh) for j in range(self.kw)]

    def window(self, buf, i, j):
        """The (N, C, Ho, Wo) view of a padded buffer that kernel offset (i, j) reads."""
        h0, w0 = i * self.dh, j * self.dw
        return buf[
            :,
            :,
            h0 : h0 + self.sh * (self.Ho - 1) + 1 : self.sh,
            w0 : w0 + self.sw * (self.Wo - 1) + 1 : self.sw,
        ]


def _padded(x, g: _Geometry, value=0.0):
    """x in a contiguous (N, C, Hp, Wp) buffer, the border filled with `value`."""
    xp = array_module(x)
    if g.pt == g.pb == g.pl == g.pr == 0:
        return xp.ascontiguousarray(x)
    buf = xp.full((g.N, g.C, g.Hp, g.Wp), value, dtype=x.dtype)
    buf[:, :, g.pt : g.pt + g.H, g.pl : g.pl + g.W] = x
    return buf


def _unpadded(buf, g: _Geometry):
    if g.pt == g.pb == g.pl == g.pr == 0:
        return buf
    return buf[:, :, g.pt : g.pt + g.H, g.pl : g.pl + g.W]


# ------------------------------------------------------------------------------ im2col / col2im
def _im2col(x, g: _Geometry, wide: bool):
    """Columns (N, C, kh, kw, L): entry [n, c, i, j, l] is what kernel offset (i, j) of channel
    c sees at output position l. The only copy of the input that convolution makes."""
    xp = array_module(x)
    buf = _padded(x, g)
    bn, bc, bh, bw = buf.strides  # in bytes
    strided = xp.lib.stride_tricks.as_strided
    if wide:
        shape = (g.N, g.C, g.kh, g.kw, g.L)
        return strided(buf, shape, (bn, bc, g.dh * bh, g.dw * bw, bw), writeable=False).copy()
    shape = (g.N, g.C, g.kh, g.kw, g.Ho, g.Wo)
    strides = (bn, bc, g.dh * bh, g.dw * bw, g.sh * bh, g.sw * bw)
    return strided(buf, shape, strides, writeable=False).reshape(g.N, g.C, g.kh, g.kw, g.Ho * g.Wo)


def _im2col_batch_inside(x, g: _Geometry):
    """Columns (C, kh, kw, N, L): _im2col's with the batch moved inside, at the same copy
    cost, so that one GEMM per group covers the whole batch (NumPy runs a batched matmul as N
    small GEMMs: LeNet's second conv took ~1.4x longer that way, forward and weight grad)."""
    xp = array_module(x)
    buf = _padded(x, g)
    bn, bc, bh, bw = buf.strides  # in bytes
    strided = xp.lib.stride_tricks.as_strided
    if g.wide:
        shape = (g.C, g.kh, g.kw, g.N, g.L)
        return strided(buf, shape, (bc, g.dh * bh, g.dw * bw, bn, bw), writeable=False).copy()
    shape = (g.C, g.kh, g.kw, g.N, g.Ho, g.Wo)
    strides = (bc, g.dh * bh, g.dw * bw, bn, g.sh * bh, g.sw * bw)
    return strided(buf, shape, strides, writeable=False).reshape(g.C, g.kh, g.kw, g.N, g.L)


def _to_columns_batch_inside(y, g: _Geometry):
    """(N, O, Ho, Wo) -> (O, N, L), contiguous: in wide layout the dropped columns hold zeros."""
    xp = array_module(y)
    buf = (xp.zeros if g.wide else xp.empty)((g.O, g.N, g.L), dtype=y.dtype)
    so, sn, s = buf.strides
    rows = xp.lib.stride_tricks.as_strided(
        buf, (g.O, g.N, g.Ho, g.Wo), (so, sn, (g.Wp if g.wide else g.Wo) * s, s)
    )
    rows[...] = y.transpose(1, 0, 2, 3)
    return buf


def _col2im(cols, g: _Geometry):
    """The adjoint of _im2col (not wide): add every column entry back where it was read."""
    xp = array_module(cols)
    buf = xp.zeros((g.N, g.C, g.Hp, g.Wp), dtype=cols.dtype)
    cols = cols.reshape(g.N, g.C, g.kh, g.kw, g.Ho, g.Wo)
    for i, j in g.offsets():
        g.window(buf, i, j)[...] += cols[:, :, i, j]
    return _unpadded(buf, g)


def _to_columns(y, g: _Geometry):
    """(N, O, Ho, Wo) -> (N, O, L): in wide layout the dropped columns hold zeros."""
    if not g.wide:
        return y.reshape(g.N, g.O, g.L)
    xp = array_module(y)
    buf = xp.zeros((g.N, g.O, g.Ho, g.Wp), dtype=y.dtype)
    buf[..., : g.Wo] = y
    return buf.reshape(g.N, g.O, g.Ho * g.Wp)[..., : g.L]


def _from_columns(y, g: _Geometry):
    """(N, O, L) contiguous -> (N, O, Ho, Wo), a view."""
    if not g.wide:
        return y.reshape(g.yshape)
    sn, so, s = y.strides
    strided = array_module(y).lib.stride_tricks.as_strided
    return strided(y, g.yshape, (sn, so, g.Wp * s, s), writeable=False)


# ---------------------------------------------------------------------- convolution on arrays
_CHUNK_BYTES = 1 << 20


def _batch_chunks(g: _Geometry, itemsize: int):
    """[n0, n1) ranges of images whose im2col columns take about _CHUNK_BYTES: the columns
    are kh·kw times the input, so a whole batch's (LeNet's first conv: 5.7 MB) would set the
    step's memory peak (1.8x torch's); in 1 MiB chunks the GEMMs stay large, the peak follows
    the activations, and the copies stay in cache (LeNet step: 8.2 -> 4.0 MB, and 14.5 ->
    11.8 ms of CPU on one thread)."""
    key = tuple(getattr(g, name) for name in _Geometry.__slots__) + (itemsize,)
    chunks = _CHUNKS.get(key)
    if chunks is None:  # made once per layer shape: copying a geometry costs ~10 µs
        per_image = g.C * g.kh * g.kw * max(g.L, g.Hp * g.Wp) * itemsize
        n = max(1, _CHUNK_BYTES // per_image)
        if len(_CHUNKS) > 256:
            _CHUNKS.clear()
        chunks = _CHUNKS[key] = [
            (n0, min(n0 + n, g.N), g.with_batch(min(n, g.N - n0))) for n0 in range(0, g.N, n)
        ]
    return chunks


_CHUNKS: dict = {}  # geometry fields + itemsize -> _batch_chunks' list


def _each_chunk(fn, chunks, x, g: _Geometry) -> None:
    """fn(n0, n1, gc) for each batch chunk (from _batch_chunks)."""
    _chunk_runs(lambda run: [fn(*c) for c in run], chunks, x, g)


def _chunk_runs(fn, chunks, x, g: _Geometry) -> list:
    """[fn(run) for each run of consecutive chunks]: one run, or one per part on several
    threads where the columns are large (backend.split_rows: each part's copies and GEMMs on
    one core). The cut depends only on the sizes and the thread count."""
    results = {}

    def part(lo, hi):
        results[lo] = fn(chunks[lo:hi])

    work = x.size * g.kh * g.kw if array_module(x) is np else 0
    split_rows(part, len(chunks), work, gemms=True)
    return [results[lo] for lo in sorted(results)]


def _conv_arrays(x, w, b, g: _Geometry):
    """y[n, o] = Σ_{c,i,j} w[o, c, i, j] · xpad[n, c, p·s + i·d, q·s + j·d] + b[o]"""
    xp = array_module(x)
    y = xp.empty(g.yshape, x.dtype)
    wg = w.reshape(g.G, g.O // g.G, g.Kg)

    def chunk(n0, n1, gc):
        cols = _im2col_batch_inside(x[n0:n1], gc).reshape(g.G, g.Kg, gc.N * g.L)
        yc = wg @ cols  # (G, O/G, n·L): one GEMM per group
        yc = _from_columns(yc.reshape(g.O, gc.N, g.L).transpose(1, 0, 2), gc)
        if b is not None:
            xp.add(yc, b.reshape(-1, 1, 1), out=y[n0:n1])
        else:
            y[n0:n1] = yc

    _each_chunk(chunk, _batch_chunks(g, x.dtype.itemsize), x, g)
    return y


def _conv_transpose_arrays(gy, w, b, g: _Geometry):
    """The adjoint of conv in x, shape g.xshape (+ b per channel)."""
    xp = array_module(gy)
    gx = xp.empty(g.xshape, gy.dtype)
    by = _transpose_by_rows if g.wide else _transpose_by_columns

    def chunk(n0, n1, gc):
        gx[n0:n1] = by(gy[n0:n1], w, gc)

    _each_chunk(chunk, _batch_chunks(g, gy.dtype.itemsize), gy, g)
    if b is not None:
        gx += b.reshape(-1, 1, 1)
    return gx


def _transpose_by_columns(gy, w, g: _Geometry):
    """gx = col2im(wᵀ @ gy): one GEMM, then kh·kw strided adds."""
    gyc = gy.reshape(g.N, g.G, g.O // g.G, g.L)
    cols = array_module(gy).swapaxes(w.reshape(g.G, g.O // g.G, g.Kg), 1, 2) @ gyc
    return _col2im(cols, g)


def _transpose_by_rows(gy, w, g: _Geometry):
    """Stride 1: gx[n, c, row i + s] += Σ_{o,j} w[o, c, i, j] · gy[n, o, s - j·dw] on the
    flattened padded plane. The kw shifts of gy are a strided view (copied once), so each
    kernel row is one GEMM, and only kh adds remain (instead of kh·kw)."""
    xp = array_module(gy)
    og, cg, shift = g.O // g.G, g.C // g.G, (g.kw - 1) * g.dw
    span = g.L + shift
    gyp = xp.zeros((g.N, g.O, shift + g.Ho * g.Wp + shift), dtype=gy.dtype)
    gyp[:, :, shift : shift + g.Ho * g.Wp].reshape(g.N, g.O, g.Ho, g.Wp)[..., : g.Wo] = gy
    sn, so, s = gyp.strides
    shifted = xp.lib.stride_tricks.as_strided(  # [n, o, j, t] = gy[n, o, t - j·dw]
        gyp[:, :, shift:], (g.N, g.O, g.kw, span), (sn, so, -g.dw * s, s), writeable=False
    ).reshape(g.N, g.G, og * g.kw, span)
    wr = w.reshape(g.G, og, cg, g.kh, g.kw).transpose(0, 3, 2, 1, 4)  # [g, i, c, o, j]
    with _one_blas_thread():  # N small GEMMs: see backend.one_blas_thread_when_busy
        rows = wr.reshape(g.G, g.kh * cg, og * g.kw) @ shifted  # [n, g, (i, c), t]
    rows = rows.reshape(g.N, g.G, g.kh, cg, span)
    buf = xp.zeros((g.N, g.G, cg, g.Hp * g.Wp + shift), dtype=gy.dtype)
    for i in range(g.kh):
        start = i * g.dh * g.Wp
        buf[..., start : start + span] += rows[:, :, i]
    buf = buf[..., : g.Hp * g.Wp].reshape(g.N, g.C, g.Hp, g.Wp)
    return _unpadded(buf, g)


def _conv_weight_arrays(x, gy, g: _Geometry):
    """Conv's adjoint in w:
    gw[o, c, i, j] = Σ_{n,p,q} gy[n, o, p, q] · cols[n, c, i, j, p, q]
    (one GEMM per group over a chunk of the batch's columns, or for a small gw block one small
    GEMM per image, summed over the batch)."""
    xp = array_module(x)

    def share(n0, n1, gc):
        xc, gyc = x[n0:n1], gy[n0:n1]
        if g.O // g.G * g.Kg < 1024:
            # a small gw block (LeNet's first conv: 6 x 25) from one GEMM with an N·L-long sum
            # runs on one core: N batched GEMMs, summed after, measure faster there
            cols = _im2col(xc, gc, g.wide).reshape(gc.N, g.G, g.Kg, g.L)
            gyc = _to_columns(gyc, gc).reshape(gc.N, g.G, g.O // g.G, g.L)
            with _one_blas_thread():  # N small GEMMs: see backend.one_blas_thread_when_busy
                part = xp.matmul(gyc, xp.swapaxes(cols, 2, 3)).sum(axis=0)
        else:
            cols = _im2col_batch_inside(xc, gc).reshape(g.G, g.Kg, gc.N * g.L)
            gyc = _to_columns_batch_inside(gyc, gc).reshape(g.G, g.O // g.G, gc.N * g.L)
            part = gyc @ xp.swapaxes(cols, 1, 2)  # one GEMM per group, the chunk summed inside
        return part

    def total(run):  # the chunks' shares summed in order: one weight-sized array alive
        gw = None
        for c in run:
            if gw is None:
                gw = share(*c)
            else:
                gw += share(*c)
        return gw

    gw = None
    for part in _chunk_runs(total, _batch_chunks(g, x.dtype.itemsize), x, g):
        if gw is None:
            gw = part
        elif part is not None:
            gw += part
    if gw is None:  # an empty batch
        gw = xp.zeros((g.O, g.C // g.G, g.kh, g.kw), x.dtype)
    return gw.reshape(g.O, g.C // g.G, g.kh, g.kw)


def _tensor(a):
    return a if isinstance(a, Tensor) else Tensor._make(a)


def _conv(x, w, g):
    """Conv on arrays, or (differentiably) on Tensors: what backward rules call."""
    if isinstance(x, Tensor) or isinstance(w, Tensor):
        return Conv.apply(_tensor(x), _tensor(w), None, g)
    return _conv_arrays(x, w, None, g)


def _conv_transpose(gy, w, g):
    if isinstance(gy, Tensor) or isinstance(w, Tensor):
        return ConvTranspose.apply(_tensor(gy), _tensor(w), None, g)
    return _conv_transpose_arrays(gy, w, None, g)


def _conv_weight(x, gy, g):
    if isinstance(x, Tensor) or isinstance(gy, Tensor):
        return ConvWeight.apply(_tensor(x), _tensor(gy), g)
    return _conv_weight_arrays(x, gy, g)


class Conv(Op):
    """y = w ⋆ x + b;  gx = conv_transpose(gy, w), gw = conv_weight(x, gy), gb = Σ gy"""

    @staticmethod
    def forward(ctx, x, w, b, g):
        ctx.save_for_backward(x, w)
        ctx.g = g
        return _conv_arrays(x, w, b, g)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        gx = _conv_transpose(gy, w, ctx.g) if need_x else None
        gw = _conv_weight(x, gy, ctx.g) if need_w else None
        gb = array_module(gy).sum(gy, axis=(0, 2, 3)) if need_b else None
        return gx, gw, gb, None


class ConvTranspose(Op):
    """z = conv_transpose(y, w) + b;  gy = w ⋆ gz, gw = conv_weight(gz, y), gb = Σ gz"""

    @staticmethod
    def forward(ctx, y, w, b, g):
        ctx.save_for_backward(y, w)
        ctx.g = g
        return _conv_transpose_arrays(y, w, b, g)

    @staticmethod
    def backward(ctx, gz):
        y, w = ctx.saved_tensors
        need_y, need_w, need_b = ctx.needs_input_grad[:3]
        gy = _conv(gz, w, ctx.g) if need_y else None
        gw = _conv_weight(gz, y, ctx.g) if need_w else None
        gb = array_module(gz).sum(gz, axis=(0, 2, 3)) if need_b else None
        return gy, gw, gb, None


class ConvWeight(Op):
    """gw = conv_weight(x, gy);  gx = conv_transpose(gy, ggw), ggy = ggw ⋆ x"""

    @staticmethod
    def forward(ctx, x, gy, g):
        ctx.save_for_backward(x, gy)
        ctx.g = g
        return _conv_weight_arrays(x, gy, g)

    @staticmethod
    def backward(ctx, ggw):
        x, gy = ctx.saved_tensors
        need_x, need_gy = ctx.needs_input_grad[:2]
        gx = _conv_transpose(gy, ggw, ctx.g) if need_x else None
        ggy = _conv(x, ggw, ctx.g) if need_gy else None
        return gx, ggy, None


# ----------------------------------------------------------------------------- window sums
def _windows_arrays(x, g: _Geometry, sel, scale):
    """y = scale · Σ_k [sel == k] · window_k(x padded with zeros)  (sel None: every k)"""
    buf = _padded(x, g)
    y = array_module(x).zeros(g.yshape, dtype=x.dtype)
    for k, (i, j) in enumerate(g.offsets()):
        y += g.window(buf, i, j) if sel is None else g.window(buf, i, j) * (sel == k)
    return y if scale is None else y * scale


def _windows_t_arrays(gy, g: _Geometry, sel, scale):
    """The adjoint: gx = Σ_k window_kᵀ([sel == k] · scale · gy)"""
    xp = array_module(gy)
    if scale is not None:
        gy = gy * scale
    buf = xp.zeros((g.N, g.C, g.Hp, g.Wp), dtype=gy.dtype)
    for k, (i, j) in enumerate(g.offsets()):
        g.window(buf, i, j)[...] += gy if sel is None else gy * (sel == k)
    return _unpadded(buf, g)


def _windows(x, g, sel, scale):
    if isinstance(x, Tensor):
        return Windows.apply(x, g, sel, scale)
    return _windows_arrays(x, g, sel, scale)


def _windows_t(gy, g, sel, scale):
    if isinstance(gy, Tensor):
        return WindowsT.apply(gy, g, sel, scale)
    return _windows_t_arrays(gy, g, sel, scale)


class Windows(Op):
    """y = scale · Σ_k [sel == k] · window_k(x);  gx = windows_t(gy)"""

    @staticmethod
    def forward(ctx, x, g, sel, scale):
        ctx.g, ctx.sel, ctx.scale = g, sel, scale
        return _windows_arrays(x, g, sel, scale)

    @staticmethod
    def backward(ctx, gy):
        return _windows_t(gy, ctx.g, ctx.sel, ctx.scale), None, None, None


class WindowsT(Op):
    """gx = Σ_k window_kᵀ([sel == k] · scale · gy);  ggy = windows(ggx)"""

    @staticmethod
    def forward(ctx, gy, g, sel, scale):
        ctx.g, ctx.sel, ctx.scale = g, sel, scale
        return _windows_t_arrays(gy, g, sel, scale)

    @staticmethod
    def backward(ctx, ggx):
        return _windows(ggx, ctx.g, ctx.sel, ctx.scale), None, None, None


# ------------------------------------------------------------------------------ max pooling
def _first_max_masks(x, y, g: _Geometry):
    """Per kernel offset (i, j): a mask of the windows whose first maximum is at (i, j)
    (ties go to the first, as in PyTorch). Each mask is valid until the next one is made."""
    buf = _padded(x, g, -math.inf)
    taken = None
    for i, j in g.offsets():
        m = g.window(buf, i, j) == y
        if taken is None:
            taken = m  # changed only after the caller is done with this mask
        else:
            m &= ~taken
            taken |= m
        yield i, j, m


def _has_nan(y) -> bool:
    return y.dtype.kind in "fc" and bool(array_module(y).isnan(y).any())


def _max_masks(x, y, g: _Geometry):
    """Per kernel offset (i, j): a mask of the windows whose maximum PyTorch takes from (i, j)
    (each mask valid until the next is made)."""
    if not _has_nan(y):
        yield from _first_max_masks(x, y, g)
        return
    sel = _nan_max_offsets(x, g)
    for k, (i, j) in enumerate(g.offsets()):
        yield i, j, sel == k


def _max_offsets(x, y, g: _Geometry):
    """For each window, the kernel offset k that PyTorch takes its maximum from."""
    if _has_nan(y):
        return _nan_max_offsets(x, g)
    xp = array_module(x)
    sel = xp.zeros(y.shape, dtype=xp.int16 if g.kh * g.kw > 127 else xp.int8)
    for i, j, m in _first_max_masks(x, y, g):
        sel += m * sel.dtype.type(i * g.kw + j)
    return sel


def _nan_max_offsets(x, g: _Geometry):
    """Each window's offset of its maximum by PyTorch's rule where NaNs take part: a later
    value takes over when it is greater or NaN (so of several NaNs, the last; a NaN's window
    never matches y == NaN, which is why the masks above do not serve)."""
    xp = array_module(x)
    buf = _padded(x, g, -math.inf)
    best = sel = None
    for k, (i, j) in enumerate(g.offsets()):
        v = g.window(buf, i, j)
        if best is None:
            best = v.copy()
            sel = xp.zeros(best.shape, dtype=xp.int16 if g.kh * g.kw > 127 else xp.int8)
            continue
        later = v > best
        later |= xp.isnan(v)
        xp.maximum(best, v, out=best)  # NaN-propagating: NaN once a NaN took over
        # sel = k where later (k is above every offset sel holds so far): integer arithmetic
        xp.maximum(sel, xp.multiply(later, sel.dtype.type(k), dtype=sel.dtype), out=sel)
    return sel


class MaxPool(Op):
    """y = max over each window of x (padded with -inf);  gx = gy at each window's first max"""

    @staticmethod
    def forward(ctx, x, g):
        xp = array_module(x)
        buf = _padded(x, g, -math.inf)
        y = None
        for i, j in g.offsets():
            v = g.window(buf, i, j)
            y = v.copy() if y is None else xp.maximum(y, v, out=y)
        ctx.save_for_backward(x, y)
        ctx.g = g
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        g = ctx.g
        if isinstance(gy, Tensor):  # create_graph: the scatter must itself be differentiable
            return _windows_t(gy, g, _max_offsets(_data(x), _data(y), g), None), None
        xp = array_module(gy)
        buf = xp.zeros((g.N, g.C, g.Hp, g.Wp), dtype=gy.dtype)
        overlap = g.sh < g.dh * (g.kh - 1) + 1 or g.sw < g.dw * (g.kw - 1) + 1
        for i, j, m in _max_masks(x, y, g):
            if overlap:
                g.window(buf, i, j)[...] += gy * m
            else:  # every input element is in one window at most: write, don't add
                xp.multiply(gy, m, out=g.window(buf, i, j))
        return _unpadded(buf, g), None


def _data(a):
    return a._data if isinstance(a, Tensor) else a


def _plane_indices(sel, g: _Geometry):
    """Window offsets -> PyTorch's indices: the flat position in each (H, W) input plane."""
    xp = array_module(sel)
    i, j = xp.divmod(sel.astype(xp.int64), g.kw)
    rows = xp.arange(g.Ho).reshape(-1, 1) * g.sh + i * g.dh - g.pt
    cols = xp.arange(g.Wo) * g.sw + j * g.dw - g.pl
    return rows * g.W + cols


# ------------------------------------------------------------- gather/scatter in (H, W) planes
def _plane_gather_arrays(x, idx):
    xp = array_module(x)
    n, c = idx.shape[:2]
    flat = xp.take_along_axis(
        x.reshape(n, c, math.prod(x.shape[2:])), idx.reshape(n, c, math.prod(idx.shape[2:])), axis=2
    )
    return flat.reshape(idx.shape)


def _plane_scatter_arrays(gy, idx, shape):
    """zeros(shape) with each plane's [idx] += gy (repeated indices add up)."""
    xp = array_module(gy)
    n, c = shape[:2]
    plane = math.prod(shape[2:])
    flat = idx.reshape(n * c, math.prod(idx.shape[2:])) + xp.arange(n * c).reshape(-1, 1) * plane
    gx = xp.bincount(flat.reshape(-1), weights=gy.reshape(-1), minlength=n * c * plane)
    return gx.astype(gy.dtype, copy=False).reshape(shape)


class PlaneGather(Op):
    """y[n, c, …] = x[n, c].flat[idx[n, c, …]];  gx = plane_scatter(gy)"""

    @staticmethod
    def forward(ctx, x, idx):
        ctx.idx, ctx.shape = idx, x.shape
        return _plane_gather_arrays(x, idx)

    @staticmethod
    def backward(ctx, gy):
        return _plane_scatter(gy, ctx.idx, ctx.shape), None


class PlaneScatter(Op):
    """y = zeros(shape), y[n, c].flat[idx[n, c, …]] += x[n, c, …];  gx = plane_gather(gy)"""

    @staticmethod
    def forward(ctx, x, idx, shape):
        ctx.idx = idx
        return _plane_scatter_arrays(x, idx, shape)

    @staticmethod
    def backward(ctx, gy):
        return _plane_gather(gy, ctx.idx), None, None


def _plane_gather(x, idx):
    if isinstance(x, Tensor):
        return PlaneGather.apply(x, idx)
    return _plane_gather_arrays(x, idx)


def _plane_scatter(gy, idx, shape):
    if isinstance(gy, Tensor):
        return PlaneScatter.apply(gy, idx, shape)
    return _plane_scatter_arrays(gy, idx, shape)


# ------------------------------------------------------------------------------ unfold / fold
class Im2Col(Op):
    """cols = unfold(x): (N, C·kh·kw, L);  gx = fold(gcols)"""

    @staticmethod
    def forward(ctx, x, g):
        ctx.g = g
        return _im2col(x, g, False).reshape(g.N, g.C * g.kh * g.kw, g.Ho * g.Wo)

    @staticmethod
    def backward(ctx, gy):
        return _fold(gy, ctx.g), None


class Col2Im(Op):
    """x = fold(cols): every column entry added at its place;  gcols = unfold(gx)"""

    @staticmethod
    def forward(ctx, cols, g):
        ctx.g = g
        return _col2im(cols, g)

    @staticmethod
    def backward(ctx, gx):
        return _unfold(gx, ctx.g), None


def _unfold(x, g):
    if isinstance(x, Tensor):
        return Im2Col.apply(x, g)
    return _im2col(x, g, False).reshape(g.N, g.C * g.kh * g.kw, g.Ho * g.Wo)


def _fold(cols, g):
    if isinstance(cols, Tensor):
        return Col2Im.apply(cols, g)
    return _col2im(cols, g)


# ------------------------------------------------------------------------------ arguments
def _tuple(value, n: int, name: str, fn: str) -> tuple[int, ...]:
    """An int or a sequence of n ints (a 1-sequence repeats), as a tuple of n ints."""
    if isinstance(value, numbers.Integral):
        return (int(value),) * n
    value = tuple(int(v) for v in value)
    if len(value) == 1:
        return value * n
    if len(value) != n:
        raise RuntimeError(
            f"{fn}: expected {name} to be a single integer or a list of {n} "
            f"integers, but got {name}={list(value)}"
        )
    return value


def _sizes(shape) -> str:
    return str(list(shape))


def _as_2d(t: Tensor) -> Tensor:
    """(N, C, L) -> (N, C, 1, L): the 1-D forms run on the 2-D ops."""
    return t.reshape(t.shape[:2] + (1,) + t.shape[2:])


def _batched(fn: str, input, nd: int, what: str = "input") -> tuple[Tensor, bool]:
    """Check the rank (nd spatial dims, with or without a batch dim); add a batch dim if absent."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}(): argument '{what}' must be Tensor, not {type(input).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {fn}, but got "
            f"input of size: {_sizes(input.shape)}"
        )
    if input.ndim == nd + 1:
        return input.reshape((1,) + tuple(input.shape)), True
    return input, False


def _unbatched(y: Tensor, unbatched: bool) -> Tensor:
    return y.reshape(tuple(y.shape)[1:]) if unbatched else y


# ---------------------------------------------------------------------------- convolution
def _conv_padding(fn, padding, nd, kernel, stride, dilation):
    """PyTorch's padding argument as (before, after) pairs; 'same' may be asymmetric."""
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * nd
        if padding != "same":
            raise ValueError(
                f"Invalid padding string '{padding}', should be one of ['valid', 'same']"
            )
        if any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)  # PyTorch puts the odd element on the right
            pads.append((total // 2, total - total // 2))
        return pads
    p = _tuple(padding, nd, "padding", fn)
    if any(v < 0 for v in p):
        raise RuntimeError(f"{fn}: negative padding is not supported, got padding={list(p)}")
    return [(v, v) for v in p]


def _check_conv_args(fn, x, w, b, stride, dilation, groups, transposed):
    nd = x.ndim - 2
    if not isinstance(w, Tensor) or w.ndim != nd + 2:
        got = _sizes(w.shape) if isinstance(w, Tensor) else type(w).__name__
        raise RuntimeError(
            f"{fn}: expected a {nd + 2}-D weight (out_channels, in_channels / groups, "
            f"*kernel_size) for {nd + 2}-D input of size {_sizes(x.shape)}, but got weight {got}"
        )
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{fn}: non-positive stride is not supported, got {list(stride)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{fn}: dilation should be greater than zero, got {list(dilation)}")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
        bias = f", bias ({b.dtype})" if b is not None else ""
        raise RuntimeError(
            f"{fn}: input ({x.dtype}), weight ({w.dtype}){bias} should have the same dtype: "
            "cast with .to(dtype)"
        )
    if w.shape[0] % groups:
        raise RuntimeError(
            f"Given groups={groups}, expected weight to be divisible by {groups} at dimension "
            f"0, but got weight of size {_sizes(w.shape)} instead"
        )
    c_in = w.shape[0] if transposed else w.shape[1] * groups
    if x.shape[1] != c_in:
        kind = "transposed=1, " if transposed else ""
        raise RuntimeError(
            f"Given {kind}groups={groups}, weight of size {_sizes(w.shape)}, expected "
            f"input{_sizes(x.shape)} to have {c_in} channels, but got {x.shape[1]} channels "
            "instead"
        )
    c_out = w.shape[1] * groups if transposed else w.shape[0]
    if b is not None and (b.ndim != 1 or b.shape[0] != c_out):
        raise RuntimeError(
            f"Given weight of size {_sizes(w.shape)}, expected bias to be 1-dimensional with "
            f"{c_out} elements, but got bias of size {_sizes(b.shape)} instead"
        )


def _check_fits(g: _Geometry, nd: int, kernel, dilation):
    if g.Ho >= 1 and g.Wo >= 1:
        return
    padded = (g.Hp, g.Wp)[2 - nd :]
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    raise RuntimeError(
        f"Calculated padded input size per channel: ({' x '.join(map(str, padded))}). Kernel "
        f"size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than actual input "
        "size"
    )


def _convnd(fn, nd, input, weight, bias, stride, padding, dilation, groups):
    if _amp.active:  # autocast: PyTorch runs convolutions in the lower precision
        return _amp.run_lower(
            _convnd, fn, nd, input, weight, bias, stride, padding, dilation, groups
        )
    x, unbatched = _batched(fn, input, nd)
    stride = _tuple(stride, nd, "stride", fn)
    dilation = _tuple(dilation, nd, "dilation", fn)
    _check_conv_args(fn, x, weight, bias, stride, dilation, groups, transposed=False)
    kernel = tuple(weight.shape[2:])
    pads = _conv_padding(fn, padding, nd, kernel, stride, dilation)
    w = weight
    if nd == 1:
        x, w = _as_2d(x), _as_2d(weight)
        pads, stride, dilation = [(0, 0)] + pads, (1,) + stride, (1,) + dilation
    g = _Geometry(tuple(x.shape), weight.shape[0], tuple(w.shape[2:]), stride, pads, dilation,
                  groups)  # fmt: skip
    _check_fits(g, nd, kernel, dilation[-nd:])
    y = Conv.apply(x, w, bias, g)
    if nd == 1:
        y = y.reshape(tuple(y.shape[:2]) + tuple(y.shape[3:]))
    return _unbatched(y, unbatched)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D cross-correlation over (N, C_in, L) (or unbatched (C_in, L)).

    Args:
        weight: (C_out, C_in / groups, k).  bias: (C_out,) or None.
        padding: an int, a 1-tuple, 'valid' (none) or 'same' (output length = input length,
            stride 1 only).

    Example:
        >>> import chainrule as torch
        >>> from chainrule.ops.conv import conv1d
        >>> conv1d(torch.ones(1, 1, 5), torch.ones(1, 1, 3)).tolist()
        [[[3.0, 3.0, 3.0]]]
    """
    return _convnd("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D cross-correlation over (N, C_in, H, W) (or unbatched (C_in, H, W)).

    Args:
        weight: (C_out, C_in / groups, kh, kw).  bias: (C_out,) or None.
        stride, dilation: an int or a pair.  groups: split the channels into independent groups.
        padding: an int, a pair, 'valid' (none) or 'same' (output size = input size, stride 1
            only; an odd total goes on the bottom/right, as in PyTorch).

    Example:
        >>> import chainrule as torch
        >>> from chainrule.ops.conv import conv2d
        >>> conv2d(torch.ones(1, 1, 4, 4), torch.ones(2, 1, 3, 3), padding=1).shape
        chainrule.Size([1, 2, 4, 4])
    """
    return _convnd("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(fn, nd, input, weight, bias, stride, padding, output_padding, groups,
                      dilation):  # fmt: skip
    if _amp.active:  # autocast: PyTorch runs convolutions in the lower precision
        return _amp.run_lower(_conv_transposend, fn, nd, input, weight, bias, stride, padding,
                              output_padding, groups, dilation)  # fmt: skip
    y, unbatched = _batched(fn, input, nd)
    stride = _tuple(stride, nd, "stride", fn)
    dilation = _tuple(dilation, nd, "dilation", fn)
    padding = _tuple(padding, nd, "padding", fn)
    output_padding = _tuple(output_padding, nd, "output_padding", fn)
    _check_conv_args(fn, y, weight, bias, stride, dilation, groups, transposed=True)
    if any(p < 0 for p in padding + output_padding):
        raise RuntimeError(f"{fn}: negative padding is not supported")
    for op, s, d in zip(output_padding, stride, dilation):
        if op >= s and op >= d:
            raise RuntimeError(
                f"{fn}: output padding must be smaller than either stride or dilation, but got "
                f"output_padding={list(output_padding)}, stride={list(stride)}, "
                f"dilation={list(dilation)}"
            )
    kernel = tuple(weight.shape[2:])
    sizes = tuple(y.shape[2:])
    out = [
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, s, p, d, k, op in zip(sizes, stride, padding, dilation, kernel, output_padding)
    ]
    if any(o < 1 for o in out):
        raise RuntimeError(
            f"Given input size per channel: ({' x '.join(map(str, sizes))}). Calculated output "
            f"size per channel: ({' x '.join(map(str, out))}). Output size is too small"
        )
    w, pads = weight, [(p, p) for p in padding]
    if nd == 1:
        y, w = _as_2d(y), _as_2d(weight)
        pads, stride, dilation, out = [(0, 0)] + pads, (1,) + stride, (1,) + dilation, [1] + out
    xshape = (y.shape[0], weight.shape[1] * groups) + tuple(out)
    g = _Geometry(
        xshape, weight.shape[0], tuple(w.shape[2:]), stride, pads, dilation, groups, y.shape[2:]
    )
    z = ConvTranspose.apply(y, w, bias, g)
    if nd == 1:
        z = z.reshape(tuple(z.shape[:2]) + tuple(z.shape[3:]))
    return _unbatched(z, unbatched)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1) -> Tensor:  # fmt: skip
    """The transpose (adjoint) of conv1d, "deconvolution": (N, C_in, L) -> (N, C_out, L_out).

    weight: (C_in, C_out / groups, k); L_out = (L - 1)·stride - 2·padding + dilation·(k - 1)
    + output_padding + 1.
    """
    return _conv_transposend("conv_transpose1d", 1, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)  # fmt: skip


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1) -> Tensor:  # fmt: skip
    """The transpose (adjoint) of conv2d, "deconvolution": (N, C_in, H, W) -> (N, C_out, Ho, Wo).

    weight: (C_in, C_out / groups, kh, kw); Ho = (H - 1)·stride - 2·padding + dilation·(kh - 1)
    + output_padding + 1, likewise Wo.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.ops.conv import conv_transpose2d
        >>> conv_transpose2d(torch.ones(1, 1, 2, 2), torch.ones(1, 3, 2, 2), stride=2).shape
        chainrule.Size([1, 3, 4, 4])
    """
    return _conv_transposend("conv_transpose2d", 2, input, weight, bias, stride, padding,
                             output_padding, groups, dilation)  # fmt: skip


# ------------------------------------------------------------------------------ unfold / fold
def unfold(input, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding blocks (im2col): (N, C, H, W) -> (N, C·kh·kw, L), L the number of blocks."""
    if not isinstance(input, Tensor) or input.ndim not in (3, 4):
        nd = input.ndim if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got {nd}D)")
    x, unbatched = _batched("unfold", input, 2)
    kernel = _tuple(kernel_size, 2, "kernel_size", "unfold")
    dilation = _tuple(dilation, 2, "dilation", "unfold")
    pads = [(p, p) for p in _tuple(padding, 2, "padding", "unfold")]
    stride = _tuple(stride, 2, "stride", "unfold")
    g = _Geometry(tuple(x.shape), x.shape[1], kernel, stride, pads, dilation)
    if g.Ho < 1 or g.Wo < 1:
        raise RuntimeError(
            f"Given input with spatial size ({g.H}, {g.W}), kernel_size={list(kernel)}, "
            f"dilation={list(dilation)}, padding={[p for p, _ in pads]}, calculated shape of the "
            f"array of sliding blocks as ({g.Ho}, {g.Wo}), but its components must be at least one."
        )
    return _unbatched(Im2Col.apply(x, g), unbatched)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """The adjoint of unfold (col2im): (N, C·kh·kw, L) -> (N, C, H, W), overlaps summed."""
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        nd = input.ndim if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are "
                           f"supported (got {nd}D)")  # fmt: skip
    cols, unbatched = (input.reshape((1,) + tuple(input.shape)), True) if input.ndim == 2 else (
        input, False)  # fmt: skip
    size = _tuple(output_size, 2, "output_size", "fold")
    kernel = _tuple(kernel_size, 2, "kernel_size", "fold")
    dilation = _tuple(dilation, 2, "dilation", "fold")
    pads = [(p, p) for p in _tuple(padding, 2, "padding", "fold")]
    stride = _tuple(stride, 2, "stride", "fold")
    n, ck, blocks = cols.shape
    if ck % (kernel[0] * kernel[1]):
        raise RuntimeError(
            f"Expected size of input's dimension 1 to be divisible by the product of "
            f"kernel_size, but got input.size(1)={ck} and kernel_size={kernel}"
        )
    c = ck // (kernel[0] * kernel[1])
    g = _Geometry((n, c) + size, c, kernel, stride, pads, dilation)
    if g.Ho * g.Wo != blocks or g.Ho < 1 or g.Wo < 1:
        raise RuntimeError(
            f"Given output_size={size}, kernel_size={kernel}, dilation={dilation}, "
            f"padding={tuple(p for p, _ in pads)}, stride={stride}, expected size of input's "
            f"dimension 2 to match the calculated number of sliding blocks {g.Ho} * {g.Wo} = "
            f"{g.Ho * g.Wo}, but got input.size(2)={blocks}."
        )
    return _unbatched(Col2Im.apply(cols, g), unbatched)


# -------------------------------------------------------------------------------- pooling
def _pool_size(fn, size, k, s, p, d, ceil_mode):
    """PyTorch's pooling output size; with ceil_mode a window that would start in the right
    padding is dropped."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_geometry(fn, x, nd, kernel_size, stride, padding, dilation, ceil_mode, avg=False):
    """The geometry of a pooling window over (N, C, H, W); 1-D pools get a height of 1."""
    kernel = _tuple(kernel_size, nd, "kernel_size", fn)
    stride = kernel if stride is None or stride == [] or stride == () else _tuple(
        stride, nd, "stride", fn)  # fmt: skip
    padding = _tuple(padding, nd, "padding", fn)
    dilation = _tuple(dilation, nd, "dilation", fn)
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"{fn}: kernel_size must be greater than zero, but got {list(kernel)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"{fn}: stride must be greater than zero, but got {list(stride)}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"{fn}: dilation must be greater than zero, but got {list(dilation)}")
    for k, p, d in zip(kernel, padding, dilation):
        if avg and p > k // 2:
            raise RuntimeError(
                f"pad should be smaller than or equal to half of kernel size, but got "
                f"padding={list(padding)} and kernel_size={list(kernel)}"
            )
        if not avg and not 0 <= p <= ((k - 1) * d + 1) // 2:
            raise RuntimeError(
                f"pad should be at most half of effective kernel size, but got pad={p}, "
                f"kernel_size={k} and dilation={d}"
            )
    sizes = tuple(x.shape[2:])
    out = [_pool_size(fn, *a, ceil_mode) for a in zip(sizes, kernel, stride, padding, dilation)]
    if any(o < 1 for o in out):
        c = x.shape[1]
        raise RuntimeError(
            f"Given input size: ({'x'.join(map(str, (c,) + sizes))}). Calculated output size: "
            f"({'x'.join(map(str, [c] + out))}). Output size is too small"
        )
    # the right padding reaches the last window (ceil_mode may need more than `padding`)
    pads = [
        (p, max(p, (o - 1) * s + d * (k - 1) + 1 - n - p))
        for n, k, s, p, d, o in zip(sizes, kernel, stride, padding, dilation, out)
    ]
    if nd == 1:
        kernel, stride, dilation, pads = (
            (1,) + kernel,
            (1,) + stride,
            (1,) + dilation,
            [(0, 0)] + pads,
        )
    shape = tuple(x.shape) if nd == 2 else tuple(x.shape[:2]) + (1,) + tuple(x.shape[2:])
    return _Geometry(shape, shape[1], kernel, stride, pads, dilation)


def _pool_input(fn, input, nd):
    if not isinstance(input, Tensor) or input.ndim not in (nd + 1, nd + 2):
        got = _sizes(input.shape) if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(
            f"{fn}: Expected {nd + 1}D or {nd + 2}D (batch mode) tensor with optional 0 dim "
            f"batch size for input, but got: {got}"
        )
    if input.dtype.kind not in "fV":
        raise RuntimeError(f"{fn}: expected a floating point input, but got {input.dtype}")
    return _batched(fn, input, nd)


def _max_poolnd(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode,
                return_indices):  # fmt: skip
    x, unbatched = _pool_input(fn, input, nd)
    g = _pool_geometry(fn, x, nd, kernel_size, stride, padding, dilation, ceil_mode)
    x4 = _as_2d(x) if nd == 1 else x
    y = MaxPool.apply(x4, g)
    if not return_indices:
        return _unbatched(y.reshape(tuple(x.shape[:2]) + tuple(y.shape[4 - nd :])), unbatched)
    idx = _plane_indices(_max_offsets(x4._data, y._data, g), g)
    y = _unbatched(y.reshape(tuple(x.shape[:2]) + tuple(y.shape[4 - nd :])), unbatched)
    idx = Tensor._make(idx.reshape(y.shape))
    return y, idx


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):  # fmt: skip
    """The maximum over each window of (N, C, L) (padding counts as -inf).

    With return_indices, also the position of each maximum within its input row (the first
    one where there are ties), as max_unpool1d takes it.
    """
    return _max_poolnd("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                       ceil_mode, return_indices)  # fmt: skip


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):  # fmt: skip
    """The maximum over each kh x kw window of (N, C, H, W) (padding counts as -inf).

    Args:
        stride: defaults to kernel_size.  ceil_mode: round the output size up (a window that
            would start in the right padding is dropped, as in PyTorch).
        return_indices: also return, per output, the flat position h·W + w of its maximum in
            the input plane (the first one where there are ties).

    Example:
        >>> import chainrule as torch
        >>> from chainrule.ops.conv import max_pool2d
        >>> max_pool2d(torch.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    return _max_poolnd("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                       ceil_mode, return_indices)  # fmt: skip


def _avg_divisors(n, k, s, p, out, count_include_pad):
    """Per output position along one dim: how many elements its window averages."""
    sizes = []
    for o in range(out):
        start = o * s - p
        end = min(start + k, n + p)
        size = end - start
        if not count_include_pad:
            size = min(end, n) - max(start, 0)
        sizes.append(size)
    return sizes


def _avg_poolnd(fn, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override):  # fmt: skip
    x, unbatched = _pool_input(fn, input, nd)
    g = _pool_geometry(fn, x, nd, kernel_size, stride, padding, 1, ceil_mode, avg=True)
    xp = array_module(x._data)
    if divisor_override is not None:
        if divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        scale = xp.asarray(1.0 / divisor_override, dtype=x.dtype)
    else:
        pad_h = g.pt if nd == 2 else 0
        dh = _avg_divisors(g.H, g.kh, g.sh, pad_h, g.Ho, count_include_pad)
        dw = _avg_divisors(g.W, g.kw, g.sw, g.pl, g.Wo, count_include_pad)
        divisor = xp.asarray(dh, dtype=x.dtype).reshape(-1, 1) * xp.asarray(dw, dtype=x.dtype)
        scale = 1 / divisor
    x4 = _as_2d(x) if nd == 1 else x
    y = Windows.apply(x4, g, None, scale)
    return _unbatched(y.reshape(tuple(x.shape[:2]) + tuple(y.shape[4 - nd :])), unbatched)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:  # fmt: skip
    """The mean over each window of (N, C, L); count_include_pad counts the zero padding."""
    return _avg_poolnd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, None)  # fmt: skip


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:  # fmt: skip
    """The mean over each kh x kw window of (N, C, H, W).

    Args:
        count_include_pad: divide by the window size including zero padding (PyTorch's
            default) rather than by the number of input elements in the window.
        divisor_override: divide every window sum by this instead.
    """
    return _avg_poolnd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override)  # fmt: skip


# ------------------------------------------------------------------------------ adaptive pools
def _adaptive_sizes(fn, input, nd, output_size):
    sizes = tuple(input.shape[-nd:])
    if isinstance(output_size, numbers.Integral) or output_size is None:
        output_size = (output_size,) * nd
    output_size = tuple(output_size)
    if len(output_size) != nd:
        raise RuntimeError(f"{fn}: output_size must be {nd} integers, got {list(output_size)}")
    out = tuple(n if o is None else int(o) for n, o in zip(sizes, output_size))
    if any(o < 0 for o in out):
        raise RuntimeError(f"{fn}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(out)}")  # fmt: skip
    return sizes, out


def _bins(n: int, out: int):
    """PyTorch's adaptive windows along one dim: [floor(i·n/out), ceil((i+1)·n/out))."""
    return [((i * n) // out, -(-((i + 1) * n) // out)) for i in range(out)]


def _adaptive_avg_poolnd(fn, nd, input, output_size):
    x, unbatched = _pool_input(fn, input, nd)
    sizes, out = _adaptive_sizes(fn, x, nd, output_size)
    if all(o == 1 for o in out):
        y = x.mean(dim=tuple(range(2, 2 + nd)), keepdim=True)
        return _unbatched(y, unbatched)
    from .linalg import matmul

    xp = array_module(x._data)
    y = x
    # a linear map per dim: y = P_h @ x @ P_wᵀ with P[i, window i] = 1 / its length
    for axis, (n, o) in enumerate(zip(sizes, out)):
        p = xp.zeros((o, n), dtype=x.dtype)
        for i, (start, end) in enumerate(_bins(n, o)):
            p[i, start:end] = 1.0 / (end - start)
        if axis == nd - 1:
            y = matmul(y, Tensor._make(xp.ascontiguousarray(p.T)))
        else:
            y = matmul(Tensor._make(p), y)
    return _unbatched(y, unbatched)


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """The mean over `output_size` nearly equal windows of (N, C, L)."""
    return _adaptive_avg_poolnd("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """The mean over an output_size grid of nearly equal windows of (N, C, H, W) (None in
    output_size keeps that input size)."""
    return _adaptive_avg_poolnd("adaptive_avg_pool2d", 2, input, output_size)


def _adaptive_max_poolnd(fn, nd, input, output_size, return_indices):
    x, unbatched = _pool_input(fn, input, nd)
    sizes, out = _adaptive_sizes(fn, x, nd, output_size)
    x4 = _as_2d(x) if nd == 1 else x
    shape = tuple(x4.shape)
    (h, w), (ho, wo) = shape[2:], (1,) * (2 - nd) + out
    xp = array_module(x._data)
    idx = xp.empty(shape[:2] + (ho, wo), dtype=xp.int64)
    for i, (h0, h1) in enumerate(_bins(h, ho)):
        for j, (w0, w1) in enumerate(_bins(w, wo)):
            window = x4._data[:, :, h0:h1, w0:w1].reshape(shape[:2] + (-1,))
            r, c = xp.divmod(xp.argmax(window, axis=2), w1 - w0)  # the first maximum
            idx[:, :, i, j] = (r + h0) * w + c + w0
    y = PlaneGather.apply(x4, idx)
    y = _unbatched(y.reshape(tuple(x.shape[:2]) + out), unbatched)
    if return_indices:
        return y, Tensor._make(idx.reshape(y.shape))
    return y


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """The maximum over `output_size` nearly equal windows of (N, C, L)."""
    return _adaptive_max_poolnd("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """The maximum over an output_size grid of nearly equal windows of (N, C, H, W)."""
    return _adaptive_max_poolnd("adaptive_max_pool2d", 2, input, output_size, return_indices)


def _max_unpoolnd(fn, nd, input, indices, kernel_size, stride, padding, output_size):
    x, unbatched = _pool_input(fn, input, nd)
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"{fn}: expected indices of the input's shape {_sizes(input.shape)}, "
                           f"got {_sizes(indices.shape)}")  # fmt: skip
    kernel = _tuple(kernel_size, nd, "kernel_size", fn)
    stride = kernel if stride is None else _tuple(stride, nd, "stride", fn)
    padding = _tuple(padding, nd, "padding", fn)
    sizes = tuple(x.shape[2:])
    default = [(n - 1) * s - 2 * p + k for n, s, p, k in zip(sizes, stride, padding, kernel)]
    if output_size is None:
        out = default
    else:
        out = [int(o) for o in tuple(output_size)[-nd:]]
        for o, d, s in zip(out, default, stride):
            if not d - s < o < d + s:
                raise ValueError(
                    f"invalid output_size {list(output_size)} (dim should be in ({d - s}, {d + s}))"
                )
    idx = indices._data.reshape(tuple(x.shape)).astype(array_module(x._data).int64)
    if idx.size and (idx.min() < 0 or idx.max() >= math.prod(out)):
        raise RuntimeError(
            f"{fn}: found an invalid max index {int(idx.max())} (output volumes are of size "
            f"{'x'.join(map(str, out))})"
        )
    y = PlaneScatter.apply(x, idx, tuple(x.shape[:2]) + tuple(out))
    return _unbatched(y, unbatched)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool1d: each value placed at its index, zeros elsewhere."""
    return _max_unpoolnd("max_unpool1d", 1, input, indices, kernel_size, stride, padding,
                         output_size)  # fmt: skip


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The inverse of max_pool2d: each value placed at its index, zeros elsewhere (indices are
    flat positions h·W + w in the output plane; repeated ones add up)."""
    return _max_unpoolnd("max_unpool2d", 2, input, indices, kernel_size, stride, padding,
                         output_size)  # fmt: skip


# torch.<name> has these too; the rest are torch.nn.functional only
__all__ = [
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "adaptive_avg_pool1d", "adaptive_max_pool1d",
]  # fmt: skip
FUNCTIONAL = __all__ + [
    "unfold", "fold", "avg_pool2d", "adaptive_avg_pool2d", "adaptive_max_pool2d",
    "max_unpool1d", "max_unpool2d",
]  # fmt: skip
METHODS: list = []
