"""``explain``: the chain rule along each path from a loss to one tensor, with numbers."""

from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import engine
from ..autograd.engine import _FREED, _call_backward, _sum_to
from ..tensor import Tensor


def _paths(root, target, limit: int):
    """Paths from node `root` to leaf `target`: lists of (node, input index), loss side first."""
    found = []
    stack = [(root, [])]
    while stack and len(found) < limit:
        node, path = stack.pop()
        for i, e in enumerate(node.next):
            if e is None:
                continue
            step = path + [(node, i)]
            if e[0] is target:
                found.append(step)
            elif not isinstance(e[0], Tensor):
                stack.append((e[0], step))
    return found


def _num(a) -> str:
    a = np.asarray(backend.to_numpy(a._data if isinstance(a, Tensor) else a), dtype=np.float64)
    if a.size == 1:
        return f"{float(a.reshape(())):.6g}"
    return f"<{a.shape} array, norm {np.linalg.norm(a):.4g}>"


def _vjp(node, nr: int, i: int, g):
    """The gradient that `node`'s input i receives when its output nr receives g."""
    n_out = 1 if node._out_meta is None else len(node._out_meta)
    gys = [None] * n_out
    gys[nr] = g
    gxs = _call_backward(node, gys, False, True)
    gx = gxs[i]
    if gx is None:
        return None
    shape = node.next[i][2]
    return _sum_to(gx, shape) if gx.shape != shape else gx


def explain(loss: Tensor, wrt: Tensor, echo=print, max_paths: int = 4) -> list[str]:
    """Print the chain-rule derivation of ``d loss / d wrt``: along each path in the graph, each
    op's local derivative and the running product, with numbers; then the sum over paths
    beside autograd's answer. Call it before ``loss.backward()`` (which frees what the local
    derivatives need), or after ``backward(retain_graph=True)``.

    Args:
        loss: a scalar tensor.
        wrt: a leaf tensor that `loss` depends on.
        echo: where each line goes (None: only returned).
        max_paths: how many paths to show (the total still sums them all... up to this many).

    Returns:
        The lines printed.

    Example:
        >>> import chainrule as torch, chainrule.debug as debug
        >>> w = torch.tensor(3.0, requires_grad=True)
        >>> lines = debug.explain((2 * w) ** 2, wrt=w, echo=None)
        >>> lines[-1]
        'd loss / d w = 24 (autograd: 24)'
    """
    if loss._data.size != 1:
        raise ValueError(
            f"explain needs a scalar loss, got shape {tuple(loss.shape)}: reduce it first "
            "(loss.sum() or .mean())"
        )
    name = getattr(wrt, "name", None) or "w"
    if loss.grad_fn is None:
        raise ValueError("the loss has no graph (it does not require grad): nothing to explain")
    paths = _paths(loss.grad_fn, wrt, max_paths)
    if not paths:
        raise ValueError(
            f"the loss does not depend on {name} through the graph: "
            "chainrule.debug.why_no_grad(loss, {...}) says where the path was cut"
        )
    lines = [f"d loss / d {name} by the chain rule, loss = {_num(loss)}:"]
    total = None
    prev = engine._grad_enabled
    try:
        engine._set_grad_enabled(False)
        for k, path in enumerate(paths, 1):
            if len(paths) > 1:
                lines.append(f"path {k}:")
            g = backend.array_module(loss._data).ones(loss._data.shape, loss._data.dtype)
            nr = loss._output_nr
            for node, i in path:
                if node.saved is _FREED:
                    raise RuntimeError(
                        "the graph was freed by backward(): call explain before "
                        "loss.backward(), or use backward(retain_graph=True)"
                    )
                gx = _vjp(node, nr, i, g)
                local = ""
                if gx is not None and g.size == 1 and gx.size == 1 and float(g.reshape(())):
                    local = f"local d out/d in{i} = {float(gx.reshape(()) / g.reshape(())):.6g}"
                elif gx is not None:
                    local = f"vector-Jacobian product into input {i}"
                site = node.__dict__.get("_site")
                at = f" ({site})" if site is not None else ""
                running = "0 (no gradient flows)" if gx is None else _num(gx)
                lines.append(f"  {node.name():<22}{local:<34} running product = {running}{at}")
                if gx is None:
                    break
                g = gx
                nr = node.next[i][1]
            else:
                total = g if total is None else total + g
        from ..autograd import grad

        (auto,) = grad(loss, wrt, retain_graph=True, allow_unused=True)
    finally:
        engine._set_grad_enabled(prev)
    shown = "0" if total is None else _num(total)
    tail = "" if len(paths) < max_paths else f" (first {max_paths} paths)"
    lines.append(f"d loss / d {name} = {shown}{tail} (autograd: {_num(auto)})")
    if echo is not None:
        for line in lines:
            echo(line)
    return lines
