"""The cost of chainrule.debug.Monitor on the MLP training step (goal: under 10%).

`monitor_overhead_step(m, monitored)` builds the MLP 784-512-512-10 step of bench/models.py
(batch 128, cross-entropy, SGD momentum) with chainrule module `m`, watched by a Monitor or not,
and returns the zero-argument step. To compare the two in run.py's side-by-side table::

    register("MLP step with chainrule.debug.Monitor (vs without)",
             lambda: monitor_overhead_step(chainrule, True),
             lambda: monitor_overhead_step(chainrule, False), unit="ms")

(the "torch" column is then chainrule without the Monitor). Run alone, this file times both
with interleaved passes and prints the overhead:

    .venv/bin/python bench/diagnostics.py
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


def monitor_overhead_step(m, monitored: bool, every: int = 1):
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


def _time(step, n):
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def measure(passes: int = 20, n: int = 5, every: int = 1) -> dict:
    """Seconds per step without and with the Monitor (fastest of interleaved passes)."""
    plain = monitor_overhead_step(chainrule, False)
    for _ in range(5):
        plain()
    plain_times = []
    watched_times = []
    watched = monitor_overhead_step(chainrule, True, every)
    for _ in range(5):
        watched()
    for p in range(passes):
        order = [(plain, plain_times), (watched, watched_times)]
        for step, out in order if p % 2 == 0 else order[::-1]:
            out.append(_time(step, n))
    watched.monitor.close()
    # other load only ever adds time: the fastest pass of each is the cleanest comparison
    a, b = min(plain_times), min(watched_times)
    median = statistics.median(watched_times) / statistics.median(plain_times) - 1
    return {"plain_s": a, "monitored_s": b, "overhead": b / a - 1, "overhead_median": median}


if __name__ == "__main__":
    for every in (1, 10):
        r = measure(every=every)
        print(
            f"MLP 784-512-512-10 step: {r['plain_s'] * 1e3:.2f} ms without, "
            f"{r['monitored_s'] * 1e3:.2f} ms with Monitor(every={every}): "
            f"overhead {r['overhead']:+.1%} (fastest passes; medians {r['overhead_median']:+.1%})"
        )
