"""Elementwise arithmetic: forward and backward side by side.

Binary ops return gradients in the broadcast output shape; the engine reduces them to each
input's shape. Python numbers pass through to NumPy as weak scalars (PyTorch's promotion).
"""

from __future__ import annotations

from ..backend import array_module, get_default_dtype
from ..tensor import Tensor
from . import tensor_numpy
from ._core import Op, cast, commit_inplace, operands


class Add(Op):
    """y = a + b;  ga = gy, gb = gy"""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, gy):
        return gy, gy


class Sub(Op):
    """y = a - b;  ga = gy, gb = -gy"""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, gy):
        return gy, -gy


class Mul(Op):
    """y = a * b;  ga = gy * b, gb = gy * a"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        ga = gy * b if ctx.needs_input_grad[0] else None
        gb = gy * a if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Op):
    """y = a / b;  ga = gy / b, gb = -gy * a / b²"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        ga = gy / b if ctx.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Op):
    """y = -x;  gx = -gy"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, gy):
        return -gy


class Exp(Op):
    """y = eˣ;  gx = gy * y"""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * y


class Log(Op):
    """y = ln x;  gx = gy / x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).log(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy / x


class Tanh(Op):
    """y = tanh x;  gx = gy * (1 - y²)"""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).tanh(x)
        ctx.save_for_backward(y)  # the output is cheaper to keep than x here
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * (1 - y * y)


def add(input, other, *, alpha=1):
    """input + alpha * other, with broadcasting and PyTorch's type promotion."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = operands(input, other)
    return Add.apply(a, b)


def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    if alpha != 1:
        other = mul(other, alpha)
    a, b = operands(input, other)
    return Sub.apply(a, b)


def mul(input, other):
    a, b = operands(input, other)
    return Mul.apply(a, b)


def div(input, other, *, rounding_mode=None):
    """input / other; ``rounding_mode`` "trunc" or "floor" rounds the quotient (no gradient)."""
    if rounding_mode is not None:
        q = div(input, other).detach()
        if rounding_mode == "floor":
            return q.floor()
        if rounding_mode == "trunc":
            return q.trunc()
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
    a, b = operands(input, other)
    t = a if isinstance(a, Tensor) else b
    if t.data.dtype.kind in "biu":  # true division of integers gives the default float dtype
        a, b = (cast(x, get_default_dtype()) if isinstance(x, Tensor) else x for x in (a, b))
    return Div.apply(a, b)


def neg(input):
    return Neg.apply(input)


def exp(input):
    return Exp.apply(input)


def log(input):
    return Log.apply(input)


def tanh(input):
    return Tanh.apply(input)


def add_(input, other, *, alpha=1):
    return commit_inplace(input, add(input, other, alpha=alpha), "add_")


def sub_(input, other, *, alpha=1):
    return commit_inplace(input, sub(input, other, alpha=alpha), "sub_")


def mul_(input, other):
    return commit_inplace(input, mul(input, other), "mul_")


def div_(input, other, *, rounding_mode=None):
    return commit_inplace(input, div(input, other, rounding_mode=rounding_mode), "div_")


def neg_(input):
    return commit_inplace(input, neg(input), "neg_")


def exp_(input):
    return commit_inplace(input, exp(input), "exp_")


def log_(input):
    return commit_inplace(input, log(input), "log_")


def tanh_(input):
    return commit_inplace(input, tanh(input), "tanh_")


subtract = sub
multiply = mul
divide = true_divide = div
negative = neg

tensor_numpy.register(
    add=add, subtract=sub, multiply=mul, divide=div, negative=neg, exp=exp, log=log, tanh=tanh
)

# Public functions that are also Tensor methods (name or (method name, function)).
METHODS = [
    "add", "sub", "mul", "div", "neg", "exp", "log", "tanh",
    "add_", "sub_", "mul_", "div_", "neg_", "exp_", "log_", "tanh_",
    "subtract", "multiply", "divide", "true_divide", "negative",
]  # fmt: skip

__all__ = [
    "add", "sub", "mul", "div", "neg", "exp", "log", "tanh",
    "subtract", "multiply", "divide", "true_divide", "negative",
]  # fmt: skip
