"""Scheduler table: each row builds the same schedule on a chainrule and a torch optimizer
(two parameter groups with different lrs) and compares the learning rates (and the momentum
or Adam β₁ where the schedule cycles it) after every step; a state_dict round trip mid-way
must not change the sequence."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import chainrule
import chainrule.optim

torch = pytest.importorskip("torch")


@dataclass
class SchedCase:
    id: str
    make: Callable  # make(S, opt) -> scheduler, S the lr_scheduler module
    steps: int = 40
    optim: str = "SGD"  # "SGD" (momentum) or "Adam" (betas)
    metrics: Callable | None = None  # ReduceLROnPlateau: metrics(k) for step k


def _metric(k: int) -> float:
    """Improves, plateaus, improves a little (below the threshold), then improves again."""
    if k < 8:
        return 10.0 - k
    if k < 20:
        return 3.0 + 1e-6 * (k % 3)
    if k < 26:
        return 1.0
    return 1.0 - 0.1 * (k - 25)


CASES = [
    SchedCase("LambdaLR", lambda S, o: S.LambdaLR(o, lambda e: 0.95**e)),
    SchedCase(
        "LambdaLR_per_group",
        lambda S, o: S.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: 0.9**e]),
    ),
    SchedCase("MultiplicativeLR", lambda S, o: S.MultiplicativeLR(o, lambda e: 0.97)),
    SchedCase("StepLR", lambda S, o: S.StepLR(o, step_size=7, gamma=0.5)),
    SchedCase("MultiStepLR", lambda S, o: S.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3)),
    SchedCase("ExponentialLR", lambda S, o: S.ExponentialLR(o, gamma=0.93)),
    SchedCase("ConstantLR", lambda S, o: S.ConstantLR(o, factor=0.25, total_iters=6)),
    SchedCase("LinearLR", lambda S, o: S.LinearLR(o, start_factor=0.1, total_iters=10)),
    SchedCase(
        "LinearLR_down",
        lambda S, o: S.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=25),
    ),
    SchedCase("PolynomialLR", lambda S, o: S.PolynomialLR(o, total_iters=30, power=2.0)),
    SchedCase("CosineAnnealingLR", lambda S, o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    SchedCase("CosineAnnealingLR_long", lambda S, o: S.CosineAnnealingLR(o, T_max=50), steps=60),
    SchedCase(
        "CosineAnnealingWarmRestarts",
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=5, eta_min=0.01),
    ),
    SchedCase(
        "CosineAnnealingWarmRestarts_mult",
        lambda S, o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
        steps=50,
    ),
    SchedCase(
        "CyclicLR_triangular",
        lambda S, o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4, step_size_down=6),
    ),
    SchedCase(
        "CyclicLR_triangular2",
        lambda S, o: S.CyclicLR(o, [0.01, 0.02], [0.1, 0.3], step_size_up=5, mode="triangular2"),
    ),
    SchedCase(
        "CyclicLR_exp_range",
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=3, mode="exp_range", gamma=0.95),
    ),
    SchedCase(
        "CyclicLR_adam_beta1",
        lambda S, o: S.CyclicLR(o, 0.001, 0.01, step_size_up=5, base_momentum=0.8),
        optim="Adam",
    ),
    SchedCase(
        "CyclicLR_no_momentum",
        lambda S, o: S.CyclicLR(o, 0.01, 0.1, step_size_up=5, cycle_momentum=False),
    ),
    SchedCase("OneCycleLR", lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=40)),
    SchedCase(
        "OneCycleLR_linear",
        lambda S, o: S.OneCycleLR(
            o,
            max_lr=[0.5, 1.0],
            epochs=4,
            steps_per_epoch=10,
            anneal_strategy="linear",
            pct_start=0.25,
        ),
    ),
    SchedCase(
        "OneCycleLR_three_phase",
        lambda S, o: S.OneCycleLR(o, max_lr=0.5, total_steps=40, three_phase=True),
    ),
    SchedCase(
        "OneCycleLR_adam_beta1",
        lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=40, div_factor=10.0),
        optim="Adam",
    ),
    SchedCase(
        "SequentialLR",
        lambda S, o: S.SequentialLR(
            o,
            [S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=20)],
            milestones=[5],
        ),
    ),
    SchedCase(
        "SequentialLR_three",
        lambda S, o: S.SequentialLR(
            o,
            [
                S.ConstantLR(o, factor=0.5, total_iters=4),
                S.ExponentialLR(o, gamma=0.9),
                S.StepLR(o, step_size=3, gamma=0.5),
            ],
            milestones=[6, 20],
        ),
    ),
    SchedCase(
        "ChainedScheduler",
        lambda S, o: S.ChainedScheduler(
            [S.ConstantLR(o, factor=0.1, total_iters=3), S.ExponentialLR(o, gamma=0.9)]
        ),
    ),
    SchedCase(
        "ChainedScheduler_cosine",
        lambda S, o: S.ChainedScheduler(
            [S.LinearLR(o, start_factor=0.2, total_iters=8), S.CosineAnnealingLR(o, T_max=15)]
        ),
    ),
    SchedCase(
        "ReduceLROnPlateau", lambda S, o: S.ReduceLROnPlateau(o, patience=2), metrics=_metric
    ),
    SchedCase(
        "ReduceLROnPlateau_options",
        lambda S, o: S.ReduceLROnPlateau(
            o,
            mode="max",
            factor=0.5,
            patience=1,
            threshold=0.5,
            threshold_mode="abs",
            cooldown=2,
            min_lr=[0.01, 0.05],
        ),
        metrics=lambda k: -_metric(k),
    ),
]


class Sched:
    """A scheduler on one framework's optimizer with two parameter groups."""

    def __init__(self, m, case: SchedCase):
        optim = torch.optim if m is torch else chainrule.optim
        w = [m.zeros(2, requires_grad=True) for _ in range(2)]
        groups = [{"params": [w[0]]}, {"params": [w[1]], "lr": 0.3}]
        if case.optim == "SGD":
            self.opt = optim.SGD(groups, lr=0.1, momentum=0.9)
        else:
            self.opt = optim.Adam(groups, lr=0.1)
        self.sched = case.make(optim.lr_scheduler, self.opt)
        self.case = case

    def step(self, k: int):
        self.opt.step()
        if self.case.metrics is not None:
            self.sched.step(self.case.metrics(k))
        else:
            self.sched.step()

    def seen(self) -> list:
        """What the schedule controls: lr and momentum/β₁ of each group, and get_last_lr()."""
        key = "momentum" if self.case.optim == "SGD" else "betas"
        return [
            [float(g["lr"]) for g in self.opt.param_groups],
            [g[key] for g in self.opt.param_groups],
            [float(lr) for lr in self.sched.get_last_lr()],
        ]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_matches_torch(case: SchedCase):
    ours, ref = Sched(chainrule, case), Sched(torch, case)
    assert ours.seen() == ref.seen(), "after construction"
    for k in range(case.steps):
        ours.step(k)
        ref.step(k)
        # the same float arithmetic in the same order: equal to the last bit
        assert ours.seen() == ref.seen(), f"step {k}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_state_dict_round_trip(case: SchedCase):
    straight = Sched(chainrule, case)
    expected = []
    for k in range(case.steps):
        straight.step(k)
        expected.append(straight.seen())
    first = Sched(chainrule, case)
    half = case.steps // 2
    for k in range(half):
        first.step(k)
    saved_opt = copy.deepcopy(first.opt.state_dict())
    saved_sched = copy.deepcopy(first.sched.state_dict())
    resumed = Sched(chainrule, case)
    resumed.opt.load_state_dict(saved_opt)
    resumed.sched.load_state_dict(saved_sched)
    for k in range(half, case.steps):
        resumed.step(k)
        assert resumed.seen() == expected[k], f"step {k}"


# ----------------------------------------------------------------------------- behaviours
def _sgd(lr=0.1, **kw):
    return chainrule.optim.SGD([chainrule.zeros(2, requires_grad=True)], lr=lr, **kw)


ERRORS = [
    (lambda S: S.StepLR(object(), 3), TypeError, "is not an Optimizer"),
    (lambda S: S.StepLR(_sgd(), 3, last_epoch=4), KeyError, "initial_lr"),
    (lambda S: S.LambdaLR(_sgd(), [lambda e: 1, lambda e: 1]), ValueError, "Expected 1 lr_lambdas"),
    (lambda S: S.ConstantLR(_sgd(), factor=2.0), ValueError, "between 0 and 1"),
    (lambda S: S.LinearLR(_sgd(), start_factor=0), ValueError, "greater than 0"),
    (lambda S: S.CosineAnnealingWarmRestarts(_sgd(), T_0=0), ValueError, "positive integer T_0"),
    (lambda S: S.CyclicLR(_sgd(), 0.1, 1.0, mode="sawtooth"), ValueError, "mode is invalid"),
    (
        lambda S: S.CyclicLR(
            chainrule.optim.Adagrad([chainrule.zeros(1, requires_grad=True)]), 0.1, 1.0
        ),
        ValueError,
        "cycle_momentum",
    ),
    (lambda S: S.OneCycleLR(_sgd(), 1.0), ValueError, "total_steps OR"),
    (lambda S: S.OneCycleLR(_sgd(), 1.0, total_steps=10, pct_start=1), ValueError, "pct_start"),
    (lambda S: S.ReduceLROnPlateau(_sgd(), factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda S: S.ReduceLROnPlateau(_sgd(), mode="up"), ValueError, "mode up is unknown"),
    (lambda S: S.SequentialLR(_sgd(), [], []), ValueError, "at least one scheduler"),
    (
        lambda S: S.ChainedScheduler([S.StepLR(_sgd(), 2), S.StepLR(_sgd(), 2)]),
        ValueError,
        "same optimizer",
    ),
]


@pytest.mark.parametrize("make,exc,match", ERRORS, ids=[e[2] for e in ERRORS])
def test_errors(make, exc, match):
    with pytest.raises(exc, match=match):
        make(chainrule.optim.lr_scheduler)


def test_onecycle_past_total_steps_raises():
    opt = _sgd()
    sched = chainrule.optim.lr_scheduler.OneCycleLR(opt, 1.0, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _sgd()
    sched = chainrule.optim.lr_scheduler.StepLR(opt, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched.step()
    assert any("before `optimizer.step()`" in str(w.message) for w in caught)


def test_closed_form_with_epoch_matches_torch():
    ours = chainrule.optim.lr_scheduler.StepLR(_sgd(1.0), step_size=3, gamma=0.5)
    ref_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    ref = torch.optim.lr_scheduler.StepLR(ref_opt, step_size=3, gamma=0.5)
    for epoch in (7, 2, 9):
        ours.step(epoch)
        ref.step(epoch)
        assert ours.get_last_lr() == ref.get_last_lr()


def test_state_dict_survives_json():
    """Checkpoints keep non-tensor state as JSON: integer keys come back as strings."""
    import json

    opt = _sgd(1.0)
    sched = chainrule.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 4, 4], gamma=0.5)
    for _ in range(3):
        opt.step()
        sched.step()
    saved = json.loads(json.dumps(sched.state_dict()))
    opt2 = _sgd(1.0)
    resumed = chainrule.optim.lr_scheduler.MultiStepLR(opt2, milestones=[1])
    opt2.load_state_dict(json.loads(json.dumps(opt.state_dict())))
    resumed.load_state_dict(saved)
    for _ in range(2):
        for o, s in ((opt, sched), (opt2, resumed)):
            o.step()
            s.step()
        assert resumed.get_last_lr() == sched.get_last_lr()
    assert sched.get_last_lr() == [0.125]


RESUMABLE = [
    ("StepLR", {"step_size": 4, "gamma": 0.5}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.01}),
    ("PolynomialLR", {"total_iters": 12, "power": 2.0}),
    ("CosineAnnealingWarmRestarts", {"T_0": 4, "T_mult": 2}),
]


@pytest.mark.parametrize("name,kwargs", RESUMABLE, ids=[r[0] for r in RESUMABLE])
def test_resume_with_last_epoch_matches_torch(name, kwargs):
    """Made with last_epoch=k on groups that carry initial_lr (PyTorch's old resume style)."""
    seqs = []
    for m in (chainrule, torch):
        optim = torch.optim if m is torch else chainrule.optim
        w = m.zeros(2, requires_grad=True)
        opt = optim.SGD([{"params": [w], "initial_lr": 0.2}], lr=0.05)
        sched = getattr(optim.lr_scheduler, name)(opt, last_epoch=6, **kwargs)
        seq = [sched.get_last_lr()]
        for _ in range(15):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr())
        seqs.append(seq)
    assert seqs[0] == seqs[1]
