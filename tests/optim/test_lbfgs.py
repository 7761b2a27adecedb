"""LBFGS beside torch.optim.LBFGS: rows of constructor options, several step(closure) calls
on a small least-squares problem with a quartic penalty, parameters, losses and evaluation
counts compared after every call.

L-BFGS amplifies rounding differences (between the two frameworks' gradients) exponentially on
ill-conditioned problems, so the problem is convex and well conditioned, and float32 compares
only the first two calls: later ones sit at the float32 noise floor of the minimum."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule
import chainrule.optim

from .test_optimizers import RTOL, _close

torch = pytest.importorskip("torch")

ROWS = [
    {"max_iter": 5},
    {"lr": 0.5, "max_iter": 5},
    {"history_size": 3, "max_iter": 5},
    {"max_iter": 3, "max_eval": 2},
    {"line_search_fn": "strong_wolfe", "max_iter": 5},
    {"line_search_fn": "strong_wolfe", "history_size": 2, "max_iter": 4, "max_eval": 6},
    {"line_search_fn": "strong_wolfe", "lr": 0.3, "tolerance_change": 1e-5, "max_iter": 5},
]


def _run(m, kwargs: dict, dtype: str, calls: int):
    rng = np.random.default_rng(1)
    dt = getattr(m, dtype)
    W, b = (m.tensor(rng.standard_normal(s), dtype=dt).requires_grad_() for s in ((4, 3), (3,)))
    x, y = (m.tensor(rng.standard_normal(s), dtype=dt) for s in ((8, 4), (8, 3)))
    opt = (torch.optim if m is torch else chainrule.optim).LBFGS([W, b], **kwargs)

    def closure():
        opt.zero_grad()
        loss = ((x @ W + b - y) ** 2).mean() + 0.1 * (W**4).sum()
        loss.backward()
        return loss

    for _ in range(calls):
        loss = float(opt.step(closure).detach())
        state = opt.state[W]
        evals = (state["func_evals"], state["n_iter"])
        yield loss, [np.array(p.detach().numpy(), dtype=np.float64) for p in (W, b)], evals


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", ROWS, ids=str)
def test_matches_torch(kwargs, dtype):
    calls = 4 if dtype == "float64" else 2
    rtol = RTOL[dtype]
    ours, ref = _run(chainrule, kwargs, dtype, calls), _run(torch, kwargs, dtype, calls)
    for k, ((loss, values, evals), (ref_loss, ref_values, ref_evals)) in enumerate(zip(ours, ref)):
        _close(values, ref_values, rtol, f"{kwargs} call {k}")
        np.testing.assert_allclose(loss, ref_loss, rtol=rtol)
        assert evals == ref_evals, "(func_evals, n_iter)"


def test_converges_to_the_minimum():
    w = chainrule.tensor([3.0, -2.0], requires_grad=True)
    opt = chainrule.optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((w - 1) ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(w.detach().numpy(), [1.0, 1.0], atol=1e-6)


def test_closure_is_required():
    w = chainrule.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="needs a closure"):
        chainrule.optim.LBFGS([w]).step(None)


def test_one_group_only():
    a, b = chainrule.zeros(2, requires_grad=True), chainrule.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        chainrule.optim.LBFGS([{"params": [a]}, {"params": [b], "lr": 0.1}])


def test_unknown_line_search():
    with pytest.raises(ValueError, match="strong_wolfe"):
        chainrule.optim.LBFGS([chainrule.zeros(2, requires_grad=True)], line_search_fn="armijo")


def test_complex_parameters_match_torch():
    rng = np.random.default_rng(6)
    init = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    results = []
    for m, o in ((chainrule, chainrule.optim), (torch, torch.optim)):
        w = m.tensor(init).requires_grad_()
        opt = o.LBFGS([w], max_iter=4)

        def closure(w=w, opt=opt):
            opt.zero_grad()
            loss = ((w - 1j).abs() ** 2).sum() + (w.abs() ** 4).sum()
            loss.backward()
            return loss

        opt.step(closure)
        results.append(w.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)
