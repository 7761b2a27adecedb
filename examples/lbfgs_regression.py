"""L-BFGS on a small least-squares regression: it reaches the exact solution that
``numpy.linalg.lstsq`` computes, in a handful of steps.

L-BFGS builds a picture of the curvature from the last few gradients and steps along a
quasi-Newton direction, so it needs the loss more than once per step: ``optimizer.step`` takes a
closure that recomputes the loss and its gradient.

Run it with:  python examples/lbfgs_regression.py
"""

import numpy as np

import chainrule as torch


def main(n: int = 100, features: int = 5, steps: int = 3, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    a = np.hstack([rng.standard_normal((n, features)), np.ones((n, 1))])  # last column: bias
    y = a @ rng.standard_normal(features + 1) + 0.1 * rng.standard_normal(n)
    w_lstsq = np.linalg.lstsq(a, y, rcond=None)[0]

    x_t, y_t = torch.tensor(a), torch.tensor(y)
    w = torch.zeros(features + 1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [w],
        lr=1,
        max_iter=20,
        line_search_fn="strong_wolfe",
        tolerance_grad=1e-12,
        tolerance_change=1e-14,
    )

    def closure():
        optimizer.zero_grad()
        loss = ((x_t @ w - y_t) ** 2).mean()
        loss.backward()
        return loss

    losses = []
    for step in range(steps):
        loss = optimizer.step(closure)
        losses.append(loss.item())
        error = np.abs(w.detach().numpy() - w_lstsq).max()
        print(f"step {step + 1}: loss before {losses[-1]:.8f}, max |w - w_lstsq| = {error:.2e}")
    final_loss = ((x_t @ w - y_t) ** 2).mean().item()
    lstsq_loss = float(np.mean((a @ w_lstsq - y) ** 2))
    print(f"final loss {final_loss:.10f}, least-squares optimum {lstsq_loss:.10f}")
    print(f"w (L-BFGS):  {np.array2string(w.detach().numpy(), precision=6)}")
    print(f"w (lstsq):   {np.array2string(w_lstsq, precision=6)}")
    return {
        "w": w.detach().numpy(),
        "w_lstsq": w_lstsq,
        "loss": final_loss,
        "lstsq_loss": lstsq_loss,
        "losses": losses,
    }


if __name__ == "__main__":
    main()
