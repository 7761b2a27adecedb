"""chainrule.autograd.functional against torch.autograd.functional on small functions.

Every function is written once as ``fn(m, *xs)`` and called with m = chainrule and m = torch on
the same float64 inputs; results must agree in structure (Tensor / tuple / tuple of tuples),
shape and value.
"""

import numpy as np
import pytest

import chainrule
import chainrule.autograd.functional as F

torch = pytest.importorskip("torch")
TF = torch.autograd.functional


# ------------------------------------------------------------------------------ functions
def cubic(m, x):
    return (x * x * x).sum()


def mix(m, x, y):  # scalar, couples x and y
    return (m.tanh(x * y) * x).sum() + (y * y).exp().sum()


def vec(m, x):  # vector -> vector (3,) -> (3,)
    return m.tanh(x) * x


def two_out(m, x, y):  # two inputs, two outputs of different shapes
    return x * y, (x * x).sum() + y.exp()


def unused_second(m, x, y):  # y has no influence
    return (x * x).sum()


def linear(m, x):  # its Hessian is 0 and independent of x
    return (2.0 * x).sum()


# -------------------------------------------------------------------------------- helpers
def _arrays(*shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1.5, 1.5, size=s) for s in shapes]


def _ins(m, arrays, as_tuple=True, requires_grad=False):
    ts = tuple(m.tensor(a, requires_grad=requires_grad) for a in arrays)
    return ts if as_tuple else ts[0]


def _bind(fn, m):
    return lambda *xs: fn(m, *xs)


def assert_same(ours, theirs, path="result"):
    """Same nesting, shapes and values (float64, 1e-10)."""
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple), f"{path}: chainrule gives {type(ours)}, torch a tuple"
        assert len(ours) == len(theirs), f"{path}: {len(ours)} entries vs torch's {len(theirs)}"
        for k, (o, t) in enumerate(zip(ours, theirs)):
            assert_same(o, t, f"{path}[{k}]")
        return
    assert isinstance(ours, chainrule.Tensor), f"{path}: {type(ours)} is not a Tensor"
    assert tuple(ours.shape) == tuple(theirs.shape), (
        f"{path}: shape {tuple(ours.shape)} vs torch {tuple(theirs.shape)}"
    )
    np.testing.assert_allclose(
        ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=path
    )


def _leaves(x):
    return [t for el in x for t in _leaves(el)] if isinstance(x, tuple) else [x]


def both(api, fn, arrays, v=None, as_tuple=True, v_tuple=None, **kw):
    """Run chainrule's and torch's `api` on the same function, inputs and v."""
    v_tuple = as_tuple if v_tuple is None else v_tuple
    results = []
    for m, mod in ((chainrule, F), (torch, TF)):
        args = [_bind(fn, m), _ins(m, arrays, as_tuple)]
        if v is not None:
            args.append(_ins(m, v, v_tuple))
        results.append(getattr(mod, api)(*args, **kw))
    return results


# ---------------------------------------------------------------------------------- vjp
@pytest.mark.parametrize(
    "fn,shapes,v_shapes,as_tuple,v_tuple",
    [
        (cubic, [(3,)], None, False, False),
        (vec, [(3,)], [(3,)], False, False),
        (mix, [(2, 3), (3,)], [()], True, False),
        (two_out, [(3,), (3,)], [(3,), (3,)], True, True),
        (unused_second, [(3,), (2,)], [()], True, False),
    ],
)
def test_vjp_matches_torch(fn, shapes, v_shapes, as_tuple, v_tuple):
    arrays = _arrays(*shapes)
    v = _arrays(*v_shapes, seed=1) if v_shapes else None
    ours, theirs = both("vjp", fn, arrays, v, as_tuple, v_tuple)
    assert_same(ours, theirs)
    assert not any(t.requires_grad for t in _leaves(ours)), "results must be detached"


def test_vjp_create_graph_is_differentiable():
    x = chainrule.tensor([0.5, -1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    xt = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    _, g = F.vjp(lambda a: cubic(chainrule, a), x, create_graph=True)
    _, gt = TF.vjp(lambda a: cubic(torch, a), xt, create_graph=True)
    assert g.requires_grad
    g.sum().backward()
    gt.sum().backward()
    assert_same(x.grad, xt.grad)  # d/dx Σ 3x² = 6x


# ---------------------------------------------------------------------------------- jvp
@pytest.mark.parametrize(
    "fn,shapes,as_tuple",
    [
        (vec, [(3,)], False),
        (cubic, [(4,)], False),
        (mix, [(2, 3), (3,)], True),
        (two_out, [(3,), (3,)], True),
        (unused_second, [(3,), (2,)], True),
    ],
)
def test_jvp_matches_torch(fn, shapes, as_tuple):
    arrays = _arrays(*shapes)
    v = _arrays(*shapes, seed=2)
    ours, theirs = both("jvp", fn, arrays, v, as_tuple)
    assert_same(ours, theirs)


def test_jvp_v_may_be_omitted_for_one_element_input():
    ours, theirs = both("jvp", vec, [np.array([0.7])], as_tuple=False)
    assert_same(ours, theirs)


# ----------------------------------------------------------------------------- jacobian
@pytest.mark.parametrize(
    "fn,shapes,as_tuple",
    [
        (vec, [(3,)], False),
        (vec, [(2, 3)], False),
        (cubic, [(3,)], False),
        (mix, [(2, 3), (3,)], True),
        (two_out, [(3,), (3,)], True),
        (unused_second, [(3,), (2,)], True),
    ],
)
def test_jacobian_matches_torch(fn, shapes, as_tuple):
    ours, theirs = both("jacobian", fn, _arrays(*shapes), as_tuple=as_tuple)
    assert_same(ours, theirs)


def test_jacobian_create_graph_gives_the_hessian():
    arrays = _arrays((3,))
    x = _ins(chainrule, arrays, as_tuple=False, requires_grad=True)
    xt = _ins(torch, arrays, as_tuple=False, requires_grad=True)
    j = F.jacobian(lambda a: vec(chainrule, a), x, create_graph=True)
    jt = TF.jacobian(lambda a: vec(torch, a), xt, create_graph=True)
    assert j.requires_grad
    (j * j).sum().backward()
    (jt * jt).sum().backward()
    assert_same(x.grad, xt.grad)


def test_jacobian_strict_names_the_independent_input():
    x, y = _ins(chainrule, _arrays((3,), (2,)))
    with pytest.raises(RuntimeError, match="independent of input 1"):
        F.jacobian(lambda a, b: unused_second(chainrule, a, b), (x, y), strict=True)
    with pytest.raises(RuntimeError, match="independent of input 1"):
        TF.jacobian(
            lambda a, b: unused_second(torch, a, b), _ins(torch, _arrays((3,), (2,))), strict=True
        )


def test_jacobian_without_create_graph_returns_detached_tensors():
    x = _ins(chainrule, _arrays((3,)), as_tuple=False, requires_grad=True)
    j = F.jacobian(lambda a: vec(chainrule, a), x)
    assert not j.requires_grad and j.grad_fn is None


# ------------------------------------------------------------------------------ hessian
@pytest.mark.parametrize(
    "fn,shapes,as_tuple",
    [
        (cubic, [(3,)], False),
        (cubic, [(2, 2)], False),
        (mix, [(2, 3), (3,)], True),
        (unused_second, [(3,), (2,)], True),
        (linear, [(3,)], False),
    ],
)
def test_hessian_matches_torch(fn, shapes, as_tuple):
    ours, theirs = both("hessian", fn, _arrays(*shapes), as_tuple=as_tuple)
    assert_same(ours, theirs)


def test_hessian_create_graph_third_derivative():
    """d/dx Σ_ij H_ij of Σx⁴ = d/dx Σ 12x² = 24x."""
    x = chainrule.tensor([0.5, -1.0], dtype=chainrule.float64, requires_grad=True)
    h = F.hessian(lambda a: (a * a * a * a).sum(), x, create_graph=True)
    h.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 24 * x.detach().numpy(), rtol=1e-12)


def test_hessian_strict_rejects_a_linear_function():
    x = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64)
    with pytest.raises(RuntimeError, match="jacobian of the user-provided function"):
        F.hessian(lambda a: linear(chainrule, a), x, strict=True)


def test_hessian_rejects_a_non_scalar_function():
    x = chainrule.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="should contain a single element"):
        F.hessian(lambda a: a * a, x)


# -------------------------------------------------------------------------------- hvp/vhp
@pytest.mark.parametrize("api", ["hvp", "vhp"])
@pytest.mark.parametrize(
    "fn,shapes,as_tuple",
    [
        (cubic, [(3,)], False),
        (mix, [(2, 3), (3,)], True),
        (unused_second, [(3,), (2,)], True),
        (linear, [(3,)], False),
    ],
)
def test_hvp_vhp_match_torch(api, fn, shapes, as_tuple):
    arrays = _arrays(*shapes)
    v = _arrays(*shapes, seed=3)
    ours, theirs = both(api, fn, arrays, v, as_tuple)
    assert_same(ours, theirs)


@pytest.mark.parametrize("api", ["hvp", "vhp"])
def test_hvp_vhp_create_graph(api):
    arrays = _arrays((2, 3), (3,))
    v = _arrays((2, 3), (3,), seed=4)
    grads = []
    for m, mod in ((chainrule, F), (torch, TF)):
        xs = tuple(m.tensor(a, requires_grad=True) for a in arrays)
        vs = tuple(m.tensor(a) for a in v)
        _, hv = getattr(mod, api)(_bind(mix, m), xs, vs, create_graph=True)
        sum(h.sum() for h in hv).backward()
        grads.append(tuple(x.grad for x in xs))
    assert_same(grads[0], grads[1])


# ------------------------------------------------------------------------------ messages
def test_v_of_the_wrong_shape_says_what_it_should_be():
    x = chainrule.ones(3, dtype=chainrule.float64)
    with pytest.raises(RuntimeError, match=r"v has invalid size: should be \(3,\) but got \(2,\)"):
        F.vjp(lambda a: vec(chainrule, a), x, chainrule.ones(2, dtype=chainrule.float64))


def test_v_may_only_be_omitted_for_one_element_outputs():
    x = chainrule.ones(3, dtype=chainrule.float64)
    with pytest.raises(RuntimeError, match="v can only be None"):
        F.vjp(lambda a: vec(chainrule, a), x)


def test_inputs_must_be_tensors():
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        F.jacobian(lambda a: a, [1.0, 2.0])


def test_strict_vjp_rejects_an_output_that_does_not_require_grad():
    x = chainrule.ones(2, dtype=chainrule.float64)
    const = chainrule.ones(2, dtype=chainrule.float64)
    with pytest.raises(RuntimeError, match="Output 0 of the user-provided function"):
        F.vjp(lambda a: const.sum(), x, strict=True)


def test_functions_that_capture_their_input_are_differentiated_through_the_argument():
    """torch's aliasing rule: only the Tensors passed as arguments are differentiated."""
    x = chainrule.tensor([1.0, 2.0], dtype=chainrule.float64, requires_grad=True)
    xt = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ours = F.jacobian(lambda a: a * x, x)
    theirs = TF.jacobian(lambda a: a * xt, xt)
    assert_same(ours, theirs)  # diag(x), not diag(2x)


def test_importable_as_a_submodule():
    import importlib

    mod = importlib.import_module("chainrule.autograd.functional")
    assert set(mod.__all__) == {"vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"}


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(F, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
