"""A gallery of small training scripts, each with one planted bug behind `bug=True`.

Every planted line (or the line a diagnostic should name) carries a `# MARK: <tag>` comment, so
that the tests can check that a diagnostic names it: `line_of("<tag>")`.
"""

from __future__ import annotations

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F

HERE = __file__


def line_of(tag: str, path: str = HERE) -> str:
    """'<path>:<line>' of the line marked `# MARK: <tag>` in `path` (this file by default)."""
    with open(path) as f:
        for i, line in enumerate(f, 1):
            if line.rstrip().endswith(f"# MARK: {tag}"):
                return f"{path}:{i}"
    raise LookupError(tag)


def data(n=64, d=10, k=3, seed=0):
    torch.manual_seed(seed)
    return torch.randn(n, d), torch.randint(0, k, (n,))


def mlp(d=10, h=32, k=3):
    return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, k))


def forgotten_zero_grad(bug: bool, steps: int = 6, monitor=None):
    x, y = data()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = monitor(model, opt) if monitor else None
    for _ in range(steps):
        if not bug:
            opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()  # MARK: zero_grad
        opt.step()
    return mon


class TwoBranch(nn.Module):
    def __init__(self, bug: bool):
        super().__init__()
        self.bug = bug
        self.encoder = nn.Linear(10, 16)
        self.side = nn.Linear(10, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        h = torch.tanh(self.encoder(x))
        if self.bug:
            h = h.detach()  # MARK: detach
        return self.head(h + torch.tanh(self.side(x)))


def detached_branch(bug: bool, steps: int = 3, monitor=None):
    x, y = data()
    model = TwoBranch(bug)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = monitor(model, opt) if monitor else None
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return mon, model, loss


def argmax_loss(bug: bool, monitor=None):
    x, y = data()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = monitor(model, opt) if monitor else None
    opt.zero_grad()
    logits = model(x)
    if bug:
        pred = logits.argmax(1)  # MARK: argmax
        loss = ((pred.float() - y.float()) ** 2).mean()
    else:
        loss = F.cross_entropy(logits, y)
    try:
        loss.backward()
        opt.step()
    except RuntimeError as e:
        return mon, model, loss, e
    return mon, model, loss, None


def inplace_on_saved(bug: bool):
    torch.manual_seed(0)
    w = torch.randn(4, 4, requires_grad=True)
    x = torch.randn(8, 4)
    h = torch.sigmoid(x @ w)  # MARK: saved
    if bug:
        h.mul_(2)  # MARK: inplace
    else:
        h = h * 2
    h.sum().backward()
    return w.grad


def log_zero_probability(bug: bool):
    x, y = data(n=16)
    model = mlp()
    probs = F.softmax(model(x), dim=1)
    if bug:
        probs = probs * (torch.arange(3) != 0).float()  # masks class 0 out: p = 0
    else:
        probs = probs * 1.0
    picked = probs.gather(1, y.unsqueeze(1))
    loss = -torch.log(picked).mean()  # MARK: log
    loss.backward()
    return loss


def float16_overflow(bug: bool):
    x, _ = data(n=16)
    model = mlp().half()
    temperature = 40.0 if bug else 1.0  # MARK: temperature
    logits = model(x.half()) * temperature
    e = torch.exp(logits - logits.mean())  # MARK: exp
    probs = e / e.sum(dim=1, keepdim=True)
    loss = -torch.log(probs[:, 0]).mean()
    loss.backward()
    return loss


def running_total(bug: bool, steps: int = 4, monitor=None):
    x, y = data()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = monitor(model, opt) if monitor else None
    total_loss = 0.0
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        if bug:
            total_loss += loss  # MARK: total
        else:
            total_loss += loss.item()
    return mon, total_loss


def frozen_under_adamw(bug: bool, steps: int = 6, monitor=None):
    x, y = data()
    model = mlp()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    mon = monitor(model, opt) if monitor else None
    for step in range(steps):
        if step == 2:
            model[0].requires_grad_(False)  # fine-tune the rest: freeze the first layer
        opt.zero_grad(set_to_none=not bug)  # MARK: set_to_none
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()  # MARK: frozen_step
    return mon


def deep_sigmoid(bug: bool, steps: int = 4, monitor=None):
    torch.manual_seed(0)
    layers = []
    for _ in range(20):
        lin = nn.Linear(32, 32)
        if bug:
            nn.init.normal_(lin.weight, std=0.01)  # MARK: init
        else:
            nn.init.orthogonal_(lin.weight, gain=6.0)
        nn.init.zeros_(lin.bias)
        layers += [lin, nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(32, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    mon = monitor(model, opt) if monitor else None
    x, y = torch.randn(64, 32), torch.randint(0, 2, (64,))
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return mon


def diverging_lr(bug: bool, steps: int = 12, monitor=None):
    x, y = data()
    model = mlp()
    opt = torch.optim.SGD(model.parameters(), lr=3.0 if bug else 0.05)  # MARK: lr
    mon = monitor(model, opt) if monitor else None
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(x) * 5, y)
        loss.backward()
        opt.step()
    return mon
