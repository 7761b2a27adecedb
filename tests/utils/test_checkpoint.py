"""Activation checkpointing: each row runs a function directly and through ``checkpoint`` from
the same RNG state, and compares outputs and the gradients of inputs and parameters."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
import chainrule.nn as nn
from chainrule.utils.checkpoint import checkpoint, checkpoint_sequential


def _leaf(*shape, grad=True):
    return chainrule.randn(*shape, dtype=chainrule.float64).requires_grad_(grad)


def _dropout(x, p=0.4):
    keep = (chainrule.rand(x.shape, dtype=x.dtype) > p).to(x.dtype)
    return x * keep / (1 - p)


def _tensors(out) -> list:
    if isinstance(out, chainrule.Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, list | tuple):
        return [t for o in out for t in _tensors(o)]
    return []


# make() -> (function, args, kwargs, tensors whose gradients are compared)
def _mlp():
    w1, w2 = _leaf(4, 5), _leaf(5, 3)
    x = _leaf(2, 4)
    return lambda x: (x @ w1).tanh() @ w2, (x,), {}, [x, w1, w2]


def _with_dropout():
    w = _leaf(4, 6)
    x = _leaf(3, 4)
    return lambda x: _dropout((x @ w).sin()).sum(1), (x,), {}, [x, w]


def _no_input_grad():
    w1, w2 = _leaf(4, 5), _leaf(5)
    x = _leaf(2, 4, grad=False)
    return lambda x: _dropout(x @ w1).exp() * w2, (x,), {}, [w1, w2]


def _args_and_kwargs():
    w, b = _leaf(3, 3), _leaf(3)
    x, frozen = _leaf(2, 3), _leaf(2, 3, grad=False)

    def f(x, scale, frozen, *, mode, bias):
        y = x @ w * scale + frozen
        return y.relu() + bias if mode == "relu" else y

    return f, (x, 2.5, frozen), {"mode": "relu", "bias": b}, [x, w, b]


def _structured_output():
    w = _leaf(3, 3)
    x = _leaf(2, 3)

    def f(x):
        y = x @ w
        return {"y": y, "pair": (y.sum(0), "tag"), "idx": y.argmax(1), "n": 3}

    return f, (x,), {}, [x, w]


def _two_inputs_one_frozen():
    x, y = _leaf(3), _leaf(3, grad=False)
    return lambda a, b: (a * b).cumsum(0) * a, (x, y), {}, [x]


def _input_returned():
    x, w = _leaf(3), _leaf(3)
    return lambda a: (a, a * w), (x,), {}, [x, w]


def _same_input_twice():
    x = _leaf(4)
    return lambda a, b: a * b.sin(), (x, x), {}, [x]


def _nested():
    w1, w2 = _leaf(4, 4), _leaf(4, 4)
    x = _leaf(2, 4)

    def inner(h):
        return _dropout((h @ w2).tanh())

    def outer(h):
        return checkpoint(inner, _dropout(h @ w1).sin(), use_reentrant=False) * 2

    return outer, (x,), {}, [x, w1, w2]


def _module():
    chainrule.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2)).double()
    x = _leaf(5, 4, grad=False)
    return net, (x,), {}, list(net.parameters())


ROWS = {
    "mlp": _mlp,
    "dropout masks match": _with_dropout,
    "no input requires grad": _no_input_grad,
    "args and kwargs pass through": _args_and_kwargs,
    "structured output": _structured_output,
    "two inputs, one frozen": _two_inputs_one_frozen,
    "input returned as output": _input_returned,
    "same input twice": _same_input_twice,
    "nested checkpoints": _nested,
    "module with dropout": _module,
}


def _run(fn, args, kwargs, wrt, via_checkpoint):
    for t in wrt:
        t.grad = None
    chainrule.manual_seed(11)
    if via_checkpoint:
        out = checkpoint(fn, *args, use_reentrant=False, **kwargs)
    else:
        out = fn(*args, **kwargs)
    chainrule.rand(7)  # the RNG moves on between forward and backward
    tensors = [t for t in _tensors(out) if t.requires_grad]
    loss = sum(
        (t * chainrule.linspace(0.5, 1.5, t.numel()).reshape(t.shape)).sum() for t in tensors
    )
    loss.backward()
    values = [t.detach().numpy().copy() for t in _tensors(out)]
    grads = [None if t.grad is None else t.grad.numpy().copy() for t in wrt]
    return out, values, grads


@pytest.mark.parametrize("name", list(ROWS))
def test_checkpoint_matches_direct_run(name):
    chainrule.manual_seed(0)
    fn, args, kwargs, wrt = ROWS[name]()
    out_ref, values_ref, grads_ref = _run(fn, args, kwargs, wrt, via_checkpoint=False)
    out, values, grads = _run(fn, args, kwargs, wrt, via_checkpoint=True)
    assert type(out) is type(out_ref)
    assert [v.dtype for v in values] == [v.dtype for v in values_ref]
    for v, r in zip(values, values_ref):
        np.testing.assert_array_equal(v, r)
    for k, (g, r) in enumerate(zip(grads, grads_ref)):
        assert (g is None) == (r is None), f"gradient {k}"
        if g is not None:
            np.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12, err_msg=f"gradient {k}")
    assert [t.requires_grad for t in _tensors(out)] == [t.requires_grad for t in _tensors(out_ref)]


@pytest.mark.parametrize("segments", [1, 2, 3, 5])
def test_checkpoint_sequential_matches_direct_run(segments):
    chainrule.manual_seed(0)
    layers = [nn.Linear(6, 6).double() for _ in range(5)]
    functions = []
    for layer in layers:
        functions += [layer, chainrule.tanh, _dropout]
    x = _leaf(3, 6)
    params = [x] + [p for layer in layers for p in layer.parameters()]

    def run(via):
        for p in params:
            p.grad = None
        chainrule.manual_seed(5)
        if via:
            y = checkpoint_sequential(functions, segments, x, use_reentrant=False)
        else:
            y = x
            for f in functions:
                y = f(y)
        y.pow(2).sum().backward()
        return y.detach().numpy(), [p.grad.numpy().copy() for p in params]

    y_ref, g_ref = run(False)
    y, g = run(True)
    np.testing.assert_array_equal(y, y_ref)
    for a, b in zip(g, g_ref):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    seq = nn.Sequential(*layers)
    out = checkpoint_sequential(seq, 2, x.detach(), use_reentrant=True)
    np.testing.assert_allclose(out.detach().numpy(), seq(x.detach()).detach().numpy())


def test_forward_keeps_no_graph_and_backward_recomputes_once():
    w = _leaf(3)
    modes = []

    def f(x):
        modes.append(chainrule.is_grad_enabled())
        return (x * w).exp()

    y = checkpoint(f, _leaf(3), use_reentrant=False)
    assert modes == [False] and y.requires_grad
    y.sum().backward()
    assert modes == [False, True]


def test_rng_stream_is_not_disturbed_by_recomputation():
    x = _leaf(4)
    chainrule.manual_seed(1)
    y = checkpoint(_dropout, x, use_reentrant=False)
    before = chainrule.get_rng_state()
    y.sum().backward()
    assert np.array_equal(chainrule.get_rng_state().numpy(), before.numpy())


def test_frozen_module_without_grad_inputs_gives_no_graph():
    net = nn.Linear(3, 2).requires_grad_(False)
    y = checkpoint(net, chainrule.randn(4, 3), use_reentrant=False)
    assert not y.requires_grad
    trainable = nn.Linear(3, 2)
    assert checkpoint(trainable, chainrule.randn(4, 3), use_reentrant=False).requires_grad
    with chainrule.no_grad():
        assert not checkpoint(trainable, chainrule.randn(4, 3), use_reentrant=False).requires_grad


def test_retain_graph_backward_twice_accumulates():
    x, w = _leaf(3), _leaf(3)
    y = checkpoint(lambda a: (a * w).sin().sum(), x, use_reentrant=False)
    y.backward(retain_graph=True)
    once = w.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * once)


def test_input_modified_in_place_before_backward_is_an_error():
    x = _leaf(3)
    h = x * 1.0
    y = checkpoint(lambda a: a.exp(), h, use_reentrant=False)
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_create_graph_is_refused_clearly():
    x = _leaf(3)
    y = checkpoint(lambda a: a.exp(), x, use_reentrant=False)
    with pytest.raises(RuntimeError, match="does not support backward\\(create_graph=True\\)"):
        y.sum().backward(create_graph=True)


def test_nondeterministic_recomputation_is_reported():
    calls = []

    def f(x):
        calls.append(1)
        return x[: len(calls)] * 2

    y = checkpoint(f, _leaf(4), use_reentrant=False)
    with pytest.raises(RuntimeError, match="recomputing the function in backward gave outputs"):
        y.sum().backward()
