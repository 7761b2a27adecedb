"""Shared by the scripts that tests/distributed runs under mpiexec."""

from __future__ import annotations

import numpy as np

import chainrule as torch
import chainrule.distributed as dist

GLOBAL_BATCH = 12  # divisible by 1, 2, 3 and 4 ranks


def setup() -> tuple[int, int]:
    dist.init_process_group("mpi")
    return dist.get_rank(), dist.get_world_size()


class MLP(torch.nn.Module):
    """6-16-16-3 with an optional branch that never takes part in the output."""

    def __init__(self, unused: bool = False):
        super().__init__()
        self.fc1 = torch.nn.Linear(6, 16)
        self.fc2 = torch.nn.Linear(16, 16)
        self.head = torch.nn.Linear(16, 3)
        if unused:
            self.spare = torch.nn.Linear(16, 3)

    def forward(self, x):
        return self.head(torch.relu(self.fc2(torch.tanh(self.fc1(x)))))


def make_model(seed: int = 0, unused: bool = False) -> MLP:
    torch.manual_seed(seed)
    return MLP(unused).double()


def batches(steps: int, n: int = GLOBAL_BATCH):
    """The global batches of a run: the same on every rank (each takes its slice)."""
    rng = np.random.default_rng(1234)
    out = []
    for _ in range(steps):
        x = rng.standard_normal((n, 6))
        y = rng.integers(0, 3, n)
        out.append((x, y))
    return out


def shard(a: np.ndarray, rank: int, size: int) -> np.ndarray:
    per = len(a) // size
    return a[rank * per : (rank + 1) * per]


def train_single(model, data, lr=0.1):
    """The reference: one process, the whole global batch each step."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for x, y in data:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        opt.step()
    return model


def max_diff(a_model, b_model) -> float:
    worst = 0.0
    b_params = dict(b_model.named_parameters())
    for name, p in a_model.named_parameters():
        worst = max(
            worst, float(np.abs(p.detach().numpy() - b_params[name].detach().numpy()).max())
        )
    return worst


def check(cond: bool, message: str) -> None:
    if not cond:
        raise AssertionError(f"rank {dist.get_rank()}: {message}")
