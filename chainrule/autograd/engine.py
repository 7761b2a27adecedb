"""The reverse-mode engine: graph nodes, grad modes and the backward walk.

A node is the ``ctx`` of the op that made a tensor: an instance of that op's ``Function`` class.
It holds its parents' nodes (``next``), what the op saved for backward, and nothing else: a node
never holds the tensors it consumed, so activations die as soon as nothing saved them.

``backward`` walks the nodes reachable from the roots in reverse topological order, without
recursion: it counts, for every node, how many consumers will send it a gradient, and runs a node
when all of them have. Each node runs once with the sum of its incoming gradients; the engine
reduces broadcast dimensions back to each input's shape in one place (``_sum_to``).
"""

from __future__ import annotations

import sys
import traceback
import warnings
from typing import Any

import numpy as np

from ..backend import array_module

# ------------------------------------------------------------------------------------ grad mode
_grad_enabled = True
_anomaly_enabled = False
# The diagnostics' recorder (chainrule.debug) while one records: anomaly mode, why_no_grad's
# tracing, the leak sanitizer. None otherwise: then an op pays one global check, nothing more.
_debug = None
_debug_users = 0  # diagnostics that asked for the recorder, besides anomaly mode
_PACKAGE_DIR = __file__.rsplit("/autograd/", 1)[0]


def is_grad_enabled() -> bool:
    return _grad_enabled


def _set_grad_enabled(mode: bool) -> bool:
    global _grad_enabled
    prev = _grad_enabled
    _grad_enabled = bool(mode)
    return prev


class _GradMode:
    """A context manager that is also a decorator."""

    __slots__ = ("_mode", "_prev")

    def __init__(self, mode: bool):
        self._mode = mode
        self._prev = True

    def __enter__(self):
        self._prev = _set_grad_enabled(self._mode)
        return self

    def __exit__(self, *exc):
        _set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        import functools

        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = _set_grad_enabled(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set_grad_enabled(prev)

        return wrapper


class no_grad(_GradMode):
    """Disable gradient recording: ops inside make no graph. Also a decorator.

    Example:
        >>> import chainrule as torch
        >>> w = torch.ones(2, requires_grad=True)
        >>> with torch.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    def __init__(self):
        super().__init__(False)


class enable_grad(_GradMode):
    """Enable gradient recording inside a ``no_grad`` block. Also a decorator."""

    def __init__(self):
        super().__init__(True)


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``; takes effect at once, and as a context manager it restores."""

    def __init__(self, mode: bool):
        super().__init__(mode)
        self._prev = _set_grad_enabled(mode)

    def __enter__(self):
        return self

    def __call__(self, fn):
        _set_grad_enabled(self._prev)  # as a decorator it changes the mode only inside fn
        return super().__call__(fn)


class inference_mode(_GradMode):
    """Like ``no_grad`` (chainrule has no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        super().__init__(not mode)


# ------------------------------------------------------------------------------ anomaly mode
class detect_anomaly:
    """Record where each op was created and raise at the first NaN/Inf gradient, naming that op.

    ``chainrule.debug.detect_anomaly`` is the fuller tool (forward checks, replay bundles).
    """

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        self._prev = False

    def __enter__(self):
        global _anomaly_enabled
        self._prev = _anomaly_enabled
        _anomaly_enabled = self.check_nan
        _update_debug()
        warnings.warn(
            "Anomaly detection is on: every op records its creation stack, which slows "
            "training. Use it for debugging only.",
            stacklevel=2,
        )
        return self

    def __exit__(self, *exc):
        global _anomaly_enabled
        _anomaly_enabled = self._prev
        _update_debug()
        return False


def set_detect_anomaly(mode: bool) -> None:
    global _anomaly_enabled
    _anomaly_enabled = bool(mode)
    _update_debug()


def is_anomaly_enabled() -> bool:
    return _anomaly_enabled


class _DebugHooks:
    """What a diagnostic sees of the engine. This basic one is anomaly mode without
    chainrule.debug (creation stacks, NaN checks in backward); chainrule.debug installs its own
    in ``_debug_hooks``."""

    def recorded(self, node, args, out) -> None:
        """An op recorded `node` for inputs `args` (as given to apply) and output(s) `out`."""
        if _anomaly_enabled:
            node.__dict__["_anomaly_trace"] = traceback.format_stack()[:-3]

    def untracked(self, cls, args, out, need: bool) -> None:
        """An op ran without recording; `need`: an input required grad (so grad mode was off)."""

    def detached(self, source, out) -> None:
        """``source.detach()`` returned `out` (``out is source`` for ``detach_``)."""

    def check_backward(self, node, gxs, gys) -> None:
        """Anomaly mode: `node`'s backward turned incoming gradients `gys` into `gxs`."""
        _check_anomaly(node, gxs)


_debug_hooks = _DebugHooks()


def _update_debug() -> None:
    """Turn the recorder on while anomaly mode or any diagnostic needs it."""
    global _debug
    _debug = _debug_hooks if (_anomaly_enabled or _debug_users) else None


# ------------------------------------------------------------------------------ version counters
class _Version:
    """A tensor's in-place modification counter, shared by a tensor and its views.

    It remembers the last in-place op and the user's file:line that ran it, so that the error for
    a modified saved tensor can name the culprit, not only the victim.
    """

    value = 0
    op = None
    where = None

    def bump(self, op: str) -> None:
        self.value += 1
        self.op = op
        self.where = user_frame()


class _Where(tuple):
    """(file, line), formatted only when an error message needs it."""

    __slots__ = ()

    def __str__(self):
        return f"{self[0]}:{self[1]}"


_INSIDE: dict = {}  # code object -> is it chainrule's own code?


def user_frame() -> _Where:
    """(file, line) of the innermost caller outside the chainrule package."""
    f = sys._getframe(1)
    inside = _INSIDE
    while f is not None:
        code = f.f_code
        known = inside.get(code)
        if known is None:
            known = inside[code] = code.co_filename.startswith(_PACKAGE_DIR)
        if not known:
            return _Where((code.co_filename, f.f_lineno))
        f = f.f_back
    return _Where(("<unknown>", 0))


_new = object.__new__
Tensor = None  # bound by chainrule.tensor once the Tensor class exists (no import cycle)


# ------------------------------------------------------------------------------------- Function
class _FreedType:
    def __repr__(self):
        return "<freed>"


_FREED = _FreedType()


class _NullCtx:
    """The ctx that forward sees when no graph is being recorded: saving is free. What an op
    stores on it (a dropout mask, indices) is cleared after the op, so that this shared object
    keeps nothing alive."""

    needs_input_grad = ()

    def save_for_backward(self, *values):
        pass

    def mark_non_differentiable(self, *values):
        pass

    def set_materialize_grads(self, value):
        pass

    def mark_dirty(self, *values):
        pass


_NULL_CTX = _NullCtx()
_NULL_DICT = _NULL_CTX.__dict__


class Function:
    """An op with a forward and a backward: subclass it, and call ``YourOp.apply(...)``.

    ``forward(ctx, *args)`` computes the output and saves what backward needs with
    ``ctx.save_for_backward``; ``backward(ctx, *grad_outputs)`` returns one gradient per forward
    argument (``None`` for arguments that are not tensors or need no gradient). The instance
    ``ctx`` is the graph node of the output.

    Subclasses written by users follow PyTorch: forward and backward receive Tensors. chainrule's
    own ops set ``on_arrays = True``: they receive and return raw arrays (NumPy or CuPy), which is
    what makes them cheap; under ``create_graph`` the engine hands them Tensors instead, and
    ``array_module`` returns a differentiable NumPy-like namespace, so the same backward rule
    builds a differentiable graph.

    Example:
        >>> import chainrule as torch
        >>> class Exp(torch.autograd.Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         y = x.exp()
        ...         ctx.save_for_backward(y)
        ...         return y
        ...     @staticmethod
        ...     def backward(ctx, gy):
        ...         y, = ctx.saved_tensors
        ...         return gy * y
        >>> x = torch.tensor([0.0, 1.0], requires_grad=True)
        >>> Exp.apply(x).sum().backward()
        >>> x.grad
        tensor([1.0000, 2.7183])
    """

    __slots__ = (
        "__dict__",
        "__weakref__",
        "next",  # per forward argument: (parent node or leaf, output_nr, shape, dtype) | None
        "saved",  # what forward saved; _FREED after a backward without retain_graph
        "_saved_meta",  # per saved value: None, or (kind, index, version, value at save)
        "_out_meta",  # per output (shape, dtype), kept for multi-output nodes only
        "_pre_hooks",  # {output_nr: [hook]} from Tensor.register_hook on non-leaf outputs
    )

    on_arrays = False
    is_view = False
    differentiable_twice = True  # False for ops whose backward is not itself differentiable

    # -- what forward may call on ctx
    def save_for_backward(self, *values) -> None:
        self.saved = values

    @property
    def saved_tensors(self) -> tuple:
        saved = self.saved
        if saved is _FREED:
            raise RuntimeError(_freed_message(self))
        meta = self._saved_meta
        if meta is not None:
            for m in meta:
                if m is not None and m[2].value != m[3]:
                    raise RuntimeError(_modified_message(self, m))
        if _create_graph_active:
            if self.on_arrays:
                return self._saved_as_tensors()
            if meta is not None and self.__dict__.get("_saved_out_nrs"):
                return tuple(
                    Tensor._make(s._data, self, m[1]) if m is not None and m[0] == "out" else s
                    for s, m in zip(saved, meta)
                )
        return saved

    @property
    def saved_values(self) -> tuple:
        """The saved values without version checks (for ops that save non-tensor state)."""
        return self.saved

    def mark_non_differentiable(self, *outputs) -> None:
        self.__dict__.setdefault("_non_differentiable", []).extend(id(o) for o in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        self.__dict__["_materialize"] = bool(value)

    def mark_dirty(self, *tensors) -> None:
        for t in tensors:
            t._vc.bump(type(self).__name__)

    @classmethod
    def apply(cls, *args, **kwargs):
        return _apply_tensors(cls, args, kwargs)

    @property
    def needs_input_grad(self) -> tuple:
        """Per forward argument: does it need a gradient?"""
        return tuple(e is not None for e in self.next)

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass must define forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must define backward(ctx, ...)")

    # -- for the engine and for debugging tools
    def name(self) -> str:
        return type(self).__name__ + "Backward"

    @property
    def next_functions(self) -> tuple:
        """PyTorch-style ``((node, output_nr), ...)`` for the inputs that need a gradient."""
        out = []
        for e in self.next:
            if e is None:
                out.append((None, 0))
            else:
                out.append((e[0], e[1]))
        return tuple(out)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    def _saved_as_tensors(self) -> tuple:
        """Saved arrays as Tensors linked into the graph, for differentiating a backward rule."""
        out = []
        for value, m in zip(self.saved, self._saved_meta or (None,) * len(self.saved)):
            if m is None:
                out.append(Tensor._make(value) if _is_array(value) else value)
            elif m[0] == "in":
                edge = self.next[m[1]]
                if edge is None:
                    out.append(Tensor._make(value))
                elif type(edge[0]) is Tensor or isinstance(edge[0], Tensor):
                    out.append(edge[0])
                else:
                    out.append(Tensor._make(value, edge[0], edge[1]))
            else:
                out.append(Tensor._make(value, self, m[1]))
        return tuple(out)


def once_differentiable(backward):
    """Mark a custom Function's backward as not differentiable (it runs without recording)."""
    import functools

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            out = backward(ctx, *grads)
        return out

    wrapper._once_differentiable = True
    return wrapper


def _is_array(x) -> bool:
    return hasattr(x, "__array_priority__") or isinstance(x, np.ndarray)


# ---------------------------------------------------------------------------------- apply paths
def _apply_arrays(cls, *args):
    """Run a built-in op: unwrap Tensors, run forward on arrays, wrap, link the node.

    This is the hottest function in chainrule: one pass over the arguments, no imports, no
    allocations beyond the node and the output.
    """
    xs = []
    edges = []
    need = False
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            xs.append(d)
            if a.requires_grad:
                need = True
                fn = a.grad_fn
                edges.append((a if fn is None else fn, a._output_nr, d.shape, d.dtype))
            else:
                edges.append(None)
        else:
            xs.append(a)
            edges.append(None)
    if not (need and _grad_enabled):
        y = cls.forward(_NULL_CTX, *xs)
        if _NULL_DICT:
            _NULL_DICT.clear()
        if type(y) is tuple:
            outs = tuple(Tensor._make(v) if _is_array(v) else v for v in y)
            if _debug is not None:
                _debug.untracked(cls, args, outs, need)
            return outs
        out = Tensor._make(y)
        if cls.is_view:
            _link_view(out, args[0])
        if _debug is not None:
            _debug.untracked(cls, args, out, need)
        return out

    ctx = _new(cls)
    ctx.next = edges
    ctx.saved = ()
    ctx._saved_meta = None
    ctx._pre_hooks = None
    ctx._out_meta = None
    y = cls.forward(ctx, *xs)
    if type(y) is tuple:
        outs = _wrap_multi(ctx, y)
        if ctx.saved:
            ctx._saved_meta = _saved_meta(ctx.saved, args, outs)
        if _debug is not None:
            _debug.recorded(ctx, args, outs)
        return outs
    out = Tensor._make(y, ctx, 0)
    if cls.is_view:
        _link_view(out, args[0])
    if ctx.saved:
        ctx._saved_meta = _saved_meta(ctx.saved, args, (out,))
    if _debug is not None:
        _debug.recorded(ctx, args, out)
    return out


def _wrap_multi(ctx, ys):
    non_diff = ctx.__dict__.get("_non_differentiable", ())
    outs = []
    meta = []
    for j, v in enumerate(ys):
        if not _is_array(v):
            outs.append(v)
            meta.append(None)
            continue
        meta.append((v.shape, v.dtype))
        if id(v) in non_diff or v.dtype.kind not in "fc":
            outs.append(Tensor._make(v))
        else:
            outs.append(Tensor._make(v, ctx, j))
    ctx._out_meta = meta
    return tuple(outs)


def _link_view(out, base) -> None:
    """A view shares its base's version counter: in-place on either is seen through both."""
    out._vc = base._vc
    out._base = base if base._base is None else base._base


def _saved_meta(saved, args, outputs):
    """For each saved array, which input or output tensor it is (for version checks and for
    rebuilding graph-connected Tensors under create_graph)."""
    meta = []
    any_meta = False
    for s in saved:
        m = None
        i = 0
        for a in args:
            if isinstance(a, Tensor) and a._data is s:
                v = a._ver or a._vc  # the slot, or the lazily made counter
                m = ("in", i, v, v.value)
                break
            i += 1
        else:
            for j, o in enumerate(outputs):
                if isinstance(o, Tensor) and o._data is s:
                    v = o._ver or o._vc
                    m = ("out", j, v, v.value)
                    break
        if m is not None:
            any_meta = True
        meta.append(m)
    return meta if any_meta else None


def _apply_tensors(cls, args, kwargs):
    """Run a user-defined Function with PyTorch's semantics: Tensors in, Tensors out."""
    need = _grad_enabled and any(isinstance(a, Tensor) and a.requires_grad for a in args)
    ctx = cls.__new__(cls)
    ctx.saved = ()
    ctx._saved_meta = None
    ctx._pre_hooks = None
    ctx._out_meta = None
    edges = []
    for a in args:
        if isinstance(a, Tensor) and a.requires_grad:
            fn = a.grad_fn
            edges.append((a if fn is None else fn, a._output_nr, a._data.shape, a._data.dtype))
        else:
            edges.append(None)
    ctx.next = edges
    with no_grad():
        result = cls.forward(ctx, *args, **kwargs)
    if not need:
        return result
    single = not isinstance(result, tuple)
    results = (result,) if single else result
    non_diff = ctx.__dict__.get("_non_differentiable", ())
    outs = []
    meta = []
    for j, r in enumerate(results):
        if not isinstance(r, Tensor):
            outs.append(r)
            meta.append(None)
            continue
        meta.append((r._data.shape, r._data.dtype))
        if id(r) in non_diff or r._data.dtype.kind not in "fc":
            outs.append(r if all(r is not a for a in args) else Tensor._make(r._data))
        else:
            outs.append(Tensor._make(r._data, ctx, j))
    ctx._out_meta = meta
    # saved tensors: inputs are kept as the caller's tensors (graph links intact); outputs are
    # replaced by their graph-connected twins, built when read so that no cycle is stored
    saved_meta = []
    for s in ctx.saved:
        m = None
        if isinstance(s, Tensor):
            for j, r in enumerate(results):
                if s is r and outs[j] is not r:
                    m = ("out", j, outs[j]._vc, outs[j]._version)
                    break
            else:
                m = ("tensor", 0, s._vc, s._version)
        saved_meta.append(m)
    ctx._saved_meta = saved_meta
    if any(m is not None and m[0] == "out" for m in saved_meta):
        ctx.saved = tuple(
            Tensor._make(s._data) if m is not None and m[0] == "out" else s
            for s, m in zip(ctx.saved, saved_meta)
        )
        ctx.__dict__["_saved_out_nrs"] = True
    if _debug is not None:
        _debug.recorded(ctx, args, outs[0] if single else tuple(outs))
    return outs[0] if single else tuple(outs)


# ------------------------------------------------------------------------------ error messages
def _freed_message(node) -> str:
    return (
        f"Trying to backward through the graph a second time (or to read saved tensors of "
        f"{node.name()} after they were freed). Saved intermediate values are freed when you "
        "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
        "through the graph a second time.\nThe usual cause is a tensor that carries graph "
        "history across training steps (a hidden state, a running loss total): call .detach() "
        "on it at the end of each step, or accumulate loss.item() instead of loss."
    )


def _modified_message(node, meta) -> str:
    kind, index, version, at_save = meta
    what = f"input {index}" if kind == "in" else f"output {index}" if kind == "out" else "a tensor"
    msg = (
        f"one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: {what} saved by {node.name()} is at version {version.value}; expected "
        f"version {at_save} instead."
    )
    if version.op is not None:
        msg += f"\nIt was last modified by {version.op} at {version.where}."
    msg += (
        "\nFix: use the out-of-place form (x = x.add(1) instead of x.add_(1)), or .clone() the "
        "tensor before modifying it."
    )
    if node.__dict__.get("_site") is not None:  # recorded by chainrule.debug
        msg += f"\nThe op that saved it ({node.name()}) was created at {node._site}."
    elif getattr(node, "_anomaly_trace", None):
        msg += "\nThe op that saved it was created at:\n" + "".join(node._anomaly_trace[-3:])
    return msg


# ----------------------------------------------------------------------------------- backward
_create_graph_active = False


def _sum_to(g, shape):
    """Reduce a gradient in broadcast shape back to `shape`: the one place where broadcasting
    is undone."""
    if g.shape == shape:
        return g
    if not isinstance(g, Tensor):  # arrays: their own methods skip NumPy's dispatch wrappers
        lead = g.ndim - len(shape)
        axes = tuple(range(lead)) + tuple(
            i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
        )
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        return g.reshape(shape)
    xp = array_module(g)
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and g.shape[i + lead] != 1
    )
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    if lead:
        g = xp.reshape(g, shape)
    elif g.shape != shape:
        g = xp.reshape(g, shape)
    return g


def _as_grad_tensor(g):
    return g if isinstance(g, Tensor) else Tensor._make(g)


_final_callbacks: list | None = None  # while a backward runs: what queue_callback collected


def queue_callback(callback) -> None:
    """Run ``callback()`` once the backward pass now running has finished (PyTorch's
    ``Variable._execution_engine.queue_callback``); callbacks run in the order queued, and one
    may queue another."""
    if _final_callbacks is None:
        raise RuntimeError(
            "Final callbacks can only be installed during backward pass: call queue_callback "
            "from a hook that runs inside backward()"
        )
    _final_callbacks.append(callback)


def run_backward(
    roots: list,
    root_grads: list,
    retain_graph: bool,
    create_graph: bool,
    inputs: tuple | None = None,
    capture: bool = False,
    allow_unused: bool = False,
):
    """Propagate `root_grads` from the `roots` (Tensors) back through the graph.

    With ``capture`` (autograd.grad), gradients of ``inputs`` are returned and no ``.grad`` is
    touched; otherwise leaves accumulate into ``.grad`` (only those in ``inputs`` when given).
    """
    global _create_graph_active, _final_callbacks
    prev_mode = _set_grad_enabled(create_graph)
    prev_cg = _create_graph_active
    _create_graph_active = create_graph
    outer_callbacks = _final_callbacks
    callbacks = _final_callbacks = []
    try:
        result = _walk(
            roots, root_grads, retain_graph, create_graph, inputs, capture, allow_unused, Tensor
        )
        for callback in callbacks:  # a list that a callback may still extend
            callback()
        return result
    finally:
        _set_grad_enabled(prev_mode)
        _create_graph_active = prev_cg
        _final_callbacks = outer_callbacks


def _walk(roots, root_grads, retain_graph, create_graph, inputs, capture, allow_unused, Tensor):
    # gradient buffers: node -> list of per-output gradients; leaves -> gradient
    buffers: dict[Any, Any] = {}
    deps: dict[Any, int] = {}
    handed: set[int] = set()  # ids of arrays given to a leaf's .grad (a second holder copies)

    # what to capture (autograd.grad) or restrict accumulation to (backward(inputs=...))
    targets = None
    captured: dict = {}
    if inputs is not None:
        targets = {}
        for k, t in enumerate(inputs):
            key = t if t.grad_fn is None else (t.grad_fn, t._output_nr)
            targets[key if isinstance(key, tuple) else id(key)] = k

    starts = []
    for t, g in zip(roots, root_grads):
        if not create_graph and isinstance(g, Tensor):
            g = g._data
        handed.add(id(g))
        fn = t.grad_fn
        if fn is None:
            starts.append(None)
            _deliver_leaf(t, g, targets, captured, capture, create_graph, handed)
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * _n_outputs(fn)
        nr = t._output_nr
        buf[nr] = g if buf[nr] is None else buf[nr] + g
        starts.append(fn)

    # count consumers of every node reachable from the roots
    stack = [fn for fn in set(starts) if fn is not None]
    seen = set(stack)
    while stack:
        node = stack.pop()
        for e in node.next:
            if e is None:
                continue
            parent = e[0]
            if isinstance(parent, Tensor):  # leaves are counted too (by id: Tensor's hash is
                k = id(parent)  # Python code), so that hooks and .grad see one summed gradient
                deps[k] = deps.get(k, 0) + 1
                continue
            deps[parent] = deps.get(parent, 0) + 1
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)

    def deliver(leaf, g):
        _deliver_leaf(leaf, g, targets, captured, capture, create_graph, handed)

    # the common case runs inline: a built-in single-output op (no _out_meta), no hooks,
    # no capture, no create_graph, no anomaly checks
    fast = not create_graph and targets is None and not _anomaly_enabled
    ready = [fn for fn in seen if deps.get(fn, 0) == 0]
    while ready:
        node = ready.pop()
        gys = buffers.pop(node)
        if fast and node._out_meta is None and not node._pre_hooks:
            if node.saved is _FREED:
                raise RuntimeError(_freed_message(node))
            gxs = type(node).backward(node, gys[0])
            if not retain_graph:
                node.saved = _FREED
                node._saved_meta = None
            if type(gxs) is not tuple:
                gxs = (gxs,)
        else:
            if targets is not None:
                for nr, g in enumerate(gys):
                    k = targets.get((node, nr))
                    if k is not None and g is not None:
                        captured[k] = g
            if node._pre_hooks:
                gys = _run_pre_hooks(node, gys, create_graph)
            gxs = _call_backward(node, gys, create_graph, retain_graph)
        for e, gx in zip(node.next, gxs):
            if e is None:
                continue
            parent, nr, shape, dtype = e
            if gx is not None:
                if gx.shape != shape:
                    gx = _sum_to(gx, shape)
                if gx.dtype is not dtype and gx.dtype != dtype:
                    gx = gx.to(dtype) if isinstance(gx, Tensor) else gx.astype(dtype)
            if isinstance(parent, Tensor):
                k = id(parent)
                n = deps[k] - 1
                deps[k] = n
                if gx is not None:
                    if n == 0 and k not in buffers:  # the only edge into this leaf
                        deliver(parent, gx)
                        continue
                    prev = buffers.get(k)
                    buffers[k] = gx if prev is None else prev + gx
                if n == 0 and k in buffers:
                    deliver(parent, buffers.pop(k))
                continue
            n = deps[parent] - 1
            deps[parent] = n
            if gx is not None:
                buf = buffers.get(parent)
                if buf is None:
                    meta = parent._out_meta
                    buf = buffers[parent] = [None] if meta is None else [None] * len(meta)
                buf[nr] = gx if buf[nr] is None else buf[nr] + gx
            if n == 0:
                if parent in buffers:
                    ready.append(parent)
                else:  # nothing flowed into it: its inputs get nothing either
                    _skip(parent, deps, buffers, ready, deliver, Tensor)

    if not capture:
        if targets is not None:  # backward(inputs=[non-leaf]) accumulates into its .grad
            for k, t in enumerate(inputs):
                if t.grad_fn is not None and captured.get(k) is not None:
                    g = captured[k]
                    g = g if isinstance(g, Tensor) else Tensor._make(g.copy())
                    t._grad = g if t._grad is None else t._grad + g
        return None
    results = []
    for k, t in enumerate(inputs):
        g = captured.get(k)
        if g is None and not allow_unused:
            raise RuntimeError(
                f"One of the differentiated Tensors (input {k}, shape {tuple(t.shape)}) appears "
                "to not have been used in the graph. Set allow_unused=True if this is the "
                "desired behavior."
            )
        if g is not None and not isinstance(g, Tensor):
            g = Tensor._make(g)
        results.append(g)
    return tuple(results)


def _skip(node, deps, buffers, ready, deliver, Tensor):
    """A node that received no gradient at all: release its consumers' counts down the graph."""
    stack = [node]
    while stack:
        n = stack.pop()
        for e in n.next:
            if e is None:
                continue
            p = e[0]
            if isinstance(p, Tensor):
                k = id(p)
                deps[k] -= 1
                if deps[k] == 0 and k in buffers:
                    deliver(p, buffers.pop(k))
                continue
            deps[p] -= 1
            if deps[p] == 0:
                if p in buffers:
                    ready.append(p)
                else:
                    stack.append(p)


def _n_outputs(node) -> int:
    meta = node._out_meta
    return 1 if meta is None else len(meta)


def _call_backward(node, gys, create_graph, retain_graph):
    cls = type(node)
    if node.saved is _FREED:
        raise RuntimeError(_freed_message(node))
    if len(gys) > 1 or gys[0] is None:
        gys = _materialize(node, gys, create_graph)
    if cls.on_arrays:
        gxs = cls.backward(node, *gys)
    else:
        tg = [None if g is None else _as_grad_tensor(g) for g in gys]
        gxs = cls.backward(node, *tg)
    if type(gxs) is not tuple:
        gxs = (gxs,)
    n_in = len(node.next)
    if len(gxs) != n_in:
        if len(gxs) > n_in and all(g is None for g in gxs[n_in:]):
            gxs = gxs[:n_in]
        else:
            raise RuntimeError(
                f"function {node.name()} returned an incorrect number of gradients "
                f"(expected {n_in}, got {len(gxs)})"
            )
    if not cls.on_arrays:
        gxs = tuple(g._data if (isinstance(g, Tensor) and not create_graph) else g for g in gxs)
    if _anomaly_enabled:
        _debug_hooks.check_backward(node, gxs, gys)
    if not retain_graph:
        node.saved = _FREED
        node._saved_meta = None
    return gxs


def _materialize(node, gys, create_graph):
    if node.__dict__.get("_materialize", True) is False:
        return gys
    out = list(gys)
    meta = node._out_meta
    for j, g in enumerate(out):
        if g is None and meta and meta[j] is not None:
            shape, dtype = meta[j]
            if dtype.kind in "fc":
                z = np.zeros(shape, dtype)
                out[j] = _as_grad_tensor(z) if create_graph else z
    return out


def _check_anomaly(node, gxs):
    for i, g in enumerate(gxs):
        if g is None:
            continue
        data = g._data if hasattr(g, "_is_chainrule_tensor") else g
        xp = array_module(data)
        if data.dtype.kind in "fc" and not bool(xp.isfinite(data).all()):
            where = "".join(getattr(node, "_anomaly_trace", [])[-4:])
            raise RuntimeError(
                f"Function '{node.name()}' returned nan or inf values in its {i}th output.\n"
                f"The forward call that created it:\n{where}"
            )


def _run_pre_hooks(node, gys, create_graph):
    gys = list(gys)
    for nr, hooks in node._pre_hooks.items():
        if gys[nr] is None:
            continue
        for hook in list(hooks.values()):
            g = _as_grad_tensor(gys[nr])
            r = hook(g)
            if r is not None:
                gys[nr] = r if create_graph else r._data
    return gys


def _deliver_leaf(t, g, targets, captured, capture, create_graph, handed):
    """Accumulate a finished gradient into a leaf (or capture it for autograd.grad)."""
    if targets is not None:
        k = targets.get(id(t))
        if k is not None:
            captured[k] = g if captured.get(k) is None else captured[k] + g
        if capture or k is None:
            return
    elif capture:
        return
    hooks = t._hooks
    if hooks:
        for hook in list(hooks.values()):
            r = hook(_as_grad_tensor(g))
            if r is not None:
                g = r if create_graph else r._data
    if not t.requires_grad:
        return
    old = t._grad
    if create_graph:
        gt = g if isinstance(g, Tensor) else Tensor._make(g)
        t._grad = gt if old is None else old + gt
    elif old is None:
        if id(g) in handed or getattr(g, "base", None) is not None:
            g = g.copy()  # never let two .grad tensors share memory: in-place clipping would
        handed.add(id(g))  # scale both
        t._grad = Tensor._make(g)
    else:
        # accumulate in place so that .grad keeps its identity, as in PyTorch
        old_data = old._data
        # never in place into an array taken over in this pass: it may still be in flight to
        # another node (x + (x + x) hands the same gy to x twice)
        if id(old_data) not in handed and old_data.shape == g.shape and old_data.flags.writeable:
            old_data += g
            old._vc.bump("AccumulateGrad")
        else:
            old._data = old_data + g
    if t._post_hooks:
        for hook in list(t._post_hooks.values()):
            hook(t)
