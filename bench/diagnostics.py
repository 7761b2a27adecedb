"""The cost of chainrule.debug.Monitor on the MLP training step (goal: under 10%).

`monitor_overhead_step(m, monitored)` builds the MLP 784-512-512-10 step of bench/models.py
(batch 128, cross-entropy, SGD momentum) with chainrule module `m`, watched by a Monitor or not,
and returns the zero-argument step. To compare the two in run.py's side-by-side table::

    register("MLP step with chainrule.debug.Monitor (vs without)",
             lambda: monitor_overhead_step(chainrule, True),
             lambda: monitor_overhead_step(chainrule, False), unit="ms")

(the "torch" column is then chainrule without the Monitor). Run alone, this file times both,
step by step interleaved, and prints the overhead:

    .venv/bin/python bench/diagnostics.py
    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/diagnostics.py --cpu   # on a loaded machine
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import SEED, _mlp, _model  # noqa: E402

import chainrule  # noqa: E402
import chainrule.debug  # noqa: E402


def monitor_overhead_step(m, monitored: bool, every: int = 10):
    """The MLP train step, with a `chainrule.debug.Monitor` attached when `monitored`."""
    rng = np.random.default_rng(SEED)
    x = m.tensor(rng.standard_normal((128, 784)).astype(np.float32))
    y = m.tensor(rng.integers(0, 10, 128))
    model = _model(m, _mlp)
    opt = m.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    mon = m.debug.Monitor(model, opt, every=every, warn=False) if monitored else None

    def step():
        opt.zero_grad(set_to_none=True)
        loss = m.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    step.monitor = mon  # keeps it attached as long as the step lives
    return step


def measure(blocks: int = 100, every: int = 10, clock=time.perf_counter) -> dict:
    """Seconds per step without and with the Monitor, and the overhead.

    The two steps alternate one by one, each first half of the time; a block is `every` steps
    of each (at least 10), so that it holds one step where the Monitor samples its costlier
    statistics. The overhead is the median over blocks of (monitored time / plain time) - 1:
    load that comes and goes on a shared machine hits both halves of a block alike. A Monitor
    is process-wide in part (it wraps Tensor.backward and turns the engine's node recorder on
    for every tensor), so the plain steps run inside ``monitor.paused()``: without it, the
    plain step would pay part of the Monitor's cost and hide it. `clock`: ``time.process_time``
    counts this process's CPU time only, which other load disturbs less than wall time (with
    OPENBLAS_NUM_THREADS=1, so that BLAS threads waiting for work are not counted).
    """
    n = -(-max(every, 10) // every) * every
    plain = monitor_overhead_step(chainrule, False)
    watched = monitor_overhead_step(chainrule, True, every)
    mon = watched.monitor
    plain_times, watched_times, ratios = [], [], []
    for b in range(blocks + 2):  # the first two blocks warm up
        tp = tw = 0.0
        for i in range(n):
            if i % 2:  # each goes first half of the time
                t0 = clock()
                watched()
                tw += clock() - t0
            with mon.paused():
                t0 = clock()
                plain()
                tp += clock() - t0
            if i % 2 == 0:
                t0 = clock()
                watched()
                tw += clock() - t0
        if b >= 2:
            plain_times.append(tp / n)
            watched_times.append(tw / n)
            ratios.append(tw / tp)
    mon.close()
    a, b = statistics.median(plain_times), statistics.median(watched_times)
    q = statistics.quantiles(ratios, n=4)
    return {
        "plain_s": a,
        "monitored_s": b,
        "overhead": statistics.median(ratios) - 1,
        "overhead_iqr": (q[0] - 1, q[2] - 1),
    }


if __name__ == "__main__":
    cpu = "--cpu" in sys.argv  # CPU time instead of wall time (see measure)
    for every in (10, 1):
        r = measure(every=every, clock=time.process_time if cpu else time.perf_counter)
        lo, hi = r["overhead_iqr"]
        print(
            f"MLP 784-512-512-10 step: {r['plain_s'] * 1e3:.2f} ms without, "
            f"{r['monitored_s'] * 1e3:.2f} ms with Monitor(every={every}): overhead "
            f"{r['overhead']:+.1%} (median of {'CPU' if cpu else 'wall'}-time ratios over "
            f"interleaved blocks; quartiles {lo:+.1%} .. {hi:+.1%})"
        )
