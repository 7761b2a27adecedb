"""The training-health monitor: per-layer numbers every step, and alerts in plain language."""

from __future__ import annotations

import contextlib
import math
import warnings
import weakref
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..autograd.engine import user_frame
from ..tensor import Tensor
from ._recorder import RECORDER, track_modules, walk
from .why import why_no_grad


class TrainingHealthWarning(UserWarning):
    """An alert from ``chainrule.debug.Monitor``."""


@dataclass
class Alert:
    """One problem the Monitor found: what, where, the number, and what to do."""

    kind: str  # vanishing, exploding, dead_relu, saturation, update_ratio, zero_grad,
    # frozen_moves, diverging, no_grad, leak
    layer: str | None
    value: float | None
    message: str
    step: int
    where: str | None = None  # "file:line" when known

    def __str__(self):
        return f"[step {self.step}] {self.kind}: {self.message}"


def _norm(a) -> float:
    """The 2-norm, computed where the array lives (one number comes back from a GPU)."""
    if type(a) is np.ndarray and a.dtype == np.float32:  # the common case, without detours
        v = a.reshape(-1)
        return math.sqrt(float(np.dot(v, v)))
    if a.dtype.kind not in "fcV":
        return 0.0
    xp = backend.array_module(a)
    a = a.reshape(-1)
    if a.dtype.itemsize < 4 or a.dtype.kind == "V":
        a = a.astype(np.float32)
    return float(xp.sqrt(xp.vdot(a, a).real))


_SAMPLE = 4096  # update ratios are measured on about this many elements per parameter


def _stride(p) -> int:
    """A step through a large parameter's flat elements that gives about _SAMPLE of them and
    is coprime with the last dimension, so that the sample spreads over rows and columns."""
    n = p._data.size
    if n <= 2 * _SAMPLE:
        return 1
    step = n // _SAMPLE
    last = p._data.shape[-1] if p._data.ndim else 1
    while math.gcd(step, last) != 1:
        step += 1
    return step


def _values(p, stride):
    flat = p._data.reshape(-1)
    return flat.copy() if stride == 1 else flat[::stride].copy()


def _dead_fraction(y) -> float:
    """The fraction of a ReLU's units (features; axis 0 is the batch) that are 0 for every
    sample: its output is >= 0, so a unit's column sums to 0 only when all of it is 0, and
    that sum is one matrix-vector product (twice as fast as ``(y > 0).any(axis=0)``)."""
    xp = backend.array_module(y)
    if y.ndim < 2:
        return float(xp.count_nonzero(y <= 0)) / max(y.size, 1)
    y = y.reshape(y.shape[0], -1)
    if y.dtype == np.float32 or y.dtype == np.float64:
        col = xp.ones(y.shape[0], y.dtype) @ y
        return float(xp.count_nonzero(col == 0)) / max(col.shape[0], 1)
    return 1.0 - float(y.any(axis=0).mean())


def _saturated_fraction(y, kind: str) -> float:
    """The fraction of tanh outputs beyond ±0.99, or of sigmoid outputs below 0.01 or above
    0.99: where the derivative is about 0."""
    xp = backend.array_module(y)
    far = xp.abs(y) >= 0.99 if kind == "tanh" else xp.abs(y - 0.5) >= 0.49
    return float(xp.count_nonzero(far)) / max(y.size, 1)


def _init_site(p):
    """(op, file:line) of the in-place write that last set `p`'s values (an nn.init call, or
    the line that built the layer), or None after an optimizer step ("SGD.step")."""
    v = p._ver
    if v is None or v.op is None or "." in v.op or v.where is None:
        return None
    return v.op, str(v.where)


_ACTIVATIONS = {"ReLU": "relu", "ReLU6": "relu", "LeakyReLU": None, "Tanh": "tanh"}
_ACTIVATIONS.update(Sigmoid="sigmoid", Hardtanh="tanh")

_MONITORS: list = []  # attached monitors; Tensor.backward is wrapped while this is non-empty
_ORIGINAL_BACKWARD = None


def _install_backward(on: bool) -> None:
    global _ORIGINAL_BACKWARD
    if on and _ORIGINAL_BACKWARD is None:
        original = _ORIGINAL_BACKWARD = Tensor.backward

        def backward(self, *args, **kwargs):
            mons = list(_MONITORS)
            for m in mons:
                m._before_backward(self)
            original(self, *args, **kwargs)
            for m in mons:
                m._after_backward(self)

        backward.__doc__ = original.__doc__
        Tensor.backward = backward
    elif not on and _ORIGINAL_BACKWARD is not None:
        Tensor.backward = _ORIGINAL_BACKWARD
        _ORIGINAL_BACKWARD = None


class Monitor:
    """Watch a model and its optimizer, and say in plain language what goes wrong.

    What it measures, and when:

    - **every optimizer step**: the loss of each backward; each parameter's gradient norm (one
      dot product per parameter, taken as backward accumulates the gradient, while it is still
      in the cache); and the alerts that need nothing more: exploding and vanishing gradients,
      a diverging loss, gradients that accumulated because ``zero_grad`` was not called
      (detected from ``.grad`` itself), frozen parameters that still move, parameters without
      a gradient (``why_no_grad`` after the first backward) and graph history kept across
      steps (``total_loss += loss``, with `leaks`).
    - **every `every` steps, from step 0**: the update-to-weight ratio ``|Δw| / |w|`` (on a
      strided sample of about 4096 elements per parameter) and, per activation module (ReLU,
      Tanh, Sigmoid), the fraction of dead or saturated units (forward hooks attached for those
      steps only); and their alerts: dead ReLUs, saturation, an update ratio far from ~1e-3.

    Alerts (``TrainingHealthWarning``, kept in ``mon.alerts``) name the layer and, for
    vanishing or exploding gradients and dead or saturated units, the line that initialised
    the layer's weights (an ``nn.init`` call, or the line that built the layer). A backward
    that reaches none of the model's parameters (another model's loss) is not counted; inside
    ``with mon.paused():`` nothing is.

    Args:
        model: the Module to watch.
        optimizer: its optimizer (step hooks measure updates); None: each backward is a step.
        every: measure update ratios and activations every `every` optimizer steps (1: every
            step). The Monitor's cost on the MLP 784-512-512-10 step (bench/diagnostics.py) is
            given in bench/RESULTS.md for every=10 and every=1.
        leaks: run the leak sanitizer (records the step and module of each graph node).
        warn: emit each new alert as a ``TrainingHealthWarning``.

    Attributes:
        history: ``{"step": [...], "loss": [...], "grad_norm": {param: [...]},
            "sampled_step": [...], "update_ratio": {param: [...]}, "dead_relu": {module: [...]},
            "saturation": {module: [...]}, "graph_nodes": [...]}``. The ``grad_norm`` lists are
            aligned with ``step`` (every optimizer step), ``update_ratio``, ``dead_relu`` and
            ``saturation`` with ``sampled_step``; ``loss`` and ``graph_nodes`` have one entry
            per backward.
        alerts: every ``Alert`` so far, each (kind, layer, line) once.

    Example:
        >>> import chainrule as torch, chainrule.nn as nn, chainrule.debug as debug
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
        >>> mon = debug.Monitor(model, opt, every=2)
        >>> for _ in range(3):
        ...     opt.zero_grad()
        ...     loss = model(torch.randn(16, 4)).pow(2).mean()
        ...     loss.backward()
        ...     opt.step()
        >>> mon.history["step"], mon.history["sampled_step"], mon.alerts
        ([0, 1, 2], [0, 2], [])
        >>> mon.close()
    """

    # thresholds (class attributes: change them on an instance)
    vanishing_ratio = 1e-5  # first layer's gradient norm / last layer's
    exploding_norm = 1e3
    dead_fraction = 0.5
    saturated_fraction = 0.5
    update_ratio_high = 1e-1
    update_ratio_low = 1e-8
    diverge_factor = 4.0

    def __init__(self, model, optimizer=None, *, every: int = 10, leaks: bool = True, warn=True):
        self.model = model
        self.optimizer = optimizer
        self.every = max(int(every), 1)
        self.warn = warn
        self.leaks = leaks
        self.params = [(n, p) for n, p in model.named_parameters()]
        self._names = {id(p): n for n, p in self.params}
        self.history: dict = {
            "step": [],
            "loss": [],
            "grad_norm": {n: [] for n, _ in self.params},
            "sampled_step": [],
            "update_ratio": {n: [] for n, _ in self.params},
            "dead_relu": {},
            "saturation": {},
            "graph_nodes": [],
        }
        self.alerts: list[Alert] = []
        self.step = 0  # optimizer steps seen
        self._seen: set = set()
        self._acts: dict = {}  # (kind, module name) -> fraction in this sampled step
        self._snap: dict = {}  # id(p) -> sampled values before the step
        self._gnorm: dict = {}  # id(p) -> norm of .grad after its last accumulation
        self._idx = {id(p): _stride(p) for _, p in self.params}
        self._init_sites = {n: _init_site(p) for n, p in self.params}
        self._weights = [(n, p) for n, p in self.params if p.ndim >= 2]  # (depth checks)
        self._best_loss = math.inf  # the lowest loss before the last three
        self._moved: set = set()  # names of frozen parameters already seen moving
        self._grad_at_step: dict = {}  # id(p) -> (weakref to .grad, version) after a step
        self._stepped: set = set()  # ids of params stepped since their last accumulation
        self._backward_where = None
        self._touched = False  # did the running backward reach one of our parameters?
        self._roots: list = []  # (step, weakref to the loss's node)
        self._carry_candidates: list = []
        # carries found before this monitor started are not its business
        self._carry_serial = max((c["serial"] for c in RECORDER.carries), default=0)
        self._handles: list = []
        self._act_handles: list = []
        self._activations = [
            (name, mod, _ACTIVATIONS[type(mod).__name__])
            for name, mod in model.named_modules()
            if _ACTIVATIONS.get(type(mod).__name__) is not None
        ]
        self._first = True
        self._closed = False
        self._paused = False
        self._tracing = True  # until the first backward: why_no_grad names lines
        self._attach()

    # ------------------------------------------------------------------ hooks
    def _attach(self) -> None:
        for _, p in self.params:
            if p.requires_grad and p.grad_fn is None:
                self._handles.append(p.register_post_accumulate_grad_hook(self._accumulated))
        self._hooked = bool(self._handles)
        if self.optimizer is not None:
            self._handles.append(self.optimizer.register_step_pre_hook(self._pre_step))
            self._handles.append(self.optimizer.register_step_post_hook(self._post_step))
        self._arm(True)  # step 0 is sampled
        if self.leaks:
            self._modules = track_modules(self.model, "model").__enter__()
        self._process_wide(True)

    def _process_wide(self, on: bool) -> None:
        """Join (or leave) what every tensor in the process pays for: the Tensor.backward
        wrapper, the recorder's node tags (leaks) and, until the first backward, cut tracing."""
        if self._tracing:
            RECORDER.use("trace", on)
        if self.leaks:
            RECORDER.use("sites", on)
        if on:
            _MONITORS.append(self)
        elif self in _MONITORS:
            _MONITORS.remove(self)
        _install_backward(bool(_MONITORS))

    def _arm(self, on: bool) -> None:
        """Hook the activation modules for a sampled step; unhook them after it (a forward
        hook costs every call, and a module with hooks takes the slower call path)."""
        if on and not self._act_handles:
            for name, mod, kind in self._activations:
                hook = self._activation_hook(name, kind)
                self._act_handles.append(mod.register_forward_hook(hook))
        elif not on:
            for h in self._act_handles:
                h.remove()
            self._act_handles = []

    def close(self) -> None:
        """Remove every hook (the model and optimizer run as before)."""
        if self._closed:
            return
        self._closed = True
        for h in self._handles:
            h.remove()
        self._handles = []
        self._arm(False)
        if self.leaks:
            self._modules.__exit__(None, None, None)
        if not self._paused:
            self._process_wide(False)
        self._tracing = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    @contextlib.contextmanager
    def paused(self):
        """Inside this block the Monitor counts nothing and costs almost nothing: for an
        evaluation loop, or steps that should not count.

        Example:
            >>> import chainrule as torch, chainrule.nn as nn, chainrule.debug as debug
            >>> model = nn.Linear(3, 1)
            >>> with debug.Monitor(model) as mon:
            ...     model(torch.randn(4, 3)).sum().backward()
            ...     with mon.paused():
            ...         model(torch.randn(4, 3)).sum().backward()
            >>> mon.history["step"]
            [0]
        """
        if self._paused or self._closed:
            yield self
            return
        self._paused = True
        self._process_wide(False)
        try:
            yield self
        finally:
            self._paused = False
            if not self._closed:
                self._process_wide(True)

    def _sampled(self) -> bool:
        return self.step % self.every == 0

    def _activation_hook(self, name, kind):
        def hook(module, args, output):
            if self._paused or not isinstance(output, Tensor):
                return
            y = output._data  # reduced where it lives: one number comes back from a GPU
            if kind == "relu":
                self._acts[("dead_relu", name)] = _dead_fraction(y)
            else:
                self._acts[("saturation", name)] = _saturated_fraction(y, kind)

        return hook

    def _accumulated(self, p) -> None:
        """After a backward accumulated into p.grad: its norm (measured now, while the
        gradient is still in the cache), and was .grad reset since the last step?"""
        if self._paused:
            return
        key = id(p)
        self._touched = True
        self._gnorm[key] = _norm(p._grad._data)
        if key not in self._stepped:
            return
        self._stepped.discard(key)
        ref, version = self._grad_at_step.get(key, (None, 0))
        g = p._grad
        if ref is not None and g is ref() and g._version - version <= 1:
            name = self._names.get(key, "?")
            where = str(self._backward_where)
            self._alert(
                "zero_grad",
                None,
                None,
                f"gradients accumulated across optimizer steps: {name}.grad still held step "
                f"{self.step - 1}'s gradient when loss.backward() at {where} added the new one. "
                "zero_grad was not called: call optimizer.zero_grad() (or model.zero_grad()) "
                "before each loss.backward()",
                where,
            )

    def _before_backward(self, loss) -> None:
        self._touched = False
        if self._tracing:  # the first forward pass has been recorded: enough for why_no_grad
            self._tracing = False
            RECORDER.use("trace", False)
        self._backward_where = user_frame()  # formatted only if an alert needs it
        if not loss.requires_grad:  # backward will raise: say why first
            for f in why_no_grad(loss, self.model):
                if f.name == "loss":
                    self._alert("no_grad", "loss", None, f.message, f.where)

    def _after_backward(self, loss) -> None:
        if self._hooked and not self._touched:
            return  # the backward of another model's loss: not this Monitor's business
        a = loss._data
        if a.size == 1:
            v = float(a.item()) if type(a) is np.ndarray else float(backend.to_numpy(a).item())
            self.history["loss"].append(v)
            self._check_loss(v)
        if loss.grad_fn is not None:
            self._roots.append((self.step, weakref.ref(loss.grad_fn)))
            self._roots = self._roots[-4:]
            if self.leaks:
                self.history["graph_nodes"].append(sum(1 for _ in walk([loss.grad_fn])))
                self._check_graph_growth()
        if self._first:
            self._first = False
            for f in why_no_grad(loss, self.model):
                if f.reason in ("requires_grad",):
                    continue
                self._alert("no_grad", f.name, None, f"{f.name} {f.message}", f.where)
        if self.optimizer is None:  # no step hooks: a backward is a step
            self._end_step(None)

    def _pre_step(self, opt, args, kwargs) -> None:
        """Before the update: snapshot a sample of each parameter on sampled steps; on the
        others, of those that the step should leave alone but may move: frozen ones, or with a
        zero gradient, that still hold a .grad (the optimizer skips a .grad of None)."""
        if self._paused:
            return
        sampled = self._sampled()
        gnorm = self._gnorm
        for name, p in self.params:
            key = id(p)
            if sampled or (
                p._grad is not None
                and (not p.requires_grad or gnorm.get(key) == 0.0)
                and name not in self._moved  # said once: no need to keep paying for it
            ):
                self._snap[key] = _values(p, self._idx[key])

    def _post_step(self, opt, args, kwargs) -> None:
        if self._paused:
            return
        for _, p in self.params:
            g = p._grad
            if g is not None:
                self._grad_at_step[id(p)] = (weakref.ref(g), g._version)
                self._stepped.add(id(p))
        self._end_step(opt)

    # ------------------------------------------------------------------ measuring
    def _end_step(self, opt) -> None:
        h = self.history
        sampled = self._sampled()
        norms = self._grad_norms()
        h["step"].append(self.step)
        for name, v in norms.items():
            h["grad_norm"][name].append(v)
        ratios = self._updates(opt, norms)
        if sampled:
            h["sampled_step"].append(self.step)
            for name, _ in self.params:
                h["update_ratio"][name].append(ratios.get(name, 0.0))
            for (kind, name), v in self._acts.items():
                h[kind].setdefault(name, []).append(v)
        self._check_gradients(norms)
        if sampled:
            self._check_ratios(norms, ratios)
            self._check_activations()
            self._acts = {}
        if opt is not None:
            self._check_leaks()
            RECORDER.step += 1
        self.step += 1
        self._arm(self._sampled())

    def _grad_norms(self) -> dict:
        norms = {}
        gnorm = self._gnorm
        for name, p in self.params:
            n = gnorm.pop(id(p), None)
            if n is None:  # no backward accumulated into it: None, or .grad set by hand
                g = p._grad
                n = _norm(g._data) if g is not None else 0.0
            norms[name] = n
        return norms

    def _updates(self, opt, norms) -> dict:
        """|Δw| / |w| of each parameter snapshotted before the step; a frozen parameter or
        one without a gradient that moved is an alert."""
        ratios = {}
        snap = self._snap
        for name, p in self.params:
            before = snap.pop(id(p), None)
            if before is None:
                continue
            # on a strided sample of the elements: the same picture of the ratio for a few
            # microseconds, instead of copying every weight each step
            after = _values(p, self._idx[id(p)])
            w = _norm(before)
            du = _norm(after - before)
            ratios[name] = du / w if w > 0 else du
            g = p._grad
            trainable = p.requires_grad and g is not None and norms[name] > 0
            if not trainable and du > 0 and opt is not None:
                self._frozen_moves(name, p, g, du, opt)
        return ratios

    def _frozen_moves(self, name, p, g, du, opt) -> None:
        self._moved.add(name)
        group = next((gr for gr in opt.param_groups if any(q is p for q in gr["params"])), {})
        causes = []
        if group.get("weight_decay"):
            causes.append(f"weight decay (weight_decay={group['weight_decay']})")
        if group.get("momentum"):
            causes.append(f"momentum (momentum={group['momentum']})")
        if "betas" in group and opt.state.get(p):
            causes.append("Adam's running averages from earlier steps")
        state = "frozen (requires_grad=False)" if not p.requires_grad else "without a gradient"
        why = " and ".join(causes) if causes else "the optimizer's state"
        acts = "act" if len(causes) > 1 else "acts"
        where = user_frame()
        self._alert(
            "frozen_moves",
            name,
            du,
            f"{name} is {state} but moved by {du:.3g} in the optimizer step at {where}: {why} "
            f"still {acts} on it (its .grad is "
            + ("None" if g is None else "zero")
            + "). Remove it from the optimizer (or put it in a group with weight_decay=0 and "
            "zero_grad(set_to_none=True)) to really freeze it",
            str(where),
        )

    # ------------------------------------------------------------------ where a layer came from
    def _origin(self, names) -> tuple[str, str | None]:
        """' (0.weight set by normal_ at train.py:12)' for those of the named parameters whose
        values an nn.init call or the layer's construction set, and the first such file:line."""
        by_site: dict = {}
        for n in names:
            site = self._init_sites.get(n)
            if site is not None:
                by_site.setdefault(site, []).append(n)
        if not by_site:
            return "", None
        parts = [
            f"{' and '.join(ns)} set by {op} at {where}" for (op, where), ns in by_site.items()
        ]
        return f" ({'; '.join(parts)})", next(iter(by_site))[1]

    def _feeding_layer(self, act: str) -> str | None:
        """The module right before activation `act` when both sit in an nn.Sequential (the
        layer whose initialisation decides whether the units die or saturate), else None."""
        parent_name, _, child = act.rpartition(".")
        parent = self.model.get_submodule(parent_name) if parent_name else self.model
        if type(parent).__name__ != "Sequential":
            return None
        keys = list(parent._modules)
        i = keys.index(child) if child in keys else 0
        if i == 0:
            return None
        return f"{parent_name}.{keys[i - 1]}" if parent_name else keys[i - 1]

    # ------------------------------------------------------------------ checks
    def _check_gradients(self, norms) -> None:
        for n, v in norms.items():
            if not math.isfinite(v) or v > self.exploding_norm:
                self._alert(
                    "exploding",
                    n,
                    v,
                    f"gradient norm of {n} is {v:.3g}: exploding gradients. Lower the learning "
                    "rate, clip gradients (nn.utils.clip_grad_norm_) or normalise activations",
                )
        weights = [
            (n, norms[n]) for n, p in self._weights if p.requires_grad and p._grad is not None
        ]
        if len(weights) < 2:
            return
        (first, g0), (last, g1) = weights[0], weights[-1]
        if g1 > 0 and g0 / g1 < self.vanishing_ratio:
            origin, where = self._origin([first])
            self._alert(
                "vanishing",
                first,
                g0 / g1,
                f"vanishing gradients: the first layer's gradient norm ({first}: {g0:.3g}) is "
                f"{g0 / g1:.2g} of the last layer's ({last}: {g1:.3g}), over {len(weights)} "
                f"layers{origin}. Use an initialisation scaled to the layer (nn.init.xavier_/"
                "kaiming_), ReLU instead of sigmoid/tanh, normalisation or residual connections",
                where,
            )
        elif g0 > 0 and g0 / max(g1, 1e-30) > 1 / self.vanishing_ratio:
            origin, where = self._origin([first])
            self._alert(
                "exploding",
                first,
                g0 / g1,
                f"gradients grow with depth: the first layer's gradient norm ({first}: "
                f"{g0:.3g}) is {g0 / g1:.2g} times the last layer's ({last}: {g1:.3g}){origin}. "
                "Check the initialisation scale, or clip gradients",
                where,
            )

    def _check_ratios(self, norms, ratios) -> None:
        for n, p in self.params:
            r = ratios.get(n, 0.0)
            if p.ndim < 2 or norms.get(n, 0.0) == 0 or not p.requires_grad:
                continue
            if r > self.update_ratio_high:
                self._alert(
                    "update_ratio",
                    n,
                    r,
                    f"update/weight ratio of {n} is {r:.2g} (healthy: about 1e-3): each step "
                    f"changes the weights by {r:.0%}. The learning rate ({self._lr(p)}) is too "
                    "large",
                )
            elif 0 < r < self.update_ratio_low:
                self._alert(
                    "update_ratio",
                    n,
                    r,
                    f"update/weight ratio of {n} is {r:.2g} (healthy: about 1e-3): the weights "
                    f"barely move. The learning rate ({self._lr(p)}) is too small",
                )

    def _check_activations(self) -> None:
        for (kind, name), v in self._acts.items():
            if kind == "dead_relu" and v > self.dead_fraction:
                layer = self._feeding_layer(name)
                origin, where = self._origin([f"{layer}.weight", f"{layer}.bias"] if layer else [])
                self._alert(
                    "dead_relu",
                    name,
                    v,
                    f"{v:.0%} of the units after ReLU {name!r} are dead (zero for every sample "
                    "in the batch): they pass no gradient. Lower the learning rate, use "
                    f"LeakyReLU/GELU, or check the initialisation of the layer before it{origin}",
                    where,
                )
            if kind == "saturation" and v > self.saturated_fraction:
                layer = self._feeding_layer(name)
                origin, where = self._origin([f"{layer}.weight", f"{layer}.bias"] if layer else [])
                self._alert(
                    "saturation",
                    name,
                    v,
                    f"{v:.0%} of the outputs of {name!r} are saturated (at the flat ends of "
                    "tanh/sigmoid, where the derivative is ~0). Scale the inputs or the "
                    f"initialisation of the layer before it down{origin}, or add normalisation "
                    "before it",
                    where,
                )

    def _lr(self, p):
        """The learning rate of `p`'s parameter group (None: of the first group)."""
        if self.optimizer is None:
            return "?"
        for gr in self.optimizer.param_groups:
            if p is None or any(q is p for q in gr["params"]):
                return gr.get("lr", "?")
        return "?"

    def _check_loss(self, v: float) -> None:
        losses = self.history["loss"]
        if not math.isfinite(v):
            self._alert(
                "diverging",
                None,
                v,
                f"the loss is {v} at step {self.step}: training diverged. Lower the learning "
                f"rate (lr={self._lr(None)}); chainrule.debug.detect_anomaly() finds the first NaN",
            )
            return
        if len(losses) < 4:
            return
        old = losses[-4]  # the best loss before the last three, kept as it goes (not O(steps))
        if math.isfinite(old) and old < self._best_loss:
            self._best_loss = old
        best = self._best_loss
        recent = sorted(losses[-3:])[1]  # the median of the last three: one spike is noise
        if recent > self.diverge_factor * max(best, 1e-12):
            self._alert(
                "diverging",
                None,
                v,
                f"the loss diverges: {recent:.4g} over the last 3 steps, {best:.4g} before. "
                f"The learning rate (lr={self._lr(None)}) is too large: lower it (e.g. by 10x) "
                "or warm it up",
            )

    # ------------------------------------------------------------------ leaks
    def _check_graph_growth(self) -> None:
        n = self.history["graph_nodes"]
        if len(n) >= 4 and all(a < b for a, b in zip(n[-4:], n[-3:])):
            self._alert(
                "leak",
                "graph",
                n[-1],
                f"the graph grows step after step ({', '.join(map(str, n[-4:]))} nodes): a "
                "tensor carries graph history from one step into the next (an RNN hidden state "
                "or a running total). .detach() it at the end of each step",
            )

    def _check_leaks(self) -> None:
        if not self.leaks:
            return
        for c in RECORDER.carries:
            if c["serial"] <= self._carry_serial or c["node"]() is None:
                continue
            self._carry_serial = c["serial"]
            self._carry_candidates.append((self.step, c))
        keep = []
        for step, c in self._carry_candidates:
            if c["node"]() is None:  # joined two steps' graphs, but was dropped: harmless
                continue
            if step < self.step:  # the node that joined two steps' graphs lived through a step
                self._alert(
                    "leak",
                    None,
                    None,
                    f"a tensor carrying graph history survives the optimizer step: {c['op']} at "
                    f"{c['where']} joins an earlier step's graph to a later one's (a running "
                    "total such as `total_loss += loss`?). Every "
                    "step's graph stays in memory: accumulate loss.item() or loss.detach() "
                    "instead",
                    str(c["where"]),
                )
            else:
                keep.append((step, c))
        self._carry_candidates = keep
        alive = [s for s, ref in self._roots if s <= self.step - 2 and ref() is not None]
        if len(alive) >= 2:
            self._alert(
                "leak",
                None,
                None,
                f"the graphs of steps {alive} are still alive at step {self.step}: something "
                "keeps each step's loss with its history (a list of losses? a running total?). "
                "Keep loss.item() or loss.detach() instead",
            )

    # ------------------------------------------------------------------ alerts & output
    def _alert(self, kind, layer, value, message, where=None) -> None:
        key = (kind, layer, where)
        if key in self._seen:
            return
        self._seen.add(key)
        alert = Alert(kind, layer, value, message, self.step, where)
        self.alerts.append(alert)
        if self.warn:
            warnings.warn(str(alert), TrainingHealthWarning, stacklevel=4)

    def grad_norms(self) -> dict[str, list[float]]:
        """Per-parameter gradient norms, one per optimizer step: ``{"0.weight": [...], ...}``
        (the lists of ``history["grad_norm"]``; steps in ``history["step"]``)."""
        return self.history["grad_norm"]

    def summary(self, echo=print) -> str:
        """A table per parameter: latest gradient norm, its trend over the run, its ratio to
        the last layer's (depth), the update ratio, then activations and alerts. Printed with
        `echo` (None: only returned)."""
        h = self.history
        weights = [n for n, p in self.params if p.ndim >= 2]
        last = h["grad_norm"][weights[-1]][-1] if weights and h["step"] else 0.0
        rows = [f"{'parameter':<28}{'grad norm':>11}{'trend':>9}{'vs last':>9}{'update':>10}"]
        for n, _ in self.params:
            g = h["grad_norm"][n]
            if not g:
                continue
            trend = g[-1] / g[0] if g[0] > 0 else float("nan")
            depth = g[-1] / last if last > 0 else float("nan")
            u = h["update_ratio"][n][-1] if h["update_ratio"][n] else float("nan")
            rows.append(f"{n:<28}{g[-1]:>11.3g}{trend:>8.2g}x{depth:>8.2g}x{u:>10.2g}")
        for kind in ("dead_relu", "saturation"):
            for name, v in h[kind].items():
                label = "dead ReLU units" if kind == "dead_relu" else "saturated outputs"
                rows.append(f"{name:<28}{label}: {v[-1]:.0%}")
        if h["loss"]:
            rows.append(f"loss: {h['loss'][0]:.4g} -> {h['loss'][-1]:.4g} ({len(h['loss'])})")
        rows.append(f"alerts: {len(self.alerts)}")
        rows.extend(f"  {a}" for a in self.alerts)
        text = "\n".join(rows)
        if echo is not None:
            echo(text)
        return text

    def plot(self, path: str) -> str:
        """Draw per-parameter gradient norms (and update ratios) over steps into `path`."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        h = self.history
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
        for n, v in h["grad_norm"].items():
            if v and any(x > 0 for x in v):
                ax1.plot(h["step"][: len(v)], [max(x, 1e-30) for x in v], label=n)
        for n, v in h["update_ratio"].items():
            if v and any(x > 0 for x in v):
                ax2.plot(h["sampled_step"][: len(v)], [max(x, 1e-30) for x in v], label=n)
        ax1.set(yscale="log", xlabel="step", title="gradient norm per parameter")
        ax2.set(yscale="log", xlabel="step", title="update / weight ratio")
        ax2.axhline(1e-3, color="gray", linestyle="--", linewidth=0.8)
        ax1.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        return path
