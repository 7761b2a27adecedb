"""``draw_graph``: the computational graph as Graphviz DOT (and SVG/PNG when ``dot`` exists)."""

from __future__ import annotations

import os
import shutil
import subprocess

from .. import backend
from ..tensor import Tensor
from ._recorder import walk
from .memory import _held, _nbytes


def _shape(shape, dtype) -> str:
    return f"{tuple(shape)} {backend.dtype_name(dtype).replace('chainrule.', '')}"


def _esc(s: str) -> str:
    return str(s).replace("\\", "\\\\").replace('"', '\\"')


def to_dot(loss: Tensor, model=None, params: dict | None = None) -> str:
    """The graph of `loss` as DOT text: one box per op (name, output shape and dtype, bytes
    saved for backward, the line that made it when recorded), one ellipse per leaf (the
    parameter's name when `model` or `params` names it)."""
    names = {}
    if model is not None:
        names.update({id(p): n for n, p in model.named_parameters()})
    if params:
        names.update({id(p): n for n, p in params.items()})
    lines = ["digraph chainrule {", "  rankdir=BT;", '  node [fontname="Helvetica", fontsize=10];']
    root = loss.grad_fn
    out_meta = {}
    if root is not None:
        out_meta[root] = _shape(loss.shape, loss.dtype)
    nodes = list(walk([root])) if root is not None else []
    for node in nodes:
        for e in node.next:
            if e is not None and not isinstance(e[0], Tensor):
                out_meta.setdefault(e[0], _shape(e[2], e[3]))
    ids = {}
    for k, node in enumerate(nodes):
        ids[node] = f"n{k}"
        saved = sum(_nbytes(a) for a in _held(node))
        label = [node.name(), out_meta.get(node, "")]
        if saved:
            label.append(f"saved {saved:,} B")
        site = node.__dict__.get("_site")
        if site is not None:
            label.append(os.path.basename(str(site)))
        mod = node.__dict__.get("_module")
        if mod:
            label.append(mod)
        text = "\\n".join(_esc(s) for s in label if s)
        lines.append(f'  n{k} [shape=box, style=filled, fillcolor="#dce9f7", label="{text}"];')
    leaves = {}
    for node in nodes:
        for e in node.next:
            if e is None:
                continue
            p = e[0]
            if isinstance(p, Tensor):
                if id(p) not in leaves:
                    leaves[id(p)] = f"l{len(leaves)}"
                    name = names.get(id(p), "tensor")
                    text = _esc(name) + "\\n" + _esc(_shape(p.shape, p.dtype))
                    fill = "#fbe3c2" if id(p) in names else "#eeeeee"
                    lines.append(
                        f'  {leaves[id(p)]} [shape=ellipse, style=filled, fillcolor="{fill}", '
                        f'label="{text}"];'
                    )
                lines.append(f"  {leaves[id(p)]} -> {ids[node]};")
            else:
                lines.append(f"  {ids[p]} -> {ids[node]};")
    if root is None:
        text = _esc(names.get(id(loss), "tensor")) + "\\n" + _esc(_shape(loss.shape, loss.dtype))
        lines.append(f'  l_root [shape=ellipse, label="{text}\\n(no graph)"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_graph(loss: Tensor, path: str = "graph.svg", model=None, params=None) -> str:
    """Write the graph of `loss` to `path`: DOT always (``path`` itself when it ends in .dot,
    else beside it as ``<path>.dot``), and SVG/PNG/PDF rendered by Graphviz's ``dot`` when it is
    installed. Returns the path of the richest file written.

    Example:
        >>> import chainrule as torch, chainrule.debug as debug, tempfile, os
        >>> w = torch.ones(3, requires_grad=True)
        >>> out = debug.draw_graph((w * 2).sum(), os.path.join(tempfile.mkdtemp(), "g.dot"))
        >>> open(out).read().startswith("digraph")
        True
    """
    dot = to_dot(loss, model, params)
    base, ext = os.path.splitext(path)
    dot_path = path if ext == ".dot" else path + ".dot"
    with open(dot_path, "w") as f:
        f.write(dot)
    fmt = ext.lstrip(".").lower()
    exe = shutil.which("dot")
    if fmt in ("svg", "png", "pdf") and exe is not None:
        subprocess.run([exe, f"-T{fmt}", dot_path, "-o", path], check=True, timeout=60)
        return path
    return dot_path
