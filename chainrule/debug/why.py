"""``why_no_grad``: which parameters get no gradient from a loss, and where their path was cut."""

from __future__ import annotations

from dataclasses import dataclass

from ..tensor import Tensor
from ._recorder import RECORDER, Cut, walk

# ops whose backward can turn a non-zero gradient into exactly zero
_ZEROING = ("Relu", "Threshold", "Clamp", "Hardtanh", "Where", "MaskedFill", "Relu6", "Floor")


@dataclass
class Finding:
    """One parameter (or the loss itself) without a gradient, and why."""

    name: str
    reason: str  # "detach", "no_grad", "nondiff", "item", "requires_grad", "unused", "zero",
    # "loss"
    message: str
    where: str | None = None  # "file:line" of the cut, when known

    def __str__(self):
        return f"{self.name}: {self.message}"


class Report(list):
    """A list of Findings that prints as one line per finding."""

    def __str__(self):
        if not self:
            return "every parameter gets a gradient from the loss"
        return "\n".join(str(f) for f in self)

    def reasons(self) -> dict:
        return {f.name: f.reason for f in self}


class recording:
    """Context manager: record where paths are cut (detach, no_grad, non-differentiable ops,
    ``.item()``) so that ``why_no_grad`` can name the file and line. Costs time: for debugging.

    Example:
        >>> import chainrule as torch, chainrule.debug as debug
        >>> w = torch.ones(2, requires_grad=True)
        >>> with debug.recording():
        ...     loss = (w.detach() * 2).sum()
        >>> "detach()" in str(debug.why_no_grad(loss, {"w": w}))
        True
    """

    def __enter__(self):
        RECORDER.use("trace", True)
        return self

    def __exit__(self, *exc):
        RECORDER.use("trace", False)
        return False


def _named(model) -> list[tuple[str, Tensor]]:
    if model is None:
        return []
    if hasattr(model, "named_parameters"):
        return list(model.named_parameters())
    if isinstance(model, dict):
        return list(model.items())
    return [(f"param[{i}]", p) for i, p in enumerate(model)]


_ORDER = {"detach": 0, "no_grad": 1, "nondiff": 2, "item": 3}  # the most telling cut first


def _cut_message(cuts: list[Cut]) -> str:
    cuts = sorted(dict.fromkeys(cuts), key=lambda c: _ORDER.get(c.kind, 9))
    return "; ".join(c.describe() for c in cuts)


def _loss_finding(loss: Tensor, params, escapes) -> Finding:
    cuts = list(RECORDER.cuts_of(loss))
    if cuts:
        first = cuts[0]
        return Finding(
            "loss",
            first.kind,
            "the loss does not require grad: its path to the parameters was " + _cut_message(cuts),
            str(first.where),
        )
    if escapes:
        return Finding(
            "loss",
            "item",
            "the loss does not require grad: " + _cut_message(escapes),
            str(escapes[0].where),
        )
    if params and not any(p.requires_grad for _, p in params):
        return Finding(
            "loss",
            "requires_grad",
            "the loss does not require grad: no parameter has requires_grad=True (frozen "
            "with requires_grad_(False)?)",
        )
    return Finding(
        "loss",
        "loss",
        "the loss does not require grad and has no grad_fn: it was computed from tensors that "
        "do not require grad (inside no_grad, through detach(), .item() or .numpy(), or from "
        "data only). Run the forward pass inside chainrule.debug.recording() (or under a "
        "Monitor) to have the line named.",
    )


def why_no_grad(loss: Tensor, model=None, *, check_zero: bool = True) -> Report:
    """Name every parameter of `model` that gets no gradient (or an all-zero one) from `loss`,
    and where its path to the loss was cut.

    Causes named: ``detach()`` at file:line, a ``no_grad`` block at file:line, a
    non-differentiable op (argmax, a comparison, an integer cast), a value that left the graph
    through ``.item()``, ``requires_grad=False``, a parameter never used in the forward pass,
    and a gradient that arrives but is exactly zero. File and line are known for what ran inside
    ``chainrule.debug.recording()`` or under a ``Monitor`` (its first step is recorded).

    Args:
        loss: the scalar (or any tensor) the parameters should get gradients from.
        model: a Module, a dict ``{name: tensor}`` or a list of tensors.
        check_zero: also report parameters whose ``.grad`` is all zero after a backward.

    Returns:
        A ``Report`` (a list of ``Finding``; ``str()`` gives one line each). Empty when all is
        well.
    """
    params = _named(model)
    report = Report()
    escapes = list(RECORDER.escapes)
    if not isinstance(loss, Tensor):
        report.append(
            Finding(
                "loss",
                "item",
                f"the loss is a {type(loss).__name__}, not a Tensor: it left the graph "
                "(through .item(), float() or .numpy()); keep the loss a Tensor until backward",
            )
        )
        return report
    if not loss.requires_grad:
        report.append(_loss_finding(loss, params, escapes))
    reached: dict[int, list] = {}  # leaf id -> the ops right above it
    cuts: list[Cut] = []
    zeroing = set()
    if loss.grad_fn is not None:
        for node in walk([loss.grad_fn]):
            cuts.extend(node.__dict__.get("_cuts", ()))
            if type(node).__name__.startswith(_ZEROING):
                zeroing.add(node.name())
            for e in node.next:
                if e is not None and isinstance(e[0], Tensor):
                    reached.setdefault(id(e[0]), []).append(node)
    elif loss.requires_grad:
        reached[id(loss)] = []
    cuts.extend(RECORDER.cuts_of(loss))
    for name, p in params:
        if id(p) in reached:
            if check_zero and p._grad is not None and not p._grad._data.any():
                why = ""
                if zeroing:
                    why = (
                        f" (the graph passes through {', '.join(sorted(zeroing))}: units that "
                        "are never active pass no gradient)"
                    )
                report.append(
                    Finding(name, "zero", "reaches the loss but its gradient is exactly zero" + why)
                )
            continue
        if not p.requires_grad:
            report.append(
                Finding(
                    name,
                    "requires_grad",
                    "has requires_grad=False (frozen), so it gets no gradient; call "
                    "p.requires_grad_(True) if it should learn",
                )
            )
            continue
        mine = [c for c in cuts if id(p) in c.leaves]
        mine += [c for c in escapes if id(p) in c.leaves and c not in mine]
        if mine:
            first = sorted(mine, key=lambda c: _ORDER.get(c.kind, 9))[0]
            message = "its path to the loss was " + _cut_message(mine)
            report.append(Finding(name, first.kind, message, str(first.where)))
            continue
        report.append(
            Finding(
                name,
                "unused",
                "is never used in computing the loss (its module is not called in forward, or "
                "its output is dropped)",
            )
        )
    return report
