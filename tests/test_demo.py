"""`chainrule demo`: a short run writes every output; Ctrl-C and --resume give the same result
as an uninterrupted run, bit for bit; MNIST from generated IDX files; errors for people."""

import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from chainrule.cli import main  # noqa: E402
from chainrule.data import write_mnist  # noqa: E402
from chainrule.demo import PLOTS, lenet  # noqa: E402
from chainrule.serialization import load  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
SHORT = ["--limit-batches", "3", "--batch-size", "16"]


def _demo(*args) -> int:
    return main(["demo", *map(str, args)])


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def _array(v):
    return v.numpy() if hasattr(v, "numpy") else np.asarray(v)


def _without_time(rows):
    return [{k: v for k, v in r.items() if k != "time"} for r in rows]


def test_one_short_epoch_writes_every_output(tmp_path, capsys):
    run = tmp_path / "run"
    assert _demo("--out", run, "--epochs", 1, *SHORT, "--seed", 3) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "Done: test accuracy" in out and str(run) in out and "report.html" in out
    assert "epoch 1/1: train loss" in out
    bar = captured.err  # tqdm: progress, speed, and the running loss, accuracy and lr
    assert "epoch 1/1" in bar and "48/48" in bar and "img/s" in bar
    assert "loss=" in bar and "acc=" in bar and "lr=" in bar

    for name in PLOTS:
        assert (run / f"{name}.png").read_bytes()[:8] == PNG, name
    report = (run / "report.html").read_text(encoding="utf-8")
    for name in PLOTS:  # each plot is embedded, byte for byte the PNG beside it
        m = re.search(rf'alt="{name}.png" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', report)
        assert m, name
        assert base64.b64decode(m.group(1)) == (run / f"{name}.png").read_bytes()
    assert "<th>seed</th><td>3</td>" in report and "<th>optimizer</th><td>adam</td>" in report
    assert "Conv2d(1, 8" in report and "test accuracy" in report
    assert "chainrule demo --dataset digits --epochs 1 --batch-size 16" in report

    rows = _rows(run)
    steps = [r for r in rows if r["type"] == "step"]
    epochs = [r for r in rows if r["type"] == "epoch"]
    assert [r["step"] for r in steps] == [1, 2, 3] and len(epochs) == 1
    assert set(steps[0]["grad_norm"]) == {"conv1", "conv2", "fc1", "fc2"}
    assert all(v > 0 for r in steps for v in r["grad_norm"].values())
    assert 0 <= epochs[0]["test_acc"] <= 1 and epochs[0]["step"] == 3
    assert set(epochs[0]) >= {"train_loss", "train_acc", "test_loss", "test_acc", "lr", "time"}

    assert json.loads((run / "config.json").read_text())["seed"] == 3
    ckpt = load(run / "checkpoint.safetensors")
    assert ckpt["progress"] == {"epoch": 1, "batch": 0, "step": 3}
    assert set(ckpt) >= {"model", "optimizer", "scheduler", "rng", "history", "config"}
    model = lenet(16)
    model.load_state_dict(load(run / "model.safetensors"))  # the weights alone, PyTorch keys
    np.testing.assert_array_equal(
        model.fc2.bias.detach().numpy(), ckpt["model"]["fc2.bias"].numpy()
    )


@pytest.mark.parametrize("stop", [2, 3, 5], ids=["mid-epoch", "epoch-end", "second-epoch"])
def test_interrupt_and_resume_equals_an_uninterrupted_run(tmp_path, capsys, stop):
    args = ["--epochs", 2, *SHORT, "--optimizer", "adamw", "--seed", 7]
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert _demo("--out", whole, *args) == 0
    assert _demo("--out", parts, *args, "--stop-after-steps", stop) == 130
    out = capsys.readouterr().out
    assert f"Resume with: chainrule demo --resume {parts}" in out
    assert load(parts / "checkpoint.safetensors")["progress"]["step"] == stop
    assert _demo("--resume", parts) == 0
    assert "Resuming" in capsys.readouterr().out

    a, b = load(whole / "checkpoint.safetensors"), load(parts / "checkpoint.safetensors")
    for key in a["model"]:
        np.testing.assert_array_equal(a["model"][key].numpy(), b["model"][key].numpy())
    assert a["optimizer"]["param_groups"] == b["optimizer"]["param_groups"]
    for i, state in a["optimizer"]["state"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(_array(value), _array(b["optimizer"]["state"][i][name]))
    assert a["scheduler"] == b["scheduler"]
    assert bytes(a["rng"].numpy()) == bytes(b["rng"].numpy())
    assert _without_time(_rows(whole)) == _without_time(_rows(parts))
    assert (parts / "report.html").exists()


def test_resume_keeps_its_own_options(tmp_path):
    run = tmp_path / "run"
    assert _demo("--out", run, "--epochs", 1, *SHORT, "--stop-after-steps", 1) == 130
    with pytest.raises(SystemExit, match=r"--resume continues the run with its own options; drop"):
        _demo("--resume", run, "--epochs", 3)


def test_resume_needs_a_run_directory(tmp_path):
    with pytest.raises(SystemExit, match=r"no checkpoint.safetensors in .*give the run directory"):
        _demo("--resume", tmp_path)


def test_a_new_run_does_not_overwrite_an_old_one(tmp_path):
    run = tmp_path / "run"
    assert _demo("--out", run, "--epochs", 1, *SHORT, "--stop-after-steps", 1) == 130
    with pytest.raises(SystemExit, match=r"already holds a run.*--resume"):
        _demo("--out", run, "--epochs", 1)


def test_cuda_without_a_gpu_says_so(tmp_path):
    from chainrule import backend

    if backend.cuda_available():
        pytest.skip("a GPU is present")
    with pytest.raises(SystemExit, match="CUDA is not available"):
        _demo("--out", tmp_path / "r", "--device", "cuda")


def _fake_mnist(root: Path, n_train=48, n_test=20):
    rng = np.random.default_rng(0)
    for train, n in ((True, n_train), (False, n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = np.zeros((n, 28, 28), np.uint8)
        for i, c in enumerate(labels):  # a bar whose position is the label: learnable
            images[i, 2 + 2 * c : 4 + 2 * c, 4:24] = 255
        write_mnist(root, images, labels, train=train)


def test_mnist_from_generated_idx_files(tmp_path, capsys):
    _fake_mnist(tmp_path / "data")
    run = tmp_path / "run"
    rc = _demo("--dataset", "mnist", "--data", tmp_path / "data", "--out", run, "--epochs", 1,
               *SHORT)  # fmt: skip
    assert rc == 0
    assert "Training LeNet on mnist (48 training images, 20 held out)" in capsys.readouterr().out
    assert load(run / "checkpoint.safetensors")["model"]["fc1.weight"].shape == (64, 16 * 7 * 7)
    assert (run / "misclassified.png").read_bytes()[:8] == PNG


def test_mnist_without_data_dir(tmp_path):
    with pytest.raises(SystemExit, match="--dataset mnist needs --data DIR"):
        _demo("--dataset", "mnist", "--out", tmp_path / "r")


def test_mnist_missing_file_names_it(tmp_path):
    (tmp_path / "data").mkdir()
    with pytest.raises(SystemExit, match=r"no training images file.*train-images-idx3-ubyte"):
        _demo("--dataset", "mnist", "--data", tmp_path / "data", "--out", tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_mnist_truncated_file_names_it(tmp_path):
    _fake_mnist(tmp_path / "data")
    path = tmp_path / "data" / "t10k-labels-idx1-ubyte.gz"
    os.remove(path)
    (tmp_path / "data" / "t10k-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x14")
    with pytest.raises(SystemExit, match=r"t10k-labels-idx1-ubyte: truncated data: shape \(20,\)"):
        _demo("--dataset", "mnist", "--data", tmp_path / "data", "--out", tmp_path / "r")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process")
def test_ctrl_c_saves_a_checkpoint_and_says_how_to_resume(tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "chainrule", "demo", "--out", str(run), "--epochs", "1000"]
    proc = subprocess.Popen(
        cmd + ["--limit-batches", "2", "--batch-size", "8"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        metrics = run / "metrics.jsonl"
        while not (metrics.exists() and metrics.read_text().count('"type": "epoch"') >= 1):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Ctrl-C: saving a checkpoint" in out + err
    assert f"Resume with: chainrule demo --resume {run}" in out
    step = load(run / "checkpoint.safetensors")["progress"]["step"]
    assert step >= 2
    assert [r["step"] for r in _rows(run) if r["type"] == "step"] == list(range(1, step + 1))


@pytest.mark.parametrize(
    "optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad", "nadam", "radam"]
)
@pytest.mark.parametrize("schedule", ["onecycle", "cosine", "constant"])
def test_every_optimizer_and_schedule_takes_a_step(optimizer, schedule):
    import chainrule
    import chainrule.nn.functional as F
    from chainrule.demo import DEFAULT_LR, make_optimizer, make_schedule

    chainrule.manual_seed(0)
    model = lenet(16)
    lr = DEFAULT_LR.get(optimizer, 0.01)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    sched = make_schedule(schedule, opt, lr, total_steps=10)
    before = model.fc2.weight.detach().numpy().copy()
    x, y = chainrule.randn(4, 1, 16, 16), chainrule.tensor([0, 1, 2, 3])
    F.cross_entropy(model(x), y).backward()
    opt.step()
    sched.step()
    assert not np.array_equal(before, model.fc2.weight.detach().numpy())
    assert 0 < opt.param_groups[0]["lr"] <= lr
