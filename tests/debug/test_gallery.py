"""The gallery of broken training scripts: each diagnostic names the planted cause and its line,
and stays silent on the healthy version of the same script."""

from __future__ import annotations

import os
import warnings

import pytest

import chainrule.debug as debug
from chainrule.autograd import engine

from . import gallery as g
from .gallery import line_of


def monitor(model, opt):
    return debug.Monitor(model, opt, warn=False)


def run(script, bug, **kw):
    result = script(bug, monitor=monitor, **kw)
    mon = result[0] if isinstance(result, tuple) else result
    mon.close()
    return mon, result


def kinds(mon):
    return [a.kind for a in mon.alerts]


@pytest.fixture(autouse=True)
def _engine_left_clean():
    yield
    assert engine._debug is None, "a diagnostic left the engine recorder on"


@pytest.mark.parametrize(
    "script",
    [
        g.forgotten_zero_grad,
        g.detached_branch,
        g.argmax_loss,
        g.running_total,
        g.frozen_under_adamw,
        g.deep_sigmoid,
        g.diverging_lr,
    ],
)
def test_monitor_is_silent_on_the_healthy_script(script):
    mon, _ = run(script, False)
    assert mon.alerts == []


def test_forgotten_zero_grad_is_detected_at_the_backward_line():
    mon, _ = run(g.forgotten_zero_grad, True)
    (alert,) = [a for a in mon.alerts if a.kind == "zero_grad"]
    assert alert.where == line_of("zero_grad")
    assert "zero_grad was not called" in alert.message
    assert alert.step == 1  # seen at the first backward after the first step


def test_gradient_accumulation_within_a_step_is_not_a_forgotten_zero_grad():
    import chainrule as torch
    import chainrule.nn.functional as F

    x, y = g.data()
    model = g.mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with debug.Monitor(model, opt, warn=False) as mon:
        for _ in range(3):
            opt.zero_grad(set_to_none=False)  # zeroed in place: also a reset
            for half in (x[:32], x[32:]):  # two micro-batches per step
                F.cross_entropy(model(half), y[: len(half)]).backward()
            opt.step()
    assert "zero_grad" not in kinds(mon)


def test_detached_branch_names_detach_and_its_line():
    mon, (_, model, loss) = run(g.detached_branch, True)
    alerts = [a for a in mon.alerts if a.kind == "no_grad"]
    assert {a.layer for a in alerts} == {"encoder.weight", "encoder.bias"}
    assert all(a.where == line_of("detach") for a in alerts)
    assert "detach()" in alerts[0].message


def test_why_no_grad_alone_names_detach_inside_recording():
    import chainrule as torch
    import chainrule.nn.functional as F

    x, y = g.data()
    model = g.TwoBranch(bug=True)
    with debug.recording():
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    report = debug.why_no_grad(loss, model)
    assert report.reasons() == {"encoder.weight": "detach", "encoder.bias": "detach"}
    assert report[0].where == line_of("detach")
    healthy = g.TwoBranch(bug=False)
    with debug.recording():
        loss = F.cross_entropy(healthy(x), y)
    loss.backward()
    assert list(debug.why_no_grad(loss, healthy)) == []
    assert torch.is_tensor(loss)


def test_argmax_in_the_loss_is_named_before_backward_fails():
    mon, (_, model, loss, err) = run(g.argmax_loss, True)
    assert isinstance(err, RuntimeError)  # backward still fails as in PyTorch
    (alert,) = [a for a in mon.alerts if a.kind == "no_grad"]
    assert alert.layer == "loss" and alert.where == line_of("argmax")
    assert "argmax" in alert.message and "not differentiable" in alert.message


def test_inplace_on_a_saved_tensor_names_the_inplace_line_and_the_saving_op():
    g.inplace_on_saved(False)
    with debug.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            g.inplace_on_saved(True)
    text = str(info.value)
    assert f"mul_ at {line_of('inplace')}" in text
    assert f"SigmoidBackward) was created at {line_of('saved')}" in text


def test_log_of_a_zero_probability_is_found_in_the_forward_pass(tmp_path):
    path = str(tmp_path / "nan-dump")
    with debug.detect_anomaly(path=path):
        g.log_zero_probability(False)
        with pytest.raises(debug.AnomalyError) as info:
            g.log_zero_probability(True)
    err = info.value
    assert (err.op, err.phase, err.where) == ("Log", "forward", line_of("log"))
    assert err.cause.startswith("log of 0")
    assert "4 zeros" in err.report  # the input statistics
    assert os.path.exists(err.bundle)
    with pytest.raises(debug.AnomalyError) as again:
        debug.replay(path)
    assert again.value.op == "Log" and again.value.cause.startswith("log of 0")


def test_float16_overflow_is_named_with_the_dtype_limit():
    with debug.detect_anomaly():
        g.float16_overflow(False)
        with pytest.raises(debug.AnomalyError) as info:
            g.float16_overflow(True)
    err = info.value
    assert err.op == "Exp" and err.where == line_of("exp")
    assert "overflow of exp in" in err.cause and "float16" in err.cause and "65504" in err.cause


def test_running_total_of_losses_is_a_leak_named_at_its_line():
    mon, _ = run(g.running_total, True)
    (alert,) = [a for a in mon.alerts if a.kind == "leak" and a.where is not None]
    assert alert.where == line_of("total")
    assert "total_loss += loss" in alert.message
    (alive,) = [a for a in mon.alerts if a.kind == "leak" and a.where is None]
    assert "still alive" in alive.message  # the graphs of old steps are kept


def test_check_leaks_names_the_running_total():
    import chainrule as torch
    import chainrule.nn.functional as F

    x, y = g.data()
    model = g.mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with debug.Monitor(model, opt, warn=False):
        total_loss = 0.0
        for _ in range(3):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            total_loss += loss  # MARK: check_leaks
        found = debug.check_leaks()
    assert any(line_of("check_leaks", __file__) in f for f in found)
    del total_loss
    assert not any("joins the graph" in f for f in debug.check_leaks())


def test_frozen_layer_under_adamw_weight_decay_still_moves():
    mon, _ = run(g.frozen_under_adamw, True)
    alerts = [a for a in mon.alerts if a.kind == "frozen_moves"]
    assert {a.layer for a in alerts} == {"0.weight", "0.bias"}
    assert "weight decay (weight_decay=0.1)" in alerts[0].message
    assert "requires_grad=False" in alerts[0].message
    assert alerts[0].where == line_of("frozen_step")


def test_deep_sigmoid_with_a_too_small_init_has_vanishing_gradients():
    mon, _ = run(g.deep_sigmoid, True)
    (alert,) = [a for a in mon.alerts if a.kind == "vanishing"]
    assert alert.layer == "0.weight"
    assert "initialisation" in alert.message and "over 21 layers" in alert.message
    assert alert.where == line_of("init")  # the nn.init call that set the first layer's weight
    assert f"0.weight set by normal_ at {line_of('init')}" in alert.message


def test_too_large_learning_rate_makes_the_loss_diverge():
    mon, _ = run(g.diverging_lr, True)
    assert "diverging" in kinds(mon)
    diverging = [a for a in mon.alerts if a.kind == "diverging"][0]
    assert "lr=3.0" in diverging.message
    ratio = [a for a in mon.alerts if a.kind == "update_ratio"][0]
    assert "too large" in ratio.message


def test_alerts_are_warnings_by_default():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mon = g.forgotten_zero_grad(True, monitor=debug.Monitor)
        mon.close()
    assert any(issubclass(w.category, debug.TrainingHealthWarning) for w in caught)
