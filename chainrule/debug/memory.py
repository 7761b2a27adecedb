"""Memory held for backward, per module and per op; and the leak sanitizer's report."""

from __future__ import annotations

import gc
import warnings
from dataclasses import dataclass, field

from ..autograd.engine import _FREED
from ..tensor import Tensor
from ._recorder import RECORDER, walk


def _nbytes(v) -> int:
    if isinstance(v, Tensor):
        v = v._data
    n = getattr(v, "nbytes", None)
    return int(n) if n is not None and hasattr(v, "shape") else 0


def _held(node) -> list:
    """The arrays a node keeps for its backward: saved values and array attributes."""
    out = []
    saved = node.saved
    if saved is not _FREED:
        out.extend(v._data if isinstance(v, Tensor) else v for v in saved)
    for k, v in node.__dict__.items():
        if not k.startswith("_") and _nbytes(v):
            out.append(v._data if isinstance(v, Tensor) else v)
    return [a for a in out if _nbytes(a)]


def module_of_nodes(root, model=None) -> dict:
    """node -> module path: the recorded one (under a Monitor or ``recording``), else the
    module whose parameter the node consumes, else that of the nearest input node."""
    owner = {}
    if model is not None:
        for name, p in model.named_parameters():
            owner[id(p)] = name.rsplit(".", 1)[0] if "." in name else "(root)"
    nodes = list(walk([root]))
    where = {}
    for node in nodes:
        m = node.__dict__.get("_module")
        if m is None and "_step" in node.__dict__:  # recorded while no module was running
            continue
        if m is None:
            for e in node.next:
                if e is not None and isinstance(e[0], Tensor) and id(e[0]) in owner:
                    m = owner[id(e[0])]
                    break
        if m is not None:
            where[node] = m
    for node in reversed(nodes):  # walk() yields consumers first: inputs settle first here
        if node in where or "_step" in node.__dict__:
            continue
        for e in node.next:
            if e is not None and not isinstance(e[0], Tensor) and e[0] in where:
                where[node] = where[e[0]]
                break
    return where


@dataclass
class MemoryReport:
    """Bytes held for backward: ``total``, ``by_module`` and ``by_op`` (lists of
    ``(name, bytes, count)``, largest first)."""

    total: int
    by_module: list = field(default_factory=list)
    by_op: list = field(default_factory=list)

    def __str__(self):
        lines = [f"saved for backward: {_fmt(self.total)}"]
        for title, rows in (("per module", self.by_module), ("per op", self.by_op)):
            lines.append(f"  {title}:")
            for name, n, count in rows:
                lines.append(f"    {name:<32}{_fmt(n):>12}  ({count} arrays)")
        return "\n".join(lines)


def _fmt(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def memory_report(loss: Tensor, model=None, echo=None) -> MemoryReport:
    """The bytes held for backward by the graph of `loss`, per module and per op, largest
    first; each array counted once (where several ops save the same one, the first found).

    Args:
        loss: the tensor whose graph to measure (before ``backward``, which frees it).
        model: names modules by the parameters each op consumes (exact module paths for
            graphs recorded under a Monitor or ``chainrule.debug.recording``).
        echo: a function to print the report with (e.g. ``print``).

    Example:
        >>> import chainrule as torch, chainrule.nn as nn, chainrule.debug as debug
        >>> model = nn.Sequential(nn.Linear(100, 50), nn.ReLU(), nn.Linear(50, 1))
        >>> r = debug.memory_report(model(torch.randn(32, 100)).sum(), model)
        >>> r.by_module[0][0], r.total > 0
        ('0', True)
    """
    if loss.grad_fn is None:
        return MemoryReport(0)
    modules = module_of_nodes(loss.grad_fn, model)
    seen: set = set()
    per_op: dict = {}
    per_mod: dict = {}
    total = 0
    for node in walk([loss.grad_fn]):
        for a in _held(node):
            if id(a) in seen:
                continue
            seen.add(id(a))
            n = _nbytes(a)
            total += n
            op = node.name()
            mod = modules.get(node, "(outside modules)")
            b, c = per_op.get(op, (0, 0))
            per_op[op] = (b + n, c + 1)
            b, c = per_mod.get(mod, (0, 0))
            per_mod[mod] = (b + n, c + 1)

    def rows(d):
        return sorted(((k, b, c) for k, (b, c) in d.items()), key=lambda r: -r[1])

    report = MemoryReport(total, rows(per_mod), rows(per_op))
    if echo is not None:
        echo(str(report))
    return report


def check_leaks(echo=None) -> list[str]:
    """The leak sanitizer's findings: graph history carried from one training step into the
    next (the op and its file:line, e.g. ``total_loss += loss``), and live tensors whose graph
    is two or more optimizer steps old (with the line that made them). Steps and lines are
    recorded while a ``Monitor`` (with ``leaks=True``, the default) is attached.

    Returns:
        One message per finding (printed with `echo` when given); empty when nothing leaks.
    """
    found = []
    for c in RECORDER.carries:
        if c["node"]() is None:
            continue
        found.append(
            f"{c['op']} at {c['where']} joins the graph of an earlier training step to a later "
            "one: a tensor with graph history survives the optimizer step (a running total "
            "such as `total_loss += loss`?). Accumulate loss.item() or loss.detach() instead"
        )
    now = RECORDER.step
    counts: dict = {}
    with warnings.catch_warnings():  # isinstance on other libraries' lazy objects may warn
        warnings.simplefilter("ignore")
        live = [o for o in gc.get_objects() if isinstance(o, Tensor)]
    for o in live:
        if o.grad_fn is None:
            continue
        step = o.grad_fn.__dict__.get("_step")
        if step is None or step >= now - 1:  # the current step's graph may still be alive
            continue
        site = o.grad_fn.__dict__.get("_site")
        key = (o.grad_fn.name(), f" at {site}" if site else "", step)
        counts[key] = counts.get(key, 0) + 1
    for (op, site, step), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        found.append(
            f"{n} live tensor(s) made by {op}{site} in step {step} still carry graph "
            f"history {now - step} steps later (their graph stays in memory): .detach() what "
            "you keep across steps"
        )
    if echo is not None:
        for line in found:
            echo(line)
    return found
