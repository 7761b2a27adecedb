"""The entry points a trace patches for its duration: each records what it does in the
program (or refuses, naming the user's line) and otherwise behaves as the original."""

from __future__ import annotations

import functools
import sys
import types

import numpy as np

from ..autograd import engine
from ..tensor import Tensor
from . import _fused

# SGD, Adam and AdamW steps over one flat array per parameter group (see _fused.py)
FUSE_OPTIMIZERS = True

_VALUE_EXITS = {
    "item": ".item()",
    "tolist": ".tolist()",
    "numpy": ".numpy()",
    "__array__": "numpy.asarray()",
    "__float__": "float()",
    "__int__": "int()",
    "__index__": "an index",
    "__bool__": "a branch on a tensor value (bool())",
    "__complex__": "complex()",
}


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__")


class _EntryPoints:
    """The tracer's wrappers of the functions and methods it patches while tracing."""

    def _value_exit(self, name, orig):
        tracer = self
        label = _VALUE_EXITS[name]

        def wrapper(t, *a, **k):
            if not tracer.paused and tracer._dynamic(t):
                tracer.refuse(
                    f"{label} reads the value of a tensor computed in the step; a traced "
                    "program cannot depend on tensor values (return the tensor and read it "
                    "after the call)"
                )
            return orig(t, *a, **k)

        return wrapper

    def _whole_call(self, orig, kind):
        """optimizer.step() / zero_grad(): replayed by calling the same method."""
        tracer = self

        @functools.wraps(orig)
        def wrapper(obj, *a, **k):
            if tracer.paused:
                return orig(obj, *a, **k)
            if kind == "step" and (a or k):
                tracer.refuse("optimizer.step(closure) (a closure re-runs the model)")
            parts = [tracer.const(v) for v in a] + [f"{n}={tracer.const(v)}" for n, v in k.items()]
            call = f"{tracer.obj(obj, 'O')}.{orig.__name__}({', '.join(parts)})"
            tracer.stateful = True
            where = engine.user_frame()
            out = tracer.untraced(orig, obj, *a, **k)
            fused = _fused.plan(obj, where) if kind == "step" and FUSE_OPTIMIZERS else None
            tracer.emit(call if fused is None else f"{tracer.obj(fused, 'FS')}()")
            return out

        return wrapper

    def _live_scale(self, orig):
        """GradScaler.scale: its scale is a Python number that update() changes; read it live."""
        tracer = self

        @functools.wraps(orig)
        def wrapper(scaler, outputs):
            if tracer.paused:
                return orig(scaler, outputs)
            scale = scaler.__dict__.get("_scale")
            tracer.live[id(scale)] = f"{tracer.obj(scaler, 'O')}._scale"
            tracer.keep.append(scale)
            try:
                return orig(scaler, outputs)
            finally:
                tracer.live.pop(id(scale), None)

        return wrapper

    def _fast_inplace(self, orig):
        tracer = self

        def wrapper(x, other, ufunc, alpha, op):
            if tracer.paused:
                return orig(x, other, ufunc, alpha, op)
            target = tracer.tensor(x, write=True)
            o = tracer.tensor(other) if isinstance(other, Tensor) else tracer.const(other)
            done = tracer.untraced(orig, x, other, ufunc, alpha, op)
            if done:
                if alpha != 1:
                    o = f"{o} * {tracer.const(alpha)}"
                tracer.emit(f"{tracer.obj(ufunc)}({target}, {o}, out={target})")
                tracer._bump(x, op)
            return done

        return wrapper

    def _commit_inplace(self, orig):
        tracer = self

        def wrapper(x, out, op):
            if tracer.paused:
                return orig(x, out, op)
            target = tracer.tensor(x, write=True)
            o = tracer.tensor(out)
            if x._base is not None and engine._grad_enabled and out.requires_grad:
                tracer.refuse(f"the in-place op {op} on a view of a tensor that needs grad")
            r = tracer.untraced(orig, x, out, op)
            tracer.emit(f"{target}[...] = {o}")
            tracer._bump(x, op)
            return r

        return wrapper

    def untraced(self, fn, *a, **kw):
        """fn(*a, **kw) with recording paused: its inner ops are not traced (the caller writes
        the one line that replays the whole call)."""
        self.paused += 1
        try:
            return fn(*a, **kw)
        finally:
            self.paused -= 1

    def replayed_call(self, fn, arg, a, kw):
        """fn(*a, **kw) run untraced, and a line ``h<k> = fn(...)`` that calls it again at
        replay, each argument written by arg(); returns (the result, its name h<k>)."""
        parts = [arg(v) for v in a] + [f"{n}={arg(v)}" for n, v in kw.items()]
        out = self.untraced(fn, *a, **kw)
        h = f"h{next(self.counter)}"
        self.emit(f"{h} = {self.obj(fn)}({', '.join(parts)})")
        return out, h

    def _bump(self, x, op):
        self.stateful = True
        if any(x is e for e in self.externals) or id(x) in self.inputs:
            where = self.obj(engine.user_frame(), "W")
            self.emit(f"v = {self.ref(x)}._vc")
            self.emit(f"v.value += 1; v.op = {op!r}; v.where = {where}")

    def _dropout(self, orig):
        tracer = self

        def wrapper(x, p, training, inplace, feature, name):
            if tracer.paused or not training or p == 0.0 or x.numel() == 0:
                return orig(x, p, training, inplace, feature, name)
            if inplace:
                tracer.refuse(f"{name}(inplace=True) (use inplace=False under jit)")
            xe = tracer.tensor(x)
            y = tracer.untraced(orig, x, p, training, inplace, feature, name)
            k = next(tracer.counter)
            f = tracer.obj(orig)
            rest = tracer.const((p, training, False, feature, name))
            need = x.requires_grad
            tracer.emit(
                f"x{k}, v{k} = _replay_dropout({f}, {xe}, {need}, {engine._grad_enabled}, {rest})"
            )
            if y.grad_fn is not None:
                tracer.nodes[y.grad_fn] = (k, f"x{k}")
            tracer._define(y._data, f"v{k}")
            return y

        return wrapper

    def _helper(self, orig):
        """A private helper that turns tensors into raw arrays for an op (cross_entropy's
        target indices…): replayed by calling it again on the step's current arrays."""
        tracer = self

        def arg(a):
            if isinstance(a, Tensor):
                e = tracer.tensor(a)
                return f"_as_tensor({e}, {a.requires_grad})"
            return tracer.const(a)

        @functools.wraps(orig)
        def wrapper(*a, **kw):
            if tracer.paused:
                return orig(*a, **kw)
            out, h = tracer.replayed_call(orig, arg, a, kw)
            outs = out if type(out) is tuple else (out,)
            for j, o in enumerate(outs):
                expr = f"{h}[{j}]" if type(out) is tuple else h
                if isinstance(o, Tensor):
                    if id(o._data) not in tracer.src:
                        tracer._define(o._data, expr + "._data")
                elif _is_array(o) and id(o) not in tracer.src:
                    tracer._define(o, expr)
            return out

        return wrapper

    def _whole_fn(self, orig):
        """A function that changes state from live values (clip_grad_norm_): replayed by
        calling it again with the same tensors (read live) and arguments."""
        tracer = self

        def arg(v):
            if isinstance(v, Tensor):
                if id(v._data) in tracer.src and tracer._dynamic(v) and v.grad_fn is not None:
                    tracer.refuse(f"{orig.__name__}() on a tensor computed in the step")
                return tracer.ref(v)
            if type(v) in (list, tuple):
                return "[" + ", ".join(arg(o) for o in v) + "]"
            return tracer.const(v)

        @functools.wraps(orig)
        def wrapper(*a, **kw):
            if tracer.paused:
                return orig(*a, **kw)
            a = [list(v) if isinstance(v, types.GeneratorType) else v for v in a]
            if isinstance(a[0], Tensor):
                a[0] = [a[0]]
            out, h = tracer.replayed_call(orig, arg, a, kw)
            tracer.stateful = True
            if isinstance(out, Tensor):
                tracer._define(out._data, f"{h}._data")
            return out

        return wrapper

    def _rng(self, orig):
        tracer = self

        class Spy:
            def __init__(self, g):
                self._g = g

            def __getattr__(self, name):
                attr = getattr(self._g, name)
                if callable(attr) and not name.startswith("_") and not tracer.paused:
                    tracer.refuse(
                        f"a random draw ({name}) outside dropout; its numbers would be fixed "
                        "at trace time (draw them outside the step and pass them in)"
                    )
                return attr

        def wrapper(generator):
            return Spy(orig(generator))

        return wrapper

    def _set_grad(self, prop):
        tracer = self

        def setter(t, value):
            if not tracer.paused:
                if value is not None:
                    tracer.refuse("assigning a tensor to .grad (use zero_grad() or .grad = None)")
                tracer.emit(f"{tracer.ref(t)}._grad = None")
            prop.fset(t, value)

        return property(prop.fget, setter, prop.fdel, prop.__doc__)

    def _backward(self, orig_backward):
        tracer = self

        def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False,
                     grad_variables=None, inputs=None):  # fmt: skip
            if tracer.paused:
                return orig_backward(tensors, grad_tensors, retain_graph, create_graph,
                                     grad_variables, inputs)  # fmt: skip
            if create_graph:
                tracer.refuse("backward(create_graph=True)")
            if inputs is not None:
                tracer.refuse("backward(inputs=...)")
            from ..autograd import _as_list, _root_grads

            if grad_variables is not None:
                grad_tensors = grad_variables
            outputs = _as_list(tensors)
            given = _as_list(grad_tensors)
            grads = _root_grads(outputs, given, False)
            exprs = [None] * len(outputs)
            for k, g in enumerate(given):
                if g is not None:
                    if not isinstance(g, Tensor):
                        tracer.refuse("backward(gradient=...) with a value that is not a Tensor")
                    exprs[k] = tracer.tensor(g)
            tracer.walk(outputs, grads, exprs, bool(retain_graph))

        return backward

    def _grad_refused(self, orig):
        tracer = self

        def grad(*a, **k):
            if not tracer.paused:
                tracer.refuse("autograd.grad (only .backward() is traced)")
            return orig(*a, **k)

        return grad

    def _bump_refused(self, orig):
        tracer = self

        def bump(v, op):
            if not tracer.paused:
                tracer.stateful = True  # the write has happened
                tracer.refuse(
                    f"the in-place write {op} (not replayable: jit replays only ops, "
                    "in-place arithmetic, optimizer steps and zero_grad)"
                )
            return orig(v, op)

        return bump

    def _make(self, orig):
        made = self.made
        made_data = self.made_data
        keep = self.keep
        tracer = self
        pkg = engine._PACKAGE_DIR
        apply_code = engine._apply_arrays.__code__

        def make(data, grad_fn=None, output_nr=0):
            t = orig(data, grad_fn, output_nr)
            made.add(id(t))
            made_data.setdefault(id(data), t)
            keep.append(t)
            if grad_fn is None and not tracer.paused and id(data) not in tracer.src:
                tracer._taint(t, sys._getframe(1), pkg, apply_code)
            return t

        return staticmethod(make)

    def _taint(self, t, f, pkg, apply_code):
        """A new array made outside apply: a factory's constant, unless the chainrule function
        that made it (up to the first public one) holds a tensor of the step's values: then it
        was computed from them (a cast, an index op) and must not be baked in."""
        while f is not None and f.f_code.co_filename.startswith(pkg):
            if f.f_code is apply_code:
                return
            for v in f.f_locals.values():
                if isinstance(v, Tensor) and v is not t and v._data is t._data:
                    self.tensor(v)  # an alias (detach, .data): the same array, read live
                    return
            for v in f.f_locals.values():
                if isinstance(v, Tensor) and v is not t and self._dynamic(v):
                    self.tainted[id(t)] = (f.f_code.co_name, engine.user_frame())
                    return
            if not f.f_code.co_name.startswith("_"):
                return
            f = f.f_back
