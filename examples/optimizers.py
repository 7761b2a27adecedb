"""SGD, momentum, Adam, AdamW, RMSprop and AdaGrad on the same problem, with the loss curves.

The problem is linear regression whose three input features have very different scales (10, 1
and 0.1). The loss surface is then a long narrow valley: its curvature along the first weight is
10,000 times that along the third. Plain gradient descent must keep its learning rate below
2 / (largest curvature) or it diverges, so it crawls along the flat direction. Momentum builds up
speed along the valley; Adam, RMSprop and AdaGrad divide each weight's step by a running size of
its own gradient, which undoes the bad scaling.

Every optimizer starts from the same weights and sees the same full batch, so the run is
deterministic.

Run it with:  python examples/optimizers.py    (writes runs/examples/optimizers.png)
"""

import os

import numpy as np

import chainrule as torch

SCALES = (10.0, 1.0, 0.1)


def make_problem(n: int = 256, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, len(SCALES))) * np.array(SCALES)
    w_true = np.array([0.5, -1.0, 2.0])
    y = x @ w_true + 0.3 + 0.01 * rng.standard_normal(n)
    return torch.tensor(x), torch.tensor(y)


def optimizers(params):
    """Each optimizer with a learning rate that is about the best for it on this problem."""
    return {
        "SGD": lambda: torch.optim.SGD(params(), lr=0.009),  # 2/λmax ≈ 0.01: no faster
        "SGD+momentum": lambda: torch.optim.SGD(params(), lr=0.005, momentum=0.9),
        "Adam": lambda: torch.optim.Adam(params(), lr=0.1),
        "AdamW": lambda: torch.optim.AdamW(params(), lr=0.1, weight_decay=0.01),
        "RMSprop": lambda: torch.optim.RMSprop(params(), lr=0.01),
        "AdaGrad": lambda: torch.optim.Adagrad(params(), lr=0.5),
    }


def train(make_optimizer, w, b, x, y, steps: int) -> list[float]:
    optimizer = make_optimizer()
    losses = []
    for _ in range(steps):
        loss = ((x @ w + b - y) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main(steps: int = 200, out: str | None = "runs/examples/optimizers.png", seed: int = 0) -> dict:
    """Train with each optimizer for `steps` steps; plot the curves into `out` (None: no plot)."""
    x, y = make_problem(seed=seed)
    curves = {}
    for name in optimizers(None):
        w = torch.zeros(len(SCALES), dtype=torch.float64, requires_grad=True)
        b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        make = optimizers(lambda w=w, b=b: [w, b])[name]
        curves[name] = train(make, w, b, x, y, steps)
    print(f"loss after {steps} steps (start: {curves['SGD'][0]:.4f})")
    for name, losses in sorted(curves.items(), key=lambda kv: kv[1][-1]):
        print(f"  {name:<13} {losses[-1]:.6f}")
    if out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name, losses in curves.items():
            ax.plot(range(1, steps + 1), losses, label=name)
        ax.set(
            yscale="log",
            xlabel="step",
            ylabel="mean squared error",
            title="Linear regression with features scaled 10, 1, 0.1",
        )
        ax.legend()
        fig.tight_layout()
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        fig.savefig(out, dpi=100)
        plt.close(fig)
        print(f"wrote {out}")
    return {"curves": curves, "final": {k: v[-1] for k, v in curves.items()}}


if __name__ == "__main__":
    main()
