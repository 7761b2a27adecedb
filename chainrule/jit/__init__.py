"""``chainrule.jit``: trace a training step once, then replay it as a flat program of array ops.

The first call of a jitted function runs it eagerly while recording what the engine does: every
built-in op (its class, where each array argument comes from, its non-tensor arguments), the
backward schedule that the engine's walk would run (which node runs when, which gradients are
summed, which broadcast reductions, which leaves receive a gradient), and the calls that
change state outside the graph (``optimizer.zero_grad()``, ``optimizer.step()``,
``p.grad = None``, in-place updates such as ``p -= lr * p.grad``). From that record it writes a
Python function that calls the ops' own ``forward`` and ``backward`` on raw arrays, in the same
order, with no Tensor, graph node or edge built, and replays it on later calls with the same
input signature (shapes, dtypes, array types, requires_grad, grad mode, the models' training
flags). A different signature traces again.

What the program reads stays live: parameters and buffers are read through their Tensor objects
at every call; ``optimizer.step()``, ``zero_grad()`` and ``clip_grad_norm_()`` are called again
(so a scheduler's ``lr`` and a changed momentum take effect); dropout draws from the global
generator at every call, as in eager mode; the small helpers that ops run on raw arrays
(cross-entropy's target indices, attention masks, comparisons, argmax) run again on the new
values. Results are the eager results, bit for bit: the same ops run on the same arrays in the
same order. Leaf gradients are delivered as the engine does (accumulated into an existing
``.grad``, with leaf hooks called). The result carries no graph.

SGD, Adam and AdamW steps run over one flat array per parameter group: after the first traced
step the parameters and the optimizer state become views into those arrays (the Parameter
objects stay; an array taken from a parameter before, say with ``p.detach()``, no longer aliases
it), and a replay updates each group in a handful of NumPy calls, with the per-parameter rule's
bits. Anything that moved (a replaced array, a missing gradient, an optimizer hook, amsgrad,
nesterov, maximize) sends the replay back to ``optimizer.step()``.

Guarded (a change traces again): the tensors' shapes, dtypes and requires_grad, the grad mode,
every reachable module's training flag, the Python numbers that the step's own code reads from
its closure or its globals, the other Python arguments (by value, or by identity for objects).

Refused while tracing, with the user's file:line (``JitError``): a value leaving the graph
(``.item()``, ``bool(t)``, ``float(t)``, ``.tolist()``, ``.numpy()``): a traced program cannot
branch on it; random draws outside dropout; in-place writes that jit cannot replay (batch
norm's running statistics, a tensor made inside the step); arrays computed outside the ops and
passed into one, and tensors computed by code that is not an op; custom ``autograd.Function``
classes; ``autograd.grad``, ``create_graph`` and ``backward(inputs=...)``; hooks on non-leaf
tensors and on modules; a graph carried in from before the call. Other Python code runs once,
while tracing (a ``print`` prints once; a Python number computed inside the step is a constant),
as in ``jax.jit``. One trace at a time per process; a jitted function is not re-entrant (its
program reuses its node objects from call to call).

Example:
    >>> import chainrule as torch
    >>> model = torch.nn.Linear(3, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
    >>> @torch.jit
    ... def step(x, y):
    ...     opt.zero_grad()
    ...     loss = ((model(x) - y) ** 2).mean()
    ...     loss.backward()
    ...     opt.step()
    ...     return loss
    >>> x, y = torch.ones(4, 3), torch.zeros(4, 1)
    >>> l1 = step(x, y)  # traces
    >>> l2 = step(x, y)  # replays
    >>> bool(l2 < l1)
    True
"""

from __future__ import annotations

import functools
import sys
import types
import warnings

from ..autograd import engine
from ..tensor import Tensor
from ._program import _RETRACE, JitError, _flatten
from ._tracer import TRACING, _Tracer

try:  # autocast's state (enabled, dtype) per device type: part of the signature
    from ..amp.autocast_mode import _state as _AMP_STATE
except ImportError:  # pragma: no cover - amp without that table
    _AMP_STATE = None

__all__ = ["jit", "JitError", "Jitted", "Compiled"]
JitError.__module__ = __name__


def jit(fn=None, *, max_traces: int = 8):
    """Trace ``fn`` on its first call and replay the trace on later calls.

    Works as ``@jit``, ``jit(fn)`` and ``@jit(max_traces=...)``. ``fn`` may take Tensors, Modules,
    optimizers and Python values; Tensors are the program's inputs, everything else is part of
    the signature (a different object or value traces again). After ``max_traces`` different
    signatures a warning says that the step keeps retracing.

    Returns:
        a ``Jitted`` callable; ``.code(*args)`` shows the program for those arguments.
    """
    if fn is None:
        return lambda f: Jitted(f, max_traces)
    return Jitted(fn, max_traces)


class Jitted:
    """A function traced per input signature and replayed (see ``chainrule.jit``)."""

    def __init__(self, fn, max_traces: int = 8):
        functools.update_wrapper(self, fn, updated=())
        self.fn = fn
        self._name = getattr(fn, "__qualname__", type(fn).__name__)
        self.max_traces = max_traces
        self.traces = 0  # how many times fn was traced (for tests and for the retrace warning)
        self._cache: dict = {}

    def __get__(self, obj, objtype=None):  # @jit on a method
        return self if obj is None else types.MethodType(self, obj)

    def _key(self, args, kwargs):
        amp = None  # autocast off everywhere, the usual case
        if _AMP_STATE is not None:
            for stack in _AMP_STATE.values():
                if stack[-1][0]:
                    amp = tuple(v[-1] for v in _AMP_STATE.values())
                    break
        tensors, key = [], [engine._grad_enabled, amp]
        for a in args:
            _flatten(a, tensors, key)
        if kwargs:
            _flatten(kwargs, tensors, key)
        return tuple(key), tensors

    def __call__(self, *args, **kwargs):
        if TRACING:  # inside another jitted step's trace: be part of it
            return self.fn(*args, **kwargs)
        key, tensors = self._key(args, kwargs)
        prog = self._cache.get(key)
        if prog is not None:
            out = prog.run(tensors)
            if out is not _RETRACE:
                return out
        return _detached(self._trace(key, args, kwargs), tensors)

    def _trace(self, key, args, kwargs):
        self.traces += 1
        if self.traces == self.max_traces + 1:
            warnings.warn(
                f"chainrule.jit: {self._name} was traced {self.traces} times: its signature "
                "(shapes, dtypes, requires_grad, Python arguments, training mode) keeps "
                "changing; pass changing numbers as tensors, or pad inputs to a few shapes",
                UserWarning,
                stacklevel=3,
            )
        tracer = _Tracer(self.fn, args, kwargs)
        out = tracer.run()
        self._cache[key] = tracer.program
        self._ran_backward = tracer.ran_backward
        return out

    def code(self, *args, **kwargs) -> str:
        """The Python source of the program traced for these arguments (tracing if needed)."""
        key, _ = self._key(args, kwargs)
        if key not in self._cache:
            self(*args, **kwargs)
        return self._cache[key].source


# ------------------------------------------------------------------------------ torch.compile
class Compiled:
    """What ``chainrule.compile(fn)`` returns: ``fn`` through ``jit`` per input signature where
    the result needs no graph afterwards (a whole training step, or inference under
    ``no_grad``), otherwise ``fn`` itself, eagerly. It says once, in one warning line, which path
    each kind of call takes. Attributes of a compiled Module pass through to it."""

    def __init__(self, fn, fullgraph: bool = False):
        self.__dict__["_orig_mod"] = fn
        self.__dict__["_jit"] = Jitted(fn)
        self.__dict__["_fullgraph"] = fullgraph
        self.__dict__["_eager"] = {}  # signature -> why it runs eagerly
        self.__dict__["_said"] = set()

    def __getattr__(self, name):
        return getattr(self.__dict__["_orig_mod"], name)

    def __setattr__(self, name, value):
        setattr(self._orig_mod, name, value)

    def _say(self, what: str) -> None:
        if what not in self._said:
            self._said.add(what)
            name = getattr(self._orig_mod, "__qualname__", type(self._orig_mod).__name__)
            warnings.warn(f"chainrule.compile: {name} {what}", UserWarning, stacklevel=3)

    def __call__(self, *args, **kwargs):
        if TRACING:
            return self._orig_mod(*args, **kwargs)
        j = self._jit
        key, tensors = j._key(args, kwargs)
        if key in self._eager:
            return self._orig_mod(*args, **kwargs)
        prog = j._cache.get(key)
        if prog is not None:
            out = prog.run(tensors)
            if out is not _RETRACE:
                return out
        state = _module_state(self._orig_mod)
        try:
            out = j._trace(key, args, kwargs)
        except JitError as e:
            if getattr(e, "_stateful", False) and state is not None:
                for t, value in state:  # a module's forward: undo what the trace ran
                    t._data[...] = value
            elif getattr(e, "_stateful", False):
                raise
            if self._fullgraph:
                raise
            self._eager[key] = True
            self._say(f"runs eagerly: {e}")
            return self._orig_mod(*args, **kwargs)
        if not j._ran_backward and _needs_graph(out):
            j._cache.pop(key, None)
            self._eager[key] = True
            self._say(
                "runs eagerly here: its result needs a graph for a backward outside it (compile "
                "the whole training step, or call it under no_grad, to go through chainrule.jit)"
            )
            return out
        self._say("runs through chainrule.jit (traced once per input signature, then replayed)")
        return _detached(out, tensors)


def _module_state(fn):
    """Copies of a Module's parameters and buffers (None for a function), restored when a
    refused trace already changed them (batch norm's running statistics)."""
    from ..nn.modules.module import Module

    if not isinstance(fn, Module):
        return None
    tensors = list(fn.parameters()) + [b for b in fn.buffers() if b is not None]
    return [(t, t._data.copy()) for t in tensors]


def _detached(out, inputs):
    """The traced call's result as replays give it: computed tensors carry no graph."""
    if isinstance(out, Tensor):
        if out.grad_fn is None or any(out is t for t in inputs):
            return out
        return Tensor._make(out._data)
    if type(out) in (list, tuple):
        return type(out)(_detached(o, inputs) for o in out)
    if type(out) is dict:
        return {k: _detached(v, inputs) for k, v in out.items()}
    return out


def _needs_graph(out) -> bool:
    if isinstance(out, Tensor):
        return out.requires_grad
    if type(out) in (list, tuple):
        return any(_needs_graph(o) for o in out)
    if type(out) is dict:
        return any(_needs_graph(o) for o in out.values())
    return False


class _CallableModule(types.ModuleType):
    """``chainrule.jit`` is this module and the decorator: ``@chainrule.jit`` and
    ``chainrule.jit.JitError`` both work."""

    def __call__(self, fn=None, **kwargs):
        return jit(fn, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
