"""Optimizer base behaviour: errors, parameter groups, zero_grad, in-place updates (identity,
views, version counters), hooks, state_dict layout and interchange with torch, doctests."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import chainrule
import chainrule.nn as nn
import chainrule.optim as optim
from chainrule.optim import lr_scheduler

torch = pytest.importorskip("torch")

ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam"]


def _w(*shape):
    return chainrule.ones(*shape or (2,), requires_grad=True)


ERRORS = [
    (lambda: optim.SGD([_w() * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda: optim.Adam([]), ValueError, "empty parameter list"),
    (lambda: optim.Adam(iter([])), ValueError, "empty parameter list"),
    (lambda: optim.SGD(_w(), lr=0.1), TypeError, "iterable of Tensors"),
    (lambda: optim.SGD([{"params": {_w()}}], lr=0.1), TypeError, "ordered collections"),
    (lambda: optim.SGD([1.0], lr=0.1), TypeError, "can only optimize Tensors"),
    (lambda: optim.SGD(_two_groups_sharing(), lr=0.1), ValueError, "more than one parameter"),
    (lambda: optim.SGD([_w()], lr=0.1, nesterov=True), ValueError, "Nesterov momentum requires"),
    (lambda: optim.SGD([_w()], lr=0.1, momentum=-1), ValueError, "Invalid momentum value"),
    (lambda: optim.Adam([_w()], betas=(1.0, 0.9)), ValueError, "beta parameter at index 0"),
    (lambda: optim.Adam([_w()], betas=(0.9, -0.1)), ValueError, "beta parameter at index 1"),
    (lambda: optim.NAdam([_w()], betas=(0.9, 1.5)), ValueError, "beta parameter at index 1"),
    (lambda: optim.Adam([_w()], eps=-1e-8), ValueError, "Invalid epsilon value"),
    (lambda: optim.Adam([_w()], weight_decay=-1), ValueError, "Invalid weight_decay value"),
    (lambda: optim.Adadelta([_w()], rho=1.5), ValueError, "Invalid rho value"),
    (lambda: optim.Adam([_w()], fused=True), NotImplementedError, "fused=True"),
    (lambda: optim.SGD([_w()], lr=0.1, differentiable=True), NotImplementedError, "different"),
    (lambda: _with_grad(optim.Optimizer([_w()], {})).step(), NotImplementedError, "override"),
] + [
    (lambda name=name: getattr(optim, name)([_w()], lr=-0.1), ValueError, "Invalid learning rate")
    for name in ALL + ["LBFGS"]
]


def _with_grad(opt):
    for p in opt.param_groups[0]["params"]:
        p.grad = chainrule.ones_like(p)
    return opt


def _two_groups_sharing():
    w = _w()
    return [{"params": [w]}, {"params": [_w(), w]}]


@pytest.mark.parametrize(
    "make,exc,match", ERRORS, ids=[f"{i}-{e[2]}" for i, e in enumerate(ERRORS)]
)
def test_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        opt = make()
        opt.zero_grad()


def test_load_state_dict_errors():
    a, b = _w(), _w()
    opt = optim.SGD([a, b], lr=0.1)
    other = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict(optim.SGD([a], lr=0.1).state_dict())


@pytest.mark.parametrize("name", ALL)
def test_update_is_in_place(name):
    """The parameter keeps its identity and memory, views see the update, and a graph that
    saved the old value refuses to backward."""
    w = _w(2, 3)
    buffer, row = w._data, w[0]  # a view made before the step
    opt = getattr(optim, name)([w], lr=0.1)
    (w * w).sum().backward()
    y = w + 3.0  # saves nothing of w
    z = (w * w).sum()  # saves w
    opt.step()
    assert w._data is buffer
    np.testing.assert_array_equal(row.detach().numpy(), w.detach().numpy()[0])
    assert not np.array_equal(w.detach().numpy(), np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    y.sum().backward()  # fine: the old value of w is not needed


def test_zero_grad():
    w = _w()
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_parameters_without_grad_are_skipped():
    a, b = _w(), _w()
    opt = optim.Adam([a, b], lr=0.1)
    (a * a).sum().backward()
    opt.step()
    np.testing.assert_array_equal(b.detach().numpy(), [1.0, 1.0])
    assert list(opt.state_dict()["state"]) == [0]


def test_add_param_group_matches_torch():
    rng = np.random.default_rng(3)
    init = [rng.standard_normal((3,)) for _ in range(2)]
    runs = []
    for m, o in ((chainrule, optim), (torch, torch.optim)):
        a, b = (m.tensor(v).requires_grad_() for v in init)
        opt = o.Adam([a], lr=0.1)
        for k in range(6):
            if k == 3:
                opt.add_param_group({"params": [b], "lr": 0.05, "amsgrad": True})
            opt.zero_grad()
            ((a * a).sum() * (b**3).sum()).backward()
            opt.step()
        runs.append((a.detach().numpy(), b.detach().numpy(), opt.param_groups))
    (a, b, groups), (ra, rb, rgroups) = runs
    np.testing.assert_allclose(a, ra, rtol=1e-12)
    np.testing.assert_allclose(b, rb, rtol=1e-12)
    assert [{k: v for k, v in g.items() if k != "params"} for g in groups] == [
        {k: v for k, v in g.items() if k != "params"} for g in rgroups
    ]


def test_named_parameters():
    model = nn.Linear(3, 2)
    opt = optim.SGD(model.named_parameters(), lr=0.1)
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["weight", "bias"]


def test_step_hooks():
    w = _w()
    opt = optim.SGD([w], lr=0.1)
    calls = []
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o)))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o)))
    opt.step()
    assert calls == [("pre", opt), ("post", opt)]
    pre.remove()
    opt.step()
    assert calls[-1] == ("post", opt) and len(calls) == 3


def test_pytorch_style_subclass():
    """An optimizer written for PyTorch (its own step, p.add_ under no_grad) works, hooks too."""

    class SignSGD(optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, {"lr": lr})

        @chainrule.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(p.grad.sign(), alpha=-group["lr"])
                        self.state[p]["count"] = self.state[p].get("count", 0) + 1

    w = chainrule.tensor([1.0, -2.0], requires_grad=True)
    opt = SignSGD([w])
    seen = []
    opt.register_step_post_hook(lambda o, a, k: seen.append(1))
    (w * w).sum().backward()
    opt.step()
    np.testing.assert_allclose(w.detach().numpy(), [0.9, -1.9])
    assert seen == [1] and opt.state_dict()["state"] == {0: {"count": 1}}


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "NAdam", "Adagrad"])
def test_loads_torch_state_dict(name):
    """A torch optimizer's state_dict (torch tensors) loads into ours; both continue alike."""
    rng = np.random.default_rng(4)
    init = rng.standard_normal((2, 3))
    kwargs = {"lr": 0.05, "momentum": 0.9} if name in ("SGD", "RMSprop") else {"lr": 0.05}

    def run(m, o, steps, w):
        opt = getattr(o, name)([w], **kwargs)
        for _ in range(steps):
            opt.zero_grad()
            (m.sin(w) * w).sum().backward()
            opt.step()
        return opt

    tw = torch.tensor(init, requires_grad=True)
    ref = run(torch, torch.optim, 5, tw)
    ours_w = chainrule.tensor(tw.detach().numpy().copy(), requires_grad=True)
    ours = getattr(optim, name)([ours_w], **kwargs)
    ours.load_state_dict(ref.state_dict())
    assert sorted(ours.state_dict()["state"][0]) == sorted(ref.state_dict()["state"][0])
    for _ in range(5):
        for m, w, o in ((torch, tw, ref), (chainrule, ours_w, ours)):
            o.zero_grad()
            (m.sin(w) * w).sum().backward()
            o.step()
    np.testing.assert_allclose(ours_w.detach().numpy(), tw.detach().numpy(), rtol=1e-10)


def test_state_dict_layout():
    a, b, c = _w(), _w(3), _w(1)
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    ((a * a).sum() + (b * b).sum() + (c * c).sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["lr"] == 0.1
    assert sorted(sd["state"]) == [0, 1, 2]
    step = sd["state"][2]["step"]
    assert isinstance(step, chainrule.Tensor) and step.dim() == 0 and float(step) == 1.0
    assert step.dtype == chainrule.float32
    assert sd["state"][1]["exp_avg"].shape == (3,)
    # JSON turns integer keys into strings; those load too
    fresh = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1)
    fresh.load_state_dict(
        {"state": {str(k): v for k, v in sd["state"].items()}, "param_groups": sd["param_groups"]}
    )
    assert float(fresh.state[c]["step"]) == 1.0


def test_repr():
    opt = optim.SGD([_w()], lr=0.1)
    text = repr(opt)
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text


def test_trains_a_module():
    rng = np.random.default_rng(0)
    x = chainrule.tensor(rng.standard_normal((32, 3)), dtype=chainrule.float32)
    y = x @ chainrule.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    model = nn.Linear(3, 1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = lr_scheduler.StepLR(opt, step_size=50, gamma=0.5)
    for _ in range(150):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        sched.step()
    assert float(loss) < 1e-4


@pytest.mark.parametrize(
    "module",
    ["optimizer", "sgd", "adamw", "lbfgs", "lr_scheduler"],
)
def test_docstring_examples_run(module):
    import importlib

    mod = importlib.import_module(f"chainrule.optim.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("module", ["clip_grad", "convert_parameters"])
def test_nn_utils_docstring_examples_run(module):
    import importlib

    mod = importlib.import_module(f"chainrule.nn.utils.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("n", [10, (1 << 17) + 3, 3 * (1 << 17)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sub_scaled_is_bitwise_the_plain_update_without_a_full_temporary(n, dtype):
    from chainrule.optim.optimizer import sub_scaled_

    rng = np.random.default_rng(n)
    p = rng.standard_normal(n).astype(dtype).reshape(-1, 1)
    g = rng.standard_normal(n).astype(dtype).reshape(-1, 1)
    expected = p - 0.01 * g
    sub_scaled_(p, 0.01, g)
    assert p.dtype == dtype and np.array_equal(p, expected)
