"""Backpropagation on the smallest network there is: one weight, one input, one target.

    y_hat = w * x              the neuron's prediction
    L     = (y_hat - y)²       squared error

With x = 2, w = 0.5 and target y = 4, the chain rule gives

    dL/dw = dL/dy_hat · dy_hat/dw = 2(y_hat - y) · x = 2(1 - 4) · 2 = -12

and one step of gradient descent with learning rate 0.1 moves w to 0.5 - 0.1 · (-12) = 1.7.
This script does it twice: by hand, one local derivative at a time, and with autograd, which
records the same two ops and multiplies the same local derivatives backwards.

Run it with:  python examples/single_neuron.py
"""

import chainrule as torch  # chainrule speaks PyTorch's API

X, Y = 2.0, 4.0  # the input and its target
W0 = 0.5  # the initial weight
LR = 0.1  # the learning rate


def by_hand() -> tuple[float, float]:
    """Forward, local derivatives, chain rule and update, with plain Python floats."""
    print("By hand")
    y_hat = W0 * X
    loss = (y_hat - Y) ** 2
    print(f"  forward      y_hat = w * x = {W0:g} * {X:g} = {y_hat:g}")
    print(f"               L = (y_hat - y)² = ({y_hat:g} - {Y:g})² = {loss:g}")

    dL_dyhat = 2 * (y_hat - Y)  # d/du u² = 2u, at u = y_hat - y
    dyhat_dw = X  # d/dw (w * x) = x
    print(f"  local        dL/dy_hat = 2(y_hat - y) = {dL_dyhat:g}")
    print(f"               dy_hat/dw = x = {dyhat_dw:g}")

    dL_dw = dL_dyhat * dyhat_dw
    print(f"  chain rule   dL/dw = dL/dy_hat * dy_hat/dw = {dL_dyhat:g} * {dyhat_dw:g} = {dL_dw:g}")

    w = W0 - LR * dL_dw
    print(f"  update       w = w - lr * dL/dw = {W0:g} - {LR:g} * ({dL_dw:g}) = {w:g}")
    return dL_dw, w


def by_autograd() -> tuple[float, float]:
    """The same computation on tensors: backward() applies the chain rule for us."""
    print("By autograd")
    x = torch.tensor(X)
    y = torch.tensor(Y)
    w = torch.tensor(W0, requires_grad=True)  # a leaf we want the gradient of

    y_hat = w * x  # records a Mul node
    y_hat.retain_grad()  # keep dL/dy_hat, which autograd otherwise frees
    loss = (y_hat - y) ** 2  # records Sub and Pow nodes
    print(f"  forward      y_hat = {y_hat.item():g}, L = {loss.item():g}")
    print(f"  graph        L <- {_path_to_leaf(loss)} <- w")

    loss.backward()  # walks the graph backwards from L, multiplying local derivatives
    dL_dw = w.grad.item()
    print(f"  backward     dL/dy_hat = {y_hat.grad.item():g}")
    print(f"               dL/dw = {dL_dw:g}")

    with torch.no_grad():  # the update itself is not part of the model
        w -= LR * w.grad
    w.grad = None  # what optimizer.zero_grad() does before the next step
    print(f"  update       w = {w.item():g}")
    return dL_dw, w.item()


def _path_to_leaf(t) -> str:
    """The names of the nodes from `t` back to a leaf, following each node's first input."""
    names = []
    node = t.grad_fn
    while node is not None:
        names.append(node.name())
        parents = [n for n, _ in node.next_functions if n is not None]
        node = parents[0] if parents and not isinstance(parents[0], torch.Tensor) else None
    return " <- ".join(names)


def main() -> dict:
    """Run both and print the comparison; returns {"by_hand": (dL/dw, w), "by_autograd": ...}."""
    hand_grad, hand_w = by_hand()
    print()
    auto_grad, auto_w = by_autograd()
    print()
    print(f"dL/dw: by hand {hand_grad:g}, by autograd {auto_grad:g}")
    print(f"w after one step: by hand {hand_w:g}, by autograd {auto_w:g}")
    return {"by_hand": (hand_grad, hand_w), "by_autograd": (auto_grad, auto_w)}


if __name__ == "__main__":
    main()
