"""chainrule.debug's tools one by one: why_no_grad, anomaly mode, memory, graph, explain, and the
Monitor's history, table and plot; and that nothing is left switched on afterwards."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

import chainrule as torch
import chainrule.debug as debug
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.autograd import engine
from chainrule.tensor import Tensor

from .gallery import line_of

HERE = __file__


@pytest.fixture(autouse=True)
def _engine_left_clean():
    make, backward = Tensor.__dict__["_make"], Tensor.backward
    yield
    assert engine._debug is None
    assert Tensor.__dict__["_make"] is make and Tensor.backward is backward


# ------------------------------------------------------------------------------ why_no_grad
def test_why_no_grad_names_a_no_grad_block_and_its_line():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    x = torch.randn(5, 3)
    with debug.recording():
        with torch.no_grad():
            h = model[0](x)  # MARK: no_grad_block
        loss = model[1](h).sum()
    report = debug.why_no_grad(loss, model)
    assert report.reasons() == {"0.weight": "no_grad", "0.bias": "no_grad"}
    assert report[0].where == line_of("no_grad_block", HERE)


def test_why_no_grad_names_item_round_trip():
    w = torch.randn(3, requires_grad=True)
    with debug.recording():
        v = (w * 2).sum().item()  # MARK: item
        loss = torch.tensor(v, requires_grad=True) * 3
    report = debug.why_no_grad(loss, {"w": w})
    assert report.reasons() == {"w": "item"}
    assert report[0].where == line_of("item", HERE) and ".item()" in report[0].message


def test_why_no_grad_names_frozen_unused_and_zero_gradients():
    lin, unused, dead = nn.Linear(3, 3), nn.Linear(3, 3), nn.Linear(3, 3)
    lin.weight.requires_grad_(False)
    with torch.no_grad():
        dead.bias.fill_(-100.0)  # every unit of relu(dead(x)) is off
    x = torch.randn(4, 3)
    loss = (lin(x) + F.relu(dead(x))).sum()
    loss.backward()
    params = dict(lin.named_parameters(prefix="lin"))
    params.update(dict(unused.named_parameters(prefix="unused")))
    params.update(dict(dead.named_parameters(prefix="dead")))
    reasons = debug.why_no_grad(loss, params).reasons()
    assert reasons["lin.weight"] == "requires_grad" and "lin.bias" not in reasons
    assert reasons["unused.weight"] == reasons["unused.bias"] == "unused"
    assert reasons["dead.weight"] == reasons["dead.bias"] == "zero"
    assert "ReluBackward" in str(debug.why_no_grad(loss, params))


def test_why_no_grad_explains_a_loss_that_does_not_require_grad():
    w = torch.randn(3, requires_grad=True)
    with debug.recording():
        loss = (w.detach() ** 2).sum()  # MARK: detached_loss
    (finding, *_) = debug.why_no_grad(loss, {"w": w})
    assert finding.name == "loss" and finding.where == line_of("detached_loss", HERE)
    with pytest.raises(RuntimeError, match="why_no_grad"):
        loss.backward()  # the engine's own error points at the tool


def test_why_no_grad_is_empty_when_all_is_well():
    model = nn.Linear(3, 2)
    loss = model(torch.randn(4, 3)).sum()
    loss.backward()
    assert list(debug.why_no_grad(loss, model)) == []
    assert str(debug.why_no_grad(loss, model)) == "every parameter gets a gradient from the loss"


# ------------------------------------------------------------------------------ anomaly mode
def test_anomaly_in_backward_names_the_op_module_and_cause_and_replays(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Linear(2, 2))

        def forward(self, x):
            return self.inner(x).abs().sqrt()  # MARK: sqrt

    model = Net()
    with torch.no_grad():
        model.inner[0].weight.zero_()
        model.inner[0].bias.zero_()
    with debug.detect_anomaly(path=str(tmp_path / "dump"), model=model):
        out = model(torch.ones(3, 2)).sum()
        with pytest.raises(debug.AnomalyError) as info:
            out.backward()
    err = info.value
    assert (err.op, err.phase) == ("Sqrt", "backward")
    assert err.where == line_of("sqrt", HERE) and err.module == "model"
    assert "derivative at 0 is infinite" in err.cause
    with pytest.raises(debug.AnomalyError, match="Sqrt produced NaN/Inf in the backward"):
        debug.replay(str(tmp_path / "dump"))


class Log(nn.Module):
    def forward(self, x):
        return x.log()  # MARK: module_log


def test_anomaly_names_the_module_path():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Identity(), Log()))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, -1.0]]))
        model[0].bias.zero_()
    with debug.detect_anomaly(model=model):
        with pytest.raises(debug.AnomalyError) as info:
            model(torch.tensor([[1.0, 2.0]]))
    err = info.value
    assert (err.op, err.module, err.where) == ("Log", "model.1.1", line_of("module_log", HERE))
    assert err.cause.startswith("log of a negative number")


def test_anomaly_says_when_the_data_already_holds_inf():
    model = nn.Sequential(nn.Linear(2, 2))
    with debug.detect_anomaly(model=model):
        with pytest.raises(debug.AnomalyError) as info:
            model(torch.tensor([[float("inf"), 0.0]]))
    assert "data and the parameters" in info.value.cause


def test_anomaly_is_silent_and_off_afterwards_for_finite_values():
    x = torch.randn(4, requires_grad=True)
    with debug.detect_anomaly():
        (x.exp() * 2).sum().backward()
    assert not engine._anomaly_enabled
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp(x.detach().numpy()), rtol=1e-6)


def test_set_detect_anomaly_compatibility():
    x = torch.tensor([0.0, 1.0], requires_grad=True)
    torch.autograd.set_detect_anomaly(True)
    try:
        assert torch.autograd.is_anomaly_enabled()
        y = x.sqrt().sum()
        with pytest.raises(RuntimeError, match="returned nan or inf"):
            y.backward()
    finally:
        torch.autograd.set_detect_anomaly(False)
    assert not torch.autograd.is_anomaly_enabled()


# ------------------------------------------------------------------------------ memory
def test_memory_report_per_module_and_per_op():
    model = nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 1))
    x = torch.randn(32, 100)
    loss = model(x).pow(2).mean()
    r = debug.memory_report(loss, model)
    # Linear 0 keeps its input (32x100) and weight (50x100) for backward: float32
    assert r.by_module[0] == ("0", (32 * 100 + 50 * 100) * 4, 2)
    assert r.by_op[0][0] == "LinearBackward"
    assert r.total == sum(b for _, b, _ in r.by_module) == sum(b for _, b, _ in r.by_op)
    assert "per module" in str(r)
    loss.backward()
    assert debug.memory_report(loss, model).total == 0  # freed by backward


# ------------------------------------------------------------------------------ graph & explain
def test_draw_graph_writes_dot_and_renders_when_graphviz_exists(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh())
    loss = model(torch.randn(4, 3)).sum()
    out = debug.draw_graph(loss, str(tmp_path / "graph.svg"), model=model)
    dot = (tmp_path / "graph.svg.dot").read_text()
    assert dot.startswith("digraph") and "LinearBackward" in dot and "0.weight" in dot
    assert "(4, 2) float32" in dot and "saved" in dot
    if shutil.which("dot"):
        assert out.endswith(".svg") and open(out).read().lstrip().startswith("<")
    else:
        assert out.endswith(".dot")


def test_explain_prints_local_derivatives_and_the_running_product():
    w = torch.tensor(3.0, requires_grad=True)
    x = torch.tensor(2.0)
    loss = (w * x - 1.0) ** 2  # d/dw = 2 (wx - 1) x = 20
    lines = debug.explain(loss, wrt=w, echo=None)
    assert "local d out/d in0 = 10" in lines[1]  # d (e^2)/de = 2e = 10
    assert "running product = 20" in lines[-2]
    assert lines[-1] == "d loss / d w = 20 (autograd: 20)"
    loss.backward()
    assert float(w.grad) == 20.0  # explain left the graph usable


def test_explain_sums_over_paths():
    w = torch.tensor(0.5, requires_grad=True)
    lines = debug.explain(w * w + w.exp(), wrt=w, echo=None)
    assert sum(line.startswith("path") for line in lines) == 3
    assert lines[-1].endswith(f"(autograd: {2 * 0.5 + np.exp(0.5):.6g})")


# ------------------------------------------------------------------------------ Monitor
def _train(model, opt, steps=5):
    torch.manual_seed(1)
    x, y = torch.randn(32, 6), torch.randint(0, 3, (32,))
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


def test_monitor_history_summary_and_plot(tmp_path):
    model = nn.Sequential(
        nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with debug.Monitor(model, opt, warn=False) as mon:
        _train(model, opt)
    h = mon.history
    assert h["step"] == [0, 1, 2, 3, 4] and len(h["loss"]) == 5
    assert set(mon.grad_norms()) == {n for n, _ in model.named_parameters()}
    assert all(len(v) == 5 and all(x > 0 for x in v) for v in h["grad_norm"].values())
    assert h["sampled_step"] == [0]  # every=10: update ratios and activations at step 0
    assert all(1e-5 < r < 1e-1 for r in h["update_ratio"]["0.weight"])
    assert set(h["dead_relu"]) == {"1"} and set(h["saturation"]) == {"3"}
    text = mon.summary(echo=None)
    assert "0.weight" in text and "dead ReLU units" in text and "alerts: 0" in text
    path = mon.plot(str(tmp_path / "norms.png"))
    assert os.path.getsize(path) > 1000


def test_monitor_every_n_steps_and_dead_relu_alert():
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))  # MARK: dead_built
    with torch.no_grad():
        model[0].bias.fill_(-50.0)  # MARK: dead_bias
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    with debug.Monitor(model, opt, every=2, warn=False) as mon:
        _train(model, opt, steps=5)
    h = mon.history
    assert h["step"] == [0, 1, 2, 3, 4] and len(h["grad_norm"]["0.weight"]) == 5
    assert h["sampled_step"] == [0, 2, 4] and len(h["update_ratio"]["2.weight"]) == 3
    assert len(h["dead_relu"]["1"]) == 3
    (alert,) = [a for a in mon.alerts if a.kind == "dead_relu"]
    assert alert.layer == "1" and alert.value == 1.0
    # the layer before the ReLU, and the lines that set its weight and its bias
    assert f"0.bias set by fill_ at {line_of('dead_bias', HERE)}" in alert.message
    assert alert.where == line_of("dead_built", HERE)


def test_monitor_hooks_activations_only_on_sampled_steps():
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    hooked = []
    with debug.Monitor(model, opt, warn=False) as mon:  # every=10 by default
        for _ in range(12):
            hooked.append(len(model[1]._forward_hooks))  # (the leak sanitizer's hook: +1)
            _train(model, opt, steps=1)
    assert hooked == [2] + [1] * 9 + [2, 1]
    assert mon.history["step"] == list(range(12)) and mon.history["sampled_step"] == [0, 10]
    assert len(mon.history["dead_relu"]["1"]) == 2
    assert not model[1]._forward_hooks


def test_monitor_records_a_loss_of_shape_1():
    model = nn.Linear(6, 1)
    with debug.Monitor(model, warn=False) as mon:
        model(torch.randn(4, 6)).sum(0).backward()  # shape (1,): float() of it raises in NumPy 2
    assert len(mon.history["loss"]) == 1


def test_monitor_ignores_the_backward_of_another_model():
    watched, other = nn.Linear(6, 3), nn.Linear(6, 3)
    opt = torch.optim.SGD(watched.parameters(), lr=1e-2)
    with debug.Monitor(watched, opt, warn=False) as mon:
        _train(watched, opt, steps=2)
        other(torch.randn(4, 6)).sum().backward()  # e.g. a GAN's other network
    assert len(mon.history["loss"]) == 2 and mon.history["step"] == [0, 1]
    assert mon.alerts == []


def test_monitor_paused_costs_nothing_and_counts_nothing():
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    backward = Tensor.backward
    with debug.Monitor(model, opt, warn=False) as mon:
        _train(model, opt, steps=1)
        with mon.paused():
            assert Tensor.backward is backward and engine._debug is None
            _train(model, opt, steps=3)  # an evaluation loop, or steps that should not count
        _train(model, opt, steps=1)
    assert mon.history["step"] == [0, 1] and len(mon.history["loss"]) == 2


def test_monitor_close_restores_everything():
    model = nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mon = debug.Monitor(model, opt, warn=False)
    mon.close()
    mon.close()  # twice is fine
    assert not opt._optimizer_step_pre_hooks and not model.weight._post_hooks


# ------------------------------------------------------------------------------ docstrings
@pytest.mark.parametrize("name", ["anomaly", "explain", "graph", "memory", "monitor", "why"])
def test_docstring_examples_run(name):
    import doctest
    import importlib

    module = importlib.import_module(f"chainrule.debug.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_memory_report_uses_recorded_module_paths_under_a_monitor():
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 1))
    with debug.Monitor(model, None, warn=False):
        loss = model(torch.randn(4, 10)).pow(2).mean()
    r = debug.memory_report(loss, model)
    names = [name for name, _, _ in r.by_module]
    assert set(names) == {"model.0", "model.2", "(outside modules)"}  # pow(2) ran outside
    assert "model.1" in debug.to_dot(loss, model)  # ReLU's node knows its module


def test_monitor_without_an_optimizer_measures_each_backward():
    model = nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))
    with debug.Monitor(model, warn=False) as mon:
        for _ in range(3):
            model.zero_grad()
            model(torch.randn(8, 6)).pow(2).mean().backward()
    assert mon.history["step"] == [0, 1, 2]
    assert all(v > 0 for v in mon.grad_norms()["2.weight"])


def test_why_no_grad_names_a_numpy_round_trip():
    w = torch.randn(3, requires_grad=True)
    with debug.recording():
        a = np.asarray(w * 2)  # MARK: asarray
        loss = torch.tensor(a, requires_grad=True).sum()
    (finding,) = debug.why_no_grad(loss, {"w": w})
    assert finding.reason == "item" and finding.where == line_of("asarray", HERE)
    assert "numpy.asarray()" in finding.message


def test_monitor_sees_the_graph_grow_when_a_hidden_state_is_not_detached():
    cell = nn.Linear(4, 4)
    opt = torch.optim.SGD(cell.parameters(), lr=1e-3)
    with debug.Monitor(cell, opt, warn=False) as mon:  # (saves nothing an update changes)
        h = torch.zeros(2, 4)
        for _ in range(5):
            opt.zero_grad()
            h = torch.tanh(h + cell.bias)  # MARK: hidden
            h.sum().backward(retain_graph=True)
            opt.step()
    leaks = [a for a in mon.alerts if a.kind == "leak"]
    assert any("graph grows" in a.message for a in leaks)
    assert any(a.where == line_of("hidden", HERE) for a in leaks)


def test_monitor_flags_saturated_tanh():
    model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    with torch.no_grad():
        model[0].weight.mul_(100.0)  # MARK: saturating_scale
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    with debug.Monitor(model, opt, warn=False) as mon:
        _train(model, opt, steps=2)
    (alert,) = [a for a in mon.alerts if a.kind == "saturation"]
    assert alert.layer == "1" and alert.value > 0.5
    assert alert.where == line_of("saturating_scale", HERE)
    assert f"0.weight set by mul_ at {alert.where}" in alert.message
