"""Optimizer table: each row runs 20 steps beside torch.optim from the same weights and
compares every parameter after every step (float64 to 1e-10, float32 to 1e-5 relative), then
checks the state layout against torch's and that a state_dict round trip mid-way changes
nothing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

import chainrule
import chainrule.optim

torch = pytest.importorskip("torch")

RTOL = {"float64": 1e-10, "float32": 1e-5}


@dataclass
class OptimCase:
    name: str
    kwargs: dict = field(default_factory=dict)
    lr2: float = 0.5  # the second group's lr, as a fraction of the first's
    steps: int = 20

    @property
    def id(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.kwargs.items())
        return f"{self.name}({opts})"


def C(name, **kwargs):
    return OptimCase(name, kwargs)


CASES = [
    C("SGD", lr=0.1),
    C("SGD", lr=0.1, momentum=0.9),
    C("SGD", lr=0.1, momentum=0.9, dampening=0.3),
    C("SGD", lr=0.1, momentum=0.9, nesterov=True),
    C("SGD", lr=0.05, momentum=0.5, weight_decay=0.1),
    C("SGD", lr=0.01, momentum=0.9, maximize=True),
    C("Adam", lr=0.02),
    C("Adam", lr=0.02, betas=(0.8, 0.99), eps=1e-6),
    C("Adam", lr=0.02, amsgrad=True),
    C("Adam", lr=0.02, weight_decay=0.1),
    C("Adam", lr=0.02, weight_decay=0.1, decoupled_weight_decay=True),
    C("Adam", lr=0.02, maximize=True, amsgrad=True),
    C("AdamW", lr=0.02),
    C("AdamW", lr=0.02, weight_decay=0.3, amsgrad=True),
    C("AdamW", lr=0.02, maximize=True),
    C("RMSprop", lr=0.01),
    C("RMSprop", lr=0.01, alpha=0.9, eps=1e-6),
    C("RMSprop", lr=0.01, centered=True),
    C("RMSprop", lr=0.01, momentum=0.8),
    C("RMSprop", lr=0.01, centered=True, momentum=0.5, weight_decay=0.1),
    C("RMSprop", lr=0.01, maximize=True),
    C("Adagrad", lr=0.1),
    C("Adagrad", lr=0.1, lr_decay=0.05),
    C("Adagrad", lr=0.1, initial_accumulator_value=0.5, eps=1e-6),
    C("Adagrad", lr=0.1, weight_decay=0.1, maximize=True),
    C("Adadelta", lr=1.0),
    C("Adadelta", lr=0.5, rho=0.8, eps=1e-5),
    C("Adadelta", lr=1.0, weight_decay=0.1),
    C("Adadelta", lr=1.0, maximize=True),
    C("Adamax", lr=0.02),
    C("Adamax", lr=0.02, betas=(0.7, 0.9), weight_decay=0.1),
    C("Adamax", lr=0.02, maximize=True),
    C("NAdam", lr=0.02),
    C("NAdam", lr=0.02, momentum_decay=0.01),
    C("NAdam", lr=0.02, weight_decay=0.1),
    C("NAdam", lr=0.02, weight_decay=0.1, decoupled_weight_decay=True),
    C("NAdam", lr=0.02, maximize=True),
    C("RAdam", lr=0.02),
    C("RAdam", lr=0.02, betas=(0.9, 0.9)),  # rho_t > 5 from step 6: both branches run
    C("RAdam", lr=0.02, weight_decay=0.1),
    C("RAdam", lr=0.02, weight_decay=0.1, decoupled_weight_decay=True),
    C("RAdam", lr=0.02, maximize=True),
]


# ------------------------------------------------------------------------------ the problem
def _initial(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.standard_normal((3, 4)),
        "b1": rng.standard_normal(4) * 0.1,
        "W2": rng.standard_normal((4, 2)),
        "b2": rng.standard_normal(2) * 0.1,
        "x": rng.standard_normal((6, 3)),
        "y": rng.standard_normal((6, 2)),
    }


def _loss(m, params, x, y):
    """A small tanh MLP with a squared error: the same code runs with m = chainrule or torch."""
    W1, b1, W2, b2 = params
    h = m.tanh(x @ W1 + b1)
    return ((h @ W2 + b2 - y) ** 2).mean() + 0.01 * (W1**4).sum()


class Run:
    """One framework's parameters and optimizer on the problem."""

    def __init__(self, m, case: OptimCase, dtype: str, values: dict | None = None):
        self.m = m
        init = _initial()
        dt = getattr(m, dtype)
        make = (lambda a: m.tensor(a, dtype=dt)) if m is torch else None
        if make is None:

            def make(a):
                return chainrule.tensor(a, dtype=dt)

        src = values if values is not None else init
        self.params = [make(np.array(src[k])).requires_grad_() for k in ("W1", "b1", "W2", "b2")]
        self.x, self.y = make(init["x"]), make(init["y"])
        optim = torch.optim if m is torch else chainrule.optim
        cls = getattr(optim, case.name)
        lr = case.kwargs["lr"]
        groups = [
            {"params": self.params[:2]},
            {"params": self.params[2:], "lr": lr * case.lr2},
        ]
        self.opt = cls(groups, **case.kwargs)

    def loss(self):
        return _loss(self.m, self.params, self.x, self.y)

    def step(self):
        self.opt.zero_grad()
        self.loss().backward()
        self.opt.step()

    def values(self) -> list[np.ndarray]:
        return [np.array(p.detach().numpy(), dtype=np.float64) for p in self.params]


def _close(actual, expected, rtol, what):
    for i, (a, e) in enumerate(zip(actual, expected)):
        scale = max(np.abs(e).max(), 1e-3)
        np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale, err_msg=f"{what}[{i}]")


def _state_array(v) -> np.ndarray:
    if isinstance(v, chainrule.Tensor):
        return np.array(v.numpy(), dtype=np.float64)
    return np.array(v.detach().numpy(), dtype=np.float64)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_torch(case: OptimCase, dtype: str):
    ours, ref = Run(chainrule, case, dtype), Run(torch, case, dtype)
    rtol = RTOL[dtype]
    for k in range(case.steps):
        ours.step()
        ref.step()
        _close(ours.values(), ref.values(), rtol, f"{case.id} {dtype} step {k + 1} param")
    # the state has PyTorch's keys and values
    sd, ref_sd = ours.opt.state_dict(), ref.opt.state_dict()
    assert sorted(sd["state"]) == sorted(ref_sd["state"])
    for i, st in sd["state"].items():
        assert sorted(st) == sorted(ref_sd["state"][i]), f"state keys of param {i}"
        for key, v in st.items():
            _close([_state_array(v)], [_state_array(ref_sd["state"][i][key])], rtol, key)
    for g, rg in zip(sd["param_groups"], ref_sd["param_groups"]):
        assert g == rg


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_dict_round_trip(case: OptimCase):
    """10 steps, save, load into a fresh optimizer on copies of the weights, 10 more steps:
    bitwise equal to 20 straight steps."""
    straight = Run(chainrule, case, "float64")
    for _ in range(20):
        straight.step()
    first = Run(chainrule, case, "float64")
    for _ in range(10):
        first.step()
    saved = first.opt.state_dict()
    values = dict(zip(("W1", "b1", "W2", "b2"), first.values()))
    resumed = Run(chainrule, case, "float64", values)
    resumed.opt.load_state_dict(saved)
    for _ in range(10):
        first.step()  # the saved state is live; loading must have copied it
        resumed.step()
    for a, b in zip(resumed.values(), straight.values()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad", "Adadelta", "NAdam"])
def test_complex_parameters_match_torch(name):
    """Complex parameters are updated as (real, imag) pairs, as torch's view_as_real does."""
    rng = np.random.default_rng(5)
    init = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    target = rng.standard_normal((3, 2)) + 1j * rng.standard_normal((3, 2))
    results = []
    for m, optim in ((chainrule, chainrule.optim), (torch, torch.optim)):
        w = m.tensor(init).requires_grad_()
        t = m.tensor(target)
        opt = getattr(optim, name)([w], lr=0.05)
        for _ in range(10):
            opt.zero_grad()
            ((w - t).abs() ** 2).sum().backward()
            opt.step()
        results.append(w.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-10)
