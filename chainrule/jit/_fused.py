"""The optimizer step of a replay over one flat array per parameter group.

After the traced step has run ``optimizer.step()`` once, the parameters and the optimizer state
(momentum buffers, Adam's moments and step counters) of an SGD, Adam or AdamW optimizer move
into one flat array per group: each Parameter keeps its identity, its ``_data`` becomes a view
into the group's array, and so does each state tensor's. A replayed step then gathers the
gradients into one array and runs the optimizer's rule on whole groups: a handful of NumPy calls
instead of a dozen per parameter. The arithmetic is the rule's own, element by element, so the
result is bitwise the per-parameter one.

Each call first checks that nothing moved (a parameter or state array replaced, a missing
gradient, a hook, an option this path does not cover); otherwise it calls ``optimizer.step()``,
which works on the views as on any array.
"""

from __future__ import annotations

import numpy as np

from ..optim.adam import Adam, adam_rule_
from ..optim.adamw import AdamW
from ..optim.sgd import SGD
from ..tensor import Tensor

_STATE_KEYS = {SGD: ("momentum_buffer",), Adam: ("exp_avg", "exp_avg_sq"), AdamW: None}
_STATE_KEYS[AdamW] = _STATE_KEYS[Adam]


def plan(opt, where):
    """A FusedStep for `opt` after its first step, or None where this path does not apply."""
    kind = type(opt)
    if kind not in _STATE_KEYS:
        return None
    groups = []
    seen = set()
    for group in opt.param_groups:
        params = group["params"]
        if not params or not _supported(kind, group):
            return None
        dtype = params[0]._data.dtype
        for p in params:
            d = p._data
            if (
                id(p) in seen
                or type(d) is not np.ndarray
                or d.dtype != dtype
                or dtype.kind != "f"
                or p._grad is None
                or p._base is not None
            ):
                return None
            seen.add(id(p))
            state = opt.state.get(p)
            keys = _keys(kind, group)
            if keys and (state is None or any(not _is_state(state.get(k), d) for k in keys)):
                return None
            if kind is not SGD and not (
                isinstance(state.get("step"), Tensor) and state["step"]._data.shape == ()
            ):
                return None
        if kind is not SGD:
            steps = {float(opt.state[p]["step"]._data) for p in params}
            if len(steps) != 1:
                return None
        groups.append(_FlatGroup(opt, group, _keys(kind, group), kind is not SGD))
    return FusedStep(opt, kind, groups, where)


def _supported(kind, group) -> bool:
    if group.get("maximize") or group.get("differentiable") or group.get("fused"):
        return False
    if kind is SGD:
        return not group["nesterov"]
    return not group["amsgrad"]


def _keys(kind, group):
    if kind is SGD:
        return ("momentum_buffer",) if group["momentum"] != 0 else ()
    return _STATE_KEYS[kind]


def _is_state(t, like) -> bool:
    return isinstance(t, Tensor) and type(t._data) is np.ndarray and t._data.shape == like.shape


class _FlatGroup:
    """One parameter group's parameters and state as views into flat arrays."""

    def __init__(self, opt, group, keys, has_step):
        self.group = group
        self.params_list = group["params"]
        self.params = tuple(self.params_list)
        dtype = self.params[0]._data.dtype
        sizes = [p._data.size for p in self.params]
        offsets = np.cumsum([0] + sizes)
        n = int(offsets[-1])
        self.grad = np.empty(n, dtype)

        def flatten(tensors):
            flat = np.empty(n, dtype)
            views = []
            for t, a, b in zip(tensors, offsets[:-1], offsets[1:]):
                flat[a:b] = t._data.reshape(-1)
                view = flat[a:b].reshape(t._data.shape)
                t._data = view
                views.append(view)
            return flat, views

        self.flat, self.views = flatten(self.params)
        self.state = {}
        self.state_views = []
        for k in keys:
            flat, views = flatten([opt.state[p][k] for p in self.params])
            self.state[k] = flat
            self.state_views.append((k, views))
        self.steps = None
        if has_step:
            steps = [opt.state[p]["step"] for p in self.params]
            self.steps = np.array([float(s._data) for s in steps], steps[0]._data.dtype)
            step_views = []
            for i, s in enumerate(steps):
                s._data = self.steps[i : i + 1].reshape(())
                step_views.append(s._data)
            self.state_views.append(("step", step_views))

    def ok(self, opt) -> bool:
        """Nothing moved since the plan: the same parameters, arrays and state, all with grads."""
        if self.group["params"] is not self.params_list or len(self.params_list) != len(
            self.params
        ):
            return False
        for p, q, view in zip(self.params, self.params_list, self.views):
            if p is not q or p._data is not view or p._grad is None:
                return False
        state = opt.state
        for k, views in self.state_views:
            for p, view in zip(self.params, views):
                s = state.get(p)
                if s is None or s.get(k) is None or s[k]._data is not view:
                    return False
        return True

    def gather_grads(self) -> np.ndarray:
        np.concatenate([p._grad._data.reshape(-1) for p in self.params], out=self.grad)
        return self.grad


class FusedStep:
    """Replaces ``optimizer.step()`` in a replay (see the module docstring)."""

    def __init__(self, opt, kind, groups, where):
        self.opt = opt
        self.kind = kind
        self.groups = groups
        self.where = where
        self.op = kind.__name__ + ".step"

    def __call__(self):
        opt = self.opt
        if (
            opt._optimizer_step_pre_hooks
            or opt._optimizer_step_post_hooks
            or len(opt.param_groups) != len(self.groups)
            or any(g.group is not h for g, h in zip(self.groups, opt.param_groups))
            or not all(g.ok(opt) and _supported(self.kind, g.group) for g in self.groups)
        ):
            return opt.step()
        for g in self.groups:
            if self.kind is SGD:
                _sgd(g)
            else:
                _adam(g)
            for p in g.params:  # the version bump of Optimizer.step, without a frame lookup
                v = p._vc
                v.value += 1
                v.op = self.op
                v.where = self.where
        opt._opt_called = True
        return None


def _sgd(fg):
    """SGD.update on a whole group (its docstring has the rule)."""
    group = fg.group
    p = fg.flat
    g = fg.gather_grads()
    lr, mu = float(group["lr"]), group["momentum"]
    if group["weight_decay"] != 0:
        g = g + group["weight_decay"] * p
    if mu != 0:
        b = fg.state["momentum_buffer"]
        b *= mu
        if group["dampening"] == 0:
            b += g
        else:
            b += (1 - group["dampening"]) * g
        g = b
    p -= lr * g


def _adam(fg):
    """Adam.update on a whole group (optim/adam.py has the rule, which both run)."""
    fg.steps += 1
    m, v = fg.state["exp_avg"], fg.state["exp_avg_sq"]
    adam_rule_(fg.flat, fg.gather_grads(), m, v, float(fg.steps[0]), fg.group)
