"""The tracer: runs the step once with the engine's hooks pointing at it, names where every
array comes from, and writes the program."""

from __future__ import annotations

import importlib
import itertools
import sys
import threading
import types

import numpy as np

from ..autograd import engine
from ..tensor import Tensor
from . import _inline
from ._backward import _BackwardMixin
from ._entry import _VALUE_EXITS, _EntryPoints, _is_array
from ._program import (
    _RETRACE,
    JitError,
    _as_tensor,
    _bump,
    _deliver,
    _flatten,
    _make_ctx,
    _Program,
    _replay_dropout,
    _with_dels,
)

TRACING: list = []  # the tracer running now: a jitted function called inside it runs inline

# private helpers of the ops that compute raw arrays from tensors' values outside any op: each
# is replayed as one call (see _Tracer._helper)
_HELPERS = [
    ("chainrule.ops.loss", "_class_targets"),
    ("chainrule.ops.attention", "_masks"),
    # non-differentiable ops that make their result with Tensor._make from input values
    ("chainrule.ops.elementwise", "eq"),
    ("chainrule.ops.elementwise", "ne"),
    ("chainrule.ops.elementwise", "lt"),
    ("chainrule.ops.elementwise", "le"),
    ("chainrule.ops.elementwise", "gt"),
    ("chainrule.ops.elementwise", "ge"),
    ("chainrule.ops.reduce", "argmax"),
    ("chainrule.ops.reduce", "argmin"),
]


# functions that change state (gradients) from live values: each is replayed as one call
_WHOLE_CALLS = [
    ("chainrule.nn.utils.clip_grad", "clip_grad_norm_"),
    ("chainrule.nn.utils.clip_grad", "clip_grad_value_"),
]


# ----------------------------------------------------------------------------- the tracer
_Version = engine._Version


def _reachable(fn, args, kwargs):
    """Modules and tensors the step can see (arguments, closure cells, globals it names, a bound
    self, the modules' parameters and buffers). The modules' training flags are part of the
    signature; the tensors let an array passed raw into an op be read live from its owner."""
    from ..nn.modules.module import Module

    modules, tensors = [], {}
    seen = set()

    def add(obj, depth=0):
        if isinstance(obj, Tensor):
            tensors.setdefault(id(obj._data), obj)
        elif isinstance(obj, Module):
            for m in obj.modules():
                if id(m) not in seen:
                    seen.add(id(m))
                    modules.append(m)
                    for t in m.parameters(recurse=False):
                        add(t)
                    for t in m.buffers(recurse=False):
                        add(t)
        elif type(obj) in (list, tuple) and depth < 2:
            for o in obj:
                add(o, depth + 1)
        elif type(obj) is dict and depth < 2:
            for o in obj.values():
                add(o, depth + 1)

    for a in args:
        add(a)
    for a in kwargs.values():
        add(a)
    f = fn
    if isinstance(f, types.MethodType):
        add(f.__self__)
        f = f.__func__
    if isinstance(f, Module):
        add(f)
        f = type(f).forward
    code = getattr(f, "__code__", None)
    numbers = []  # (owner, name, value) of the Python numbers the step's own code reads
    for cell in getattr(f, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        add(value)
        if type(value) in (bool, int, float):
            numbers.append((cell, "cell_contents", value))
    if code is not None:
        g = getattr(f, "__globals__", {})
        for name in code.co_names:
            if name in g:
                add(g[name])
                if type(g[name]) in (bool, int, float):
                    numbers.append((g, name, g[name]))
    return modules, tensors, numbers


class _Tracer(_EntryPoints, _BackwardMixin, engine._DebugHooks):
    """Runs the step once with the engine's hooks pointing here, and writes the program."""

    def __init__(self, fn, args, kwargs):
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = getattr(fn, "__qualname__", type(fn).__name__)
        self.lines: list[str] = []
        self.scope: dict = {
            "Tensor": Tensor,
            "_make": Tensor._make,
            "_deliver": _deliver,
            "_bump": _bump,
            "_replay_dropout": _replay_dropout,
            "_as_tensor": _as_tensor,
            "RETRACE": _RETRACE,
            "np": np,
        }
        self.src: dict[int, str] = {}  # id(array) -> expression that gives it at replay
        self.keep: list = []  # keeps every array and tensor seen alive (ids stay unique)
        self.names: dict[int, str] = {}  # id(object) -> its name in the program's scope
        self.externals: list[Tensor] = []  # tensors from before the call, read live
        self.made: set[int] = set()  # ids of tensors created during the trace
        self.made_data: dict[int, Tensor] = {}  # id(array) -> the first tensor made on it
        self.tainted: dict[int, tuple] = {}  # id(tensor) -> (function, where): made from values
        self.nodes: dict = {}  # graph node -> index of its op record
        self.inline: dict = {}  # graph node -> input expressions, for ops written inline
        self.paused = 0  # inside a call that is replayed as a whole (optimizer.step…)
        self.counter = itertools.count()
        self.program: _Program | None = None
        self.owners: dict[int, Tensor] = {}  # id(array) -> a tensor the step can see
        self.inputs: dict[int, int] = {}  # id(input tensor) -> its position
        self.stateful = False  # an optimizer step or an in-place write already ran
        self.ran_backward = False
        self.thread = threading.get_ident()
        self.live: dict[int, str] = {}  # id(Python number) -> expression that reads it live

    # ------------------------------------------------------------------ naming
    def refuse(self, what: str, where=None):
        where = where or engine.user_frame()
        err = JitError(
            f"chainrule.jit cannot trace {self.name}: {what} at {where}. Run this step "
            "without jit, or move that part outside the jitted function."
        )
        err._stateful = self.stateful  # state was already changed: compile must not rerun it
        raise err

    def obj(self, value, prefix="K") -> str:
        """A name in the program's scope for `value` (a constant or a live object)."""
        name = self.names.get(id(value))
        if name is None:
            name = self.names[id(value)] = f"{prefix}{next(self.counter)}"
            self.scope[name] = value
            self.keep.append(value)
        return name

    def const(self, value) -> str:
        live = self.live.get(id(value))
        if live is not None and type(value) is float:
            return live
        if value is None or type(value) in (bool, int, str):
            return repr(value)
        if type(value) in (list, tuple):
            parts = [self.const(v) for v in value]
            if type(value) is tuple:
                return "(" + "".join(p + ", " for p in parts) + ")"
            return "[" + ", ".join(parts) + "]"
        if _is_array(value):
            e = self.src.get(id(value))
            if e is not None:
                return e
            owner = self.owners.get(id(value))
            if owner is None:
                owner = self.made_data.get(id(value))
            if owner is None:
                owner = _owner_in_frames(value, sys._getframe(1))
            if owner is not None and owner._data is value:  # t._data passed raw: read it live
                return self.tensor(owner)
            self.refuse(
                f"an array computed outside chainrule's ops ({value.dtype} {value.shape}) is "
                "passed into an op; its value would be fixed at trace time"
            )
        if isinstance(value, Tensor):
            return self.tensor(value)
        return self.obj(value)

    def tensor(self, t: Tensor, write: bool = False) -> str:
        """The expression for `t`'s array at replay."""
        d = t._data
        e = self.src.get(id(d))
        if e is not None:
            if write and e.startswith("C"):
                self.refuse("an in-place write into a tensor made inside the step")
            return e
        self.keep.append(d)
        if id(t) in self.tainted:
            fn, where = self.tainted[id(t)]
            self.refuse(
                f"{fn}() computed a tensor from the step's values outside the ops jit replays; "
                "its value would be fixed at trace time",
                where,
            )
        if id(t) in self.made:  # made inside the step outside any op: a factory's constant
            if write:
                self.refuse("an in-place write into a tensor made inside the step")
            name = self.obj(d, "C")
            self.src[id(d)] = name
            return name
        if t.grad_fn is not None:
            self.refuse(
                "a tensor computed before this call (it carries graph history into the step) "
                "is used; .detach() it at the end of the previous step"
            )
        name = self.obj(t, "E")
        self.externals.append(t)
        self.src[id(d)] = e = f"{name}._data"
        return e

    def emit(self, line: str) -> None:
        self.lines.append(line)

    # ------------------------------------------------------------------ engine hooks
    def recorded(self, node, args, out) -> None:
        if self.paused or threading.get_ident() != self.thread:  # other threads are not traced
            return
        self._op(type(node), node, args, out)

    def untracked(self, cls, args, out, need) -> None:
        if self.paused or threading.get_ident() != self.thread:
            return
        self._op(cls, None, args, out)

    def detached(self, source, out) -> None:
        pass

    def _op(self, cls, node, args, out):
        if self.in_backward:
            self.refuse(f"op {cls.__name__} ran inside backward (from a hook?)")
        if not cls.on_arrays:
            self.refuse(f"the custom autograd.Function {cls.__name__} (not supported yet)")
        k = next(self.counter)
        exprs = [self.tensor(a) if isinstance(a, Tensor) else self.const(a) for a in args]
        template = _inline.forward(cls, [a._data if isinstance(a, Tensor) else a for a in args])
        if template is not None and (node is None or node._out_meta is None):
            if node is not None:  # backward reads the inputs again: through stable names
                for i, e in enumerate(exprs):
                    if _inline.needs_binding(cls, e):
                        exprs[i] = f"x{next(self.counter)}"
                        self.emit(f"{exprs[i]} = {e}")
                self.nodes[node] = (k, None)
                self.inline[node] = exprs
            self.emit(f"v{k} = {template.format(*exprs)}")
            self._define(out._data, f"v{k}")
            return
        c = self.obj(cls, f"F{cls.__name__}_")
        if node is not None:
            edges = tuple(None if e is None else (None, e[1], e[2], e[3]) for e in node.next)
            ctx = self.obj(_make_ctx(cls, edges), "X")
            self.nodes[node] = (k, ctx)
        else:
            ctx = self.obj(engine._NullCtx(), "Z")
        call = f"{c}.forward({ctx}, {', '.join(exprs)})"
        self.emit(f"v{k} = {call}")
        if type(out) is tuple:
            for j, o in enumerate(out):
                if isinstance(o, Tensor):
                    self._define(o._data, f"v{k}[{j}]")
        else:
            self._define(out._data, f"v{k}")

    def _define(self, d, expr):
        self.keep.append(d)
        self.src[id(d)] = expr

    def ref(self, t: Tensor) -> str:
        """The expression for the Tensor object `t` itself (an input of this call, or live)."""
        i = self.inputs.get(id(t))
        return f"T[{i}]" if i is not None else self.obj(t, "E")

    def _dynamic(self, v) -> bool:
        """Does `v`'s value change from call to call (not a constant made in the step)?"""
        e = self.src.get(id(v._data))
        if e is not None:
            return not e.startswith("C")
        return id(v) not in self.made or id(v) in self.tainted

    # ------------------------------------------------------------------ running
    def run(self):
        """Run the step with every entry point patched; write the program; return the result."""
        from .. import autograd
        from ..amp import grad_scaler
        from ..nn.modules.module import Module
        from ..ops import _core, creation, elementwise, layers
        from ..optim.optimizer import Optimizer

        modules, self.owners, self.numbers = _reachable(self.fn, self.args, self.kwargs)
        for m in modules:
            hooks = (
                "_forward_pre_hooks",
                "_forward_hooks",
                "_backward_hooks",
                "_backward_pre_hooks",
            )
            if any(getattr(m, h, None) for h in hooks):
                self.refuse(
                    f"the module {type(m).__name__} has hooks, which run Python at every call "
                    "(a replay would skip them): remove them while the step is jitted; the "
                    "jitted step was called",
                )
        self.modes = [bool(m.training) for m in modules]  # the program assumes these
        inputs: list[Tensor] = []
        _flatten(self.args, inputs, [])
        _flatten(self.kwargs, inputs, [])
        for i, t in enumerate(inputs):
            self.inputs.setdefault(id(t), i)
            if id(t._data) not in self.src:
                self._define(t._data, f"a{i}")

        patches = []  # (owner, name, original)

        def patch(owner, name, new):
            patches.append((owner, name, owner.__dict__[name]))
            setattr(owner, name, new)

        def patch_everywhere(orig, new):
            """Every chainrule module's name for `orig`, and Tensor's methods bound to it."""
            owners = [Tensor] + [
                m
                for m in list(sys.modules.values())
                if getattr(m, "__name__", "").startswith("chainrule") and m.__dict__
            ]
            for owner in owners:
                for name, value in list(owner.__dict__.items()):
                    if value is orig:
                        patch(owner, name, new)

        prev_debug = engine._debug
        out = None
        TRACING.append(self)
        try:
            for name in _VALUE_EXITS:
                if name in Tensor.__dict__:
                    patch(Tensor, name, self._value_exit(name, Tensor.__dict__[name]))
            patch(Tensor, "_make", self._make(Tensor._make))
            patch(Tensor, "grad", self._set_grad(Tensor.__dict__["grad"]))
            for cls in _subclasses(Optimizer):
                for name, kind in (("step", "step"), ("zero_grad", "zero")):
                    if name in cls.__dict__:
                        patch(cls, name, self._whole_call(cls.__dict__[name], kind))
            for cls in _subclasses(Module):
                if "zero_grad" in cls.__dict__:
                    patch(cls, "zero_grad", self._whole_call(cls.__dict__["zero_grad"], "zero"))
            scaler = grad_scaler.GradScaler
            for name in ("step", "unscale_", "update"):
                if name in scaler.__dict__:
                    patch(scaler, name, self._whole_call(scaler.__dict__[name], "call"))
            if "scale" in scaler.__dict__:
                patch(scaler, "scale", self._live_scale(scaler.__dict__["scale"]))
            patch(autograd, "backward", self._backward(autograd.backward))
            patch(autograd, "grad", self._grad_refused(autograd.grad))
            patch(_Version, "bump", self._bump_refused(_Version.bump))
            patch_everywhere(
                elementwise._fast_inplace, self._fast_inplace(elementwise._fast_inplace)
            )
            patch_everywhere(_core.commit_inplace, self._commit_inplace(_core.commit_inplace))
            patch_everywhere(layers._dropout, self._dropout(layers._dropout))
            patch_everywhere(creation._gen, self._rng(creation._gen))
            for module, name in _HELPERS:
                orig = getattr(importlib.import_module(module), name)
                patch_everywhere(orig, self._helper(orig))
            for module, name in _WHOLE_CALLS:
                orig = getattr(importlib.import_module(module), name)
                patch_everywhere(orig, self._whole_fn(orig))
            engine._debug = self
            out = self.fn(*self.args, **self.kwargs)
            if engine._debug is not self:
                self.refuse("a debugging tool switched the engine's recorder during the step")
            engine._debug = prev_debug
            for m, mode in zip(modules, self.modes):
                if bool(m.training) != mode:  # the step calls train() or eval(): so does replay
                    self.emit(f"{self.obj(m, 'M')}.training = {bool(m.training)}")
            result = self._outputs(out, inputs)
        finally:
            TRACING.pop()
            engine._debug = prev_debug
            for owner, name, orig in reversed(patches):
                setattr(owner, name, orig)
        self._build(inputs, modules, result)
        return out

    def _outputs(self, out, inputs) -> str:
        """The expression that rebuilds the step's return value."""
        if isinstance(out, Tensor):
            for i, t in enumerate(inputs):
                if out is t:
                    return f"T[{i}]"
            if any(out is e for e in self.externals):
                return self.obj(out, "E")
            e = self.src.get(id(out._data))
            if e is None:
                if id(out) in self.made:
                    e = self.tensor(out)
                else:
                    return self.obj(out, "E")
            return f"_make({e})"
        if type(out) in (list, tuple):
            parts = [self._outputs(o, inputs) for o in out]
            if type(out) is tuple:
                return "(" + "".join(p + ", " for p in parts) + ")"
            return "[" + ", ".join(parts) + "]"
        if type(out) is dict:
            return (
                "{" + ", ".join(f"{k!r}: {self._outputs(v, inputs)}" for k, v in out.items()) + "}"
            )
        return self.const(out)

    def _build(self, inputs, modules, result):
        # guards: each live tensor's array is the one seen last time (then its shape and dtype
        # are too), it requires grad as it did, each module is in the same training mode; when
        # an array was replaced (p.data = …, model.to()), _guard checks shape and dtype
        fast, full, rebind = [], [], []
        for e in self.externals:
            name = self.names[id(e)]
            d = e._data
            seen = self.obj(d, "D")
            rebind.append(seen)
            fast.append(f"{name}._data is {seen}")
            g = f"{name}.requires_grad is {e.requires_grad}"
            fast.append(g)
            full.append(g)
            full.append(f"{name}._data.shape == {tuple(d.shape)!r}")
            full.append(f"{name}._data.dtype == {self.obj(d.dtype)}")
        for m, mode in zip(modules, self.modes):
            g = f"{self.obj(m, 'M')}.training is {mode}"
            fast.append(g)
            full.append(g)
        for owner, name, value in self.numbers:  # a closure's or a global's number: a constant
            if isinstance(owner, dict):  # of the program, so a new value traces again
                g = f"{self.obj(owner, 'G')}.get({name!r}) == {self.const(value)}"
            else:
                g = f"{self.obj(owner, 'L')}.cell_contents == {self.const(value)}"
            fast.append(g)
            full.append(g)
        body = []
        if rebind:
            body.append("def _guard():")
            body.append(f"    global {', '.join(rebind)}")
            body.append("    if not (" + "\n            and ".join(full) + "):")
            body.append("        return False")
            for e, seen in zip(self.externals, rebind):
                body.append(f"    {seen} = {self.names[id(e)]}._data")
            body.append("    return True")
            body.append("")
        params = ", ".join([f"a{i}" for i in range(len(inputs))] + ["T"])
        body.append(f"def _step({params}):")
        if fast:
            body.append("    if not (" + "\n            and ".join(fast) + "):")
            body.append("        if not _guard():" if rebind else "        if True:")
            body.append("            return RETRACE")
        body += ["    " + line for line in _with_dels(self.lines, result)]
        body.append(f"    return {result}")
        self.program = _Program("\n".join(body) + "\n", self.scope, self.name)


def _owner_in_frames(value, f):
    """A tensor whose array is `value`, held by the chainrule code that called the op (an
    embedding's indices passed raw): its array is then read live from it."""
    while f is not None and f.f_code.co_filename.startswith(engine._PACKAGE_DIR):
        for v in f.f_locals.values():
            if isinstance(v, Tensor) and v._data is value:
                return v
        f = f.f_back
    return None


def _subclasses(cls):
    out = [cls]
    k = 0
    while k < len(out):
        out.extend(c for c in out[k].__subclasses__() if c not in out)
        k += 1
    return out
