"""Gradient clipping on a recurrent network whose gradients explode.

Backpropagation through time multiplies by the recurrent weight matrix once per time step. When
its largest singular value is above 1 the gradient grows geometrically with the sequence length:
here W_hh = 1.4 · (an orthogonal matrix) and a ReLU RNN over 40 steps, so the gradient can grow
like 1.4⁴⁰ ≈ 700,000. Plain SGD then takes a step thousands of times too long and the loss blows
up. ``clip_grad_norm_`` rescales all gradients together whenever their total norm exceeds
``max_norm``: the direction is kept, the step length is bounded.

Run it with:  python examples/gradient_clipping.py
"""

import math

import numpy as np

import chainrule as torch
import chainrule.nn as nn
from chainrule.nn.utils import clip_grad_norm_


class Model(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(1, hidden, nonlinearity="relu", batch_first=True)
        self.head = nn.Linear(hidden, 1)
        with torch.no_grad():
            nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=1.4)  # every singular value 1.4

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])  # predict from the last hidden state


def train(clip: float | None, x, y, hidden: int, steps: int, lr: float, seed: int):
    torch.manual_seed(seed)
    model = Model(hidden)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses, norms = [], []
    for _ in range(steps):
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if clip is None:
            norm = nn.utils.get_total_norm([p.grad for p in model.parameters()])
        else:
            norm = clip_grad_norm_(model.parameters(), max_norm=clip)  # the norm before clipping
        optimizer.step()
        losses.append(loss.item())
        norms.append(norm.item())
        if not math.isfinite(losses[-1]):
            break
    return losses, norms


def main(
    seq_len: int = 40,
    batch: int = 16,
    hidden: int = 16,
    steps: int = 30,
    lr: float = 0.01,
    max_norm: float = 1.0,
    seed: int = 0,
) -> dict:
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.uniform(0, 1, (batch, seq_len, 1)).astype(np.float32))
    y = x.mean(1)  # target: the mean of the sequence
    results = {}
    for clip in (None, max_norm):
        with np.errstate(over="ignore", invalid="ignore"):  # the unclipped run overflows
            losses, norms = train(clip, x, y, hidden, steps, lr, seed)
        name = "without clipping" if clip is None else f"clip_grad_norm_(max_norm={clip:g})"
        print(
            f"{name}: {len(losses)} steps, gradient norm first {norms[0]:.3g}, largest "
            f"{max(norms):.3g}, last {norms[-1]:.3g}; loss first {losses[0]:.4g}, "
            f"last {losses[-1]:.4g}"
        )
        results["clip" if clip else "none"] = {"losses": losses, "norms": norms}
    return results


if __name__ == "__main__":
    main()
