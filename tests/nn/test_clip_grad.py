"""nn.utils gradient clipping and parameter/vector conversion beside torch.nn.utils: rows of
(norm_type, max_norm) on several gradients of different shapes (one parameter has none)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule
import chainrule.nn.utils as U

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (), (2, 1, 3)]

ROWS = [
    (2.0, 1.0),
    (2.0, 100.0),  # below the limit: unchanged
    (1.0, 0.5),
    (3.0, 0.5),
    (0.5, 2.0),
    (math.inf, 0.1),
    ("inf", 0.1),
    (-math.inf, 0.1),
    (0, 3.0),
]


def _params(m, dtype, grads=None):
    rng = np.random.default_rng(0)
    dt = getattr(m, dtype)
    params = []
    for i, s in enumerate(SHAPES):
        p = m.tensor(rng.standard_normal(s), dtype=dt).requires_grad_()
        if i != 1:  # the second parameter has no gradient
            g = grads[i] if grads is not None else rng.standard_normal(s) * 3
            p.grad = m.tensor(np.asarray(g), dtype=dt)
        params.append(p)
    return params


def _grads(params):
    return [None if p.grad is None else np.asarray(p.grad.numpy(), np.float64) for p in params]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("norm_type,max_norm", ROWS, ids=[f"p={r[0]},max={r[1]}" for r in ROWS])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ours, ref = _params(chainrule, dtype), _params(torch, dtype)
    total = U.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ref_total = torch.nn.utils.clip_grad_norm_(ref, max_norm, norm_type=norm_type)
    rtol = 1e-12 if dtype == "float64" else 1e-6
    assert isinstance(total, chainrule.Tensor) and total.dim() == 0
    np.testing.assert_allclose(float(total), float(ref_total), rtol=rtol)
    for a, b in zip(_grads(ours), _grads(ref)):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("clip_value", [0.5, 2.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value):
    ours, ref = _params(chainrule, "float64"), _params(torch, "float64")
    assert U.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(ref, clip_value)
    for a, b in zip(_grads(ours), _grads(ref)):
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_clip_grad_norm_single_tensor_and_generator():
    w = chainrule.tensor([3.0, 4.0], requires_grad=True)
    w.grad = chainrule.tensor([3.0, 4.0])
    assert float(U.clip_grad_norm_(w, 1.0)) == 5.0
    w.grad = chainrule.tensor([3.0, 4.0])
    assert float(U.clip_grad_norm_(iter([w]), 1.0)) == 5.0
    np.testing.assert_allclose(w.grad.numpy(), [0.6, 0.8], rtol=1e-5)


def test_clip_grad_norm_no_grads_is_zero():
    w = chainrule.zeros(2, requires_grad=True)
    assert float(U.clip_grad_norm_([w], 1.0)) == 0.0


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_error_if_nonfinite(bad):
    grads = [np.full(s, bad if i == 0 else 1.0) for i, s in enumerate(SHAPES)]
    params = _params(chainrule, "float64", grads)
    before = _grads(params)
    with pytest.raises(RuntimeError, match="non-finite"):
        U.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    for a, b in zip(_grads(params), before):  # nothing was scaled
        if a is not None:
            np.testing.assert_array_equal(a, b)
    # without the flag: the norm is returned and the gradients scaled, as torch does
    ref = _params(torch, "float64", grads)
    total = U.clip_grad_norm_(params, 1.0)
    ref_total = torch.nn.utils.clip_grad_norm_(ref, 1.0)
    np.testing.assert_array_equal(float(total), float(ref_total))
    for a, b in zip(_grads(params), _grads(ref)):
        if a is not None:
            np.testing.assert_array_equal(a, b)


def test_parameters_to_vector_and_back_match_torch():
    ours, ref = _params(chainrule, "float64"), _params(torch, "float64")
    vec = U.parameters_to_vector(ours)
    ref_vec = torch.nn.utils.parameters_to_vector(ref)
    np.testing.assert_array_equal(vec.detach().numpy(), ref_vec.detach().numpy())
    new = chainrule.arange(vec.numel(), dtype=chainrule.float64)
    U.vector_to_parameters(new, ours)
    torch.nn.utils.vector_to_parameters(torch.arange(vec.numel(), dtype=torch.float64), ref)
    for a, b in zip(ours, ref):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_parameters_to_vector_gradient():
    a = chainrule.ones(2, 2, requires_grad=True)
    b = chainrule.ones(3, requires_grad=True)
    (U.parameters_to_vector([a, b]) * chainrule.arange(7.0)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(b.grad.numpy(), [4, 5, 6])


def test_vector_to_parameters_needs_a_tensor():
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        U.vector_to_parameters([1.0, 2.0], [chainrule.zeros(2)])
