"""PyTorch-style reprs: tensor([1.0000, 2.7183], requires_grad=True)."""

from __future__ import annotations

import numpy as np

from .. import backend

_options = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):  # fmt: skip
    """Set how tensors print (as torch.set_printoptions)."""
    if profile == "full":
        _options.update(threshold=float("inf"))
    elif profile == "short":
        _options.update(precision=2, threshold=1000, edgeitems=2)
    elif profile == "default":
        _options.update(precision=4, threshold=1000, edgeitems=3, linewidth=80)
    for k, v in dict(precision=precision, threshold=threshold, edgeitems=edgeitems,
                     linewidth=linewidth).items():  # fmt: skip
        if v is not None:
            _options[k] = v
    _options["sci_mode"] = sci_mode


def _float_formatter(a: np.ndarray):
    finite = a[np.isfinite(a)]
    p = _options["precision"]
    if finite.size == 0:
        return lambda v: _special(v)
    amax = np.abs(finite).max()
    nonzero = np.abs(finite[finite != 0])
    amin = nonzero.min() if nonzero.size else 0.0
    integral = np.all(finite == np.round(finite))
    sci = _options["sci_mode"]
    if sci is None:
        sci = amax >= 1e8 or (amin and amin < 1e-4) or (amin and amax / amin > 1000)
        if integral and amax < 1e8:
            sci = False
    if sci:
        return lambda v: _special(v) if not np.isfinite(v) else f"{v:.{p}e}"
    if integral:
        return lambda v: _special(v) if not np.isfinite(v) else f"{v:.0f}."
    return lambda v: _special(v) if not np.isfinite(v) else f"{v:.{p}f}"


def _special(v) -> str:
    if np.isnan(v):
        return "nan"
    return "inf" if v > 0 else "-inf"


def _format(a: np.ndarray, indent: int) -> str:
    if a.dtype.kind == "b":
        fmt = lambda v: "True" if v else "False"  # noqa: E731
    elif a.dtype.kind in "iu":
        fmt = str
    elif a.dtype.kind == "c":
        fmt = lambda v: f"{v.real:.4f}{v.imag:+.4f}j"  # noqa: E731
    else:
        a = a.astype(np.float64)
        fmt = _float_formatter(a)
    summarize = a.size > _options["threshold"]
    shown = _shown(a) if summarize else a
    width = max((len(fmt(v)) for v in shown.flat), default=0)
    return np.array2string(
        a,
        separator=", ",
        prefix=" " * indent,
        formatter={"all": lambda v: fmt(v).rjust(width)},  # columns line up, as PyTorch's
        threshold=0 if summarize else a.size + 1,
        edgeitems=_options["edgeitems"],
        max_line_width=_options["linewidth"],
    )


def _shown(a: np.ndarray) -> np.ndarray:
    """The elements a summarized print shows: edgeitems from each end of every axis."""
    k = _options["edgeitems"]
    for axis, n in enumerate(a.shape):
        if n > 2 * k:
            a = np.concatenate([a.take(range(k), axis), a.take(range(n - k, n), axis)], axis)
    return a


def tensor_repr(t) -> str:
    a = backend.to_numpy(t._data)
    body = _format(a, len("tensor("))
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device}'")
    default_shown = {backend.float32, backend.int64, backend.bool_}
    if a.dtype not in default_shown and not (a.dtype == backend.get_default_dtype()):
        extras.append(f"dtype={backend.dtype_name(a.dtype)}")
    if a.size == 0 and a.ndim != 1:
        extras.insert(0, f"size={tuple(a.shape)}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"
