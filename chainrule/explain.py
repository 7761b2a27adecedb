"""``chainrule explain``: backpropagation shown on examples small enough to follow by hand.

Every number printed is computed by chainrule's engine at the time it is printed; the text
around it says which rule produced it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

__all__ = ["neuron", "vanishing"]


def _n(v: float) -> str:
    """A number as a person writes it in a product: 0.5, 2, (-3)."""
    s = f"{v:.6g}"
    return f"({s})" if v < 0 else s


def neuron(
    x: float = 2.0,
    w: float = 0.5,
    y: float = 4.0,
    lr: float = 0.1,
    echo: Callable[[str], None] = print,
) -> dict[str, float]:
    """Walk one neuron, ``y_hat = w * x`` with loss ``L = (y_hat - y)^2``, through one step of
    gradient descent: forward pass, each local derivative, the chain rule, the update.

    Args:
        x, w, y: the input, the weight and the target (2, 0.5 and 4 by default).
        lr: the learning rate.
        echo: where the derivation goes, line by line.

    Returns:
        The numbers of the derivation: ``y_hat``, ``loss``, ``dL_de``, ``de_dyhat``,
        ``dyhat_dw``, ``dL_dw`` (from ``loss.backward()``), ``w_new`` and ``loss_new``.

    Example:
        >>> from chainrule.explain import neuron
        >>> r = neuron(echo=lambda line: None)
        >>> r["dL_dw"], round(r["w_new"], 12)
        (-12.0, 1.7)
    """
    import chainrule
    from chainrule.autograd import grad

    f64 = chainrule.float64
    xt, yt = chainrule.tensor(x, dtype=f64), chainrule.tensor(y, dtype=f64)
    wt = chainrule.tensor(w, dtype=f64, requires_grad=True)

    # the forward pass: each line records one node of the graph
    y_hat = wt * xt
    e = y_hat - yt
    loss = e**2
    # each node's derivative with respect to its own input, asked of the engine one at a time
    (dL_de,) = grad(loss, e, retain_graph=True)
    (de_dyhat,) = grad(e, y_hat, retain_graph=True)
    (dyhat_dw,) = grad(y_hat, wt, retain_graph=True)
    loss.backward()  # the whole chain at once: fills wt.grad
    dL_dw = wt.grad.item()
    with chainrule.no_grad():
        wt -= lr * wt.grad
    loss_new = ((wt * xt - yt) ** 2).item()

    r = {
        "y_hat": y_hat.item(),
        "e": e.item(),
        "loss": loss.item(),
        "dL_de": dL_de.item(),
        "de_dyhat": de_dyhat.item(),
        "dyhat_dw": dyhat_dw.item(),
        "dL_dw": dL_dw,
        "w_new": wt.item(),
        "loss_new": loss_new,
    }
    product = r["dL_de"] * r["de_dyhat"] * r["dyhat_dw"]
    names = [loss.grad_fn.name(), e.grad_fn.name(), y_hat.grad_fn.name()]
    agree = "they agree" if product == dL_dw else "they DIFFER: please report this"
    lines = [
        "One neuron, one step of gradient descent (every number computed by chainrule's engine)",
        "",
        "  model    y_hat = w * x      loss   L = (y_hat - y)^2      update   w <- w - lr * dL/dw",
        f"  values   x = {x:g}, w = {w:g}, target y = {y:g}, learning rate lr = {lr:g}",
        "",
        "1. Forward pass: each operation computes its value and records a node in the graph",
        f"     y_hat = w * x      = {_n(w)} * {_n(x)} = {r['y_hat']:.6g}".ljust(52)
        + f"node {names[2]}",
        f"     e     = y_hat - y  = {_n(r['y_hat'])} - {_n(y)} = {r['e']:.6g}".ljust(52)
        + f"node {names[1]}",
        f"     L     = e^2        = {_n(r['e'])}^2 = {r['loss']:.6g}".ljust(52)
        + f"node {names[0]}",
        "",
        "2. Local derivatives: each node's derivative with respect to its own input",
        f"     dL/de      = 2e = 2 * {_n(r['e'])} = {r['dL_de']:.6g}",
        f"     de/dy_hat  = 1  = {r['de_dyhat']:.6g}",
        f"     dy_hat/dw  = x  = {r['dyhat_dw']:.6g}",
        "",
        "3. Chain rule: multiply the local derivatives along the path from L back to w",
        "     dL/dw = dL/de * de/dy_hat * dy_hat/dw"
        f" = {_n(r['dL_de'])} * {_n(r['de_dyhat'])} * {_n(r['dyhat_dw'])} = {product:.6g}",
        f"     loss.backward() walks the same nodes and sets w.grad = {dL_dw:.6g}: {agree}",
        "",
        "4. Update: step against the gradient",
        f"     w <- w - lr * dL/dw = {_n(w)} - {_n(lr)} * {_n(dL_dw)} = {r['w_new']:.6g}",
        f"     the loss falls from {r['loss']:.6g} to ({r['w_new']:.6g} * {_n(x)} - {_n(y)})^2"
        f" = {loss_new:.6g}",
        "",
        "The negative gradient says: increase w to reduce the loss. Repeating the four steps is",
        "training; a deep network only has more nodes between the loss and each weight.",
    ]
    for line in lines:
        echo(line)
    return r


def vanishing(
    depth: int = 10,
    width: int = 64,
    batch: int = 128,
    seed: int = 0,
    out: str | None = None,
    echo: Callable[[str], None] = print,
) -> dict[str, list[float]]:
    """Compare the gradient norm of every layer's weight in two deep networks: sigmoid with
    PyTorch's default initialisation, and ReLU with He (Kaiming) initialisation.

    Args:
        depth: the number of hidden layers (each ``Linear(width, width)`` and an activation).
        width: the layers' width.
        batch: how many random inputs (standard normal) with random labels.
        seed: the seed of the weights and data.
        out: a directory to write ``vanishing.png`` into (needs matplotlib); None: no plot.
        echo: where the table goes, line by line.

    Returns:
        ``{"sigmoid": [...], "relu": [...]}``: the norms of dL/dW, first layer first.
    """
    import chainrule
    import chainrule.nn as nn
    import chainrule.nn.functional as F

    chainrule.manual_seed(seed)
    x = chainrule.randn(batch, width, dtype=chainrule.float64)
    target = chainrule.randint(0, 10, (batch,))
    norms = {}
    for kind in ("sigmoid", "relu"):
        chainrule.manual_seed(seed + 1)
        hidden = [nn.Linear(width, width, dtype=chainrule.float64) for _ in range(depth)]
        if kind == "relu":
            for layer in hidden:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
        act = nn.Sigmoid if kind == "sigmoid" else nn.ReLU
        blocks = [m for layer in hidden for m in (layer, act())]
        model = nn.Sequential(*blocks, nn.Linear(width, 10, dtype=chainrule.float64))
        F.cross_entropy(model(x), target).backward()
        norms[kind] = [layer.weight.grad.norm().item() for layer in hidden]

    s, r = norms["sigmoid"], norms["relu"]
    echo(f"Gradient norm ||dL/dW|| of each hidden layer ({depth} layers of width {width},")
    echo(f"cross-entropy on {batch} random inputs; layer 1 is nearest the input)")
    echo("")
    echo(f"  {'layer':>5}   {'sigmoid, default init':>22}   {'ReLU, He init':>15}")
    for i in range(depth):
        echo(f"  {i + 1:>5}   {s[i]:>22.3e}   {r[i]:>15.3e}")
    echo("")
    echo(f"Last layer / first layer: {s[-1] / s[0]:.3g} in the sigmoid network, {r[-1] / r[0]:.3g}")
    echo("in the ReLU one.")
    echo("Why: backward multiplies by sigmoid'(z) <= 1/4 at every layer, so the signal decays")
    echo("geometrically with depth and the first layers barely learn. ReLU passes gradients")
    echo("through unchanged where it is active, and He initialisation (std = sqrt(2/fan_in))")
    echo("keeps their size roughly constant from layer to layer.")
    if out is not None:
        path = _plot_vanishing(norms, out)
        echo("")
        echo(f"Plot written to {path}")
    return norms


def _plot_vanishing(norms: dict[str, list[float]], out: str) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit(
            "chainrule explain vanishing --out: the plot needs matplotlib "
            "(pip install 'chainrule[viz]')"
        ) from None
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "vanishing.png")
    fig, ax = plt.subplots(figsize=(7, 4))
    layers = range(1, len(norms["sigmoid"]) + 1)
    ax.semilogy(layers, norms["sigmoid"], "o-", label="sigmoid, default init")
    ax.semilogy(layers, norms["relu"], "s-", label="ReLU, He init")
    ax.set(xlabel="hidden layer (1 = nearest the input)", ylabel="||dL/dW||")
    ax.set_title("Vanishing gradients: per-layer gradient norm")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
