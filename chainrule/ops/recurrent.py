"""Recurrent layers: the tanh/relu RNN, the LSTM and the GRU, as cells and as whole layers.

The cells (``lstm_cell``, ``gru_cell``, ``rnn_tanh_cell``, ``rnn_relu_cell``) are compositions of
matmul and the activations: one time step, differentiable to any order.

A layer over T steps would be ~15 small ops per step, and on small models the per-op Python cost
decides the speed. So each layer (one direction of one layer) is ONE primitive: the input
projection of all T steps is one GEMM up front, the loop runs on raw arrays writing into
preallocated buffers, and backward runs backpropagation through time in the same way and ends
with one GEMM each for the weight and input gradients. The LSTM computes its four gates with one
exp pass (σ(z) = 1 / (1 + e^-z) and tanh(z) = 2σ(2z) - 1, the signs and the 2 folded into the
weights).

The layer ops keep their per-step gate activations in ctx attributes (derived arrays: the price
of speed), so their backward rules work on arrays only (``differentiable_twice = False``), like
PyTorch's ``once_differentiable``: ``grad(..., create_graph=True)`` through them gives the exact
first derivative, and only differentiating that gradient again raises, with the fix in the
message. For gradients of gradients through an RNN, run the forward under ``fused_rnn(False)``:
the layers then unroll the differentiable cells instead.

``lstm``, ``gru``, ``rnn_tanh`` and ``rnn_relu`` take PyTorch's ``torch.lstm``/``torch.gru``
arguments (a flat weight list, ``has_biases``, ``num_layers``, ``dropout``, ``train``,
``bidirectional``, ``batch_first``); ``nn.LSTM`` and friends call them.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ..backend import array_module
from ..backend import one_blas_thread_when_busy as _one_blas_thread
from ..tensor import Tensor
from ._core import Op

_fused = True


@contextlib.contextmanager
def fused_rnn(enabled: bool = True):
    """Choose the fused whole-layer primitives (the default: fast, once differentiable) or the
    unrolled cells (slower, differentiable to any order) for the RNN layers run inside.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.ops.recurrent import fused_rnn
        >>> with fused_rnn(False):
        ...     pass  # forward an nn.LSTM here to take a gradient of its gradient
    """
    global _fused
    prev, _fused = _fused, bool(enabled)
    try:
        yield
    finally:
        _fused = prev


def _not_twice(name: str):
    return RuntimeError(
        f"the fused {name} layer is not twice differentiable (its backward runs on arrays). Run "
        "the forward inside `with chainrule.ops.recurrent.fused_rnn(False):` to unroll the "
        "differentiable cells, then take the gradient of the gradient."
    )


class OnceDifferentiable(Op):
    """y = g (a gradient computed on arrays);  differentiating it raises (as PyTorch's
    once_differentiable): the fused layers' gradients are exact, their derivatives are not kept"""

    @staticmethod
    def forward(ctx, g, name, *deps):
        ctx.layer = name
        return g

    @staticmethod
    def backward(ctx, gy):
        raise _not_twice(ctx.layer)


def _backward_once(ctx, rule, gys, name):
    """Run an array-only backward rule; under create_graph, unwrap the Tensors and mark each
    gradient as once differentiable (an error only if someone differentiates it again)."""
    saved = ctx.saved_tensors
    if not any(isinstance(s, Tensor) for s in saved):
        return rule(ctx, saved, *gys)
    arrays = [s._data if isinstance(s, Tensor) else s for s in saved]
    grads = rule(ctx, arrays, *[g._data if isinstance(g, Tensor) else g for g in gys])
    deps = [t for t in (*saved, *gys) if isinstance(t, Tensor) and t.requires_grad]
    return tuple(None if g is None else OnceDifferentiable.apply(g, name, *deps) for g in grads)


# ------------------------------------------------------------------------------ array helpers
def _sigmoid_(a):
    """a = σ(a), in place: 1 / (1 + e^-a) in three passes, no temporaries."""
    xp = array_module(a)
    xp.negative(a, out=a)
    xp.exp(a, out=a)
    a += 1
    xp.reciprocal(a, out=a)


def _steps(n: int, reverse: bool):
    return range(n - 1, -1, -1) if reverse else range(n)


def _hidden_weight_grad(dg, y, h0, reverse: bool, lo: int = 0):
    """Σ_t dg_tᵀ h_(t-1) over steps lo..lo+len(dg)-1, h_(t-1) the state step t started from
    (h0 for the direction's first step): without copying the states into a shifted array."""
    n, n_b, k = dg.shape
    hi, n_t = lo + n, y.shape[0]
    if not reverse:
        if lo > 0:
            return dg.reshape(n * n_b, k).T @ y[lo - 1 : hi - 1].reshape(n * n_b, -1)
        rest, first, prev = dg[1:], dg[0], y[: hi - 1]
    else:
        if hi < n_t:
            return dg.reshape(n * n_b, k).T @ y[lo + 1 : hi + 1].reshape(n * n_b, -1)
        rest, first, prev = dg[:-1], dg[-1], y[lo + 1 :]
    m = (n - 1) * n_b  # 0 for a one-step sequence: reshape(0, -1) would be ambiguous
    return rest.reshape(m, k).T @ prev.reshape(m, prev.shape[-1]) + first.T @ h0


def _input_grads(ctx, dg, x, w_ih, grads_bias):
    """The gradients that are one GEMM over all steps: of x, W_ih and the bias(es)."""
    t, b, n = dg.shape
    dg2 = dg.reshape(t * b, n)
    need = ctx.needs_input_grad
    gx = (dg2 @ w_ih).reshape(x.shape) if need[0] else None
    gw_ih = dg2.T @ x.reshape(t * b, -1) if need[3] else None
    gb = dg2.sum(0) if grads_bias else None
    return gx, gw_ih, gb


# ------------------------------------------------------------------------------------ LSTM
def _gate_scale(n_h: int, dtype, xp):
    """-1 for the σ gates (i, f, o), -2 for g: with z scaled so, 1 / (1 + e^(scaled z)) is σ(z)
    for i, f, o and σ(2z) for g, whence tanh(z) = 2σ(2z) - 1: one exp pass for all four gates."""
    s = xp.full(4 * n_h, -1.0, dtype)
    s[2 * n_h : 3 * n_h] = -2.0
    return s


class LSTMLayer(Op):
    """One LSTM layer over all steps:
    (i, f, g, o) = (σ, σ, tanh, σ)(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh);  c' = f c + i g;
    h' = o tanh(c') (then h' W_hrᵀ with a projection);  backward: BPTT on the saved gates"""

    differentiable_twice = False  # the gates live in ctx attributes: see the module docstring

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse):
        xp = array_module(x)
        n_t, n_b, _ = x.shape
        n_h = c0.shape[-1]
        scale = _gate_scale(n_h, x.dtype, xp)
        # the scaled pre-activations of all steps' input side: one GEMM
        acts = (x.reshape(n_t * n_b, -1) @ (w_ih.T * scale)).reshape(n_t, n_b, 4 * n_h)
        if b_ih is not None:
            acts += (b_ih + b_hh) * scale
        w_hh_t = w_hh.T * scale
        cs = xp.empty((n_t, n_b, n_h), x.dtype)
        tcs = xp.empty_like(cs)
        ms = xp.empty_like(cs) if w_hr is not None else None
        y = xp.empty((n_t, n_b, h0.shape[-1]), x.dtype)
        h, c = h0, c0
        hw = xp.empty((n_b, 4 * n_h), x.dtype)
        # e^(scaled z) = inf is right: it gives σ = 0
        with np.errstate(over="ignore"), _one_blas_thread():
            for t in _steps(n_t, reverse):
                a = acts[t]  # becomes i, f, g, o in place
                xp.matmul(h, w_hh_t, out=hw)
                a += hw
                xp.exp(a, out=a)
                a += 1
                xp.reciprocal(a, out=a)
                g = a[:, 2 * n_h : 3 * n_h]
                g *= 2
                g -= 1
                c_new = cs[t]
                xp.multiply(a[:, n_h : 2 * n_h], c, out=c_new)
                c_new += a[:, :n_h] * g
                xp.tanh(c_new, out=tcs[t])
                if w_hr is None:
                    xp.multiply(a[:, 3 * n_h :], tcs[t], out=y[t])
                else:
                    xp.multiply(a[:, 3 * n_h :], tcs[t], out=ms[t])
                    xp.matmul(ms[t], w_hr.T, out=y[t])
                h, c = y[t], c_new
        if ctx.needs_input_grad:
            ctx.save_for_backward(x, h0, c0, w_ih, w_hh, w_hr, y)
            ctx.acts, ctx.cs, ctx.tcs, ctx.ms, ctx.reverse = acts, cs, tcs, ms, reverse
            ctx.set_materialize_grads(False)
        return y, h.copy(), c.copy()

    @staticmethod
    def backward(ctx, *gys):
        return _backward_once(ctx, LSTMLayer.bptt, gys, "LSTM")

    @staticmethod
    def bptt(ctx, saved, gy, gh_n, gc_n):
        x, h0, c0, w_ih, w_hh, w_hr, y = saved
        xp = array_module(x)
        acts, cs, tcs, ms, reverse = ctx.acts, ctx.cs, ctx.tcs, ctx.ms, ctx.reverse
        n_t, n_b, n_h = cs.shape
        need = ctx.needs_input_grad
        gx = xp.empty_like(x) if need[0] else None
        gw_ih = xp.zeros_like(w_ih) if need[3] else None
        gw_hh = xp.zeros_like(w_hh) if need[4] else None
        gb = xp.zeros(4 * n_h, x.dtype) if need[5] or need[6] else None
        gw_hr = xp.zeros_like(w_hr) if w_hr is not None and need[7] else None
        gh = xp.zeros_like(h0) if gh_n is None else gh_n
        gc = xp.zeros_like(c0) if gc_n is None else gc_n.copy()
        share = xp.empty_like(gc)
        # one chunk of steps at a time: the step-local factors come in few calls, and the gate
        # gradients stay in a small reused buffer (no sequence-long array to page in) from
        # which each chunk adds its share of the weight gradients with one GEMM each
        dg = xp.empty((_CHUNK, n_b, 4, n_h), x.dtype)
        ghs = xp.empty((_CHUNK,) + h0.shape, x.dtype) if w_hr is not None else None
        for lo, hi in _chunks(n_t, not reverse):
            q, k = _lstm_factors(acts, cs, tcs, c0, lo, hi, reverse)
            with _one_blas_thread():
                for t in _steps(hi - lo, not reverse):
                    step = lo + t
                    if gy is not None:
                        gh = gy[step] + gh
                    if w_hr is not None:
                        ghs[t] = gh
                        gh = gh @ w_hr
                    xp.multiply(gh, k[t], out=share)  # gc += gh o (1 - tanh² c)
                    gc += share
                    xp.multiply(gc.reshape(n_b, 1, n_h), q[t, :, :3], out=dg[t, :, :3])
                    xp.multiply(gh, q[t, :, 3], out=dg[t, :, 3])
                    gc *= acts[step, :, n_h : 2 * n_h]  # times f: what reaches the previous cell
                    gh = dg[t].reshape(n_b, 4 * n_h) @ w_hh
            d = dg[: hi - lo].reshape((hi - lo) * n_b, 4 * n_h)
            if gx is not None:
                gx[lo:hi] = (d @ w_ih).reshape(hi - lo, n_b, -1)
            if gw_ih is not None:
                gw_ih += d.T @ x[lo:hi].reshape((hi - lo) * n_b, -1)
            if gw_hh is not None:
                gw_hh += _hidden_weight_grad(d.reshape(hi - lo, n_b, -1), y, h0, reverse, lo)
            if gb is not None:
                gb += d.sum(0)
            if gw_hr is not None:
                g2 = ghs[: hi - lo].reshape((hi - lo) * n_b, -1)
                gw_hr += g2.T @ ms[lo:hi].reshape((hi - lo) * n_b, n_h)
        return gx, gh, gc, gw_ih, gw_hh, gb, gb, gw_hr, None


_CHUNK = 8  # steps whose backward factors are made together: 8 x (32, 512) floats is 512 KiB


def _chunks(n_t: int, descending: bool):
    """[lo, hi) ranges of steps covering 0..n_t-1, in the order backward visits them."""
    bounds = [(lo, min(lo + _CHUNK, n_t)) for lo in range(0, n_t, _CHUNK)]
    return bounds[::-1] if descending else bounds


def _lstm_factors(acts, cs, tcs, c0, lo, hi, reverse):
    """For steps lo..hi-1: q, the gate gradients per unit of gc (i, f, g blocks) or of gh (o
    block), and k, gc's share of gh:  q = (g σ'(i), c_prev σ'(f), i (1 - g²), tanh(c) σ'(o)),
    k = o (1 - tanh² c)."""
    xp = array_module(acts)
    n, n_b, n_h = hi - lo, cs.shape[1], cs.shape[2]
    a = acts[lo:hi].reshape(n, n_b, 4, n_h)
    i, g, o = a[:, :, 0], a[:, :, 2], a[:, :, 3]
    tc = tcs[lo:hi]
    q = a * a
    xp.subtract(a, q, out=q)  # σ'(z) = σ - σ² for i, f, o
    q[:, :, 0] *= g
    # the cell each step started from: c0 for the first step of the direction
    if not reverse:
        if lo == 0:
            q[0, :, 1] *= c0
            q[1:, :, 1] *= cs[: hi - 1]
        else:
            q[:, :, 1] *= cs[lo - 1 : hi - 1]
    elif hi == cs.shape[0]:
        q[-1, :, 1] *= c0
        q[:-1, :, 1] *= cs[lo + 1 :]
    else:
        q[:, :, 1] *= cs[lo + 1 : hi + 1]
    xp.multiply(g, g, out=q[:, :, 2])
    xp.subtract(1, q[:, :, 2], out=q[:, :, 2])
    q[:, :, 2] *= i
    q[:, :, 3] *= tc
    k = tc * tc
    xp.subtract(1, k, out=k)
    k *= o
    return q, k


# ------------------------------------------------------------------------------------- GRU
class GRULayer(Op):
    """One GRU layer over all steps: (r, z) = σ(x W_ir,zᵀ + b_ir,z + h W_hr,zᵀ + b_hr,z);
    n = tanh(x W_inᵀ + b_in + r (h W_hnᵀ + b_hn));  h' = (1 - z) n + z h;  backward: BPTT"""

    differentiable_twice = False  # the gates live in ctx attributes: see the module docstring

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, reverse):
        xp = array_module(x)
        n_t, n_b, _ = x.shape
        n_h = h0.shape[-1]
        gx = (x.reshape(n_t * n_b, -1) @ w_ih.T).reshape(n_t, n_b, 3 * n_h)
        if b_ih is not None:
            gx += b_ih
        ghn = xp.empty((n_t, n_b, n_h), x.dtype)  # h W_hnᵀ + b_hn, which backward needs
        y = xp.empty((n_t, n_b, n_h), x.dtype)
        w_hh_t = w_hh.T
        h = h0
        with _one_blas_thread():
            for t in _steps(n_t, reverse):
                a = gx[t]  # becomes r, z, n
                gh = h @ w_hh_t
                if b_hh is not None:
                    gh += b_hh
                a[:, : 2 * n_h] += gh[:, : 2 * n_h]
                _sigmoid_(a[:, : 2 * n_h])
                r, z, n = a[:, :n_h], a[:, n_h : 2 * n_h], a[:, 2 * n_h :]
                ghn[t] = gh[:, 2 * n_h :]
                n += r * ghn[t]
                xp.tanh(n, out=n)
                # h' = n + z (h - n)
                xp.subtract(h, n, out=y[t])
                y[t] *= z
                y[t] += n
                h = y[t]
        if ctx.needs_input_grad:
            ctx.save_for_backward(x, h0, w_ih, w_hh, y)
            ctx.acts, ctx.ghn, ctx.reverse = gx, ghn, reverse
            ctx.set_materialize_grads(False)
        return y, h.copy()

    @staticmethod
    def backward(ctx, *gys):
        return _backward_once(ctx, GRULayer.bptt, gys, "GRU")

    @staticmethod
    def bptt(ctx, saved, gy, gh_n):
        x, h0, w_ih, w_hh, y = saved
        xp = array_module(x)
        acts, ghn, reverse = ctx.acts, ctx.ghn, ctx.reverse
        n_t, n_b, n_h = ghn.shape
        dgx = xp.empty_like(acts)  # gradient of the input-side pre-activations
        dgh = xp.empty_like(acts)  # of the hidden-side ones (differs in the n block: times r)
        gh = xp.zeros_like(h0) if gh_n is None else gh_n
        steps = _steps(n_t, not reverse)
        last = steps[-1]
        with _one_blas_thread():
            for t in steps:
                if gy is not None:
                    gh = gh + gy[t]
                a = acts[t]
                r, z, n = a[:, :n_h], a[:, n_h : 2 * n_h], a[:, 2 * n_h :]
                h_prev = h0 if t == last else y[t + 1 if reverse else t - 1]
                dn = dgx[t, :, 2 * n_h :]
                xp.multiply(gh * (1 - z), 1 - n * n, out=dn)
                xp.multiply(dn * ghn[t], r * (1 - r), out=dgx[t, :, :n_h])
                xp.multiply(gh * (h_prev - n), z * (1 - z), out=dgx[t, :, n_h : 2 * n_h])
                dgh[t, :, : 2 * n_h] = dgx[t, :, : 2 * n_h]
                xp.multiply(dn, r, out=dgh[t, :, 2 * n_h :])
                gh = dgh[t] @ w_hh + gh * z
        need = ctx.needs_input_grad
        gw_hh = gb_hh = None
        dgh2 = dgh.reshape(n_t * n_b, -1)
        if need[3]:
            gw_hh = _hidden_weight_grad(dgh, y, h0, reverse)
        if need[5]:
            gb_hh = dgh2.sum(0)
        gx, gw_ih, gb_ih = _input_grads(ctx, dgx, x, w_ih, need[4])
        return gx, gh, gw_ih, gw_hh, gb_ih, gb_hh, None


# --------------------------------------------------------------------------------- tanh/relu
class RNNLayer(Op):
    """One Elman RNN layer over all steps: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), act tanh
    or relu;  backward: BPTT with act' from the saved outputs"""

    differentiable_twice = False  # backward loops on arrays: see the module docstring

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse):
        xp = array_module(x)
        n_t, n_b, _ = x.shape
        y = (x.reshape(n_t * n_b, -1) @ w_ih.T).reshape(n_t, n_b, -1)
        if b_ih is not None:
            y += b_ih + b_hh
        w_hh_t = w_hh.T
        h = h0
        with _one_blas_thread():
            for t in _steps(n_t, reverse):
                y[t] += h @ w_hh_t
                if nonlinearity == "tanh":
                    xp.tanh(y[t], out=y[t])
                else:
                    xp.maximum(y[t], 0, out=y[t])
                h = y[t]
        if ctx.needs_input_grad:
            ctx.save_for_backward(x, h0, w_ih, w_hh, y)
            ctx.nonlinearity, ctx.reverse = nonlinearity, reverse
            ctx.set_materialize_grads(False)
        return y, h.copy()

    @staticmethod
    def backward(ctx, *gys):
        return _backward_once(ctx, RNNLayer.bptt, gys, "RNN")

    @staticmethod
    def bptt(ctx, saved, gy, gh_n):
        x, h0, w_ih, w_hh, y = saved
        xp = array_module(x)
        n_t, n_b, _ = y.shape
        dg = xp.empty_like(y)
        gh = xp.zeros_like(h0) if gh_n is None else gh_n
        with _one_blas_thread():
            for t in _steps(n_t, not ctx.reverse):
                if gy is not None:
                    gh = gh + gy[t]
                if ctx.nonlinearity == "tanh":
                    xp.multiply(gh, 1 - y[t] * y[t], out=dg[t])
                else:
                    xp.multiply(gh, y[t] > 0, out=dg[t])
                gh = dg[t] @ w_hh
        need = ctx.needs_input_grad
        gw_hh = None
        if need[3]:
            gw_hh = _hidden_weight_grad(dg, y, h0, ctx.reverse)
        gx, gw_ih, gb = _input_grads(ctx, dg, x, w_ih, need[4] or need[5])
        return gx, gh, gw_ih, gw_hh, gb, gb, None, None


# ------------------------------------------------------------------------------------ cells
def _linear(x, w, b):
    y = x @ w.T
    return y if b is None else y + b


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One step of the tanh RNN: tanh(input W_ihᵀ + b_ih + hx W_hhᵀ + b_hh)."""
    return (_linear(input, w_ih, b_ih) + _linear(hx, w_hh, b_hh)).tanh()


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One step of the relu RNN: relu(input W_ihᵀ + b_ih + hx W_hhᵀ + b_hh)."""
    return (_linear(input, w_ih, b_ih) + _linear(hx, w_hh, b_hh)).relu()


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor, Tensor]:
    """One LSTM step. ``hx`` is (h, c); returns (h', c'). Gates in PyTorch's order i, f, g, o."""
    h, c = hx
    i, f, g, o = (_linear(input, w_ih, b_ih) + _linear(h, w_hh, b_hh)).chunk(4, -1)
    c = f.sigmoid() * c + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step; gates in PyTorch's order r, z, n."""
    xr, xz, xn = _linear(input, w_ih, b_ih).chunk(3, -1)
    hr, hz, hn = _linear(hx, w_hh, b_hh).chunk(3, -1)
    r = (xr + hr).sigmoid()
    z = (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return n + z * (hx - n)


# ------------------------------------------------------------------------ one layer, one way
def _unrolled(cell, x, state, weights, reverse):
    """The layer as a loop of differentiable cells (for double backward)."""
    from .shape import stack

    steps = list(_steps(x.shape[0], reverse))
    outs = [None] * len(steps)
    with _one_blas_thread():
        for t in steps:
            state = cell(x[t], state, *weights)
            outs[t] = state[0] if isinstance(state, tuple) else state
    return stack(outs), state


def _lstm_direction(x, h0, c0, w, reverse):
    w_ih, w_hh, b_ih, b_hh, w_hr = w
    if _fused:
        return LSTMLayer.apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, reverse)

    def cell(xt, hc, w_ih, w_hh, b_ih, b_hh):
        h, c = lstm_cell(xt, hc, w_ih, w_hh, b_ih, b_hh)
        return (h if w_hr is None else h @ w_hr.T), c

    y, (h, c) = _unrolled(cell, x, (h0, c0), (w_ih, w_hh, b_ih, b_hh), reverse)
    return y, h, c


def _gru_direction(x, h0, w, reverse):
    w_ih, w_hh, b_ih, b_hh = w[:4]
    if _fused:
        return GRULayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, reverse)
    return _unrolled(gru_cell, x, h0, (w_ih, w_hh, b_ih, b_hh), reverse)


def _rnn_direction(nonlinearity):
    cell = rnn_tanh_cell if nonlinearity == "tanh" else rnn_relu_cell

    def run(x, h0, w, reverse):
        w_ih, w_hh, b_ih, b_hh = w[:4]
        if _fused:
            return RNNLayer.apply(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity, reverse)
        return _unrolled(cell, x, h0, (w_ih, w_hh, b_ih, b_hh), reverse)

    return run


# ------------------------------------------------------------------------ the whole network
def _group_weights(params, has_biases, num_layers, directions):
    """The flat list of torch.lstm's params -> per (layer, direction): (w_ih, w_hh, b_ih, b_hh,
    w_hr), None where absent."""
    params = list(params)
    per = len(params) // (num_layers * directions)
    if per * num_layers * directions != len(params):
        raise RuntimeError(
            f"got {len(params)} weights for {num_layers} layer(s) x {directions} direction(s): "
            "expected the same number per layer and direction"
        )
    groups = []
    for k in range(num_layers * directions):
        w = params[k * per : (k + 1) * per]
        w_ih, w_hh = w[0], w[1]
        b_ih, b_hh = (w[2], w[3]) if has_biases else (None, None)
        w_hr = w[per - 1] if per in (3, 5) else None
        groups.append((w_ih, w_hh, b_ih, b_hh, w_hr))
    return groups


def _run(direction, input, states, params, has_biases, num_layers, dropout, train, bidirectional,
         batch_first):  # fmt: skip
    """Layers of one or two directions; states: a tuple of (L·D, B, ·) initial state tensors."""
    from .layers import dropout as dropout_fn
    from .shape import cat, stack

    directions = 2 if bidirectional else 1
    groups = _group_weights(params, has_biases, num_layers, directions)
    x = input.transpose(0, 1) if batch_first else input
    finals = [[] for _ in states]
    for layer in range(num_layers):
        outs = []
        for d in range(directions):
            k = layer * directions + d
            result = direction(x, *(s[k] for s in states), groups[k], d == 1)
            outs.append(result[0])
            for f, s in zip(finals, result[1:]):
                f.append(s)
        x = outs[0] if directions == 1 else cat(outs, -1)
        if dropout and train and layer < num_layers - 1:
            x = dropout_fn(x, dropout, True)
    y = x.transpose(0, 1) if batch_first else x
    return (y,) + tuple(stack(f) for f in finals)


def lstm(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    """A multi-layer LSTM over a (T, B, I) input ((B, T, I) with batch_first), as
    ``torch.lstm``: hx = (h0, c0) of shapes (L·D, B, H_out) and (L·D, B, H); params is the flat
    list w_ih, w_hh[, b_ih, b_hh][, w_hr] per layer and direction. Returns (y, h_n, c_n)."""
    return _run(_lstm_direction, input, tuple(hx), params, has_biases, num_layers, dropout, train,
                bidirectional, batch_first)  # fmt: skip


def gru(input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first):
    """A multi-layer GRU, as ``torch.gru``; returns (y, h_n)."""
    return _run(_gru_direction, input, (hx,), params, has_biases, num_layers, dropout, train,
                bidirectional, batch_first)  # fmt: skip


def rnn_tanh(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
             batch_first):  # fmt: skip
    """A multi-layer tanh RNN, as ``torch.rnn_tanh``; returns (y, h_n)."""
    return _run(_rnn_direction("tanh"), input, (hx,), params, has_biases, num_layers, dropout,
                train, bidirectional, batch_first)  # fmt: skip


def rnn_relu(input, hx, params, has_biases, num_layers, dropout, train, bidirectional,
             batch_first):  # fmt: skip
    """A multi-layer relu RNN, as ``torch.rnn_relu``; returns (y, h_n)."""
    return _run(_rnn_direction("relu"), input, (hx,), params, has_biases, num_layers, dropout,
                train, bidirectional, batch_first)  # fmt: skip


METHODS: list = []
__all__ = [
    "lstm", "gru", "rnn_tanh", "rnn_relu", "lstm_cell", "gru_cell", "rnn_tanh_cell",
    "rnn_relu_cell",
]  # fmt: skip
