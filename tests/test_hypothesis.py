"""Random expression graphs against torch: values and gradients agree in float64.

Hypothesis draws a tree of depth <= 4 over up to three inputs whose shapes broadcast against
each other (including 0-d), from ops that both libraries have. Each tree is evaluated with
m = chainrule and m = torch on the same arrays, and backpropagated from the same random output
gradient. Inputs reached by several paths (diamonds), broadcasting in both directions and
reductions all come up on their own.
"""

import numpy as np
import pytest

import chainrule

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

SHAPES = [(3, 4), (4,), (1, 4), (3, 1), ()]  # all broadcast to (3, 4)
N_INPUTS = 3
MAX_DEPTH = 4


def _sum_last(m, x):
    return x.sum(dim=-1, keepdim=True) if x.ndim else x


UNARY = {
    "neg": lambda m, x: -x,
    "tanh": lambda m, x: m.tanh(x),
    "exp_bounded": lambda m, x: m.exp(m.tanh(x)),  # exp of a bounded input: no overflow
    "square": lambda m, x: x * x,
    "scale": lambda m, x: x * 0.5 + 1.0,
    "cube": lambda m, x: x**3,
    "sin": lambda m, x: m.sin(x),
    "sigmoid": lambda m, x: m.sigmoid(x),
    "sum_last": _sum_last,
}

BINARY = {
    "add": lambda m, a, b: a + b,
    "sub": lambda m, a, b: a - b,
    "mul": lambda m, a, b: a * b,
    "div_safe": lambda m, a, b: a / (m.tanh(b) + 2.0),  # the denominator stays in [1, 3]
}


@st.composite
def expressions(draw, depth=MAX_DEPTH):
    """("leaf", i) | ("unary", name, child) | ("binary", name, left, right)."""
    kind = draw(st.sampled_from(["leaf", "unary", "binary"])) if depth > 0 else "leaf"
    if kind == "leaf":
        return ("leaf", draw(st.integers(0, N_INPUTS - 1)))
    if kind == "unary":
        return ("unary", draw(st.sampled_from(sorted(UNARY))), draw(expressions(depth - 1)))
    name = draw(st.sampled_from(sorted(BINARY)))
    return ("binary", name, draw(expressions(depth - 1)), draw(expressions(depth - 1)))


def evaluate(m, tree, xs):
    if tree[0] == "leaf":
        return xs[tree[1]]
    if tree[0] == "unary":
        return UNARY[tree[1]](m, evaluate(m, tree[2], xs))
    return BINARY[tree[1]](m, evaluate(m, tree[2], xs), evaluate(m, tree[3], xs))


def _fresh_leaves(tree, counter):
    """The same tree with every leaf occurrence turned into its own input (no sharing)."""
    if tree[0] == "leaf":
        counter.append(tree[1])
        return ("leaf", len(counter) - 1)
    return tree[:2] + tuple(_fresh_leaves(child, counter) for child in tree[2:])


_SETTINGS = hypothesis.settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.too_slow],
)
_GIVEN = hypothesis.given(
    tree=expressions(),
    shapes=st.lists(st.sampled_from(SHAPES), min_size=N_INPUTS, max_size=N_INPUTS),
    seed=st.integers(0, 2**32 - 1),
)


def check_against_torch(tree, shapes, seed):
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(-1.5, 1.5, size=s) for s in shapes]
    xs = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]

    ours = evaluate(chainrule, tree, xs)
    theirs = evaluate(torch, tree, ts)
    assert tuple(ours.shape) == tuple(theirs.shape), tree
    assert ours.dtype == chainrule.float64
    np.testing.assert_allclose(
        ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-9, atol=1e-11, err_msg=str(tree)
    )

    up = rng.standard_normal(tuple(theirs.shape))
    ours.backward(chainrule.tensor(up))
    theirs.backward(torch.tensor(up))
    for k, (x, t) in enumerate(zip(xs, ts)):
        if t.grad is None:
            assert x.grad is None, f"input {k} is unused in {tree} but got a gradient"
            continue
        assert x.grad is not None, f"input {k} got no gradient in {tree}"
        assert tuple(x.grad.shape) == shapes[k]
        np.testing.assert_allclose(
            x.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=f"grad {k}: {tree}"
        )


@_SETTINGS
@_GIVEN
def test_random_trees_match_torch(tree, shapes, seed):
    """Every leaf is its own input: each input gets exactly one gradient."""
    owners = []
    tree = _fresh_leaves(tree, owners)
    check_against_torch(tree, [shapes[i] for i in owners], seed)


@_SETTINGS
@_GIVEN
def test_random_graphs_with_shared_inputs_match_torch(tree, shapes, seed):
    """Inputs are reused across the tree: diamonds, and leaves reached by several paths."""
    check_against_torch(tree, shapes, seed)
