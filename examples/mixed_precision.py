"""Mixed precision with loss scaling, on CPU.

float16 has 10 bits of mantissa and a smallest (subnormal) positive value of 2⁻²⁴ ≈ 6e-8.
Forward passes in float16 are fine for most networks, but gradients are often much smaller than
the activations: late in training, or whenever the loss is small, many of them fall below 6e-8
and become exactly 0 ("underflow"), and the weights they belong to stop learning.

The remedy (Micikevicius et al., 2018): keep float32 "master" weights, run the forward pass on
float16 copies, multiply the loss by a large scale S before backward so that every gradient in
the float16 graph is S times larger, then divide the float32 gradients by S before the update.
A dynamic scaler starts with a large S, halves it (and skips the step) whenever a gradient
overflows to inf, and doubles it again after a run of clean steps. ``LossScaler`` below is that,
in 30 lines; ``chainrule.amp.GradScaler`` is the PyTorch-compatible version.

The problem: a small MLP (8 → 32 → 1) fits targets of size 1e-3 (a quantity measured in small
units) with its output layer initialised small, so that it starts at the targets' scale. The
gradients reaching the first layer are then around 1e-7..1e-6: without scaling almost half of
them are flushed to 0 in float16 and the rest lose most of their digits, so the first layer's
training goes wrong (the loss here hardly shows it: the output layer does most of the fitting).
With the loss scaled by 2^16, float16 gives the float32 gradients to 4 digits.

Run it with:  python examples/mixed_precision.py
"""

import math

import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F

FLOAT16_TINY = float(np.finfo(np.float16).smallest_subnormal)  # 2**-24 ≈ 5.96e-08


class LossScaler:
    """Dynamic loss scaling: backward on loss · S, unscale, skip the step on inf/NaN."""

    def __init__(self, scale: float = 2.0**16, growth_interval: int = 50) -> None:
        self.scale = scale
        self.growth_interval = growth_interval
        self.good_steps = 0
        self.skipped = 0
        self.lowest = scale  # the lowest scale so far

    def backward(self, loss) -> None:
        (loss * self.scale).backward()

    def step(self, optimizer) -> bool:
        """Unscale the gradients and step; returns False (and halves S) if one overflowed."""
        params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        finite = all(bool(p.grad.isfinite().all()) for p in params)
        if not finite:
            self.scale /= 2
            self.lowest = min(self.lowest, self.scale)
            self.good_steps = 0
            self.skipped += 1
            return False
        with torch.no_grad():
            for p in params:
                p.grad /= self.scale
        optimizer.step()
        self.good_steps += 1
        if self.good_steps == self.growth_interval:
            self.scale *= 2
            self.good_steps = 0
        return True


def make_data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = 1e-3 * np.tanh(x @ rng.standard_normal((8, 1))).astype(np.float32)
    return torch.tensor(x), torch.tensor(y)


def make_model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    with torch.no_grad():  # a small output layer: the outputs start at the targets' size
        model[2].weight.mul_(0.01)
        model[2].bias.zero_()
    return model


def forward_half(model, x):
    """The model's forward pass in float16 on float16 copies of the float32 master weights;
    the loss is then computed in float32, as autocast does for losses."""
    w1, b1, w2, b2 = (p.half() for p in model.parameters())  # casts: gradients flow back
    h = F.relu(F.linear(x.half(), w1, b1))
    return F.linear(h, w2, b2).float()


def gradients(model, x, y, half: bool, scale: float = 1.0) -> list[np.ndarray]:
    model.zero_grad()
    out = forward_half(model, x) if half else model(x)
    (F.mse_loss(out, y) * scale).backward()
    return [p.grad.numpy() / scale for p in model.parameters()]


def train(x, y, mode: str, steps: int, seed: int):
    model = make_model(seed)
    w1_start = model[0].weight.detach().numpy().copy()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    # the scale starts too high on purpose: the first steps overflow, are skipped, and halve it
    scaler = LossScaler(2.0**28) if mode == "float16 + loss scaling" else None
    losses = []
    for _ in range(steps):
        out = model(x) if mode == "float32" else forward_half(model, x)
        loss = F.mse_loss(out, y)
        optimizer.zero_grad()
        if scaler is None:
            loss.backward()
            optimizer.step()
        else:
            scaler.backward(loss)
            scaler.step(optimizer)
        losses.append(loss.item())
    w1_change = model[0].weight.detach().numpy() - w1_start
    return losses, w1_change, scaler


def train_with_grad_scaler(x, y, steps: int, seed: int) -> list[float] | None:
    """The same float16 training with PyTorch's API, ``chainrule.amp.GradScaler`` (None if this
    chainrule has no amp package)."""
    try:
        from chainrule.amp import GradScaler
    except ImportError:
        return None
    model = make_model(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scaler = GradScaler("cpu", init_scale=2.0**28, growth_interval=50)
    losses = []
    for _ in range(steps):
        loss = F.mse_loss(forward_half(model, x), y)
        optimizer.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(optimizer)  # unscales; skips the step if a gradient is inf or NaN
        scaler.update()  # halves the scale after an overflow, doubles it after 50 clean steps
        losses.append(loss.item())
    return losses


def main(n: int = 256, steps: int = 200, seed: int = 0) -> dict:
    x, y = make_data(n, seed)
    model = make_model(seed)
    reference = gradients(model, x, y, half=False)
    runs = {
        "float16, no scaling": gradients(model, x, y, half=True),
        "float16, loss x 2^16": gradients(model, x, y, half=True, scale=2.0**16),
    }
    print(
        f"float16's smallest positive value: {FLOAT16_TINY:.3g}; largest |gradient| in float32:"
        f" first layer {np.abs(reference[0]).max():.3g}, output layer "
        f"{np.abs(reference[2]).max():.3g}"
    )
    out = {}
    for name, grads in runs.items():
        row = {}
        for layer, i in (("first layer", 0), ("output layer", 2)):
            g, ref = grads[i], reference[i]
            row[layer] = {
                "zero_share": float(np.mean((g == 0) & (ref != 0))),  # lost to underflow
                "relative_error": float(np.linalg.norm(g - ref) / np.linalg.norm(ref)),
            }
        out[name] = row
        print(
            f"{name:<21}"
            + "; ".join(
                f"{layer}: {r['zero_share']:5.1%} flushed to 0, error {r['relative_error']:.1e}"
                for layer, r in row.items()
            )
        )
    print(f"training {steps} steps (SGD, momentum 0.9):")
    changes = {}
    for mode in ("float32", "float16", "float16 + loss scaling"):
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is the scaler's signal
            losses, changes[mode], scaler = train(x, y, mode, steps, seed)
        skipped = scaler.skipped if scaler else 0
        out[mode] = {"losses": losses, "skipped": skipped}
        off = np.linalg.norm(changes[mode] - changes["float32"]) / np.linalg.norm(
            changes["float32"]
        )
        out[mode]["w1_update_error"] = float(off)
        note = ""
        if scaler is not None:
            low, end = math.log2(scaler.lowest), math.log2(scaler.scale)
            note = f"; {skipped} steps skipped on overflow, scale 2^28 -> 2^{low:g} -> 2^{end:g}"
            out[mode]["scales"] = (scaler.lowest, scaler.scale)
        print(
            f"  {mode:<23} loss {losses[0]:.3e} -> {losses[-1]:.3e}; first layer's total update"
            f" off from float32's by {off:.1%}{note}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        amp_losses = train_with_grad_scaler(x, y, steps, seed)
    if amp_losses is not None:
        print(f"  with chainrule.amp.GradScaler: loss -> {amp_losses[-1]:.3e}")
    out["grad_scaler"] = amp_losses
    return out


if __name__ == "__main__":
    main()
