"""The engine's own behaviour: graph walk, accumulation, grad modes, hooks, custom Functions,
memory release, higher-order gradients, anomaly mode and type promotion.

Op gradients are tested by the op tables under tests/ops; these are the bespoke engine tests.
"""

import gc
import itertools
import warnings
import weakref

import numpy as np
import pytest

import chainrule
from chainrule.autograd import Function, once_differentiable
from chainrule.testing import gradgradcheck

try:
    import torch
except ImportError:  # the parity tests skip; the engine tests still run
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")


def t64(values, requires_grad=True):
    return chainrule.tensor(values, dtype=chainrule.float64, requires_grad=requires_grad)


def close(t, expected, rtol=1e-12, atol=1e-12):
    actual = t.detach().numpy() if isinstance(t, chainrule.Tensor) else t
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


# ------------------------------------------------------------------------- the graph walk
def test_diamond_reuse_sums_the_gradients_of_both_branches():
    x = t64([0.5, -1.0, 2.0])
    left = x * 3.0
    right = x.exp()
    (left + right).sum().backward()
    close(x.grad, 3.0 + np.exp([0.5, -1.0, 2.0]))


def test_a_node_reached_by_two_paths_runs_once_with_the_summed_gradient():
    calls = []
    x = t64([1.0, 2.0])
    h = x * x
    h.register_hook(lambda g: calls.append(g.numpy().copy()))
    (h * 2.0 + h * 3.0).sum().backward()
    assert len(calls) == 1
    close(calls[0], [5.0, 5.0])
    close(x.grad, 5.0 * 2 * np.array([1.0, 2.0]))


def test_two_backwards_with_retain_graph_accumulate():
    x = t64([1.0, -2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    close(x.grad, [2.0, -4.0])
    grad_object = x.grad
    y.backward()
    close(x.grad, [4.0, -8.0])
    assert x.grad is grad_object, ".grad accumulates in place and keeps its identity"


def test_forgotten_zero_grad_doubles_the_gradients():
    w = t64([0.5, -0.25])
    x = chainrule.tensor([2.0, 4.0], dtype=chainrule.float64)

    def step():
        ((w * x).sum() - 1.0).tanh().backward()

    step()
    first = w.grad.numpy().copy()
    step()  # no zero_grad in between
    close(w.grad, 2 * first)
    w.grad = None  # what optimizer.zero_grad() does
    step()
    close(w.grad, first)


def test_second_backward_without_retain_graph_explains_retain_graph():
    x = t64([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError) as err:
        y.backward()
    msg = str(err.value)
    assert "backward through the graph a second time" in msg
    assert "retain_graph=True" in msg
    assert "detach()" in msg and "across training steps" in msg


def test_hidden_state_carried_across_steps_names_the_cause():
    """The classic RNN bug: step 2's loss reaches step 1's freed graph through `h`."""
    w = t64([0.5])
    h = chainrule.zeros(1, dtype=chainrule.float64)
    for step, x in enumerate([1.0, 2.0]):
        h = (h * w + x).tanh()
        loss = (h * h).sum()
        if step == 0:
            loss.backward()
        else:
            with pytest.raises(RuntimeError, match=r"carries graph history across training"):
                loss.backward()


def test_backward_of_a_non_scalar_explains_itself():
    x = t64([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError) as err:
        (x * 2.0).backward()
    msg = str(err.value)
    assert "grad can be implicitly created only for scalar outputs" in msg
    assert "(3,)" in msg and ".sum()" in msg


def test_backward_with_an_explicit_gradient():
    x = t64([1.0, 2.0, 3.0])
    (x * x).backward(gradient=chainrule.tensor([1.0, 0.0, 2.0], dtype=chainrule.float64))
    close(x.grad, [2.0, 0.0, 12.0])


def test_backward_gradient_shape_mismatch():
    x = t64([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"Mismatch in shape.*\(2,\).*\(3,\)"):
        (x * 2.0).backward(gradient=chainrule.ones(2, dtype=chainrule.float64))


def test_backward_of_something_that_does_not_require_grad_says_why():
    x = chainrule.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2.0).sum().backward()


# -------------------------------------------------------------------------------- grad modes
def test_no_grad_context_and_decorator():
    x = t64([1.0])
    with chainrule.no_grad():
        assert not (x * 2.0).requires_grad
        assert not chainrule.is_grad_enabled()
    assert chainrule.is_grad_enabled()

    @chainrule.no_grad()
    def f(a):
        return a * 2.0

    assert not f(x).requires_grad
    assert chainrule.is_grad_enabled()


def test_enable_grad_inside_no_grad_context_and_decorator():
    x = t64([1.0])

    @chainrule.enable_grad()
    def f(a):
        return a * 2.0

    with chainrule.no_grad():
        with chainrule.enable_grad():
            assert (x * 2.0).requires_grad
        assert not (x * 2.0).requires_grad
        assert f(x).requires_grad
        assert not chainrule.is_grad_enabled()


def test_set_grad_enabled_as_context_and_as_a_function():
    x = t64([1.0])
    with chainrule.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad
    assert (x * 2.0).requires_grad
    chainrule.set_grad_enabled(False)  # takes effect at once, like torch
    try:
        assert not (x * 2.0).requires_grad
    finally:
        chainrule.set_grad_enabled(True)
    assert chainrule.is_grad_enabled()


def test_set_grad_enabled_as_a_decorator_leaves_the_mode_alone():
    try:

        @chainrule.set_grad_enabled(False)
        def f(a):
            return a * 2.0

        assert chainrule.is_grad_enabled(), "decorating must not change the grad mode"
        assert not f(t64([1.0])).requires_grad
        assert chainrule.is_grad_enabled()
    finally:
        chainrule.set_grad_enabled(True)


def test_inference_mode_context_and_decorator():
    x = t64([1.0])
    with chainrule.inference_mode():
        assert not (x * 2.0).requires_grad
    with chainrule.inference_mode(False):
        assert (x * 2.0).requires_grad

    @chainrule.inference_mode()
    def f(a):
        return a * 2.0

    assert not f(x).requires_grad
    assert chainrule.is_grad_enabled()


def test_grad_mode_is_restored_when_the_body_raises():
    with pytest.raises(ValueError):
        with chainrule.no_grad():
            raise ValueError
    assert chainrule.is_grad_enabled()


# ------------------------------------------------------------------- leaves and detaching
def test_detach_shares_data_and_version_but_not_history():
    x = t64([1.0, 2.0])
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.numpy(), y.detach().numpy())
    before = y._version
    d.add_(1.0)
    assert y._version == before + 1, "in-place on the detached tensor is seen by y"
    close(y, [3.0, 5.0])


def test_detach_in_place_makes_a_leaf():
    x = t64([1.0, 2.0])
    y = x * 2.0
    y.detach_()
    assert y.is_leaf and not y.requires_grad and y.grad_fn is None
    (x * 1.0).sum().backward()  # the rest of the graph still works
    close(x.grad, [1.0, 1.0])


def test_requires_grad_on_an_integer_tensor_raises():
    i = chainrule.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="floating point"):
        i.requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        chainrule.tensor([1, 2], requires_grad=True)


def test_is_leaf():
    x = t64([1.0])
    c = chainrule.tensor([1.0])
    assert x.is_leaf and c.is_leaf
    assert not (x * 2.0).is_leaf
    assert (c * 2.0).is_leaf, "ops on tensors that need no grad make leaves"
    with chainrule.no_grad():
        assert (x * 2.0).is_leaf


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = t64([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    close(h.grad, 2 * 3.0 * np.array([1.0, 2.0]))
    close(x.grad, 18.0 * np.array([1.0, 2.0]))


def test_grad_of_a_non_leaf_warns():
    h = t64([1.0]) * 2.0
    h.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf Tensor"):
        assert h.grad is None


# ----------------------------------------------------------------------------------- hooks
def test_leaf_hook_modifies_the_gradient_and_is_removed_by_its_handle():
    x = t64([1.0, 2.0])
    c = chainrule.tensor([3.0, -1.0], dtype=chainrule.float64)
    seen = []

    def hook(g):
        seen.append(g.numpy().copy())
        return g * 10.0

    handle = x.register_hook(hook)
    (x * c).sum().backward()
    close(seen[0], [3.0, -1.0])
    close(x.grad, [30.0, -10.0])
    handle.remove()
    x.grad = None
    (x * c).sum().backward()
    close(x.grad, [3.0, -1.0])
    assert len(seen) == 1


_LEAF_PARTIALS = (
    "engine.py _walk/_deliver_leaf: a leaf reached by two edges (x * x, or x used by two ops) "
    "gets each partial gradient delivered separately, so its hooks and post-accumulate hooks "
    "run once per edge with partial values (torch runs them once with the sum)"
)


def test_leaf_hook_runs_once_with_the_summed_gradient():
    x = t64([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    (x * x).sum().backward()
    assert len(seen) == 1
    close(seen[0], [2.0, 4.0])


def test_non_leaf_hook_changes_what_flows_upstream():
    x = t64([1.0, 2.0])
    h = x * 3.0
    handle = h.register_hook(lambda g: g * 0.5)
    (h * h).sum().backward(retain_graph=False)
    close(x.grad, 0.5 * 18.0 * np.array([1.0, 2.0]))
    handle.remove()
    x.grad = None
    h = x * 3.0
    (h * h).sum().backward()
    close(x.grad, 18.0 * np.array([1.0, 2.0]))


def test_post_accumulate_grad_hook_sees_the_accumulated_grad():
    """An optimizer step fused into backward: the hook updates the parameter in place."""
    p = t64([1.0, -1.0])
    seen = []

    def sgd_step(t):
        seen.append(t.grad.numpy().copy())
        with chainrule.no_grad():
            t.sub_(t.grad * 0.1)
        t.grad = None

    handle = p.register_post_accumulate_grad_hook(sgd_step)
    (p * 3.0).sum().backward()
    close(seen[0], [3.0, 3.0])
    close(p, [0.7, -1.3])
    assert p.grad is None
    handle.remove()
    (p * 3.0).sum().backward()
    assert len(seen) == 1
    close(p.grad, [3.0, 3.0])


def test_post_accumulate_grad_hook_runs_once_per_backward():
    p = t64([1.0, -1.0])
    seen = []
    p.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    (p * p).sum().backward()
    assert len(seen) == 1
    close(seen[0], [2.0, -2.0])


def test_post_accumulate_grad_hook_refuses_non_leaves():
    with pytest.raises(RuntimeError, match="non-leaf"):
        (t64([1.0]) * 2.0).register_post_accumulate_grad_hook(lambda t: None)


# ------------------------------------------------------------------ backward(inputs=) / grad
def test_backward_inputs_accumulates_only_into_those():
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    (a * b).sum().backward(inputs=[a])
    close(a.grad, [3.0, 4.0])
    assert b.grad is None


def test_backward_inputs_may_name_a_non_leaf():
    x = t64([1.0, 2.0])
    h = x * 3.0
    (h * h).sum().backward(inputs=[h])
    assert x.grad is None
    close(h._grad, [6.0, 12.0])


def test_grad_allow_unused_and_the_unused_input_error():
    x, unused = t64([1.0, 2.0]), t64([5.0])
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="not have been used in the graph.*allow_unused=True"):
        chainrule.autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = chainrule.autograd.grad(y, [x, unused], allow_unused=True)
    close(gx, [2.0, 4.0])
    assert gu is None
    assert x.grad is None and unused.grad is None, "grad() never touches .grad"


def test_grad_materialize_grads_gives_zeros_for_unused_inputs():
    x, unused = t64([1.0, 2.0]), t64([5.0])
    _, gu = chainrule.autograd.grad((x * x).sum(), [x, unused], materialize_grads=True)
    close(gu, [0.0])


def test_grad_create_graph_gives_a_differentiable_gradient():
    x = t64([1.0, -2.0])
    (g,) = chainrule.autograd.grad((x * x * x).sum(), x, create_graph=True)
    assert g.requires_grad
    close(g, 3 * np.array([1.0, -2.0]) ** 2)
    (gg,) = chainrule.autograd.grad(g.sum(), x)
    close(gg, 6 * np.array([1.0, -2.0]))


# ------------------------------------------------------------------------- custom Function
class Cube(Function):
    """y = x³;  gx = 3x²·gy, written with Tensor ops so that it is differentiable again."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 3.0 * x * x


def test_custom_function_forward_backward_and_saved_tensors():
    x = t64([1.0, 2.0])
    y = Cube.apply(x)
    assert y.grad_fn is not None and "Cube" in y.grad_fn.name()
    y.sum().backward()
    close(x.grad, [3.0, 12.0])


def test_custom_function_double_backward():
    x = t64([1.0, 2.0])
    (g,) = chainrule.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = chainrule.autograd.grad(g.sum(), x)
    close(gg, [6.0, 12.0])
    gradgradcheck(Cube.apply, (t64([0.3, -1.2]),))


def test_custom_function_needs_input_grad():
    seen = {}

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, s):
            ctx.save_for_backward(x, s)
            return x * s

        @staticmethod
        def backward(ctx, gy):
            x, s = ctx.saved_tensors
            seen["needs"] = ctx.needs_input_grad
            gx = gy * s if ctx.needs_input_grad[0] else None
            gs = gy * x if ctx.needs_input_grad[1] else None
            return gx, gs

    x, s = t64([1.0, 2.0]), t64([3.0], requires_grad=False)
    Scale.apply(x, s).sum().backward()
    assert seen["needs"] == (True, False)
    close(x.grad, [3.0, 3.0])


class MaxWithIndex(Function):
    """Two outputs: the max (differentiable) and its index (marked non-differentiable)."""

    @staticmethod
    def forward(ctx, x):
        i = int(np.argmax(x.detach().numpy()))
        ctx.i, ctx.n = i, x.numel()
        index = chainrule.tensor(float(i), dtype=x.dtype)
        ctx.mark_non_differentiable(index)
        return x[i], index

    @staticmethod
    def backward(ctx, g_max, g_index):
        onehot = np.zeros(ctx.n)
        onehot[ctx.i] = 1.0
        return g_max * chainrule.tensor(onehot)


def test_custom_function_mark_non_differentiable():
    x = t64([1.0, 5.0, 2.0])
    value, index = MaxWithIndex.apply(x)
    assert value.requires_grad and not index.requires_grad
    assert index.item() == 1.0
    value.backward()
    close(x.grad, [0.0, 1.0, 0.0])


@pytest.mark.parametrize("materialize", [True, False])
def test_custom_function_set_materialize_grads(materialize):
    seen = []

    class SplitSquare(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            ctx.save_for_backward(x)
            return x * x, x * 2.0

        @staticmethod
        def backward(ctx, g_square, g_double):
            (x,) = ctx.saved_tensors
            seen.append(g_double)
            gx = g_square * 2.0 * x
            if g_double is not None:
                gx = gx + g_double * 2.0
            return gx

    x = t64([1.0, 3.0])
    square, _ = SplitSquare.apply(x)  # the second output is not used
    square.sum().backward()
    close(x.grad, [2.0, 6.0])
    if materialize:
        close(seen[0], [0.0, 0.0])
    else:
        assert seen[0] is None


def test_custom_function_with_two_outputs_combines_both_gradients():
    class SinCos(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            a = x.detach().numpy()
            return chainrule.tensor(np.sin(a)), chainrule.tensor(np.cos(a))

        @staticmethod
        def backward(ctx, g_sin, g_cos):
            (x,) = ctx.saved_tensors
            a = x.detach().numpy()
            return g_sin * chainrule.tensor(np.cos(a)) - g_cos * chainrule.tensor(np.sin(a))

    x = t64([0.3, 1.1])
    s, c = SinCos.apply(x)
    (s * 2.0 + c * 3.0).sum().backward()
    a = np.array([0.3, 1.1])
    close(x.grad, 2 * np.cos(a) - 3 * np.sin(a))


def test_once_differentiable_backward_works_once_and_records_nothing():
    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once_differentiable
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return gy * 2.0 * x

    x = t64([1.0, -3.0])
    (g,) = chainrule.autograd.grad(Square.apply(x).sum(), x, create_graph=True)
    close(g, [2.0, -6.0])
    assert not g.requires_grad, "a once_differentiable backward must not record a graph"


def test_custom_function_returning_a_wrong_number_of_gradients():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, gy):
            return gy

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(t64([1.0]), t64([2.0])).sum().backward()


def test_straight_through_estimator_has_gradient_one():
    x = t64([0.2, 1.7, -2.4])
    y = x + (x.round() - x).detach()
    close(y, [0.0, 2.0, -2.0])
    y.sum().backward()
    close(x.grad, [1.0, 1.0, 1.0])


# ------------------------------------------------------------------------------------ memory
def test_saved_arrays_are_released_after_backward():
    x = t64([1.0, 2.0])
    h = x.exp()  # Exp saves its output; Mul below saves h's array twice
    saved = weakref.ref(h._data)
    y = (h * h).sum()
    del h
    gc.collect()
    assert saved() is not None, "the graph keeps what backward needs"
    y.backward()
    gc.collect()
    assert saved() is None, "backward without retain_graph frees saved arrays"


def test_retain_graph_keeps_saved_arrays():
    x = t64([1.0, 2.0])
    h = x.exp()
    saved = weakref.ref(h._data)
    y = (h * h).sum()
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert saved() is not None


def test_a_node_does_not_keep_its_input_tensors_alive():
    x = t64([1.0, 2.0])
    a = x * 2.0
    ref = weakref.ref(a)
    y = a.tanh().sum()
    del a
    gc.collect()
    assert ref() is None, "nodes hold their parents' nodes and saved arrays, never tensors"
    y.backward()
    close(x.grad, 2.0 * (1 - np.tanh(2.0 * np.array([1.0, 2.0])) ** 2))


def test_a_100000_op_chain_backward_has_no_recursion_error():
    n = 100_000
    x = t64(1.0)
    y = x
    for _ in range(n):
        y = y * 1.000001
    y.backward()
    close(x.grad, 1.000001**n, rtol=1e-9)
    del y  # freeing a deep graph must not overflow the C stack either
    gc.collect()


# ------------------------------------------------------------------- higher-order gradients
def _f_and_hessian(a):
    """f(x) = Σ x³ + (Σ x)²;  H = diag(6x) + 2·11ᵀ."""
    return np.diag(6.0 * a) + 2.0


def test_hessian_by_differentiating_twice():
    a = np.array([0.5, -1.0, 2.0])
    x = t64(a)
    s = x.sum()
    f = (x * x * x).sum() + s * s
    (g,) = chainrule.autograd.grad(f, x, create_graph=True)
    rows = []
    for i in range(3):
        onehot = chainrule.tensor(np.eye(3)[i])
        (row,) = chainrule.autograd.grad(g, x, grad_outputs=onehot, retain_graph=True)
        rows.append(row.numpy())
    np.testing.assert_allclose(np.stack(rows), _f_and_hessian(a), rtol=1e-12)


def test_hessian_by_functional_hessian():
    import chainrule.autograd.functional as F

    a = np.array([0.5, -1.0, 2.0])

    def f(x):
        s = x.sum()
        return (x * x * x).sum() + s * s

    close(F.hessian(f, t64(a, requires_grad=False)), _f_and_hessian(a))


@needs_torch
def test_gradient_penalty_gradient_matches_torch():
    """WGAN-GP style: the penalty is the squared norm of ∂D/∂x, differentiated w.r.t. W."""
    rng = np.random.default_rng(0)
    xa, wa = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    grads = []
    for m in (chainrule, torch):
        x = m.tensor(xa, requires_grad=True)
        w = m.tensor(wa, requires_grad=True)
        d = m.tanh(x @ w).sum()
        (gx,) = m.autograd.grad(d, x, create_graph=True)
        penalty = ((gx * gx).sum() - 1.0) * ((gx * gx).sum() - 1.0)
        penalty.backward()
        grads.append(w.grad.detach().numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------- anomaly mode
def test_detect_anomaly_names_the_op_that_made_a_nan_gradient():
    x = t64([0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with chainrule.autograd.detect_anomaly():
            y = (x.log() * 0.0).sum()  # log'(0) = 1/0, times the 0 from Mul: NaN
            with pytest.raises(RuntimeError) as err:
                y.backward()
    msg = str(err.value)
    assert "LogBackward" in msg and "nan" in msg
    assert "test_engine.py" in msg, "the message points at the forward call that made the op"
    assert not chainrule.autograd.is_anomaly_enabled()


def test_without_anomaly_mode_nan_gradients_pass_silently():
    x = t64([0.0, 1.0])
    with np.errstate(all="ignore"):
        (x.log() * 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])


# --------------------------------------------------------------------- gradients and dtypes
def test_two_leaf_grads_never_share_memory():
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    (a + b).sum().backward()  # Add hands the same gradient to both
    a.grad.mul_(2.0)
    close(a.grad, [2.0, 2.0])
    close(b.grad, [1.0, 1.0])


def test_a_leaf_grad_never_aliases_a_gradient_still_in_flight():
    """Regression: Add hands the same array to x and to the inner Add; x took it over and
    accumulated into it in place, so w.grad came out doubled."""
    x, w = t64([1.0, 2.0]), t64([1.0, 1.0])
    ((x + (x + w)) * 3.0).sum().backward()
    close(w.grad, [3.0, 3.0])
    close(x.grad, [6.0, 6.0])


def test_a_retained_grad_is_not_changed_by_leaf_accumulation():
    x = t64([1.0, 2.0])
    h = x * 1.0
    h.retain_grad()
    ((h + x) * 3.0).sum().backward()
    close(h.grad, [3.0, 3.0])  # was [6, 6]: x's accumulation wrote into h.grad's array
    close(x.grad, [6.0, 6.0])


def test_gradient_dtype_is_the_input_dtype_under_promotion():
    a = chainrule.tensor([1.0, 2.0], dtype=chainrule.float32, requires_grad=True)
    b = chainrule.tensor(3.0, dtype=chainrule.float64, requires_grad=True)
    y = a * b
    assert y.dtype == chainrule.float32, "a dimensioned tensor outranks a 0-d one"
    y.sum().backward()
    assert a.grad.dtype == chainrule.float32 and b.grad.dtype == chainrule.float64
    assert tuple(b.grad.shape) == ()
    close(b.grad, 3.0, rtol=1e-6)

    c = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    a.grad = None
    (a * c).sum().backward()  # float32 (2,) * float64 (2,) -> float64
    assert a.grad.dtype == chainrule.float32 and c.grad.dtype == chainrule.float64


_DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64"]
_DTYPES += ["float16", "bfloat16", "float32", "float64"]


def _promotion_params():
    out = []
    for d1, d2 in itertools.product(_DTYPES, _DTYPES):
        for ranks in [(1, 1), (1, 0), (0, 1), (0, 0)]:
            out.append(pytest.param(d1, d2, ranks, id=f"{d1}-{d2}-{ranks[0]}{ranks[1]}"))
    for d1 in _DTYPES:
        for scalar in (True, 2, 2.5):
            for rank in (1, 0):
                out.append(pytest.param(d1, scalar, (rank, None), id=f"{d1}-{scalar!r}-{rank}"))
    return out


def _make(m, dtype: str, rank: int):
    return m.tensor([1, 0, 1] if rank else 1, dtype=getattr(m, dtype))


def _name(dt) -> str:
    return str(dt).removeprefix("torch.").removeprefix("chainrule.")


@needs_torch
@pytest.mark.parametrize("d1,d2,ranks", _promotion_params())
def test_type_promotion_matches_torch(d1, d2, ranks):
    a, ta = _make(chainrule, d1, ranks[0]), _make(torch, d1, ranks[0])
    if ranks[1] is None:  # a Python scalar
        b = tb = d2
    else:
        b, tb = _make(chainrule, d2, ranks[1]), _make(torch, d2, ranks[1])
    expected = _name(torch.result_type(ta, tb))
    assert _name(chainrule.result_type(a, b)) == expected
    for op in ("add", "mul"):
        theirs = _name(getattr(torch, op)(ta, tb).dtype)
        assert _name(getattr(chainrule, op)(a, b).dtype) == theirs, f"{op}({d1}, {d2!r})"
        if ranks[1] is None:
            assert _name(getattr(chainrule, op)(b, a).dtype) == theirs, f"{op}({d2!r}, {d1})"


def test_pickling_keeps_leaves_and_refuses_graph_outputs():
    import pickle

    x = chainrule.ones(2, requires_grad=True)
    p = chainrule.nn.Parameter(chainrule.zeros(3))
    assert type(pickle.loads(pickle.dumps(p))) is chainrule.nn.Parameter
    assert pickle.loads(pickle.dumps(x)).requires_grad
    with pytest.raises(RuntimeError, match="non-leaf tensor which requires_grad"):
        pickle.dumps(x * 2)


@pytest.mark.parametrize(
    "values",
    [[0.8, -1.6], [[1, -20], [300, 4]], [True, False], [[0.5, -12.25], [3.0, 4.0]], [1e-5, 1.0]],
)
def test_repr_pads_columns_like_torch(values):
    torch = pytest.importorskip("torch")
    assert repr(chainrule.tensor(values)) == repr(torch.tensor(values))


# --------------------------------------------------------------------------- final callbacks
def test_queue_callback_runs_after_every_gradient_once_in_order():
    from chainrule.autograd import queue_callback

    a = chainrule.tensor([1.0, 2.0], requires_grad=True)
    b = chainrule.tensor([3.0], requires_grad=True)
    order = []

    def hook(g):
        queue_callback(lambda: order.append(("first", a.grad is not None, b.grad is not None)))
        queue_callback(lambda: queue_callback(lambda: order.append(("queued by a callback",))))
        return g

    y = a * 2
    y.register_hook(hook)
    (y.sum() + b.sum()).backward()
    assert order == [("first", True, True), ("queued by a callback",)]
    (a * 1).sum().backward()  # a new backward starts with no callbacks
    assert len(order) == 2


def test_queue_callback_outside_backward_says_where_it_can_be_called():
    from chainrule.autograd import queue_callback

    with pytest.raises(RuntimeError, match="only be installed during backward"):
        queue_callback(lambda: None)
