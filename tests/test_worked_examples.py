"""The worked examples of backpropagation that the docs use, as tests: the engine must give the
numbers that the hand calculation gives."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "single_neuron.py"


# ----------------------------------------------------------------------------- one neuron
def test_single_neuron_gradient_and_sgd_step():
    """y_hat = w·x, L = (y_hat - y)²; x = 2, w = 0.5, y = 4: dL/dw = 2(y_hat - y)·x = -12."""
    x = chainrule.tensor(2.0, dtype=chainrule.float64)
    y = chainrule.tensor(4.0, dtype=chainrule.float64)
    w = chainrule.tensor(0.5, dtype=chainrule.float64, requires_grad=True)
    y_hat = w * x
    y_hat.retain_grad()
    loss = (y_hat - y) ** 2
    assert loss.item() == 9.0
    loss.backward()
    assert y_hat.grad.item() == -6.0  # dL/dy_hat = 2(y_hat - y)
    assert w.grad.item() == -12.0  # times dy_hat/dw = x = 2
    with chainrule.no_grad():
        w -= 0.1 * w.grad
    assert w.item() == pytest.approx(1.7, abs=1e-15)


def test_single_neuron_example_script_prints_the_same_numbers():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "dL/dw = dL/dy_hat * dy_hat/dw = -6 * 2 = -12" in text
    assert "w = w - lr * dL/dw = 0.5 - 0.1 * (-12) = 1.7" in text
    assert "dL/dw: by hand -12, by autograd -12" in text
    assert "w after one step: by hand 1.7, by autograd 1.7" in text


def test_single_neuron_example_functions_agree():
    import runpy

    module = runpy.run_path(str(EXAMPLE), run_name="single_neuron")
    hand_grad, hand_w = module["by_hand"]()
    auto_grad, auto_w = module["by_autograd"]()
    assert hand_grad == auto_grad == -12.0
    assert hand_w == pytest.approx(1.7, abs=1e-12)
    assert auto_w == pytest.approx(1.7, abs=1e-6)  # float32


# ------------------------------------------------------------------------ vanishing gradient
def test_ten_sigmoids_at_zero_shrink_the_gradient_to_a_quarter_each():
    """σ'(0) = σ(0)(1 - σ(0)) = 1/4. Ten layers h ← σ(h) - 1/2 keep every σ at 0, so the
    gradient through them is exactly (1/4)¹⁰: why deep sigmoid networks stop learning."""
    x = chainrule.tensor(0.0, dtype=chainrule.float64, requires_grad=True)
    h = x
    for _ in range(10):
        h = chainrule.sigmoid(h) - 0.5
    assert h.item() == 0.0
    h.backward()
    assert x.grad.item() == 0.25**10


def test_one_sigmoid_derivative_at_zero_is_a_quarter():
    x = chainrule.tensor(0.0, dtype=chainrule.float64, requires_grad=True)
    chainrule.sigmoid(x).backward()
    assert x.grad.item() == 0.25


# ------------------------------------------------------------------------- two-layer network
def _two_layer_by_hand(x, y, w1, b1, w2, b2):
    """h = tanh(x W1 + b1), y_hat = h W2 + b2, L = mean((y_hat - y)²): backprop in NumPy."""
    h = np.tanh(x @ w1 + b1)
    y_hat = h @ w2 + b2
    loss = np.mean((y_hat - y) ** 2)
    g_yhat = 2.0 * (y_hat - y) / y_hat.size  # dL/dy_hat
    g_w2 = h.T @ g_yhat
    g_b2 = g_yhat.sum(axis=0)
    g_h = g_yhat @ w2.T
    g_z = g_h * (1.0 - h * h)  # tanh' = 1 - tanh²
    g_w1 = x.T @ g_z
    g_b1 = g_z.sum(axis=0)
    return loss, (g_w1, g_b1, g_w2, g_b2)


def test_two_layer_network_matches_backprop_written_by_hand():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    arrays = [rng.standard_normal(s) * 0.5 for s in [(3, 4), (4,), (4, 2), (2,)]]
    loss_np, grads_np = _two_layer_by_hand(x, y, *arrays)

    params = [chainrule.tensor(a, requires_grad=True) for a in arrays]
    w1, b1, w2, b2 = params
    xt, yt = chainrule.tensor(x), chainrule.tensor(y)
    h = (xt @ w1 + b1).tanh()
    y_hat = h @ w2 + b2
    loss = ((y_hat - yt) ** 2).mean()
    loss.backward()

    np.testing.assert_allclose(loss.item(), loss_np, rtol=1e-12)
    for name, p, g in zip(["W1", "b1", "W2", "b2"], params, grads_np):
        assert p.grad.dtype == chainrule.float64
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-12, atol=1e-12, err_msg=name)
