"""Side-by-side benchmarks of chainrule (eager and ``chainrule.jit``), PyTorch (eager) and JAX
(``jax.jit``, where installed and where a case has a JAX version), on the same data.

Usage:
    python bench/run.py            # full run, writes bench/RESULTS.md (+ results.png), prints it
    python bench/run.py --quick    # a fast, noisier run (same output)
    python bench/run.py --only mlp # cases whose name contains "mlp"
    python bench/run.py --no-jax   # skip the JAX column

How it measures: for every case each side (chainrule eager, chainrule jit, torch, JAX) builds its
own `step` (a closure that does one iteration) from identical NumPy data and initial weights
(fixed seed), in a process of its own: in one process, OpenBLAS's and torch's thread pools spin
on the same cores and slow each other down (torch by up to 2x), which would flatter chainrule.
The jit side is `chainrule.jit(step)` of the chainrule step: traced on its first call, replayed
after. After a warmup, passes ALTERNATE between the processes (the order rotates and reverses
from pass to pass), each pass timing a batch of iterations calibrated to last about
`--pass-ms`; the reported time is the median over passes, per iteration, each pass after a
short pause that lets the other processes' threads go idle and one untimed step.
Interleaving means that both frameworks see the same machine state (frequency
scaling, other load), so the ratio is more trustworthy than either number alone. torch uses
the same number of threads as NumPy's BLAS.

Adding a case: write `def my_case(m) -> step` against the PyTorch API, where `m` is the
`chainrule` or the `torch` module, and register it with `@case("name", unit="µs")`. Where the
two frameworks need different code (nn.Module vs raw tensors while chainrule lacks a feature),
register separate setups with `register(name, setup_chainrule, setup_torch)`.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmark the working tree, not an installed copy

# chainrule before NumPy, as a user's `import chainrule as torch` would: it shortens the time
# OpenBLAS's idle threads spin on the cores its own kernel threads use (chainrule/__init__)
import chainrule  # noqa: E402, I001

import numpy as np  # noqa: E402

import torch  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SEED = 0
SETTLE_S = 0.3  # pause before each timed pass
NOTES_MARKER = "<!-- notes: kept when bench/run.py rewrites the table above -->"


# ------------------------------------------------------------------------------ registry
SIDES = ("chainrule", "jit", "torch", "jax")


@dataclass
class Case:
    name: str
    setup_chainrule: Callable[[], Callable[[], object]]  # returns a zero-argument step
    setup_torch: Callable[[], Callable[[], object]]
    unit: str = "µs"  # per iteration
    note: str = ""
    setup_jax: Callable[[], Callable[[], object]] | None = None
    jit: bool = True  # also time chainrule.jit(step)

    def setup(self, side: str):
        if side == "chainrule":
            return self.setup_chainrule()
        if side == "jit":
            return chainrule.jit(self.setup_chainrule())
        if side == "torch":
            return self.setup_torch()
        return self.setup_jax()

    def sides(self, with_jax: bool) -> list[str]:
        out = ["chainrule"] + (["jit"] if self.jit else []) + ["torch"]
        return out + (["jax"] if with_jax and self.setup_jax is not None else [])


CASES: list[Case] = []


def register(
    name: str, setup_chainrule, setup_torch, unit: str = "µs", note: str = "", *,
    setup_jax=None, jit: bool = True,
) -> None:  # fmt: skip
    CASES.append(Case(name, setup_chainrule, setup_torch, unit, note, setup_jax, jit))


def case(name: str, unit: str = "µs", note: str = "", setup_jax=None):
    """Register `fn(m) -> step`, written once against the PyTorch API, for both frameworks."""

    def deco(fn):
        register(name, lambda: fn(chainrule), lambda: fn(torch), unit, note, setup_jax=setup_jax)
        return fn

    return deco


def _jax(name):
    """A JAX setup from bench/models.py, imported in the worker (JAX is optional)."""

    def setup():
        import models

        return getattr(models, name)()

    return setup


# --------------------------------------------------------------------------------- cases
@case("add: c = a + b (4 floats, requires_grad)", note="per-op cost: one node recorded")
def add_small(m):
    rng = np.random.default_rng(SEED)
    a = m.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)
    b = m.tensor(rng.standard_normal(4).astype(np.float32), requires_grad=True)

    def step():
        return a + b

    return step


@case(
    "MLP 2-16-16-1 train step (tanh, MSE, batch 1, SGD)",
    note="zero grads, forward, backward, update under no_grad; raw tensors",
    setup_jax=_jax("jax_mlp_tiny"),
)
def mlp_tiny(m):
    from models import mlp_tiny_step

    return mlp_tiny_step(m)


def _register_training_steps() -> None:
    from models import JAX_STEPS, STEPS  # bench/models.py: the four training-step models

    for name, fn, note in STEPS:
        jax_setup = JAX_STEPS.get(fn.__name__)
        register(
            name, lambda fn=fn: fn(chainrule), lambda fn=fn: fn(torch), unit="ms", note=note,
            setup_jax=None if jax_setup is None else _jax(jax_setup),
        )  # fmt: skip


_register_training_steps()


def _register_monitor_overhead() -> None:
    from diagnostics import monitor_overhead_step  # bench/diagnostics.py

    register(
        "MLP step with chainrule.debug.Monitor (torch column: chainrule without it)",
        lambda: monitor_overhead_step(chainrule, True),
        lambda: monitor_overhead_step(chainrule, False),
        unit="ms",
        note="the Monitor's overhead: ratio - 1 (goal: under 10%)",
        jit=False,
    )


_register_monitor_overhead()


# ------------------------------------------------------------------------------- timing
def _time_batch(step, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def _calibrate(step, pass_s: float) -> int:
    """Iterations per pass so that one pass lasts about pass_s."""
    n = 1
    while True:
        t = _time_batch(step, n) * n
        if t >= pass_s / 4 or n >= 1 << 20:
            return max(1, int(n * pass_s / max(t, 1e-9)))
        n *= 4


def _value(out) -> np.ndarray:
    if hasattr(out, "detach"):
        out = out.detach()
    return np.asarray(out.numpy() if hasattr(out, "numpy") else out, dtype=np.float64)


def check_same_work(c: Case, first: dict) -> None:
    """The first step of each side must give the same result: the same work is timed."""
    ours = first["chainrule"]
    for side, theirs in first.items():
        if ours.shape != theirs.shape or not np.allclose(ours, theirs, rtol=1e-4, atol=1e-6):
            raise SystemExit(
                f"{c.name}: chainrule and {side} disagree on the first step: {ours} vs {theirs}"
            )


def _worker(conn, case_index: int, side: str, threads: int) -> None:
    """One side of a case, in a process of its own: it builds the step, then runs what the
    parent asks (warmup, calibrate, time a pass) until told to stop."""
    torch.set_num_threads(threads)
    c = CASES[case_index]
    step = c.setup(side)
    conn.send(_value(step()))
    while True:
        cmd, arg = conn.recv()
        if cmd == "warmup":
            t_end = time.perf_counter() + arg
            while time.perf_counter() < t_end:
                step()
            conn.send(None)
        elif cmd == "calibrate":
            conn.send(_calibrate(step, arg))
        elif cmd == "time":
            # one untimed step first: after the settle pause, the first step pays for waking
            # idle cores and threads (a GPT step measured 110 ms, then 65-69 ms), which a
            # training loop running step after step does not
            step()
            conn.send(_time_batch(step, arg))
        else:
            return


def measure(
    c: Case, passes: int, pass_s: float, warmup_s: float, threads: int, with_jax: bool
) -> dict:
    """Each side runs in its own process (in one process, OpenBLAS's and torch's worker
    threads spin on the same cores and slow each other); passes alternate between the
    processes, the order rotating and reversing, so that all see the same machine over time."""
    ctx = multiprocessing.get_context("spawn")
    sides = c.sides(with_jax)
    conns, procs = {}, []
    for side in sides:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, CASES.index(c), side, threads))
        proc.start()
        conns[side] = parent
        procs.append(proc)
    try:
        check_same_work(c, {k: conns[k].recv() for k in sides})

        def ask(side, cmd, arg):
            conns[side].send((cmd, arg))
            return conns[side].recv()

        for side in sides:
            ask(side, "warmup", warmup_s)
        ns = {k: ask(k, "calibrate", pass_s) for k in sides}
        times: dict[str, list[float]] = {k: [] for k in sides}
        for p in range(passes):
            order = sides[p // 2 % len(sides) :] + sides[: p // 2 % len(sides)]
            for k in order if p % 2 == 0 else order[::-1]:  # neither always goes first
                # let the other processes' BLAS/OpenMP threads stop spinning (they busy-wait
                # for a while after their last job and would take cores from this pass)
                time.sleep(SETTLE_S)
                times[k].append(ask(k, "time", ns[k]))
    finally:
        for side in sides:
            conns[side].send(("stop", None))
        for proc in procs:
            proc.join(timeout=30)
    return {k: statistics.median(v) for k, v in times.items()} | {"n": ns, "passes": passes}


def jax_version() -> str | None:
    """JAX's version where it is installed (it is optional), else None."""
    try:
        from importlib.metadata import version

        return version("jax")
    except Exception:
        return None


# --------------------------------------------------------------------------- environment
def blas_threads() -> tuple[int, str]:
    """The number of threads NumPy's BLAS uses, and how we know."""
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            if info.get("user_api") == "blas":
                return int(info["num_threads"]), f"threadpoolctl ({info.get('internal_api')})"
    except ImportError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var]), var
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return n or 1, "usable cores (the OpenBLAS default)"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def numpy_blas() -> str:
    try:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info.get('name')} {info.get('version')}"
    except Exception:
        return "unknown"


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return out.stdout.strip() + (" + uncommitted changes" if dirty else "")
    except OSError:
        return "unknown"


def environment(threads: int, how: str) -> dict:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {os.cpu_count()} logical cores ({platform.machine()})",
        "os": platform.platform(),
        "python": platform.python_version(),
        "numpy": f"{np.__version__} (BLAS: {numpy_blas()})",
        "torch": torch.__version__,
        "chainrule": f"{chainrule.__version__} (git {git_commit()})",
        "threads": f"{threads} for NumPy's BLAS and torch (from {how}); JAX uses its own pool",
        "jax": jax_version() or "not installed (no JAX column)",
    }


# ------------------------------------------------------------------------------- report
def _fmt(seconds: float, unit: str) -> str:
    scale = {"s": 1.0, "ms": 1e3, "µs": 1e6, "ns": 1e9}[unit]
    v = seconds * scale
    return f"{v:.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"


def _ratio(r: dict, a: str, b: str) -> str:
    if a not in r or b not in r:
        return ""
    return f"{r[a] / r[b]:.2f}x"


def report(env: dict, rows: list[tuple[Case, dict]], args, plot: str | None) -> str:
    lines = [
        "# chainrule vs PyTorch (and JAX)",
        "",
        "Written by `python bench/run.py"
        + (" --quick" if args.quick else "")
        + "`: each side in a process of its own, passes interleaved, median of "
        f"{args.passes} passes of ~{args.pass_ms:g} ms each after {args.warmup_ms:g} ms of "
        "warmup. Time per iteration. *jit* is `chainrule.jit(step)` (traced once, then "
        "replayed); *JAX* is `jax.jit` of the same step, where the case has a JAX version. "
        "Ratios below 1: chainrule is faster.",
        "",
    ]
    lines += [f"- **{k}**: {v}" for k, v in env.items()]
    lines += [
        "",
        "| case | chainrule | chainrule jit | torch | JAX jit | eager / torch | jit / torch "
        "| jit / JAX |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c, r in rows:
        cells = [_fmt(r[k], c.unit) if k in r else "" for k in SIDES]
        ratios = [
            _ratio(r, "chainrule", "torch"),
            _ratio(r, "jit", "torch"),
            _ratio(r, "jit", "jax"),
        ]
        lines.append(f"| {c.name} | " + " | ".join(cells + ratios) + " |")
    if plot:
        lines += ["", f"![time per step relative to torch eager]({plot})"]
    notes = [f"- {c.name}: {c.note}" for c, _ in rows if c.note]
    if notes:
        lines += ["", "Notes:", *notes]
    return "\n".join(lines) + "\n"


def write_plot(rows: list[tuple[Case, dict]], path: Path) -> str | None:
    """A bar chart of each side's time relative to torch eager (log scale); None without
    matplotlib."""
    try:
        import matplotlib
        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [(c, r) for c, r in rows if c.jit]  # the others' "torch" column is not torch
    if not rows:
        return None
    labels = [c.name.split(" (")[0] for c, _ in rows]
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.55 * len(rows)))
    width = 0.27
    for j, (side, label) in enumerate(
        [("chainrule", "chainrule eager"), ("jit", "chainrule jit"), ("jax", "JAX jit")]
    ):
        ys = [i + (j - 1) * width for i in range(len(rows))]
        vals = [r[side] / r["torch"] if side in r else 0 for _, r in rows]
        ax.barh(ys, vals, height=width, label=label)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_xscale("log")
    fmt = matplotlib.ticker.FormatStrFormatter("%gx")
    ax.xaxis.set_major_formatter(fmt)
    ax.xaxis.set_minor_formatter(fmt)
    ax.tick_params(axis="x", which="minor", labelsize=7)
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("time per step / torch eager (log scale; left of 1 = faster than torch)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path.name


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer, shorter passes")
    ap.add_argument("--only", default="", help="run the cases whose name contains this")
    ap.add_argument("--passes", type=int, default=None, help="timed passes per framework")
    ap.add_argument("--pass-ms", type=float, default=None, help="length of one pass")
    ap.add_argument("--warmup-ms", type=float, default=None, help="warmup per framework")
    ap.add_argument("--out", type=Path, default=RESULTS, help="where to write the table")
    ap.add_argument("--no-jax", action="store_true", help="skip the JAX column")
    args = ap.parse_args(argv)
    if args.passes is None:
        args.passes = 5 if args.quick else 21
    if args.pass_ms is None:
        args.pass_ms = 20.0 if args.quick else 100.0
    if args.warmup_ms is None:
        args.warmup_ms = 50.0 if args.quick else 500.0

    threads, how = blas_threads()
    torch.set_num_threads(threads)
    env = environment(threads, how)
    with_jax = not args.no_jax and jax_version() is not None

    rows = []
    for c in CASES:
        if args.only.lower() not in c.name.lower():
            continue
        r = measure(c, args.passes, args.pass_ms / 1e3, args.warmup_ms / 1e3, threads, with_jax)
        rows.append((c, r))
        print(
            f"{c.name}: " + ", ".join(f"{k} {_fmt(r[k], c.unit)}" for k in SIDES if k in r),
            file=sys.stderr,
        )
    plot = write_plot(rows, args.out.with_name("results.png")) if rows else None
    text = report(env, rows, args, plot)
    if args.out.exists():  # hand-written notes below the marker survive a new run
        old = args.out.read_text()
        if NOTES_MARKER in old:
            text += "\n" + NOTES_MARKER + old.split(NOTES_MARKER, 1)[1]
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
