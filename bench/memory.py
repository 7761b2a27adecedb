"""Peak memory of one training step, chainrule beside PyTorch, for every bench workload.

Usage:
    python bench/memory.py               # all workloads; writes a section into bench/RESULTS.md
    python bench/memory.py --only gpt    # workloads whose name contains "gpt" (print only)
    python bench/memory.py --no-write    # print only

Every (workload, framework) runs in a fresh process of its own, which builds the model, its
optimizer and one fixed batch (the builders of bench/models.py: the same weights and data in
both frameworks, checked through the first loss), then measures two peaks:

- **allocated** (the compared number): the peak of the framework's array allocations during a
  warm step (after two steps) above what was allocated before it: activations, gradients and
  temporaries. chainrule: tracemalloc, which NumPy reports its array buffers to. torch: the
  profiler's memory timeline (``profile_memory=True``: each tensor's creation and destruction
  on the CPU allocator, in order), summed the same way. Both count bytes the framework asked
  for, not what the C allocator keeps around them.
- **RSS**: the process's resident-set high-water mark (``VmHWM``, reset through
  ``/proc/self/clear_refs``) during a step minus the resident set once model and batch are
  built: the larger of the first step (which also creates the optimizer state) and a warm one.
  It sees everything, but also what an allocator keeps for reuse: chainrule asks glibc to keep
  freed arrays (so memory freed while building is reused and not counted), torch does not.

The GPT at d_model 512 / context 256 / batch 8 runs with and without activation
checkpointing (``checkpoint`` around each block, ``use_reentrant=False`` in both frameworks).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import multiprocessing
import os
import platform
import re
import sys
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # measure the working tree, not an installed copy
sys.path.insert(0, str(ROOT / "bench"))

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
NOTES_MARKER = "<!-- notes: kept when bench/run.py rewrites the table above -->"
START, END = "<!-- memory:start -->", "<!-- memory:end -->"


# ----------------------------------------------------------------------------- workloads
BIG = {"vocab": 65, "context": 256, "d_model": 512, "heads": 8, "blocks": 4, "batch": 8}


def big_gpt_step(m, ckpt: bool):
    import models

    sizes = {k: v for k, v in BIG.items() if k != "batch"}
    return models.gpt_step(m, batch=BIG["batch"], checkpoint=ckpt, **sizes)


def workloads() -> list[tuple[str, object]]:
    import models

    big = "GPT d512/ctx256/batch8, {} blocks".format(BIG["blocks"])
    out = [("MLP 2-16-16-1 (tiny)", models.mlp_tiny_step)]
    out += [(name.split(" train step")[0], fn) for name, fn, _ in models.STEPS]
    out += [(big, lambda m: big_gpt_step(m, False))]
    out += [(big + ", checkpointed", lambda m: big_gpt_step(m, True))]
    return out


# ------------------------------------------------------------------------------ measuring
def _status() -> dict:
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(k + r":\s+(\d+)", text).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _rss_step(step) -> tuple[int, float]:
    """(VmHWM during one step - VmRSS before it, the loss)."""
    gc.collect()
    before = _status()["VmRSS"]
    if not _reset_hwm():
        raise SystemExit("memory.py needs Linux's /proc/self/clear_refs to reset the RSS peak")
    loss = step()
    return _status()["VmHWM"] - before, loss


def _traced_numpy(step) -> int:
    """tracemalloc's peak during one step above what was traced before it."""
    tracemalloc.start()
    resting = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1] - resting
    tracemalloc.stop()
    return peak


def _traced_torch(step) -> int:
    """The peak of torch's CPU allocations during one step above what existed before it, from
    the profiler's memory timeline (each tensor's creation and destruction, in order)."""
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import Action

    with profile(
        activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True
    ) as prof:
        step()
    live = peak = 0
    for _, action, _, size in prof._memory_profile().timeline:
        if action == Action.CREATE:
            live += size
        elif action == Action.DESTROY:
            live -= size
        peak = max(peak, live)
    return peak


def _value(loss) -> float:
    loss = loss.detach()
    return float(loss.numpy() if hasattr(loss, "numpy") else loss)


def _worker(conn, index: int, side: str, threads: int) -> None:
    if side == "torch":
        import torch as m
        import torch.utils.checkpoint  # noqa: F401  (m.utils.checkpoint)

        m.set_num_threads(threads)
    else:
        import chainrule as m
        import chainrule.utils.checkpoint  # noqa: F401
    name, fn = workloads()[index]
    gc.collect()
    base = _status()["VmRSS"]
    step = fn(m)
    gc.collect()
    built = _status()["VmRSS"]
    first, loss = _rss_step(step)
    for _ in range(2):
        step()
    steady, _ = _rss_step(step)
    gc.collect()
    traced = _traced_torch(step) if side == "torch" else _traced_numpy(step)
    conn.send(
        {
            "model": built - base,
            "first": first,
            "steady": steady,
            "peak": max(first, steady),
            "traced": traced,
            "loss": _value(loss),
        }
    )


def measure(index: int, threads: int) -> dict:
    ctx = multiprocessing.get_context("spawn")
    out = {}
    for side in ("chainrule", "torch"):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, index, side, threads))
        proc.start()
        out[side] = parent.recv()
        proc.join(timeout=60)
    a, b = out["chainrule"]["loss"], out["torch"]["loss"]
    if not np.isclose(a, b, rtol=1e-3, atol=1e-5):
        raise SystemExit(f"{workloads()[index][0]}: first losses differ: {a} vs {b}")
    return out


# -------------------------------------------------------------------------------- report
def _mb(n) -> str:
    if n is None:
        return ""
    return f"{n / 2**10:.0f} KB" if abs(n) < 2**20 else f"{n / 2**20:.1f} MB"


def report(rows: list[tuple[str, dict]], threads: int) -> str:
    from run import cpu_model

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "## Memory per training step (python bench/memory.py)",
        "",
        f"{date}; {cpu_model()}, {os.cpu_count()} logical cores; Linux {platform.release()}; "
        f"{threads} BLAS/torch threads; each framework in a fresh process per workload. "
        "**allocated**: the peak of the framework's own array allocations during a warm step "
        "above those alive before it (activations, gradients, temporaries): chainrule through "
        "tracemalloc (NumPy reports its buffers to it), torch through its profiler's memory "
        "timeline (profile_memory=True); the ratio compares these. **RSS**: the resident-set "
        "high-water mark during a step (reset through /proc/self/clear_refs) minus the resident "
        "set after building model and batch, the larger of the first and a warm step; it also "
        "counts what the C allocator keeps (chainrule keeps freed arrays for reuse, so memory "
        "freed while building is reused uncounted).",
        "",
        "| workload | chainrule allocated | torch allocated | ratio | chainrule RSS | torch RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in rows:
        c, t = r["chainrule"], r["torch"]
        ratio = f"{c['traced'] / t['traced']:.2f}x"
        if max(c["traced"], t["traced"]) < 64 << 10:  # Python objects count on our side only
            ratio = "(too small)"
        lines.append(
            f"| {name} | {_mb(c['traced'])} | {_mb(t['traced'])} | {ratio} | {_mb(c['peak'])} | "
            f"{_mb(t['peak'])} |"
        )
    by_name = dict(rows)
    plain = [n for n in by_name if n.startswith("GPT d512") and not n.endswith("checkpointed")]
    if plain and plain[0] + ", checkpointed" in by_name:
        p, q = by_name[plain[0]], by_name[plain[0] + ", checkpointed"]
        import models

        import chainrule

        sizes = {k: v for k, v in BIG.items() if k != "batch"}
        grads = 4 * sum(t.numel() for t in models._gpt(chainrule, **sizes).parameters())
        c0, c1 = p["chainrule"]["traced"] - grads, q["chainrule"]["traced"] - grads
        t0, t1 = p["torch"]["traced"] - grads, q["torch"]["traced"] - grads
        lines += [
            "",
            "Activation checkpointing on the d512 GPT (checkpoint() around each block), "
            "allocated peak per step: chainrule "
            f"{_mb(p['chainrule']['traced'])} -> {_mb(q['chainrule']['traced'])} "
            f"({q['chainrule']['traced'] / p['chainrule']['traced']:.2f}x), torch "
            f"{_mb(p['torch']['traced'])} -> {_mb(q['torch']['traced'])} "
            f"({q['torch']['traced'] / p['torch']['traced']:.2f}x). Both peaks include the "
            f"parameters' gradients ({_mb(grads)}, built during backward); the activations "
            f"and temporaries alone: chainrule {_mb(c0)} -> {_mb(c1)} ({c1 / c0:.2f}x), torch "
            f"{_mb(t0)} -> {_mb(t1)} ({t1 / t0:.2f}x).",
        ]
    return "\n".join(lines) + "\n"


def write_section(text: str, path: Path = RESULTS) -> None:
    """Put `text` between the memory markers, below the notes marker (kept by bench/run.py)."""
    old = path.read_text() if path.exists() else ""
    block = f"{START}\n{text}{END}\n"
    if START in old and END in old:
        head, rest = old.split(START, 1)
        new = head + block + "\n" + rest.split(END, 1)[1].lstrip("\n")
    elif NOTES_MARKER in old:
        head, tail = old.split(NOTES_MARKER, 1)
        new = head + NOTES_MARKER + "\n\n" + block + tail
    else:
        new = old + ("\n" if old else "") + NOTES_MARKER + "\n\n" + block
    path.write_text(new)


def main(argv=None) -> int:
    from run import blas_threads

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--only", default="", help="the workloads whose name contains this (print only)"
    )
    ap.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    threads, _ = blas_threads()
    rows = []
    for i, (name, _) in enumerate(workloads()):
        if args.only.lower() in name.lower():
            rows.append((name, measure(i, threads)))
            c, t = rows[-1][1]["chainrule"], rows[-1][1]["torch"]
            print(
                f"{name}: allocated chainrule {_mb(c['traced'])}, torch {_mb(t['traced'])}",
                file=sys.stderr,
            )
    text = report(rows, threads)
    if not args.no_write and not args.only:  # a partial table would replace the whole one
        write_section(text, args.out)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
