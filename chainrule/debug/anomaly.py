"""The first NaN, found: forward and backward checks, a likely cause, a replay bundle."""

from __future__ import annotations

import importlib
import os

import numpy as np

from .. import backend
from ..autograd import engine
from ..autograd.engine import user_frame
from ..tensor import Tensor
from ._recorder import RECORDER, track_modules

BUNDLE = "anomaly.safetensors"


class AnomalyError(RuntimeError):
    """The first NaN or Inf, with where it appeared and why it probably did.

    Attributes: ``op`` (the op's name), ``phase`` ("forward" or "backward"), ``where``
    ("file:line"), ``module`` (the module path, or None), ``cause`` (plain language), ``bundle``
    (the replay file, or None) and ``report`` (the whole text).
    """

    def __init__(self, report, op, phase, where, module, cause, bundle):
        super().__init__(report)
        self.report, self.op, self.phase = report, op, phase
        self.where, self.module, self.cause, self.bundle = where, module, cause, bundle


def _arr(x):
    return backend.to_numpy(x._data if isinstance(x, Tensor) else x)


def _finite(x) -> bool:
    a = _arr(x)
    return a.dtype.kind not in "fcV" or bool(np.isfinite(a.astype(np.float64)).all())


def stats(x) -> str:
    """min, max, zeros, negatives, inf/nan and dtype of a tensor, as one line."""
    a = _arr(x)
    if a.size == 0:
        return f"{backend.dtype_name(a.dtype)} {tuple(a.shape)} empty"
    if a.dtype.kind not in "fcV":
        return f"{backend.dtype_name(a.dtype)} {tuple(a.shape)} min {a.min()} max {a.max()}"
    f = a.astype(np.float64)
    fin = f[np.isfinite(f)]
    parts = [f"{backend.dtype_name(a.dtype)} {tuple(a.shape)}"]
    if fin.size:
        parts.append(f"min {fin.min():.4g} max {fin.max():.4g}")
    zeros, neg = int((f == 0).sum()), int((f < 0).sum())
    n_nan, n_inf = int(np.isnan(f).sum()), int(np.isinf(f).sum())
    parts.append(f"{zeros} zeros, {neg} negative, {n_inf} inf, {n_nan} nan")
    return ", ".join(parts)


def _tensors(args):
    return [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor) or hasattr(a, "dtype")]


def likely_cause(op: str, args, phase: str) -> str:
    """The usual reason `op` turns finite inputs into NaN/Inf, checked against the inputs."""
    ins = [_arr(a).astype(np.float64) for _, a in _tensors(args) if _arr(a).dtype.kind in "fcV"]
    dts = [_arr(a).dtype for _, a in _tensors(args)]
    x = ins[0] if ins else np.zeros(0)
    name = op.lower()
    if name.startswith("log") and "softmax" not in name and "sigmoid" not in name:
        if (x == 0).any():
            return (
                "log of 0: an input is exactly 0 (a probability that underflowed?). Add an "
                "epsilon (log(p + 1e-8)), clamp, or compute log-probabilities directly with "
                "log_softmax / cross_entropy on logits"
            )
        if (x < 0).any():
            return "log of a negative number: the input has negative values"
    if name in ("div", "truedivide", "reciprocal") or name.startswith("div"):
        den = ins[-1] if len(ins) > 1 or name == "reciprocal" else None
        if den is not None and (den == 0).any():
            return "division by 0: the denominator has zeros; add an epsilon or mask them"
    if name.startswith(("sqrt", "rsqrt")):
        if (x < 0).any():
            return "sqrt of a negative number: clamp the input to >= 0 first"
        if phase == "backward" and (x == 0).any():
            return "sqrt's derivative at 0 is infinite (1 / (2 sqrt(0))): add an epsilon inside"
    if name.startswith("pow") and (x < 0).any():
        return "a negative number to a fractional power"
    if "where" in name or "maskedfill" in name:
        return (
            "a masked branch with where: the branch that is not chosen still computes inf/nan, "
            "and its gradient (0 * inf) is nan. Make both branches safe (where the input first)"
        )
    small = [dt for dt in dts if dt.kind in "fV" and dt.itemsize <= 2]
    if small:
        dt = small[0]
        big = float(np.finfo(np.float16).max) if dt == np.float16 else 3.4e38
        label = backend.dtype_name(dt)
        if name.startswith("exp") or "softmax" in name:
            return (
                f"overflow of exp in {label}: exp(x) exceeds {big:.6g} for x above "
                f"{np.log(big):.3g} (largest input {x.max() if x.size else 0:.4g}). Subtract the "
                "max first, use softmax/log_softmax, or compute in float32 (autocast)"
            )
        return (
            f"overflow in {label}: results above {big:.6g} become inf. Scale the inputs down, "
            "or compute this op in float32 (autocast / .float())"
        )
    if name.startswith("exp"):
        return "overflow of exp: inputs too large; subtract the max first or clamp"
    if ins and any(np.isinf(i).any() for i in ins):
        return "inf - inf or 0 * inf: an input already holds inf"
    return "a non-finite result from finite inputs (overflow?)"


def _encode(a):
    if isinstance(a, Tensor):
        return {"tensor": a.detach(), "requires_grad": bool(a.requires_grad)}
    if isinstance(a, np.ndarray):
        return {"tensor": a, "requires_grad": False}
    if isinstance(a, np.dtype):
        return {"dtype": a}
    if a is None or isinstance(a, bool | int | float | str):
        return {"value": a}
    if isinstance(a, tuple | list) and all(isinstance(v, int | float | bool) for v in a):
        return {"value": list(a), "tuple": isinstance(a, tuple)}
    return {"repr": repr(a)}


def _decode(e):
    from ..ops.creation import tensor as _tensor

    if "tensor" in e:
        t = e["tensor"]
        t = t if isinstance(t, Tensor) else _tensor(t)
        t = t.detach()
        if e.get("requires_grad") and t.is_floating_point():
            t.requires_grad_(True)
        return t
    if "dtype" in e:
        return np.dtype(e["dtype"]) if not isinstance(e["dtype"], np.dtype) else e["dtype"]
    if "value" in e:
        v = e["value"]
        return tuple(v) if e.get("tuple") else v
    raise RuntimeError(f"argument {e['repr']} cannot be replayed (not saved by value)")


class detect_anomaly:
    """Check every op's outputs in the forward pass and its gradients in the backward pass;
    stop at the first NaN or Inf with an ``AnomalyError`` that names the op, the module path,
    the file and line, the inputs' statistics and the likely cause, after writing a replay
    bundle to `path` (``chainrule.debug.replay(path)`` reproduces the failure).

    Args:
        path: a directory (or a ``.safetensors`` file) for the replay bundle; None: no bundle.
        check_nan: as in ``torch.autograd.detect_anomaly``.
        model: a Module, so that reports name the module path (``model.blocks.3.attn``) and the
            bundle holds the parameters.

    Example:
        >>> import chainrule as torch, chainrule.debug as debug
        >>> x = torch.tensor([1.0, 0.0], requires_grad=True)
        >>> with debug.detect_anomaly():
        ...     try:
        ...         y = x.log()
        ...     except debug.AnomalyError as e:
        ...         print(e.op, e.phase, e.cause.split(":")[0])
        Log forward log of 0
    """

    def __init__(self, path: str | None = None, check_nan: bool = True, model=None):
        self.path = path
        self.check_nan = check_nan
        self.model = model
        self._modules = track_modules(model, "model")
        self._prev = None

    def __enter__(self):
        self._prev = (engine._anomaly_enabled, RECORDER.anomaly)
        engine._anomaly_enabled = self.check_nan
        RECORDER.anomaly = self if self.check_nan else None
        RECORDER.refresh()
        self._modules.__enter__()
        return self

    def __exit__(self, *exc):
        self._modules.__exit__(*exc)
        engine._anomaly_enabled, RECORDER.anomaly = self._prev
        RECORDER.refresh()
        return False

    # ---------------------------------------------------------------- checks
    def check_forward(self, node, cls, args, outs) -> None:
        if node is not None and self.path is not None:
            node.__dict__["_args"] = args  # kept for a backward replay
        for j, o in enumerate(outs):
            if not isinstance(o, Tensor) or _finite(o):
                continue
            bad = [i for i, a in _tensors(args) if not _finite(a)]
            op = cls.__name__
            if bad:
                cause = (
                    f"input {bad[0]} already holds NaN/Inf and was not computed by an op in "
                    "this block: check the data and the parameters (a previous update that "
                    "diverged?)"
                )
            else:
                cause = likely_cause(op, args, "forward")
            site = node.__dict__["_site"] if node is not None else user_frame()
            module = node.__dict__.get("_module") if node is not None else _top()
            self._fail(op, "forward", site, module, args, j, o, cause, None)

    def check_backward(self, node, gxs, gys) -> None:
        for i, g in enumerate(gxs):
            if g is None or _finite(g):
                continue
            op = type(node).__name__
            args = node.__dict__.get("_args", ())
            if not all(g2 is None or _finite(g2) for g2 in gys):
                cause = "the gradient flowing into this op was already NaN/Inf"
            else:
                cause = likely_cause(op, args or _saved(node), "backward")
            site = node.__dict__.get("_site", "<unknown>")
            self._fail(op, "backward", site, node.__dict__.get("_module"), args, i, g, cause, gys)

    def _fail(self, op, phase, site, module, args, index, value, cause, gys):
        what = "gradient for input" if phase == "backward" else "output"
        lines = [
            f"{op} produced NaN/Inf in the {phase} pass ({what} {index}: {stats(value)})",
            f"  at {site}" + (f", in module {module}" if module else ""),
        ]
        for i, a in _tensors(args):
            lines.append(f"  input {i}: {stats(a)}")
        if gys is not None:
            for i, g in enumerate(gys):
                if g is not None:
                    lines.append(f"  incoming gradient {i}: {stats(g)}")
        lines.append(f"  likely cause: {cause}")
        bundle = None
        if self.path is not None:
            try:
                bundle = self._save(op, phase, args, gys, "\n".join(lines))
                lines.append(f"  replay: chainrule.debug.replay({bundle!r}) reproduces it")
            except Exception as exc:  # a bundle that cannot be written must not hide the NaN
                lines.append(f"  (no replay bundle: {exc})")
        raise AnomalyError("\n".join(lines), op, phase, str(site), module, cause, bundle)

    def _save(self, op, phase, args, gys, report) -> str:
        from ..ops.creation import get_rng_state
        from ..serialization import save

        node_cls = _find_op(op)
        path = self.path
        if not path.endswith(".safetensors"):
            os.makedirs(path, exist_ok=True)
            path = os.path.join(path, BUNDLE)
        bundle = {
            "op": f"{node_cls.__module__}:{node_cls.__qualname__}" if node_cls else op,
            "phase": phase,
            "args": [_encode(a) for a in args],
            "grads": [None if g is None else Tensor._make(_arr(g)) for g in (gys or ())],
            "rng_state": get_rng_state(),
            "report": report,
        }
        if self.model is not None:
            bundle["params"] = {k: v.detach() for k, v in self.model.state_dict().items()}
        save(bundle, path)
        return path


def _top():
    return RECORDER.modules[-1] if RECORDER.modules else None


def _saved(node):
    saved = node.saved
    return saved if isinstance(saved, tuple) else ()


_OP_CLASSES: dict = {}


def _find_op(name: str):
    """The op class called `name` (chainrule's built-in ops, and Functions seen so far)."""
    if not _OP_CLASSES:
        from ..autograd.engine import Function

        stack = [Function]
        while stack:
            c = stack.pop()
            _OP_CLASSES.setdefault(c.__name__, c)
            stack.extend(c.__subclasses__())
    return _OP_CLASSES.get(name)


def replay(path: str, model=None):
    """Run the op saved in a bundle by ``detect_anomaly(path=...)`` again, on the saved inputs
    and RNG state, under ``detect_anomaly``: it raises the same ``AnomalyError`` when the failure
    reproduces, and returns the op's output(s) when it does not. With `model`, the saved
    parameters are loaded into it first."""
    from ..ops.creation import set_rng_state
    from ..serialization import load

    if os.path.isdir(path):
        path = os.path.join(path, BUNDLE)
    bundle = load(path)
    if model is not None and "params" in bundle:
        model.load_state_dict(bundle["params"])
    mod_name, _, qual = bundle["op"].partition(":")
    cls = importlib.import_module(mod_name)
    for part in qual.split("."):
        cls = getattr(cls, part)
    args = [_decode(e) for e in bundle["args"]]
    set_rng_state(bundle["rng_state"])
    with detect_anomaly():
        out = cls.apply(*args)
        if bundle["phase"] == "backward":
            outs = out if isinstance(out, tuple) else (out,)
            grads = list(bundle["grads"])
            pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
            from ..autograd import backward

            backward([o for o, _ in pairs], [g for _, g in pairs])
    return out
