"""Training through rounding with the straight-through estimator.

Rounding has derivative 0 almost everywhere, so a model whose weights pass through ``round``
gets no gradient at all. The straight-through estimator (Bengio et al., 2013) uses the rounded
value in the forward pass and pretends the rounding was the identity in the backward pass:

    w_q = w + (round(w / s) · s - w).detach()

Forward, w_q equals the rounded weight. Backward, the detached term is a constant, so
dw_q/dw = 1 and the gradient reaches w. Here a linear model with weights quantised to steps of
s = 0.25 learns a target that lies on that grid.

Run it with:  python examples/straight_through.py
"""

import numpy as np

import chainrule as torch

STEP = 0.25  # the quantisation grid


def quantize(w, ste: bool):
    w_rounded = (w / STEP).round() * STEP
    if ste:
        return w + (w_rounded - w).detach()
    return w_rounded


def train(x, y, ste: bool, steps: int, lr: float) -> tuple[list[float], np.ndarray, float]:
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr)
    losses, first_grad_norm = [], None
    for _ in range(steps):
        loss = ((x @ quantize(w, ste) - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        if first_grad_norm is None:
            first_grad_norm = w.grad.norm().item()
        optimizer.step()
        losses.append(loss.item())
    return losses, quantize(w, ste).detach().numpy(), first_grad_norm


def main(n: int = 128, steps: int = 100, lr: float = 0.1, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    w_true = np.array([0.75, -1.5, 0.25, 2.0])  # on the grid
    x = torch.tensor(rng.standard_normal((n, len(w_true))))
    y = x @ torch.tensor(w_true)
    results = {}
    for ste in (False, True):
        losses, w_q, g0 = train(x, y, ste, steps, lr)
        name = "straight-through" if ste else "plain round"
        print(
            f"{name:<17} first gradient norm {g0:.4f}, loss {losses[0]:.4f} -> {losses[-1]:.4f}"
            f", quantised weights {w_q.tolist()}"
        )
        results["ste" if ste else "round"] = {"losses": losses, "w_q": w_q, "grad_norm": g0}
    print(f"target weights {w_true.tolist()}")
    results["w_true"] = w_true
    return results


if __name__ == "__main__":
    main()
