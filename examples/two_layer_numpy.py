"""A two-layer network trained by backpropagation written out in NumPy, next to the same network
in chainrule: the gradients are equal to the last bits of float64.

    h     = tanh(x W1 + b1)          hidden layer
    y_hat = h W2 + b2                output
    L     = mean((y_hat - y)²)       mean squared error

Backward by hand, from the loss to the first layer (each line is one local derivative times the
gradient arriving from above):

    dL/dy_hat = 2 (y_hat - y) / N
    dL/dW2 = hᵀ · dL/dy_hat          dL/db2 = Σ_rows dL/dy_hat
    dL/dh  = dL/dy_hat · W2ᵀ
    dL/dz  = dL/dh ⊙ (1 - h²)        (tanh' = 1 - tanh², z = x W1 + b1)
    dL/dW1 = xᵀ · dL/dz              dL/db1 = Σ_rows dL/dz

Run it with:  python examples/two_layer_numpy.py
"""

import numpy as np

import chainrule as torch

NAMES = ("W1", "b1", "W2", "b2")


def numpy_forward_backward(x, y, w1, b1, w2, b2):
    """Loss and the four gradients, computed with NumPy alone."""
    z = x @ w1 + b1
    h = np.tanh(z)
    y_hat = h @ w2 + b2
    loss = np.mean((y_hat - y) ** 2)

    g_yhat = 2.0 * (y_hat - y) / y_hat.size
    g_w2 = h.T @ g_yhat
    g_b2 = g_yhat.sum(axis=0)  # b2 was broadcast over the rows: its gradient sums them
    g_h = g_yhat @ w2.T
    g_z = g_h * (1.0 - h * h)
    g_w1 = x.T @ g_z
    g_b1 = g_z.sum(axis=0)
    return loss, [g_w1, g_b1, g_w2, g_b2]


def chainrule_forward_backward(x, y, w1, b1, w2, b2):
    """The same network written as a forward pass only: backward() derives the rest."""
    params = [torch.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    tw1, tb1, tw2, tb2 = params
    h = torch.tanh(torch.tensor(x) @ tw1 + tb1)
    y_hat = h @ tw2 + tb2
    loss = ((y_hat - torch.tensor(y)) ** 2).mean()
    loss.backward()
    return loss.item(), [p.grad.numpy() for p in params]


def main(
    batch: int = 8,
    n_in: int = 3,
    n_hidden: int = 16,
    n_out: int = 2,
    steps: int = 50,
    lr: float = 0.1,
    seed: int = 0,
) -> dict:
    """Check the gradients once, then train both copies side by side for `steps` steps."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, n_in))
    y = np.sin(x @ rng.standard_normal((n_in, n_out)))  # a smooth target to fit
    shapes = [(n_in, n_hidden), (n_hidden,), (n_hidden, n_out), (n_out,)]
    params = [rng.standard_normal(s) / np.sqrt(s[0] if len(s) == 2 else 1) for s in shapes]
    params_np = [p.copy() for p in params]

    losses_np, losses_cr, max_diff = [], [], 0.0
    for step in range(steps):
        loss_np, grads_np = numpy_forward_backward(x, y, *params_np)
        loss_cr, grads_cr = chainrule_forward_backward(x, y, *params)
        if step == 0:
            print(f"{'gradient':<9}{'shape':<10}{'NumPy':>14}{'chainrule':>14}{'max |diff|':>12}")
            for name, gn, gc in zip(NAMES, grads_np, grads_cr):
                diff = np.abs(gn - gc).max()
                print(
                    f"{name:<9}{str(gn.shape):<10}{gn.flat[0]:>14.8f}{gc.flat[0]:>14.8f}"
                    f"{diff:>12.1e}"
                )
        max_diff = max(max_diff, *(np.abs(gn - gc).max() for gn, gc in zip(grads_np, grads_cr)))
        losses_np.append(loss_np)
        losses_cr.append(loss_cr)
        for p, g in zip(params_np, grads_np):
            p -= lr * g  # plain gradient descent, in place
        for p, g in zip(params, grads_cr):
            p -= lr * g

    print(f"loss: {losses_np[0]:.6f} -> {losses_np[-1]:.6f} after {steps} steps (NumPy)")
    print(f"loss: {losses_cr[0]:.6f} -> {losses_cr[-1]:.6f} after {steps} steps (chainrule)")
    print(f"largest gradient difference over all steps: {max_diff:.1e}")
    return {"losses_numpy": losses_np, "losses_chainrule": losses_cr, "max_grad_diff": max_diff}


if __name__ == "__main__":
    main()
