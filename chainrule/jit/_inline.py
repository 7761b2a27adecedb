"""Ops that the replay writes as NumPy expressions instead of calls to their forward and
backward.

A replayed op costs its arithmetic plus a few µs of Python: the call into the Op class, the
context's saved-tensor and needs-input-grad bookkeeping, and clearing the context afterwards.
For the ops whose forward and backward are one NumPy expression on real arrays (add, sub, mul,
tanh, a 2-D matmul) the program writes that expression itself: the same NumPy calls on the same
arrays in the same order, so the bits are the eager ones (the jit tests compare bitwise), and
no context object exists. Anything else (complex or half-precision arrays, batched matmuls)
goes through the op as before.
"""

from __future__ import annotations

import re

import numpy as np

from ..ops.elementwise import Add, Mul, Sub, Tanh
from ..ops.linalg import MatMul

# forward(a, b) as written by each op; backward as (its gradient per input) for inputs 0, 1
# where {g} is the incoming gradient, {0} {1} the inputs and {y} the output
_RULES = {
    Add: ("{0} + {1}", ("{g}", "{g}")),
    Sub: ("{0} - {1}", ("{g}", "-{g}")),
    Mul: ("{0} * {1}", ("{g} * {1}", "{g} * {0}")),
    MatMul: ("{0} @ {1}", ("{g} @ {1}.T", "{0}.T @ {g}")),
    Tanh: ("np.tanh({0})", "{g} * (1 - {y} * {y})"),
}
_NAME = re.compile(r"[A-Za-z_]\w*")


def _real_array(a) -> bool:
    return type(a) is np.ndarray and a.dtype.kind == "f" and a.dtype.itemsize >= 4


def forward(cls, args) -> str | None:
    """The forward template for an op on these raw arguments, or None to call the op."""
    rule = _RULES.get(cls)
    if rule is None:
        return None
    arrays = [a for a in args if not isinstance(a, float | int) or isinstance(a, bool)]
    if not arrays or not all(_real_array(a) for a in arrays):
        return None
    if cls is MatMul and not (len(arrays) == 2 and arrays[0].ndim == arrays[1].ndim == 2):
        return None
    return rule[0]


def needs_binding(cls, expr: str) -> bool:
    """Must this input expression be bound to a name, to be read again in backward? (Where
    backward reads the inputs: a name is stable, ``E3._data`` reads a tensor that could be
    rebound in between.)"""
    return cls in (Mul, MatMul) and _NAME.fullmatch(expr) is None


def backward(cls, need, ins, y: str, g: str) -> str:
    """The backward expression: a tuple of gradients per input (None where none is needed, as
    the op itself returns), or one gradient for a one-input op."""
    rule = _RULES[cls][1]
    if isinstance(rule, str):
        return rule.format(*ins, g=g, y=y)
    parts = []
    for i, r in enumerate(rule):
        # add and sub return both gradients whatever is needed; the others None where unneeded
        unneeded = cls in (Mul, MatMul) and not need[i]
        parts.append("None" if unneeded else r.format(*ins, g=g, y=y))
    return f"({parts[0]}, {parts[1]})"
