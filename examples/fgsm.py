"""An adversarial example from the gradient with respect to the input (FGSM).

Training asks for dL/dweights; nothing stops us asking for dL/dinput instead. The fast gradient
sign method (Goodfellow et al., 2015) moves every pixel by ε in the direction that increases
the loss the most, to first order:

    x_adv = clip(x + ε · sign(dL/dx), 0, 1)

A small network trained on the 8x8 digits classifies the clean test images well; the same
images, each pixel changed by at most ε, fool it far more often than random ±ε noise does.

Run it with:  python examples/fgsm.py
"""

import numpy as np

import chainrule as torch
import chainrule.nn as nn
import chainrule.nn.functional as F
from chainrule.data import digits


def train_classifier(x, y, epochs: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    order = np.random.default_rng(seed)
    for _ in range(epochs):
        for idx in np.array_split(order.permutation(len(y)), len(y) // 32):
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def accuracy(model, x, y) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def fgsm(model, x, y, eps: float):
    x = x.clone().requires_grad_()  # we want dL/dx, so x is the leaf now
    loss = F.cross_entropy(model(x), y)
    (gx,) = torch.autograd.grad(loss, x)
    return (x + eps * gx.sign()).clamp(0, 1).detach()


def main(epochs: int = 10, eps: tuple[float, ...] = (0.05, 0.1, 0.2), seed: int = 0) -> dict:
    x_train, y_train = digits("train", size=8)  # the original 8x8 scans, pixels in [0, 1]
    x_test, y_test = digits("test", size=8)
    x_train, y_train = torch.tensor(x_train), torch.tensor(y_train)
    x_test, y_test = torch.tensor(x_test), torch.tensor(y_test)
    model = train_classifier(x_train, y_train, epochs, seed)
    clean = accuracy(model, x_test, y_test)
    print(f"clean test accuracy {clean:.2%}")
    rng = np.random.default_rng(seed)
    results = {"clean": clean, "fgsm": {}, "random": {}}
    for e in eps:
        adv = accuracy(model, fgsm(model, x_test, y_test, e), y_test)
        noise = torch.tensor(e * rng.choice([-1.0, 1.0], x_test.shape).astype(np.float32))
        rand = accuracy(model, (x_test + noise).clamp(0, 1), y_test)
        results["fgsm"][e], results["random"][e] = adv, rand
        print(f"ε = {e:<5g} FGSM accuracy {adv:.2%}   random ±ε noise accuracy {rand:.2%}")
    return results


if __name__ == "__main__":
    main()
