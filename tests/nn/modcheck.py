"""The layer table's shared check: one ModuleCase row builds the same layer in chainrule and in
torch, copies chainrule's weights into torch through ``state_dict`` (so the keys and shapes must
be PyTorch's), and compares outputs, buffers after the call and the gradients of every input and
every parameter, in train and eval mode, in float32 and float64.

A row:
    ModuleCase("conv2d", lambda nn: nn.Conv2d(3, 4, 3, padding=1), inputs=[(2, 3, 8, 8)])
    ModuleCase("embedding", lambda nn: nn.Embedding(10, 3),
               make_inputs=lambda rng: [rng.integers(0, 10, (2, 5))])
    ModuleCase("lstm", lambda nn: nn.LSTM(4, 5, batch_first=True), inputs=[(2, 3, 4)])

`make(nn)` is called with ``chainrule.nn`` and with ``torch.nn``. `call(module, *inputs)`
replaces ``module(*inputs)`` where the call needs more (keyword arguments, masks). Outputs may
be nested tuples (an LSTM's ``(out, (h, c))``); every floating tensor in them is compared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import chainrule
from chainrule.testing import assert_close

try:
    import torch
except ImportError:
    torch = None


@dataclass
class ModuleCase:
    name: str
    make: Callable  # make(nn) -> a module; nn is chainrule.nn or torch.nn
    inputs: list | None = None  # input shapes (uniform on `domain`)
    make_inputs: Callable | None = None  # make_inputs(rng) -> list of arrays (ints stay ints)
    call: Callable | None = None  # call(module, *inputs) -> output(s); default module(*inputs)
    domain: tuple = (-2.0, 2.0)
    modes: tuple = ("train", "eval")
    dtypes: tuple = ("float32", "float64")
    requires_grad: tuple | None = None  # per input; default: float inputs require grad
    rtol32: float = 1e-4
    atol32: float = 1e-5
    rtol64: float = 1e-7
    atol64: float = 1e-9

    def run(self, m, module, inputs):
        if self.call is not None:
            return self.call(module, *inputs)
        return module(*inputs)


def params(cases: list[ModuleCase]):
    """pytest parameters: one per (row, dtype, mode)."""
    return [
        pytest.param(case, dtype, mode, id=f"{case.name}-{dtype}-{mode}")
        for case in cases
        for dtype in case.dtypes
        for mode in case.modes
    ]


def _arrays(case: ModuleCase, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    if case.make_inputs is not None:
        return [np.asarray(a) for a in case.make_inputs(rng)]
    lo, hi = case.domain
    return [rng.uniform(lo, hi, size=s) for s in case.inputs]


def _flatten(out) -> list:
    if isinstance(out, tuple | list):
        return [t for o in out for t in _flatten(o)]
    return [out] if out is not None and hasattr(out, "requires_grad") else []


def copy_weights(ours, theirs) -> None:
    """Load chainrule's state_dict into the torch module, checking that keys, shapes and
    order agree with PyTorch's."""
    sd = ours.state_dict()
    tsd = theirs.state_dict()
    assert list(sd.keys()) == list(tsd.keys()), (
        f"state_dict keys differ from PyTorch's:\n  ours:  {list(sd.keys())}\n"
        f"  torch: {list(tsd.keys())}"
    )
    for k, v in sd.items():
        assert tuple(v.shape) == tuple(tsd[k].shape), (
            f"{k}: shape {tuple(v.shape)} vs torch {tuple(tsd[k].shape)}"
        )
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in sd.items()})


def run_module_case(case: ModuleCase, dtype: str, mode: str, seed: int = 0) -> None:
    if torch is None:
        pytest.skip("torch is not installed: parity not checked")
    chainrule.manual_seed(seed)
    torch.manual_seed(seed)
    ours = case.make(chainrule.nn).to(getattr(chainrule, dtype))
    theirs = case.make(torch.nn).to(getattr(torch, dtype))
    copy_weights(ours, theirs)
    ours.train(mode == "train")
    theirs.train(mode == "train")

    arrays = _arrays(case, seed)
    mask = (
        list(case.requires_grad)
        if case.requires_grad is not None
        else [a.dtype.kind == "f" for a in arrays]
    )
    xs, ts = [], []
    for a, rg in zip(arrays, mask):
        a = a.astype(dtype) if a.dtype.kind == "f" else a
        xs.append(chainrule.tensor(a, requires_grad=rg))
        ts.append(torch.tensor(a, requires_grad=rg))

    ours_out = _flatten(case.run(chainrule, ours, xs))
    theirs_out = _flatten(case.run(torch, theirs, ts))
    rtol, atol = (case.rtol64, case.atol64) if dtype == "float64" else (case.rtol32, case.atol32)
    where = f"{case.name} ({dtype}, {mode})"
    assert len(ours_out) == len(theirs_out), (
        f"{where}: {len(ours_out)} output tensors vs torch's {len(theirs_out)}"
    )
    for k, (o, t) in enumerate(zip(ours_out, theirs_out)):
        assert tuple(o.shape) == tuple(t.shape), (
            f"{where}: output {k} shape {tuple(o.shape)} vs torch {tuple(t.shape)}"
        )
        assert str(o.dtype) == str(t.dtype).removeprefix("torch."), (
            f"{where}: output {k} dtype {o.dtype} vs torch {t.dtype}"
        )
        assert_close(o, t.detach(), rtol=rtol, atol=atol, msg=f"{where}: output {k}")

    # buffers after the call (running statistics move in train mode)
    tsd = theirs.state_dict()
    for k, v in ours.state_dict().items():
        assert_close(v, tsd[k], rtol=rtol, atol=atol, msg=f"{where}: {k} after forward")

    pairs = [(o, t) for o, t in zip(ours_out, theirs_out) if t.requires_grad]
    if not pairs:
        return
    rng = np.random.default_rng(seed + 7)
    ups = [rng.standard_normal(tuple(t.shape)).astype(dtype) for _, t in pairs]
    chainrule.autograd.backward([o for o, _ in pairs], [chainrule.tensor(u) for u in ups])
    torch.autograd.backward([t for _, t in pairs], [torch.tensor(u) for u in ups])
    for k, (x, t) in enumerate(zip(xs, ts)):
        if t.requires_grad:
            _same_grad(x.grad, t.grad, f"{where}: grad of input {k}", rtol, atol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _same_grad(p.grad, theirs_params[name].grad, f"{where}: grad of {name}", rtol, atol)


def _same_grad(g, tg, what: str, rtol: float, atol: float) -> None:
    if tg is None:
        assert g is None or not np.any(g.numpy()), f"{what}: ours {g} vs torch None"
        return
    assert g is not None, f"{what}: None, torch has one"
    assert_close(g, tg, rtol=rtol, atol=atol, msg=what)
