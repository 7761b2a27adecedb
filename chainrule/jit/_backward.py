"""The backward pass of a trace: the engine's walk, run on the real graph, writing the
program's backward as it goes (the same nodes in the same order, the same sums)."""

from __future__ import annotations

import numpy as np

from ..autograd import engine
from ..tensor import Tensor
from . import _inline
from ._program import _deliver


class _BackwardMixin:
    """The part of the tracer that records ``backward()``."""

    in_backward = False

    def walk(self, roots, root_grads, root_exprs, retain_graph):
        """The engine's ``_walk`` for ``backward()``, run on the real graph, emitting the
        program's backward as it goes: the same nodes in the same order, the same sums."""
        self.in_backward = True
        self.ran_backward = True
        self.paused += 1  # ops inside backward rules run on arrays; hooks are refused below
        try:
            self._walk(roots, root_grads, root_exprs, retain_graph)
        finally:
            self.paused -= 1
            self.in_backward = False

    def _walk(self, roots, root_grads, root_exprs, retain_graph):
        emit = self.emit
        buffers: dict = {}  # node -> [(value, expr) | None per output]; id(leaf) -> (value, expr)
        deps: dict = {}
        handed: set[int] = set()
        emit("H = set()")
        starts = []
        for t, g, given in zip(roots, root_grads, root_exprs):
            r = f"r{next(self.counter)}"
            if given is not None:
                emit(f"{r} = {given}")
            else:
                emit(f"{r} = np.ones({g.shape!r}, {self.obj(g.dtype)})")
            emit(f"H.add(id({r}))")
            handed.add(id(g))
            fn = t.grad_fn
            if fn is None:
                starts.append(None)
                self._deliver_leaf(t, g, r, handed)
                continue
            if fn not in self.nodes:
                self.refuse("backward() from a tensor whose graph was built outside the step")
            buf = buffers.get(fn)
            if buf is None:
                buf = buffers[fn] = [None] * _n_outputs(fn)
            nr = t._output_nr
            buf[nr] = self._acc(buf[nr], (g, r), fn, nr)
            starts.append(fn)

        stack = [fn for fn in set(starts) if fn is not None]
        seen = set(stack)
        while stack:
            node = stack.pop()
            for e in node.next:
                if e is None:
                    continue
                parent = e[0]
                if isinstance(parent, Tensor):
                    k = id(parent)
                    deps[k] = deps.get(k, 0) + 1
                    continue
                deps[parent] = deps.get(parent, 0) + 1
                if parent not in seen:
                    if parent not in self.nodes:
                        self.refuse(
                            "backward() reaches a graph built before this call (a tensor "
                            "carried over from the previous step: .detach() it)"
                        )
                    seen.add(parent)
                    stack.append(parent)

        ready = [fn for fn in seen if deps.get(fn, 0) == 0]
        while ready:
            node = ready.pop()
            k, ctx = self.nodes[node]
            gys = buffers.pop(node)
            if node._pre_hooks:
                self.refuse("a hook on a non-leaf tensor (register_hook / retain_grad)")
            if node.saved is engine._FREED:
                raise RuntimeError(engine._freed_message(node))
            cls = type(node)
            c = self.obj(cls, f"F{cls.__name__}_")
            if node in self.inline:  # written as NumPy expressions (jit/_inline.py)
                gxs = cls.backward(node, gys[0][0])
                need = tuple(e is not None for e in node.next)
                rule = _inline.backward(cls, need, self.inline[node], f"v{k}", gys[0][1])
                emit(f"b = {rule}")
            elif node._out_meta is None:
                gxs = cls.backward(node, gys[0][0])
                emit(f"b = {c}.backward({ctx}, {gys[0][1]})")
            else:
                vals, exprs = [], []
                materialize = node.__dict__.get("_materialize", True) is not False
                for j, gy in enumerate(gys):
                    meta = node._out_meta[j]
                    if gy is None and materialize and meta is not None and meta[1].kind in "fc":
                        z = np.zeros(meta[0], meta[1])
                        vals.append(z)
                        exprs.append(f"np.zeros({meta[0]!r}, {self.obj(meta[1])})")
                    elif gy is None:
                        vals.append(None)
                        exprs.append("None")
                    else:
                        vals.append(gy[0])
                        exprs.append(gy[1])
                gxs = cls.backward(node, *vals)
                emit(f"b = {c}.backward({ctx}, {', '.join(exprs)})")
            if not retain_graph:
                node.saved = engine._FREED
                node._saved_meta = None
                if ctx is not None:  # None: written inline, no context object
                    emit(f"{ctx}.saved = ()")
                    if ctx.startswith("X"):  # a node object reused by every call: drop what
                        emit(f"{ctx}.__dict__.clear()")  # forward stored on it, as eager does
            single = type(gxs) is not tuple
            if single:
                gxs = (gxs,)
            for i, (e, gx) in enumerate(zip(node.next, gxs)):
                if e is None:
                    continue
                parent, nr, shape, dtype = e
                gname = None
                if gx is not None:
                    gname = f"d{next(self.counter)}"
                    expr = "b" if single else f"b[{i}]"
                    if gx.shape != shape:
                        gx_shape = gx.shape  # a sum over axes of length 1 is a reshape
                        lead = gx.ndim - len(shape)
                        axes = tuple(range(lead)) + tuple(
                            j + lead
                            for j, n in enumerate(shape)
                            if n == 1 and gx.shape[j + lead] != 1
                        )
                        gx = engine._sum_to(gx, shape)
                        if axes and any(gx_shape[j] != 1 for j in axes):
                            expr = f"{expr}.sum(axis={axes!r}, keepdims=True)"
                        expr = f"{expr}.reshape({shape!r})"
                    if gx.dtype is not dtype and gx.dtype != dtype:
                        gx = gx.astype(dtype)
                        expr = f"{expr}.astype({self.obj(dtype)})"
                    emit(f"{gname} = {expr}")
                if isinstance(parent, Tensor):
                    kk = id(parent)
                    n = deps[kk] - 1
                    deps[kk] = n
                    if gx is not None:
                        if n == 0 and kk not in buffers:
                            self._deliver_leaf(parent, gx, gname, handed)
                            continue
                        prev = buffers.get(kk)
                        buffers[kk] = self._acc(prev, (gx, gname), parent, 0)
                    if n == 0 and kk in buffers:
                        v, ex = buffers.pop(kk)
                        self._deliver_leaf(parent, v, ex, handed)
                    continue
                n = deps[parent] - 1
                deps[parent] = n
                if gx is not None:
                    buf = buffers.get(parent)
                    if buf is None:
                        buf = buffers[parent] = [None] * _n_outputs(parent)
                    buf[nr] = self._acc(buf[nr], (gx, gname), parent, nr)
                if n == 0:
                    if parent in buffers:
                        ready.append(parent)
                    else:
                        self._skip(parent, deps, buffers, ready, handed)

    def _acc(self, prev, new, owner, nr):
        """buffer ← new, or buffer + new: the engine's sum, in its order."""
        if prev is None:
            return new
        name = f"s{next(self.counter)}"
        self.emit(f"{name} = {prev[1]} + {new[1]}")
        return (prev[0] + new[0], name)

    def _skip(self, node, deps, buffers, ready, handed):
        """The engine's ``_skip``, with leaf buffers holding (value, expression) pairs."""

        def deliver(leaf, item):
            self._deliver_leaf(leaf, item[0], item[1], handed)

        engine._skip(node, deps, buffers, ready, deliver, Tensor)

    def _deliver_leaf(self, t, g, expr, handed):
        if t._hooks or t._post_hooks:
            pass  # replayed: _deliver calls them at every step, as the engine does
        self.tensor(t)
        name = self.ref(t)
        # the usual case inline (no grad yet, no hooks): the engine's copy rule, where whether
        # the gradient is a view is fixed by the op that made it
        copy = f"{expr}.copy()" if getattr(g, "base", None) is not None else expr
        if copy is expr:
            copy = f"{expr}.copy() if id({expr}) in H else {expr}"
        self.emit(
            f"if {name}._grad is None and {name}._hooks is None and {name}._post_hooks is None:"
        )
        self.emit(f"    {expr} = {copy}")
        self.emit(f"    H.add(id({expr}))")
        self.emit(f"    {name}._grad = _make({expr})")
        self.emit("else:")
        self.emit(f"    _deliver({name}, {expr}, H)")
        _deliver(t, g, handed)
        if t._grad is not None:
            self._define(t._grad._data, f"{name}._grad._data")

    # ------------------------------------------------------------------ running


def _n_outputs(node) -> int:
    meta = node._out_meta
    return 1 if meta is None else len(meta)
