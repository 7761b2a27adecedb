"""`chainrule explain`: the numbers of the worked examples, computed by the engine."""

import pytest

from chainrule.cli import main
from chainrule.explain import neuron, vanishing


def test_neuron_numbers_are_the_hand_calculation():
    r = neuron(echo=lambda line: None)
    assert (r["y_hat"], r["e"], r["loss"]) == (1.0, -3.0, 9.0)
    assert (r["dL_de"], r["de_dyhat"], r["dyhat_dw"]) == (-6.0, 1.0, 2.0)
    assert r["dL_dw"] == -12.0  # -6 * 1 * 2, from loss.backward()
    assert r["w_new"] == pytest.approx(1.7, abs=1e-15)
    assert r["loss_new"] == pytest.approx(0.36, abs=1e-12)  # (1.7 * 2 - 4)^2


def test_neuron_prints_a_readable_derivation(capsys):
    assert main(["explain", "neuron"]) == 0
    out = capsys.readouterr().out
    for line in [
        "y_hat = w * x      = 0.5 * 2 = 1",
        "L     = e^2        = (-3)^2 = 9",
        "dL/de      = 2e = 2 * (-3) = -6",
        "dy_hat/dw  = x  = 2",
        "dL/dw = dL/de * de/dy_hat * dy_hat/dw = (-6) * 1 * 2 = -12",
        "sets w.grad = -12: they agree",
        "w <- w - lr * dL/dw = 0.5 - 0.1 * (-12) = 1.7",
        "the loss falls from 9 to (1.7 * 2 - 4)^2 = 0.36",
    ]:
        assert line in out, line
    assert "MulBackward" in out and "SubBackward" in out  # the engine's own nodes


def test_neuron_other_values_follow_the_same_rules(capsys):
    assert main(["explain", "neuron", "--x", "3", "--w", "1", "--y", "0", "--lr", "0.01"]) == 0
    out = capsys.readouterr().out
    # y_hat = 3, e = 3, dL/dw = 2 * 3 * 3 = 18, w = 1 - 0.01 * 18 = 0.82
    assert "= 2 * 3 = 6" in out and "= 6 * 1 * 3 = 18" in out and "= 0.82" in out


def test_vanishing_sigmoid_gradients_shrink_toward_the_input_relu_ones_do_not():
    norms = vanishing(depth=8, width=32, batch=64, echo=lambda line: None)
    s, r = norms["sigmoid"], norms["relu"]
    assert len(s) == len(r) == 8
    assert all(a < b for a, b in zip(s, s[1:]))  # each layer nearer the input gets less
    assert s[-1] / s[0] > 1e4
    assert 0.2 < r[-1] / r[0] < 5


def test_vanishing_table_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert (
        main(["explain", "vanishing", "--depth", "6", "--width", "16", "--out", str(tmp_path)]) == 0
    )
    out = capsys.readouterr().out
    assert "sigmoid, default init" in out and "ReLU, He init" in out
    assert sum(1 for line in out.splitlines() if line.strip()[:1].isdigit()) == 6  # one row each
    assert (tmp_path / "vanishing.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"Plot written to {tmp_path / 'vanishing.png'}" in out
