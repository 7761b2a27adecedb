"""The replayed program: the generated function, and the helpers its code calls."""

from __future__ import annotations

import re

from ..autograd import engine
from ..tensor import Tensor

_new = object.__new__
_RETRACE = object()  # a program's guard failed: trace again


class JitError(RuntimeError):
    """The step does something a traced program cannot replay faithfully."""


class _Program:
    """The generated function and what it needs."""

    def __init__(self, source: str, scope: dict, name: str):
        self.source = source
        code = compile(source, f"<chainrule.jit {name}>", "exec")
        exec(code, scope)
        self._run = scope["_step"]

    def run(self, tensors):
        return self._run(*[t._data for t in tensors], tensors)


def _deliver(t, g, handed):
    """A leaf receives its gradient as ``backward()`` delivers it: hooks, accumulation into
    ``.grad`` (in place where the engine would), post-accumulate hooks."""
    engine._deliver_leaf(t, g, None, None, False, False, handed)


def _bump(t, op, where):
    """An in-place write: bump the version counter without looking up the caller's frame."""
    v = t._vc
    v.value += 1
    v.op = op
    v.where = where


def _as_tensor(data, requires_grad):
    t = Tensor._make(data)
    t.requires_grad = requires_grad
    return t


def _make_ctx(cls, edges):
    """A node object reused by every replay of one op: forward saves into it, backward reads."""
    ctx = _new(cls)
    ctx.next = edges
    ctx.saved = ()
    ctx._saved_meta = None
    ctx._pre_hooks = None
    ctx._out_meta = None
    return ctx


def _replay_dropout(fn, x, need, grad_mode, args):
    """Dropout draws its mask outside its op: replay the whole function, as eager mode runs it."""
    xt = Tensor._make(x)
    xt.requires_grad = need
    prev = engine._grad_enabled
    engine._grad_enabled = grad_mode
    try:
        y = fn(xt, *args)
    finally:
        engine._grad_enabled = prev
    return y.grad_fn, y._data


_TEMP = re.compile(r"\b[vdshrx]\d+\b")


def _with_dels(lines: list[str], result: str) -> list[str]:
    """`lines` with each temporary deleted after its last use, as the engine frees activations
    and gradients during backward (the program would otherwise hold all until it returns)."""
    stmts: list[list[str]] = []  # compound statements (an if/else block is one)
    for line in lines:
        if stmts and (line.startswith(" ") or line.startswith("else:")):
            stmts[-1].append(line)
        else:
            stmts.append([line])
    last: dict[str, int] = {}
    for i, stmt in enumerate(stmts):
        for line in stmt:
            for name in _TEMP.findall(line):
                last[name] = i
    keep = set(_TEMP.findall(result))
    dead: dict[int, list[str]] = {}
    for name, i in last.items():
        if name not in keep:
            dead.setdefault(i, []).append(name)
    out = []
    for i, stmt in enumerate(stmts):
        out += stmt
        if i in dead:
            out.append(f"del {', '.join(sorted(dead[i]))}")
    return out


# ----------------------------------------------------------------------------- signatures
def _flatten(obj, tensors, key):
    """Collect the Tensors in `obj` (args, nested lists/tuples/dicts) and its signature."""
    if isinstance(obj, Tensor):
        d = obj._data
        tensors.append(obj)
        key.append((d.shape, d.dtype, d.__class__, obj.requires_grad, obj.grad_fn is None))
    elif type(obj) in (list, tuple):
        key.append((type(obj), len(obj)))
        for o in obj:
            _flatten(o, tensors, key)
    elif type(obj) is dict:
        key.append((dict, tuple(obj)))
        for o in obj.values():
            _flatten(o, tensors, key)
    elif obj is None or type(obj) in (bool, int, float, str, complex):
        key.append((type(obj), obj))
    else:
        key.append(id(obj))
