"""A custom autograd ``Function``: you write the forward and the backward, the engine does the
rest, and ``gradcheck`` compares your backward with finite differences.

Two examples, both subclasses of ``chainrule.autograd.Function`` (PyTorch's API):

- ``ClippedExp``: y = exp(min(x, c)). Plain exp overflows float32 above x ≈ 88; clipping the
  input keeps it finite, and the backward says that the clipped part is flat:
  dy/dx = y where x < c, else 0.
- ``StraightThroughSign``: y = sign(x) forward, but the gradient passes straight through where
  |x| ≤ 1 (the "straight-through estimator" of binarised networks, Hubara et al. 2016). Its
  backward is deliberately NOT the derivative of sign (which is 0 almost everywhere), so
  gradcheck must fail on it: a useful reminder of what gradcheck does and does not prove.

Run it with:  python examples/custom_function.py
"""

import chainrule as torch
from chainrule.autograd import Function
from chainrule.testing import GradcheckError, gradcheck, gradgradcheck


class ClippedExp(Function):
    """y = exp(min(x, c));  dy/dx = y · [x < c]"""

    @staticmethod
    def forward(ctx, x, c=20.0):
        y = x.clamp(max=c).exp()
        ctx.save_for_backward(x, y)
        ctx.c = c
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        return gy * y * (x < ctx.c), None  # one gradient per forward argument; c gets None


class StraightThroughSign(Function):
    """y = sign(x);  gradient passed through unchanged where |x| ≤ 1, zero elsewhere"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.sign()

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * (x.abs() <= 1)


def _fmt(t) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in t.tolist()) + "]"


def main(n: int = 6, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    # gradcheck needs float64 and points away from the kink at x = c
    x = (torch.randn(n, dtype=torch.float64) * 2).requires_grad_()
    ok = gradcheck(lambda t: ClippedExp.apply(t, 1.5), (x,))
    ok2 = gradgradcheck(lambda t: ClippedExp.apply(t, 1.5), (x,))
    print(f"ClippedExp: gradcheck {ok}, gradgradcheck {ok2} (x = {x.detach().numpy().round(3)})")

    big = torch.tensor([1.0, 50.0, 100.0], requires_grad=True)  # float32
    y = ClippedExp.apply(big, 20.0)
    y.sum().backward()
    print(f"  exp(x) at x = 1, 50, 100:      {_fmt(torch.exp(big.detach()))}")
    print(f"  ClippedExp(x, c=20):           {_fmt(y)}")
    print(f"  its gradient:                  {_fmt(big.grad)}")

    x = torch.tensor([-2.0, -0.5, 0.3, 1.5], dtype=torch.float64, requires_grad=True)
    s = StraightThroughSign.apply(x)
    s.sum().backward()
    print(
        f"StraightThroughSign at {x.detach().tolist()}: {s.detach().tolist()}, "
        f"gradient {x.grad.tolist()}"
    )
    try:
        gradcheck(StraightThroughSign.apply, (x.detach().requires_grad_(),))
        ste_passes = True
    except GradcheckError:
        ste_passes = False
    print(f"  gradcheck on it passes: {ste_passes} (its backward is a chosen surrogate)")
    return {
        "gradcheck": ok,
        "gradgradcheck": ok2,
        "clipped": y.detach().tolist(),
        "clipped_grad": big.grad.tolist(),
        "ste_grad": x.grad.tolist(),
        "ste_gradcheck_passes": ste_passes,
    }


if __name__ == "__main__":
    main()
