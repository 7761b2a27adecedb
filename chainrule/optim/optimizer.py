"""Optimizer: parameter groups, per-parameter state, ``state_dict`` and step hooks.

A built-in optimizer is a per-parameter update rule: it overrides ``update(p, g, state, group)``,
which receives the raw arrays of one parameter and its gradient (NumPy, or CuPy later) and
changes ``p`` in place, so that views of the parameter and its identity survive. The base class
runs the loop, under ``no_grad``, and bumps each parameter's version counter as an in-place op
does, so a graph that saved the old value refuses to backward through it.

User optimizers written for PyTorch (override ``step``, read ``self.state[p]`` and
``group["lr"]``, update with ``p.add_(...)`` under ``no_grad``) work unchanged.

State layout is PyTorch's, so users recognise it: ``state[p]`` is a dict of chainrule Tensors
(``exp_avg``, ``momentum_buffer``…), with ``step`` a 0-d float Tensor (float32, or float64 when
that is the default dtype) kept on the CPU. A ``step`` given as a Python number (for example in
a hand-written state dict) also works. Complex parameters are updated as pairs of real numbers
(PyTorch's ``view_as_real``); their state is kept in that real form, with a trailing axis of 2.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from itertools import chain
from typing import Any

import numpy as np

from .. import backend
from ..autograd import RemovableHandle
from ..autograd.engine import enable_grad, no_grad
from ..tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a default that each parameter group must give (SGD's lr in old PyTorch)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _with_step_hooks(step):
    """Run the optimizer's step pre- and post-hooks around `step`, once per outer call."""

    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        if getattr(self, "_in_step", False):  # a subclass's step calling super().step()
            return step(self, *args, **kwargs)
        self._in_step = True
        try:
            for hook in list(self._optimizer_step_pre_hooks.values()):
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "an optimizer step pre-hook must return None or a tuple "
                            f"(new_args, new_kwargs), but returned {result!r}"
                        )
                    args, kwargs = result
            out = step(self, *args, **kwargs)
            self._opt_called = True
            for hook in list(self._optimizer_step_post_hooks.values()):
                hook(self, args, kwargs)
        finally:
            self._in_step = False
        return out

    wrapper._hooked = True
    return wrapper


def scalar_tensor(value: float) -> Tensor:
    """A 0-d CPU float Tensor for counters such as ``step`` (PyTorch's scalar dtype)."""
    dt = np.float64 if backend.get_default_dtype() == backend.float64 else np.float32
    return Tensor._make(np.array(value, dtype=dt))


def zeros_state(p, fill: float = 0.0) -> Tensor:
    """A state Tensor shaped like the parameter array `p`, on its device, filled with `fill`."""
    xp = backend.array_module(p)
    return Tensor._make(xp.full_like(p, fill))


def increment_step(state: dict) -> float:
    """state["step"] += 1 (a Tensor in place, or a number); returns the new count."""
    step = state["step"]
    if isinstance(step, Tensor):
        step._data += 1
        return float(step._data)
    state["step"] = step + 1
    return float(step + 1)


def lerp_(a, b, weight: float) -> None:
    """a ← a + w·(b - a) in place, rounded as PyTorch's lerp (from the nearer end)."""
    diff = b - a
    if weight < 0.5:
        diff *= weight
        a += diff
    else:
        diff *= 1 - weight
        a[...] = b - diff


_CHUNK = 1 << 17  # elements: a 512 KiB float32 scratch (smaller chunks cost more Python per step)


def sub_scaled_(p, scale: float, g) -> None:
    """p ← p - scale·g in place, without a parameter-sized temporary: the product is formed a
    chunk at a time in a small scratch array (the same bits as ``p -= scale * g``)."""
    n = p.size
    if n <= _CHUNK or not (p.flags.c_contiguous and g.flags.c_contiguous) or g.shape != p.shape:
        p -= scale * g
        return
    pf, gf = p.reshape(-1), g.reshape(-1)
    xp = backend.array_module(p)
    scratch = xp.empty(_CHUNK, np.result_type(gf.dtype, p.dtype))
    for i in range(0, n, _CHUNK):
        j = min(i + _CHUNK, n)
        out = scratch[: j - i]
        xp.multiply(gf[i:j], scale, out=out)
        pf[i:j] -= out


def check_betas(betas) -> None:
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(
            f"Invalid beta parameter at index 0: {betas[0]}; betas are decay rates in [0, 1), "
            "for example betas=(0.9, 0.999)"
        )
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(
            f"Invalid beta parameter at index 1: {betas[1]}; betas are decay rates in [0, 1), "
            "for example betas=(0.9, 0.999)"
        )


def check_nonnegative(**values) -> None:
    """PyTorch's 'Invalid learning rate: -1' style errors for options that must be >= 0."""
    labels = {"lr": "learning rate", "eps": "epsilon value"}
    for name, value in values.items():
        if isinstance(value, Tensor):
            value = float(value.item())
        if not 0.0 <= value:
            raise ValueError(
                f"Invalid {labels.get(name, name + ' value')}: {value}; {name} must be >= 0"
            )


def check_unsupported(**flags) -> None:
    """foreach is a speed switch (ignored here); the rest change semantics we do not have."""
    for name, value in flags.items():
        if value:
            raise NotImplementedError(
                f"{name}=True is not supported by chainrule optimizers; leave it at its "
                "default (the plain per-parameter update is used)"
            )


class Optimizer:
    """Base class of all optimizers, like ``torch.optim.Optimizer``.

    Args:
        params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts (parameter
            groups), each with a ``"params"`` entry and optional per-group options.
        defaults: the options (lr, momentum…) a group gets when it does not give its own.

    Attributes:
        param_groups: list of dicts, each with ``"params"`` (a list of Tensors) and options.
        state: per-parameter state, ``state[p]`` a dict (empty until the first step).
        defaults: the default options.

    Subclasses write their rule in ``update``; the base ``step`` calls it once per parameter
    that has a gradient.

    Example:
        >>> import chainrule as torch
        >>> w = torch.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> [round(v, 4) for v in w.tolist()]
        [0.8, -1.6]
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_hooked", False):
            cls.step = _with_step_hooks(step)

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._optimizer_step_pre_hooks: OrderedDict = OrderedDict()
        self._optimizer_step_post_hooks: OrderedDict = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got a single Tensor of shape {list(params.shape)}: pass [tensor] "
                "or model.parameters()"
            )
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError(
                "optimizer got an empty parameter list: the model has no parameters, or a "
                "generator such as model.parameters() was already used up by an earlier "
                "optimizer (call model.parameters() again, or keep a list)"
            )
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # -------------------------------------------------------------------------- groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (for example a layer unfrozen
        during fine-tuning); missing options come from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        else:
            params = list(params)
        tensors, names = [], []
        for p in params:
            if isinstance(p, tuple):
                names.append(p[0])
                tensors.append(p[1])
            else:
                tensors.append(p)
        param_group["params"] = tensors
        if names:
            if len(names) != len(tensors):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names are "
                    "missing"
                )
            param_group["param_names"] = names
        for p in tensors:
            if not isinstance(p, Tensor):
                raise TypeError(
                    "optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not (p.is_leaf or p._retains_grad):
                raise ValueError(
                    "can't optimize a non-leaf Tensor: this one was computed by "
                    f"{type(p.grad_fn).__name__}; optimize the leaf it came from, or make a "
                    "new leaf with t.detach().requires_grad_()"
                )
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        ids = [id(p) for p in tensors]
        if len(ids) != len(set(ids)):
            import warnings

            warnings.warn(
                "optimizer contains a parameter group with duplicate parameters; in future, "
                "this will cause an error; see github.com/pytorch/pytorch/issues/40967 for "
                "more information",
                stacklevel=3,
            )
        seen = set()
        for group in self.param_groups:
            seen.update(id(p) for p in group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                kind = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. cannot add param "
                    f"group {kind} to the optimizer"
                )
        if not seen.isdisjoint(ids):
            raise ValueError(
                "some parameters appear in more than one parameter group: give each parameter "
                "to exactly one group (filter the later groups, e.g. by name)"
            )
        self.param_groups.append(param_group)

    # ---------------------------------------------------------------------------- step
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors: to None (the default, which also
        makes ``step`` skip parameters that get no new gradient), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                g = p._grad
                if g is None:
                    continue
                if set_to_none:
                    p._grad = None
                else:
                    if g.grad_fn is not None:
                        g.detach_()
                    else:
                        g.requires_grad = False
                    g._data[...] = 0
                    g._vc.bump("zero_")

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given.

        Args:
            closure: re-evaluates the model and returns the loss (called with grad enabled).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        op = type(self).__name__ + ".step"
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    g = p._grad
                    if g is None:
                        continue
                    p_arr, g_arr = real_view(p._data), real_view(g._data)
                    state = self.state.get(p)
                    if state is None:  # made only if the rule stores something, as in PyTorch
                        state = {}
                        self.update(p_arr, g_arr, state, group)
                        if state:
                            self.state[p] = state
                    else:
                        self.update(p_arr, g_arr, state, group)
                    p._vc.bump(op)
        return loss

    def update(self, p, g, state: dict, group: dict) -> None:
        """The rule: change the raw parameter array `p` in place from its gradient array `g`,
        this parameter's `state` dict and its `group`'s options. Never write into `g`."""
        raise NotImplementedError(
            f"{type(self).__name__} must override update(p, g, state, group) or step()"
        )

    # ---------------------------------------------------------------------------- hooks
    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs before each ``step``; it may return
        ``(new_args, new_kwargs)``."""
        return RemovableHandle(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """``hook(optimizer, args, kwargs)`` runs after each ``step``."""
        return RemovableHandle(self._optimizer_step_post_hooks, hook)

    # ------------------------------------------------------------------------ state dict
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state as ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are replaced by their position (0, 1, … across groups in order), as in
        PyTorch; the state tensors are the live ones (not copies), as in PyTorch.
        """
        index: dict[int, int] = {}
        groups = []
        start = 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state from ``state_dict()`` (this optimizer's or PyTorch's layout). State
        tensors are copied and converted to each parameter's dtype and device (the scalar
        counters ``step`` and ``mu_product`` keep theirs, so that resuming is exact); group
        options are replaced by the saved ones."""
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)} saved, {len(groups)} in this optimizer)"
            )
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group: group {i} has {len(s['params'])} saved parameters "
                    f"and {len(g['params'])} in this optimizer"
                )
        id_map = dict(
            zip(
                chain.from_iterable(s["params"] for s in saved_groups),
                chain.from_iterable(g["params"] for g in groups),
            )
        )
        state: defaultdict = defaultdict(dict)
        for k, v in state_dict["state"].items():
            key = int(k) if isinstance(k, str) and k.isdigit() else k  # JSON turns keys to str
            if key in id_map:
                p = id_map[key]
                state[p] = {name: _cast(p, value, name) for name, value in v.items()}
            else:
                state[key] = v
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
        self.state = state
        self.param_groups = saved_groups

    def __getstate__(self):
        return {
            "defaults": self.defaults,
            "state": self.state,
            "param_groups": self.param_groups,
        }

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.__dict__.setdefault("_optimizer_step_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_optimizer_step_post_hooks", OrderedDict())

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


Optimizer.step = _with_step_hooks(Optimizer.step)


def real_view(a):
    """`a` itself, or for a complex array a real view with a trailing (real, imag) axis, like
    torch.view_as_real: writes go to the complex array. Rules act on these pairs."""
    if a.dtype.kind != "c":
        return a
    if not a.flags.c_contiguous:
        raise RuntimeError(
            "optimizers need complex parameters and gradients to be contiguous: call "
            ".contiguous() on the parameter before optimizing it"
        )
    return a.view(a.real.dtype).reshape(a.shape + (2,))


# scalar counters keep their dtype on load; PyTorch casts mu_product to the parameter's dtype,
# which makes a resumed NAdam run differ from an uninterrupted one in the last bits
_SCALAR_STATE = ("step", "mu_product")


def _cast(p: Tensor, value, key=None):
    """A copy of a loaded state value on p's device; floating tensors in p's dtype."""
    if isinstance(value, Tensor):
        data = value._data
        if key not in _SCALAR_STATE:
            if p.is_floating_point() and data.dtype != p._data.dtype:
                data = data.astype(p._data.dtype)
            data = backend.to_device(data, p.device)
        return Tensor._make(data.copy())
    if hasattr(value, "__array__") and hasattr(value, "dtype"):  # a raw array
        return _cast(p, Tensor._make(np.asarray(value)), key)
    if isinstance(value, dict):
        return {k: _cast(p, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(p, v) for v in value)
    return deepcopy(value)
