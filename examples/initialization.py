"""Xavier vs He initialisation: how the spread of the activations survives a deep network.

Each layer computes h ← act(h W) with W of shape (n, n). If W's entries have variance σ², the
pre-activation's variance is n σ² times the input's second moment. Keeping it constant through
depth gives the two classic rules:

- Xavier/Glorot (2010), for tanh (linear near 0): σ² = 2 / (fan_in + fan_out) = 1 / n.
- He/Kaiming (2015), for ReLU, which zeroes half of its inputs and so halves the second moment:
  σ² = 2 / fan_in = 2 / n.

With Xavier, a ReLU network loses a factor √2 of standard deviation per layer: after 20 layers
the signal is a thousandth of what He keeps. tanh is subtler: it squashes large inputs, so
with Xavier's gain 1 the spread shrinks slowly with depth; PyTorch's recommended gain for tanh,
calculate_gain("tanh") = 5/3, and He's √2 hold it up, at the price of more units in saturation
(|tanh| > 0.9, where its derivative is below 0.19).

Run it with:  python examples/initialization.py
"""

import numpy as np

import chainrule as torch
import chainrule.nn as nn

INITS = {
    "xavier": lambda w: nn.init.xavier_normal_(w),
    "xavier·5/3": lambda w: nn.init.xavier_normal_(w, gain=nn.init.calculate_gain("tanh")),
    "he": lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu"),
}
ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def activation_stds(init: str, act: str, depth: int, width: int, batch: int, seed: int):
    """The standard deviation of the activations after each of `depth` layers."""
    torch.manual_seed(seed)
    h = torch.randn(batch, width)
    stds, saturated = [], 0.0
    with torch.no_grad():
        for _ in range(depth):
            w = torch.empty(width, width)
            INITS[init](w)
            h = ACTIVATIONS[act](h @ w.T)
            stds.append(h.std().item())
        saturated = (h.abs() > 0.9).float().mean().item()
    return stds, saturated


def main(depth: int = 20, width: int = 256, batch: int = 256, seed: int = 0) -> dict:
    table, saturated = {}, {}
    for act in ACTIVATIONS:
        for init in INITS:
            stds, sat = activation_stds(init, act, depth, width, batch, seed)
            table[(act, init)], saturated[(act, init)] = stds, sat
    shown = sorted({1, 2, 5, 10, depth} & set(range(1, depth + 1)))
    print("std of the activations after layer:")
    print(f"{'':<18}" + "".join(f"{k:>9}" for k in shown) + "   saturated at the end")
    for (act, init), stds in table.items():
        row = "".join(f"{stds[k - 1]:>9.4f}" for k in shown)
        end = f"{saturated[(act, init)]:>10.1%}" if act == "tanh" else ""
        print(f"{act + ' + ' + init:<18}{row}{end}")
    ratio = table[("relu", "xavier")][-1] / table[("relu", "he")][-1]
    print(
        f"ReLU: Xavier/He after {depth} layers = {ratio:.2e} (1/√2^{depth} = "
        f"{2 ** (-depth / 2):.2e})"
    )
    out = {f"{act}_{init}": np.array(stds) for (act, init), stds in table.items()}
    out["tanh_saturated"] = {init: saturated[("tanh", init)] for init in INITS}
    return out


if __name__ == "__main__":
    main()
