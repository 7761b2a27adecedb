"""``chainrule demo``: train a LeNet-style network on handwritten digits, end to end.

The run trains on scikit-learn's 1,797 digit scans (upsampled to 16x16, no download) or on
MNIST from IDX files, shows a progress bar per epoch, and writes a run directory:

    checkpoint.safetensors   the whole training state (model, optimizer, schedule, RNG, position)
    model.safetensors        the trained weights alone (chainrule.load, or safetensors in PyTorch)
    config.json              the run's configuration
    metrics.jsonl            one JSON row per training step and one per epoch
    curves.png grad_norms.png confusion_matrix.png misclassified.png
    report.html              all of the above on one self-contained page

Ctrl-C finishes the current step, saves the checkpoint and prints how to resume; ``--resume``
continues bit for bit where it stopped (on CPU): the data order of an epoch is a function of
(seed, epoch), and everything else that changes while training is in the checkpoint.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
import signal
import sys
import threading
import time
from collections import OrderedDict

import numpy as np
from tqdm.auto import tqdm

from . import backend
from .autograd import no_grad
from .ops.creation import from_numpy, get_rng_state, manual_seed, set_rng_state
from .serialization import load, save

CHECKPOINT = "checkpoint.safetensors"
MODEL = "model.safetensors"
PLOTS = OrderedDict(
    curves="Loss and accuracy per epoch (training: the epoch's running mean; test: held out)",
    grad_norms="Gradient norm of each layer's weight at every step (log scale)",
    confusion_matrix="Confusion matrix on the test set (rows: true digit, columns: predicted)",
    misclassified="Test images the network gets wrong (true \u2192 predicted)",
)
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop", "adagrad", "nadam", "radam")
DEFAULT_LR = {"sgd": 0.1, "rmsprop": 0.003, "adagrad": 0.05}  # the others: 0.01
EXIT_INTERRUPTED = 130  # the shell's code for a run stopped by Ctrl-C


@dataclasses.dataclass
class Config:
    """Everything that decides the result of a run (the run directory and device do not)."""

    dataset: str = "digits"
    data: str | None = None
    epochs: int = 8
    batch_size: int = 32
    lr: float = 0.01
    optimizer: str = "adam"
    schedule: str = "onecycle"
    seed: int = 0
    limit_batches: int | None = None  # a short run for tests: batches per epoch


def command_line(config: Config) -> str:
    """The ``chainrule demo`` command that repeats a run with this configuration."""
    words = ["chainrule demo"]
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value is not None and field.name != "limit_batches":
            words.append(f"--{field.name.replace('_', '-')} {value}")
    return " ".join(words)


# ------------------------------------------------------------------------------------ data
def load_data(config: Config):
    """Train and test images (normalised float32 ``(N, 1, s, s)``), labels and display images."""
    if config.dataset == "digits":
        from .data import digits

        x_train, y_train = digits("train")
        x_test, y_test = digits("test")
    elif config.dataset == "mnist":
        from .data import MNIST

        if config.data is None:
            raise SystemExit(
                "chainrule demo: --dataset mnist needs --data DIR, the directory with the four "
                "MNIST IDX files (train-images-idx3-ubyte.gz, ...); chainrule does not download."
            )
        train, test = MNIST(config.data, train=True), MNIST(config.data, train=False)
        x_train = train.data.numpy()[:, None].astype(np.float32) / 255
        x_test = test.data.numpy()[:, None].astype(np.float32) / 255
        y_train, y_test = train.targets.numpy(), test.targets.numpy()
    else:
        raise SystemExit(f"chainrule demo: unknown dataset {config.dataset!r} (digits or mnist)")
    mean, std = float(x_train.mean()), float(x_train.std())  # statistics of training data only

    def norm(x):
        return ((x - mean) / std).astype(np.float32)

    return norm(x_train), y_train, norm(x_test), y_test, x_test


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The shuffled order of epoch ``epoch``: a function of (seed, epoch) alone, so a resumed
    run sees the same batches as an uninterrupted one."""
    return np.random.default_rng([seed, epoch]).permutation(n)


# ----------------------------------------------------------------------------------- model
def lenet(image_size: int = 16, classes: int = 10):
    """Two 5x5 convolutions with max pooling, then two linear layers (LeCun et al., 1989-98)."""
    from . import nn

    side = image_size // 4
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(1, 8, 5, padding=2),
            relu1=nn.ReLU(),
            pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(8, 16, 5, padding=2),
            relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2),
            flatten=nn.Flatten(),
            fc1=nn.Linear(16 * side * side, 64),
            relu3=nn.ReLU(),
            fc2=nn.Linear(64, classes),
        )
    )


def make_optimizer(name: str, params, lr: float):
    from . import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)
    table = {
        "adam": optim.Adam,
        "adamw": optim.AdamW,
        "rmsprop": optim.RMSprop,
        "adagrad": optim.Adagrad,
        "nadam": optim.NAdam,
        "radam": optim.RAdam,
    }
    return table[name](params, lr=lr)


def make_schedule(name: str, optimizer, lr: float, total_steps: int):
    from .optim import lr_scheduler

    if name == "onecycle":
        # one-cycle momentum needs a momentum or betas; Adagrad has neither
        cycle = "momentum" in optimizer.defaults or "betas" in optimizer.defaults
        return lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=max(total_steps, 2), cycle_momentum=cycle
        )
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(total_steps, 1))
    return lr_scheduler.ConstantLR(optimizer, factor=1.0, total_iters=0)


# -------------------------------------------------------------------------------- Ctrl-C
class StopRequest:
    """The first Ctrl-C asks the run to stop after the current step (the state stays whole);
    a second one raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write("\nCtrl-C: saving a checkpoint after this step (press Ctrl-C again to quit now)")


class Interrupted(Exception):
    """Raised inside the loop when a stop was requested; the state is that of a whole step."""


# ---------------------------------------------------------------------------------- trainer
class Trainer:
    """One run: builds everything from a Config, trains, checkpoints, and writes the outputs."""

    def __init__(self, config: Config, out: str, device: str = "cpu") -> None:
        from .nn import functional

        self.config, self.out, self.device = config, out, backend.device(device)
        self.F = functional
        self.x_train, self.y_train, self.x_test, self.y_test, self.display = load_data(config)
        os.makedirs(out, exist_ok=True)
        manual_seed(config.seed)
        self.model = lenet(self.x_train.shape[-1]).to(self.device)
        self.optimizer = make_optimizer(config.optimizer, self.model.parameters(), config.lr)
        self.scheduler = make_schedule(
            config.schedule, self.optimizer, config.lr, config.epochs * self.batches_per_epoch
        )
        self.layers = [n for n, m in self.model.named_children() if hasattr(m, "weight")]
        self.epoch = self.batch = self.step = 0
        self.running = {"loss": 0.0, "correct": 0, "seen": 0}
        self.history: list[dict] = []
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.stop = StopRequest()
        self.stop_after_steps: int | None = None  # a simulated Ctrl-C, for tests

    @property
    def batches_per_epoch(self) -> int:
        n = -(-len(self.x_train) // self.config.batch_size)
        return min(n, self.config.limit_batches or n)

    # ----------------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {
            "config": dataclasses.asdict(self.config),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": get_rng_state(),
            "progress": {"epoch": self.epoch, "batch": self.batch, "step": self.step},
            "running": dict(self.running),
            "history": self.history,
            "elapsed": self.elapsed,
        }

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        progress = state["progress"]
        self.epoch, self.batch, self.step = progress["epoch"], progress["batch"], progress["step"]
        self.running = dict(state["running"])
        self.history = list(state["history"])
        self.elapsed = state["elapsed"]

    def save_checkpoint(self) -> str:
        path = os.path.join(self.out, CHECKPOINT)
        save(self.state_dict(), path)
        return path

    # ------------------------------------------------------------------------ loop
    def fit(self) -> None:
        """Train to the configured number of epochs; raises Interrupted after a stop request."""
        metrics = open(os.path.join(self.out, "metrics.jsonl"), "w")  # rewritten from history
        with metrics, self.stop:
            for row in self.history:
                metrics.write(json.dumps(row) + "\n")
            metrics.flush()
            while self.epoch < self.config.epochs:
                self._train_epoch(metrics)

    def _train_epoch(self, metrics) -> None:
        cfg, n_batches = self.config, self.batches_per_epoch
        order = epoch_order(cfg.seed, self.epoch, len(self.x_train))
        size = min(len(order), n_batches * cfg.batch_size)
        bar = tqdm(
            total=size,
            initial=self.running["seen"],
            desc=f"epoch {self.epoch + 1}/{cfg.epochs}",
            unit="img",
            dynamic_ncols=True,
            file=sys.stderr,
        )
        self.model.train()
        with bar:
            while self.batch < n_batches:
                if self.stop.requested or self.step == self.stop_after_steps:
                    raise Interrupted
                start = time.perf_counter()
                idx = order[self.batch * cfg.batch_size : (self.batch + 1) * cfg.batch_size]
                row = self._train_step(idx)
                self.elapsed += time.perf_counter() - start
                self.history.append(row)
                metrics.write(json.dumps(row) + "\n")
                bar.update(len(idx))
                bar.set_postfix(
                    loss=f"{self.running['loss'] / self.running['seen']:.4f}",
                    acc=f"{self.running['correct'] / self.running['seen']:.1%}",
                    lr=f"{row['lr']:.2e}",
                    refresh=False,
                )
            start = time.perf_counter()
            test_loss, test_acc, _ = self.evaluate()
            self.elapsed += time.perf_counter() - start
        row = {
            "type": "epoch",
            "epoch": self.epoch + 1,
            "step": self.step,
            "train_loss": self.running["loss"] / self.running["seen"],
            "train_acc": self.running["correct"] / self.running["seen"],
            "test_loss": test_loss,
            "test_acc": test_acc,
            "lr": self.optimizer.param_groups[0]["lr"],
            "time": round(self.elapsed, 3),
        }
        self.history.append(row)
        metrics.write(json.dumps(row) + "\n")
        metrics.flush()
        tqdm.write(
            f"epoch {row['epoch']}/{cfg.epochs}: train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.2%} | test loss {test_loss:.4f} acc {test_acc:.2%}"
        )
        self.epoch, self.batch = self.epoch + 1, 0
        self.running = {"loss": 0.0, "correct": 0, "seen": 0}
        self.save_checkpoint()  # a crash loses at most one epoch

    def _train_step(self, idx: np.ndarray) -> dict:
        x = from_numpy(self.x_train[idx]).to(self.device)
        y = from_numpy(self.y_train[idx]).to(self.device)
        rng = get_rng_state()
        try:
            logits = self.model(x)
            loss = self.F.cross_entropy(logits, y)
            self.optimizer.zero_grad()
            loss.backward()
        except KeyboardInterrupt:
            set_rng_state(rng)  # nothing of this step happened: resume repeats it whole
            raise Interrupted from None
        grads = {n: getattr(self.model, n).weight.grad.norm().item() for n in self.layers}
        lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        correct = int((logits.argmax(1) == y).sum().item())
        self.running["loss"] += loss.item() * len(idx)
        self.running["correct"] += correct
        self.running["seen"] += len(idx)
        self.batch += 1
        self.step += 1
        return {
            "type": "step",
            "epoch": self.epoch + 1,
            "step": self.step,
            "loss": loss.item(),
            "acc": correct / len(idx),
            "lr": lr,
            "grad_norm": grads,
        }

    def evaluate(self) -> tuple[float, float, np.ndarray]:
        """Test loss, accuracy and the predicted class of every test image."""
        self.model.eval()
        total, preds = 0.0, []
        with no_grad():
            for i in range(0, len(self.x_test), 500):
                x = from_numpy(self.x_test[i : i + 500]).to(self.device)
                y = from_numpy(self.y_test[i : i + 500]).to(self.device)
                logits = self.model(x)
                total += self.F.cross_entropy(logits, y, reduction="sum").item()
                preds.append(backend.to_numpy(logits.argmax(1)._data))
        self.model.train()
        pred = np.concatenate(preds)
        return total / len(self.y_test), float((pred == self.y_test).mean()), pred


# --------------------------------------------------------------------------------- outputs
def write_outputs(trainer: Trainer, pred: np.ndarray) -> dict[str, str]:
    """The plots, weights and report of a finished run; returns {name: path}."""
    out = trainer.out
    files = {}
    save(trainer.model.state_dict(), os.path.join(out, MODEL))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        tqdm.write("note: no plots: matplotlib is not installed (pip install 'chainrule[viz]')")
        plt = None
    if plt is not None:
        figures = {
            "curves": _plot_curves(plt, trainer.history),
            "grad_norms": _plot_grad_norms(plt, trainer.history, trainer.layers),
            "confusion_matrix": _plot_confusion(plt, trainer.y_test, pred),
            "misclassified": _plot_misclassified(plt, trainer.display, trainer.y_test, pred),
        }
        for name, fig in figures.items():
            files[name] = os.path.join(out, f"{name}.png")
            fig.savefig(files[name], dpi=110, bbox_inches="tight")
            plt.close(fig)
    files["report"] = os.path.join(out, "report.html")
    with open(files["report"], "w", encoding="utf-8") as f:
        f.write(_report_html(trainer, pred, files))
    return files


def _plot_curves(plt, history):
    epochs = [r for r in history if r["type"] == "epoch"]
    e = [r["epoch"] for r in epochs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.plot(e, [r["train_loss"] for r in epochs], "o-", label="train")
    ax1.plot(e, [r["test_loss"] for r in epochs], "s-", label="test")
    ax1.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log", title="Loss")
    ax2.plot(e, [100 * r["train_acc"] for r in epochs], "o-", label="train")
    ax2.plot(e, [100 * r["test_acc"] for r in epochs], "s-", label="test")
    ax2.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def _plot_grad_norms(plt, history, layers):
    steps = [r for r in history if r["type"] == "step"]
    x = np.array([r["step"] for r in steps])
    k = max(1, min(10, len(steps) // 10))  # smoothing window: the raw norms are noisy
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for i, name in enumerate(layers):
        g = np.array([r["grad_norm"][name] for r in steps])
        color = f"C{i}"
        ax.plot(x, g, color=color, alpha=0.25, linewidth=0.8)
        smooth = np.convolve(g, np.ones(k) / k, mode="valid")
        ax.plot(x[k - 1 :], smooth, color=color, label=name)
    for r in history:
        if r["type"] == "epoch":
            ax.axvline(r["step"], color="0.8", linewidth=0.6, zorder=0)  # epoch boundaries
    ax.set(xlabel="step", ylabel="||dL/dW||", yscale="log")
    ax.set_title(
        f"Per-layer gradient norms (light: every step; dark: mean of {k} steps; grey: epochs)"
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def _plot_confusion(plt, y, pred, classes: int = 10):
    cm = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(cm, (y, pred), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    im = ax.imshow(cm, cmap="Blues")
    for (i, j), v in np.ndenumerate(cm):
        if v:
            color = "white" if v > cm.max() / 2 else "black"
            ax.text(j, i, str(v), ha="center", va="center", color=color, fontsize=8)
    ax.set(xticks=range(classes), yticks=range(classes), xlabel="predicted", ylabel="true")
    ax.set_title(f"Confusion matrix ({int(np.trace(cm))}/{len(y)} correct)")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def _plot_misclassified(plt, images, y, pred, limit: int = 32):
    wrong = np.flatnonzero(y != pred)[:limit]
    cols = 8
    rows = max(1, -(-len(wrong) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.2, rows * 1.4 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i, 0], cmap="gray_r")
        ax.set_title(f"{y[i]} \u2192 {pred[i]}", fontsize=9, color="firebrick")
    total = int((y != pred).sum())
    fig.suptitle(
        f"Misclassified test images: {total}" + (f" (first {limit})" if total > limit else "")
    )
    if not len(wrong):
        axes[0, 0].text(0, 0.5, "none: every test image is classified correctly", fontsize=11)
    fig.tight_layout()
    return fig


def _report_html(trainer: Trainer, pred: np.ndarray, files: dict[str, str]) -> str:
    from . import __version__

    cfg = dataclasses.asdict(trainer.config)
    last = [r for r in trainer.history if r["type"] == "epoch"][-1]
    esc = html.escape

    def kv(d: dict) -> str:
        return "".join(
            f"<tr><th>{esc(str(k))}</th><td>{esc(str(v))}</td></tr>" for k, v in d.items()
        )

    summary = {
        "test accuracy": f"{last['test_acc']:.2%} ({int((pred == trainer.y_test).sum())}/"
        f"{len(pred)})",
        "test loss": f"{last['test_loss']:.4f}",
        "training time": f"{trainer.elapsed:.1f} s",
        "epochs / steps": f"{trainer.epoch} / {trainer.step}",
        "parameters": f"{sum(p.numel() for p in trainer.model.parameters()):,}",
        "device": str(trainer.device),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
        "chainrule": __version__,
    }
    figures = []
    for name, caption in PLOTS.items():
        if name in files:
            with open(files[name], "rb") as f:
                data = base64.b64encode(f.read()).decode("ascii")
            figures.append(
                f'<figure id="{name}"><img alt="{name}.png" src="data:image/png;base64,{data}">'
                f"<figcaption>{esc(caption)} <code>{name}.png</code></figcaption></figure>"
            )
    if not figures:
        figures.append(
            "<p>No plots: matplotlib is not installed (pip install 'chainrule[viz]').</p>"
        )
    epochs = [r for r in trainer.history if r["type"] == "epoch"]
    rows = "".join(
        f"<tr><td>{r['epoch']}</td><td>{r['step']}</td><td>{r['train_loss']:.4f}</td>"
        f"<td>{r['train_acc']:.2%}</td><td>{r['test_loss']:.4f}</td><td>{r['test_acc']:.2%}</td>"
        f"<td>{r['lr']:.2e}</td><td>{r['time']:.1f}</td></tr>"
        for r in epochs
    )
    model = esc(repr(trainer.model))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>chainrule demo: {esc(trainer.out)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 3px 10px; text-align: left; }}
figure {{ margin: 2em 0; }} img {{ max-width: 100%; }} pre {{ background: #f6f6f6; padding: 1em; }}
</style></head><body>
<h1>chainrule demo: LeNet on {esc(trainer.config.dataset)}</h1>
<p>Run directory <code>{esc(os.path.abspath(trainer.out))}</code>. This page is self-contained:
the plots are embedded, and are also saved beside it as PNG files.</p>
<h2>Result</h2><table>{kv(summary)}</table>
<h2>Plots</h2>{"".join(figures)}
<h2>Per epoch</h2><table><tr><th>epoch</th><th>step</th><th>train loss</th><th>train acc</th>
<th>test loss</th><th>test acc</th><th>lr (end)</th><th>time (s)</th></tr>{rows}</table>
<h2>Configuration</h2><table>{kv(cfg)}</table>
<p>The same run again: <code>{esc(command_line(trainer.config))}</code></p>
<h2>Model</h2><pre>{model}</pre>
<h2>Files</h2><ul><li><code>{CHECKPOINT}</code>: the full training state
(<code>chainrule demo --resume {esc(trainer.out)}</code>)</li>
<li><code>{MODEL}</code>: the trained weights (<code>chainrule.load</code>)</li>
<li><code>metrics.jsonl</code>: one JSON row per step and per epoch</li></ul>
</body></html>
"""


# ------------------------------------------------------------------------------ entry point
def run(
    config: Config | None = None,
    out: str | None = None,
    device: str = "cpu",
    resume: str | None = None,
    stop_after_steps: int | None = None,
) -> int:
    """Train (or resume) a run and write its outputs. Returns the exit code (0, or 130 when
    stopped by Ctrl-C after saving a checkpoint)."""
    if resume is not None:
        out = resume
        state = _read_checkpoint(resume)
        config = Config(**state["config"])
    else:
        config = config or Config()
        out = out or time.strftime(f"runs/{config.dataset}-%Y%m%d-%H%M%S")
        _check_new_run_dir(out)
        state = None
    _check_device(device)
    from .data import IDXError

    try:
        trainer = Trainer(config, out, device)
    except (FileNotFoundError, IDXError, ImportError) as e:  # the data: say it plainly
        raise SystemExit(f"chainrule demo: {e}") from None
    if state is not None:
        trainer.load_state_dict(state)
        if trainer.epoch >= config.epochs:
            print(f"{out} is a finished run of {config.epochs} epochs; writing its outputs again")
        else:
            print(
                f"Resuming {out} at epoch {trainer.epoch + 1}, batch {trainer.batch + 1} "
                f"(step {trainer.step})"
            )
    else:
        with open(os.path.join(out, "config.json"), "w") as f:
            json.dump(dataclasses.asdict(config), f, indent=2)
        print(
            f"Training LeNet on {config.dataset} ({len(trainer.x_train)} training images, "
            f"{len(trainer.x_test)} held out) for {config.epochs} epochs on {trainer.device}; "
            f"outputs go to {out}/"
        )
    trainer.stop_after_steps = stop_after_steps
    try:
        trainer.fit()
    except (Interrupted, KeyboardInterrupt) as e:
        if isinstance(e, KeyboardInterrupt):  # a second Ctrl-C: the state may be half-updated
            if os.path.exists(os.path.join(out, CHECKPOINT)):
                print(
                    f"\nStopped at once: the checkpoint of the last finished epoch in {out}/ is "
                    f"kept. Resume with: chainrule demo --resume {out}"
                )
            else:
                print("\nStopped at once, before the first epoch ended: nothing to resume.")
            return EXIT_INTERRUPTED
        path = trainer.save_checkpoint()
        print(
            f"\nInterrupted at epoch {trainer.epoch + 1}, step {trainer.step}. Saved {path}\n"
            f"Resume with: chainrule demo --resume {out}"
        )
        return EXIT_INTERRUPTED
    test_loss, test_acc, pred = trainer.evaluate()
    files = write_outputs(trainer, pred)
    correct = int((pred == trainer.y_test).sum())
    print(
        f"\nDone: test accuracy {test_acc:.2%} ({correct}/{len(pred)}), test loss "
        f"{test_loss:.4f}, {trainer.epoch} epochs in {trainer.elapsed:.1f} s of training.\n"
        f"Outputs in {out}/:\n"
        f"  report.html              open it in a browser: plots, metrics and configuration\n"
        f"  {CHECKPOINT:<24} the full training state\n"
        f"  {MODEL:<24} the trained weights (chainrule.load)\n"
        f"  metrics.jsonl            one JSON row per step and per epoch\n"
        f"  {', '.join(f'{n}.png' for n in PLOTS if n in files) or '(no plots)'}"
    )
    return 0


def _read_checkpoint(run_dir: str) -> dict:
    path = os.path.join(run_dir, CHECKPOINT)
    if not os.path.isfile(path):
        raise SystemExit(
            f"chainrule demo --resume: no {CHECKPOINT} in '{run_dir}': give the run directory "
            "that an earlier `chainrule demo` printed."
        )
    return load(path)


def _check_new_run_dir(out: str) -> None:
    if os.path.exists(os.path.join(out, CHECKPOINT)):
        raise SystemExit(
            f"chainrule demo: '{out}' already holds a run. Continue it with "
            f"`chainrule demo --resume {out}`, or choose another --out."
        )


def _check_device(device: str) -> None:
    dev = backend.device(device)
    if dev.type == "cuda" and not backend.cuda_available():
        raise SystemExit(
            f"chainrule demo: --device {device}, but CUDA is not available here (it needs an "
            "NVIDIA GPU and CuPy: pip install 'chainrule[gpu]'). Use --device cpu."
        )
