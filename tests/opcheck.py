"""The op table's shared checks: one OpCase row drives gradcheck (float64 finite differences),
gradgradcheck where the op claims it, and parity of values and gradients with torch on the same
inputs (float32 and float64), on every available device.

A row:
    OpCase("tanh", shapes=[(3, 4), ()], domain=(-3, 3))
    OpCase("add", shapes=[((3, 4), (4,)), ((), (2, 3))])          # binary, with broadcasting
    OpCase("sum_dim", lambda m, x: x.sum(dim=1, keepdim=True), shapes=[(3, 4)])
`fn(m, *inputs)` is called with m = chainrule or m = torch: the same code runs on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import chainrule
from chainrule.testing import assert_close, gradcheck, gradgradcheck

try:
    import torch
except ImportError:  # parity checks skip without torch
    torch = None

DEVICES = ["cpu"] + (["cuda"] if chainrule.backend.cuda_available() else [])


@dataclass
class OpCase:
    name: str
    fn: Callable | None = None  # fn(m, *inputs); default getattr(m, name)(*inputs)
    shapes: list = field(default_factory=lambda: [(3, 4)])
    domain: tuple = (-2.0, 2.0)
    gradcheck: bool = True  # False for rows at kinks: parity with torch's convention only
    gradgrad: bool = True
    torch_fn: Callable | None = None  # where torch spells it differently
    make: Callable | None = None  # make(rng) -> list of float64 arrays (or int arrays)
    requires_grad: tuple | None = None  # per input; default: float inputs require grad
    rtol: float = 1e-3
    atol: float = 1e-5
    parity_rtol32: float = 1e-4
    parity_atol32: float = 1e-5
    dtypes: tuple = ("float32", "float64")

    def call(self, m, *inputs):
        if m is torch and self.torch_fn is not None:
            return self.torch_fn(m, *inputs)
        if self.fn is not None:
            return self.fn(m, *inputs)
        return getattr(m, self.name)(*inputs)


def _signatures(case: OpCase):
    sigs = []
    for s in case.shapes:
        if len(s) and all(isinstance(d, tuple) for d in s):
            sigs.append(tuple(s))
        else:
            sigs.append((tuple(s),))
    return sigs


def params(cases: list[OpCase]):
    """pytest parameters: one per (row, input signature, device)."""
    out = []
    for case in cases:
        sigs = _signatures(case) if case.make is None else [None]
        for k, sig in enumerate(sigs):
            for dev in DEVICES:
                sig_id = "x".join(str(list(s)).replace(" ", "") for s in sig) if sig else f"made{k}"
                out.append(pytest.param(case, sig, dev, id=f"{case.name}-{sig_id}-{dev}"))
    return out


def _inputs(case: OpCase, sig, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if case.make is not None:
        return [np.asarray(a) for a in case.make(rng)]
    lo, hi = case.domain
    return [rng.uniform(lo, hi, size=s) for s in sig]


def _grad_mask(case: OpCase, arrays) -> list[bool]:
    if case.requires_grad is not None:
        return list(case.requires_grad)
    return [a.dtype.kind == "f" for a in arrays]


def _to_chainrule(arrays, mask, dtype, device):
    out = []
    for a, rg in zip(arrays, mask):
        t = chainrule.tensor(a.astype(dtype) if a.dtype.kind == "f" else a, device=device)
        out.append(t.requires_grad_(True) if rg else t)
    return out


def _outputs(out):
    if isinstance(out, tuple | list):
        return [o for o in out if hasattr(o, "requires_grad")]
    return [out]


def run_case(case: OpCase, sig, device: str, seed: int = 0) -> None:
    arrays = _inputs(case, sig, seed)
    mask = _grad_mask(case, arrays)

    if case.gradcheck and any(mask):
        xs = _to_chainrule(arrays, mask, "float64", device)
        gradcheck(lambda *a: case.call(chainrule, *a), xs, rtol=case.rtol, atol=case.atol)
        if case.gradgrad:
            xs = _to_chainrule(arrays, mask, "float64", device)
            gradgradcheck(lambda *a: case.call(chainrule, *a), xs, rtol=case.rtol, atol=case.atol)

    if torch is None:
        pytest.skip("torch is not installed: parity not checked")
    for dtype in case.dtypes:
        _parity(case, arrays, mask, dtype, device, seed)


def _parity(case, arrays, mask, dtype, device, seed):
    xs = _to_chainrule(arrays, mask, dtype, device)
    ts = []
    for a, rg in zip(arrays, mask):
        t = torch.tensor(a.astype(dtype) if a.dtype.kind == "f" else a)
        ts.append(t.requires_grad_(True) if rg else t)
    ours = _outputs(case.call(chainrule, *xs))
    theirs = _outputs(case.call(torch, *ts))
    assert len(ours) == len(theirs), f"{case.name}: {len(ours)} outputs vs torch's {len(theirs)}"
    rtol, atol = (1e-7, 1e-9) if dtype == "float64" else (case.parity_rtol32, case.parity_atol32)
    for o, t in zip(ours, theirs):
        assert tuple(o.shape) == tuple(t.shape), (
            f"{case.name}: shape {tuple(o.shape)} vs torch {tuple(t.shape)}"
        )
        assert str(o.dtype) == str(t.dtype).removeprefix("torch."), (
            f"{case.name}: dtype {o.dtype} vs torch {t.dtype}"
        )
        assert_close(
            o, t, rtol=rtol, atol=atol, check_dtype=False, msg=f"{case.name} forward ({dtype})"
        )
    if not any(mask):
        return
    rng = np.random.default_rng(seed + 7)
    pairs = [(o, t) for o, t in zip(ours, theirs) if t.requires_grad]
    if not pairs:
        return
    ups = [rng.standard_normal(tuple(t.shape)).astype(dtype) for _, t in pairs]
    chainrule.autograd.backward([o for o, _ in pairs], [chainrule.tensor(u) for u in ups])
    torch.autograd.backward([t for _, t in pairs], [torch.tensor(u) for u in ups])
    for k, (x, t) in enumerate(zip(xs, ts)):
        if not mask[k]:
            continue
        if t.grad is None:
            assert x.grad is None or not np.any(x.grad.numpy()), (
                f"{case.name}: input {k} grad vs torch None"
            )
            continue
        assert x.grad is not None, f"{case.name}: input {k} got no gradient (torch has one)"
        assert_close(
            x.grad,
            t.grad,
            rtol=rtol,
            atol=atol,
            check_dtype=False,
            msg=f"{case.name} grad of input {k} ({dtype})",
        )
