"""Meta-learning by differentiating through an SGD step: MAML on sine regression.

Each task is a sine wave y = a·sin(x + φ) with its own amplitude a ∈ [0.1, 5] and phase
φ ∈ [0, π] (Finn et al., 2017). MAML looks for initial weights θ from which ONE gradient step
on K examples of a new task already fits it well:

    θ'  = θ - α ∇θ L_support(θ)                 inner step, on the task's K support points
    meta-loss = L_query(θ')                      how good the adapted weights are
    θ  ← θ - β ∇θ meta-loss                     outer step, through the inner one

∇θ of the meta-loss goes through θ' and so through ∇θ L_support: a second derivative. That is
``torch.autograd.grad(..., create_graph=True)``: the inner gradient is itself a graph that the
outer backward differentiates.

Run it with:  python examples/maml_sine.py
"""

import math

import numpy as np

import chainrule as torch
import chainrule.nn.functional as F


def init_params(hidden: int, rng) -> list:
    """A 1-hidden-hidden-1 MLP as a plain list of tensors: MAML evaluates it at θ and at θ'."""
    shapes = [(hidden, 1), (hidden,), (hidden, hidden), (hidden,), (1, hidden), (1,)]
    params, fan_in = [], 1
    for shape in shapes:
        fan_in = shape[1] if len(shape) == 2 else fan_in
        bound = 1 / math.sqrt(fan_in)  # nn.Linear's default: U(-1/√fan_in, 1/√fan_in)
        params.append(torch.tensor(rng.uniform(-bound, bound, shape), requires_grad=True))
    return params


def forward(params, x):
    w1, b1, w2, b2, w3, b3 = params
    h = F.relu(F.linear(x, w1, b1))
    h = F.relu(F.linear(h, w2, b2))
    return F.linear(h, w3, b3)


def sample_task(rng, k: int):
    a, phase = rng.uniform(0.1, 5.0), rng.uniform(0, math.pi)

    def points(n):
        x = rng.uniform(-5, 5, (n, 1))
        return torch.tensor(x), torch.tensor(a * np.sin(x + phase))

    return points(k), points(k)  # support set, query set


def adapt(params, support, inner_lr: float, create_graph: bool):
    """One inner SGD step: θ' = θ - α ∇θ L_support(θ)."""
    x, y = support
    loss = F.mse_loss(forward(params, x), y)
    grads = torch.autograd.grad(loss, params, create_graph=create_graph)
    return [p - inner_lr * g for p, g in zip(params, grads)]


def evaluate(params, rng, tasks: int, k: int, inner_lr: float) -> tuple[float, float]:
    """Mean query loss on new tasks before and after one adaptation step."""
    before, after = 0.0, 0.0
    for _ in range(tasks):
        support, (xq, yq) = sample_task(rng, k)
        before += F.mse_loss(forward(params, xq), yq).item()
        adapted = adapt(params, support, inner_lr, create_graph=False)
        after += F.mse_loss(forward(adapted, xq), yq).item()
    return before / tasks, after / tasks


def main(
    iterations: int = 300,
    meta_batch: int = 4,
    k: int = 10,
    hidden: int = 40,
    inner_lr: float = 0.01,
    meta_lr: float = 0.01,
    seed: int = 0,
) -> dict:
    rng = np.random.default_rng(seed)
    params = init_params(hidden, rng)
    meta_optimizer = torch.optim.Adam(params, lr=meta_lr)
    eval_rng_seed = seed + 1
    start = evaluate(params, np.random.default_rng(eval_rng_seed), 20, k, inner_lr)
    meta_losses = []
    for it in range(iterations):
        meta_loss = 0.0
        for _ in range(meta_batch):
            support, (xq, yq) = sample_task(rng, k)
            adapted = adapt(params, support, inner_lr, create_graph=True)
            meta_loss = meta_loss + F.mse_loss(forward(adapted, xq), yq)
        meta_loss = meta_loss / meta_batch
        meta_optimizer.zero_grad()
        meta_loss.backward()  # through the inner step: second derivatives included
        meta_optimizer.step()
        meta_losses.append(meta_loss.item())
        if (it + 1) % max(iterations // 5, 1) == 0:
            window = meta_losses[-max(iterations // 5, 1) :]
            print(
                f"iteration {it + 1}: mean meta-loss over the last {len(window)} "
                f"{np.mean(window):.3f}"
            )
    end = evaluate(params, np.random.default_rng(eval_rng_seed), 20, k, inner_lr)
    print(
        f"on 20 new tasks, query loss before -> after one step: at the start "
        f"{start[0]:.3f} -> {start[1]:.3f}; after meta-training {end[0]:.3f} -> {end[1]:.3f}"
    )
    return {"meta_losses": meta_losses, "eval_start": start, "eval_end": end}


if __name__ == "__main__":
    main()
