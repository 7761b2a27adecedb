"""Diagnostics no other framework has: chainrule names why training goes wrong.

- ``Monitor(model, optimizer)``: per-layer gradient norms every step, update ratios and dead
  and saturated units every 10th; alerts for vanishing/exploding gradients, dead ReLUs,
  saturation, a bad learning rate, a forgotten ``zero_grad``, frozen parameters that move, leaks.
- ``why_no_grad(loss, model)``: where each parameter's path to the loss was cut.
- ``detect_anomaly(path=...)``: the first NaN/Inf, forward or backward, with its cause and a
  replay bundle (``replay(path)``).
- ``memory_report(loss)``, ``check_leaks()``: memory held for backward; graphs kept too long.
- ``draw_graph(loss, "graph.svg")``, ``explain(loss, wrt=w)``: the graph and the chain rule.
"""

from . import _recorder  # noqa: F401  (installs the engine recorder)
from .anomaly import AnomalyError, detect_anomaly, replay
from .explain import explain
from .graph import draw_graph, to_dot
from .memory import MemoryReport, check_leaks, memory_report
from .monitor import Alert, Monitor, TrainingHealthWarning
from .why import Finding, Report, recording, why_no_grad

__all__ = [
    "Alert",
    "AnomalyError",
    "Finding",
    "MemoryReport",
    "Monitor",
    "Report",
    "TrainingHealthWarning",
    "check_leaks",
    "detect_anomaly",
    "draw_graph",
    "explain",
    "memory_report",
    "recording",
    "replay",
    "to_dot",
    "why_no_grad",
]
