"""The recorder that the engine calls while a diagnostic is on (``engine._debug``).

It tags graph nodes with where they were made (the user's file:line, the module path, the
training step), remembers where a path from a parameter to the loss was cut (``detach()``, a
``no_grad`` block, a non-differentiable op, ``.item()``), and runs the anomaly checks. When no
diagnostic asks for it, ``engine._debug`` is None and the engine pays one global check per op.
"""

from __future__ import annotations

import itertools
import sys
import weakref
from dataclasses import dataclass, field

from ..autograd import engine
from ..autograd.engine import _Where, user_frame
from ..tensor import Tensor

# public ops whose integer or bool result cuts the graph, as people name them
_NONDIFF = {
    "argmax": "argmax",
    "argmin": "argmin",
    "__eq__": "a comparison (==)",
    "__ne__": "a comparison (!=)",
    "__lt__": "a comparison (<)",
    "__le__": "a comparison (<=)",
    "__gt__": "a comparison (>)",
    "__ge__": "a comparison (>=)",
    "eq": "a comparison (eq)",
    "ne": "a comparison (ne)",
    "lt": "a comparison (lt)",
    "le": "a comparison (le)",
    "gt": "a comparison (gt)",
    "ge": "a comparison (ge)",
    "long": "an integer cast (.long())",
    "int": "an integer cast (.int())",
    "short": "an integer cast (.short())",
    "byte": "an integer cast (.byte())",
    "char": "an integer cast (.char())",
    "bool": "a bool cast (.bool())",
    "to": "a cast to an integer dtype (.to())",
    "type": "a cast to an integer dtype (.type())",
    "topk": "topk's indices",
    "sort": "sort's indices",
    "argsort": "argsort",
    "max": "max's indices",
    "min": "min's indices",
    "isnan": "isnan",
    "isinf": "isinf",
    "isfinite": "isfinite",
    "nonzero": "nonzero",
    "bucketize": "bucketize",
    "searchsorted": "searchsorted",
    "multinomial": "multinomial",
    "signbit": "signbit",
    "logical_and": "logical_and",
    "logical_or": "logical_or",
    "logical_not": "logical_not",
}


@dataclass(frozen=True)
class Cut:
    """One place where a path from some leaves to a result was cut."""

    kind: str  # "detach", "no_grad", "nondiff", "item"
    op: str  # the op's name as the user wrote it
    where: _Where
    leaves: frozenset = field(default_factory=frozenset)  # ids of the leaves cut off

    def describe(self) -> str:
        if self.kind == "detach":
            return f"cut by .detach() at {self.where}"
        if self.kind == "no_grad":
            return f"computed inside a no_grad block ({self.op} at {self.where})"
        if self.kind == "item":
            return (
                f"cut where its value left the graph through {self.op} at {self.where} (a "
                "Python number or a NumPy array carries no gradient)"
            )
        return (
            f"passed through {self.op} at {self.where}, which is not differentiable (its "
            "integer or bool result carries no gradient)"
        )


def walk(roots):
    """Every node reachable from `roots` (nodes), each once, without recursion."""
    stack = [r for r in roots if r is not None]
    seen = set(stack)
    while stack:
        node = stack.pop()
        yield node
        for e in node.next:
            if e is None:
                continue
            p = e[0]
            if isinstance(p, Tensor) or p in seen:
                continue
            seen.add(p)
            stack.append(p)


def leaves_of(t: Tensor) -> frozenset:
    """ids of the leaf tensors that `t`'s value depends on through the graph."""
    if not t.requires_grad:
        return frozenset()
    if t.grad_fn is None:
        return frozenset((id(t),))
    out = set()
    for node in walk([t.grad_fn]):
        for e in node.next:
            if e is not None and isinstance(e[0], Tensor):
                out.add(id(e[0]))
    return frozenset(out)


def _outs(out):
    return out if type(out) is tuple else (out,)


class Recorder(engine._DebugHooks):
    """The engine's hooks while a diagnostic records; counters say which features are on."""

    def __init__(self):
        self.trace = 0  # users of cut tracking (why_no_grad's recording, the Monitor's step 1)
        self.sites = 0  # users of node tags (site, module path, step): memory, leaks, graphs
        self.anomaly = None  # the active chainrule.debug.detect_anomaly, if any
        self.modules: list[str] = []  # module path stack, kept by forward hooks
        self.step = 0  # bumped by the Monitor after each optimizer step
        self.cuts: dict[int, tuple] = {}  # id(tensor) -> (weakref, tuple of Cut)
        self.escapes: list[Cut] = []  # values that left the graph through .item() & co
        self.carries: list[dict] = []  # graph history carried from one step into the next
        self._patched: dict = {}
        self._serial = itertools.count(1)

    # ------------------------------------------------------------------ switching
    def use(self, feature: str, on: bool) -> None:
        """Count a diagnostic in (on) or out of `feature` ("trace" or "sites")."""
        n = getattr(self, feature) + (1 if on else -1)
        if feature == "trace" and on and n == 1:
            self.escapes = []  # a new recording: old records may name ids of dead tensors
        setattr(self, feature, max(n, 0))
        if feature == "trace":
            self._patch(self.trace > 0)
        self.refresh()

    def refresh(self) -> None:
        """Tell the engine whether anything needs the recorder now."""
        engine._debug_users = self.trace + self.sites + (self.anomaly is not None)
        engine._update_debug()

    def _patch(self, on: bool) -> None:
        """While tracing, Tensor._make and the value exits (.item(), .tolist(), .numpy(),
        numpy.asarray(), float()) report cuts that bypass the engine's apply."""
        if on and not self._patched:
            exits = ("item", "tolist", "numpy", "__array__", "__float__")
            self._patched = {"_make": Tensor.__dict__["_make"]}
            self._patched.update((name, getattr(Tensor, name)) for name in exits)
            make = self._patched["_make"].__func__
            rec = self

            def traced_make(data, grad_fn=None, output_nr=0):
                t = make(data, grad_fn, output_nr)
                if grad_fn is None and rec.trace:
                    rec._made(t)
                return t

            Tensor._make = staticmethod(traced_make)
            for name in exits:
                setattr(Tensor, name, self._exit(name, self._patched[name]))
        elif not on and self._patched:
            for name, fn in self._patched.items():
                setattr(Tensor, name, fn)
            self._patched = {}

    def _exit(self, name, fn):
        rec = self

        def wrapper(t, *a, **k):
            if t.requires_grad and rec.trace:
                label = {"__float__": "float()", "__array__": "numpy.asarray()"}.get(
                    name, f".{name}()"
                )
                if len(rec.escapes) < 256:
                    rec.escapes.append(Cut("item", label, user_frame(), leaves_of(t)))
            return fn(t, *a, **k)

        wrapper.__name__ = name
        return wrapper

    # ------------------------------------------------------------------ cut records
    def cuts_of(self, t) -> tuple:
        entry = self.cuts.get(id(t))
        if entry is None or entry[0]() is not t:
            return ()
        return entry[1]

    def _attach(self, t, cuts) -> None:
        if not isinstance(t, Tensor) or not cuts:
            return
        key = id(t)
        old = self.cuts_of(t)
        merged = tuple(dict.fromkeys(old + tuple(cuts)))[:16]
        cuts_table = self.cuts
        ref = weakref.ref(t, lambda _r, k=key, c=cuts_table: c.pop(k, None))
        cuts_table[key] = (ref, merged)

    def _inherited(self, args) -> tuple:
        found = ()
        for a in args:
            if isinstance(a, Tensor) and not a.requires_grad:
                c = self.cuts_of(a)
                if c:
                    found += c
        return found

    def _made(self, t) -> None:
        """A tensor made outside apply: if a non-differentiable public op made it from
        tensors that carry gradients (or cut records), record the cut."""
        if t._data.dtype.kind in "fcV":
            return
        f = sys._getframe(2)
        outer = None
        sources = []
        pkg = engine._PACKAGE_DIR
        while f is not None and f.f_code.co_filename.startswith(pkg):
            if f.f_code is engine._apply_arrays.__code__:
                return
            outer = f.f_code.co_name
            for v in f.f_locals.values():
                if isinstance(v, Tensor) and v is not t and (v.requires_grad or self.cuts_of(v)):
                    sources.append(v)
            f = f.f_back
        if outer not in _NONDIFF or not sources:
            return
        where = _Where((f.f_code.co_filename, f.f_lineno)) if f is not None else user_frame()
        leaves = frozenset().union(*(leaves_of(s) for s in sources))
        inherited = self._inherited(sources)
        self._attach(t, inherited + (Cut("nondiff", _NONDIFF[outer], where, leaves),))

    # ------------------------------------------------------------------ engine hooks
    def recorded(self, node, args, out) -> None:
        if engine._anomaly_enabled and self.anomaly is None:
            super().recorded(node, args, out)
        if self.sites or self.anomaly is not None:
            d = node.__dict__
            if self.anomaly is not None or self.trace:  # else found only when needed (carry)
                d["_site"] = user_frame()
            if self.modules:
                d["_module"] = self.modules[-1]
            d["_step"] = self.step
            if self.sites:
                self._check_carry(node)
        if self.trace:
            cuts = []
            for e, a in zip(node.next, args):
                if e is None and isinstance(a, Tensor):
                    cuts.extend(self.cuts_of(a))
            if cuts:
                node.__dict__["_cuts"] = tuple(dict.fromkeys(cuts))
        if self.anomaly is not None:
            self.anomaly.check_forward(node, type(node), args, _outs(out))

    def untracked(self, cls, args, out, need) -> None:
        if self.trace:
            cuts = self._inherited(args)
            if need:
                req = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
                leaves = frozenset().union(*(leaves_of(a) for a in req))
                cuts += (Cut("no_grad", cls.__name__.lower(), user_frame(), leaves),)
            for o in _outs(out):
                self._attach(o, cuts)
        if self.anomaly is not None:
            self.anomaly.check_forward(None, cls, args, _outs(out))

    def detached(self, source, out) -> None:
        if self.trace and source.requires_grad:
            self._attach(out, (Cut("detach", "detach", user_frame(), leaves_of(source)),))

    def check_backward(self, node, gxs, gys) -> None:
        if self.anomaly is not None:
            self.anomaly.check_backward(node, gxs, gys)
        else:
            super().check_backward(node, gxs, gys)

    # ------------------------------------------------------------------ leaks
    def _check_carry(self, node) -> None:
        step = self.step
        for e in node.next:
            if e is None or isinstance(e[0], Tensor):
                continue
            old = e[0].__dict__.get("_step")
            if old is not None and old < step:
                site = node.__dict__.get("_site")
                if site is None:
                    site = node.__dict__["_site"] = user_frame()
                self.carries = [c for c in self.carries if c["node"]() is not None]
                if not any(c["where"] == site for c in self.carries):
                    self.carries.append(
                        {
                            "op": node.name(),
                            "where": site,
                            "from_step": old,
                            "step": step,
                            "node": weakref.ref(node),  # a carry matters while it lives
                            "serial": next(self._serial),
                        }
                    )
                return


RECORDER = Recorder()
engine._debug_hooks = RECORDER


class track_modules:
    """Context manager: while inside, ops know the path of the module that runs them
    (``model.blocks.3.attn``), through forward pre/post hooks on every submodule."""

    def __init__(self, model, prefix: str = ""):
        self.model = model
        self.prefix = prefix
        self.handles: list = []

    def __enter__(self):
        if self.model is None:
            return self
        stack = RECORDER.modules
        root = self.prefix or type(self.model).__name__.lower()
        for name, mod in self.model.named_modules():
            path = f"{root}.{name}" if name else root

            def pre(m, args, path=path):
                stack.append(path)

            def post(m, args, output):
                if stack:
                    stack.pop()

            self.handles.append(mod.register_forward_pre_hook(pre))
            self.handles.append(mod.register_forward_hook(post, always_call=True))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()
        self.handles = []
        return False
