"""Elementwise ops: arithmetic, powers, exp/log, trigonometry, special functions, rounding,
clamping and selection, comparisons and logic, and the in-place forms.

Binary ops return gradients in the broadcast output shape; the engine reduces them to each
input's shape. Python numbers pass through to NumPy as weak scalars (PyTorch's promotion).
Float functions of integer or bool tensors (sqrt, exp, sin, …) compute in the default float
dtype, as PyTorch does; abs, neg, sign, square and the rounding ops keep integer dtypes.

Comparisons, logical and bitwise ops return tensors without a graph: they are not
differentiable. Step functions (round, floor, ceil, trunc, sign, rounded division) have a zero
gradient, which is what makes the straight-through estimator ``x + (x.round() - x).detach()``
work. Gradient masks (where a clamp or a maximum passes its gradient) are computed from the raw
saved arrays and applied by multiplication: ``np.where`` is about 20x slower than a multiply on
a random mask. A consequence, shared by relu and clamp: an inf or NaN upstream gradient at a
masked-out element gives NaN, where PyTorch gives 0.
"""

from __future__ import annotations

import builtins
import math
import numbers

import numpy as np

from .. import backend
from ..autograd import engine
from ..backend import array_module, get_default_dtype
from ..tensor import Tensor
from . import tensor_numpy
from ._core import (
    _PY_SCALARS,
    Op,
    _as_operand,
    _conj,
    _conj_if_complex,
    _scalar_dtype,
    cast,
    category,
    check_inplace,
    commit_inplace,
    is_array,
    operands,
    result_type,
    writeable,
)


# ------------------------------------------------------------------------------------ helpers
def _quiet():
    """PyTorch returns inf and NaN silently (log 0, 1/0, sqrt(-1)); NumPy would warn."""
    return np.errstate(all="ignore")


def _raw(a):
    """The array behind a saved value (a Tensor under create_graph), for masks."""
    return a._data if isinstance(a, Tensor) else a


def _zeros(gy):
    """The gradient of a step function: zero. Under create_graph it stays a graph value whose
    own derivative is zero."""
    if isinstance(gy, Tensor):
        return gy * 0
    return array_module(gy).zeros_like(gy)


def _masked(g, keep):
    """g where keep, else 0; not g * keep, which is NaN where g is inf (0 · ln 0, 0⁻¹ · 0)."""
    if isinstance(g, Tensor):
        return where(Tensor._make(keep), g, 0.0)
    return array_module(g).where(keep, g, 0).astype(g.dtype, copy=False)


def _tensor(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if is_array(x):
        return Tensor._make(x)
    raise TypeError(
        f"expected a Tensor as input, got {type(x).__name__}: wrap numbers with "
        "chainrule.tensor(...)"
    )


def _is_int(t: Tensor) -> bool:
    return t._data.dtype.kind in "biu"


def _float(x) -> Tensor:
    """x, or x in the default float dtype if it holds integers or bools (PyTorch: sqrt, exp,
    sin… of an integer tensor give a float tensor)."""
    x = _tensor(x)
    if x._data.dtype.kind in "biu":
        return cast(x, get_default_dtype())
    return x


def _float_operands(input, other):
    """operands() for ops whose result is always floating (true division, atan2, hypot…)."""
    a, b = operands(input, other)
    t = a if isinstance(a, Tensor) else b
    if t._data.dtype.kind in "biu":
        dt = get_default_dtype()
        a = cast(a, dt) if isinstance(a, Tensor) else a
        b = cast(b, dt) if isinstance(b, Tensor) else b
    return a, b


def _module(a, b):
    return array_module(a if is_array(a) else b)


def _check_int_division(b, name: str) -> None:
    """Integer division by zero: PyTorch raises, NumPy would give 0 with a warning."""
    if isinstance(b, Tensor):
        zero = b._data.dtype.kind in "biu" and bool((b._data == 0).any())
    else:
        zero = isinstance(b, numbers.Integral) and b == 0
    if zero:
        raise RuntimeError(
            f"ZeroDivisionError: integer division by zero in {name}; convert to float first "
            "(x.float()) if you want inf"
        )


# ------------------------------------------------------------------------------ arithmetic
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
        a, b = _conj_if_complex(*ctx.saved_tensors)
        ga = gy * b if ctx.needs_input_grad[0] else None
        gb = gy * a if ctx.needs_input_grad[1] else None
        return ga, gb


class Div(Op):
    """y = a / b;  ga = gy / b, gb = -gy * a / b²"""

    # no np.errstate here (it costs ~2 µs, a third of a small division): x / 0 gives inf as in
    # PyTorch, and NumPy's one-time RuntimeWarning about it is left to speak
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, gy):
        a, b = _conj_if_complex(*ctx.saved_tensors)
        ga = gy / b if ctx.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class DivRounded(Op):
    """y = ⌊a / b⌋ or trunc(a / b);  ga = gb = 0 (a step function of a and b)"""

    @staticmethod
    def forward(ctx, a, b, mode):
        xp = _module(a, b)
        with _quiet():
            if mode == "floor":
                return xp.floor_divide(a, b)
            if _raw_kind(a, b) in "biu":
                # integers: floor, plus 1 where the quotient is negative and inexact
                q = xp.floor_divide(a, b)
                return q + ((q * b != a) & ((a < 0) != (b < 0)))
            return xp.trunc(a / b)

    @staticmethod
    def backward(ctx, gy):
        need = ctx.needs_input_grad
        return (_zeros(gy) if need[0] else None), (_zeros(gy) if need[1] else None), None


def _raw_kind(a, b) -> str:
    """The dtype kind of the operation (an array operand's: a Python number is weak)."""
    return (a if is_array(a) else b).dtype.kind


def _is_integer(v) -> bool:
    if is_array(v):
        return v.dtype.kind in "iu"
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


class Remainder(Op):
    """y = a - b⌊a / b⌋ (the sign of b, as Python's %);  ga = gy, gb = -gy ⌊a / b⌋"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with _quiet():
            return _module(a, b).remainder(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        gb = None
        if ctx.needs_input_grad[1]:
            gb = -gy * array_module(gy).floor_divide(a, b)
        return gy, gb


class Fmod(Op):
    """y = a - b trunc(a / b) (the sign of a, as C's fmod);  ga = gy, gb = -gy trunc(a / b)"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with _quiet():
            return _module(a, b).fmod(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        gb = None
        if ctx.needs_input_grad[1]:
            with _quiet():
                gb = -gy * array_module(gy).trunc(a / b)
        return gy, gb


class Neg(Op):
    """y = -x;  gx = -gy"""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, gy):
        return -gy


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


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    return sub(other, input, alpha=alpha)


def mul(input, other):
    a, b = operands(input, other)
    return Mul.apply(a, b)


def div(input, other, *, rounding_mode=None):
    """input / other; integers divide to the default float dtype.

    Args:
        rounding_mode: None (true division), "trunc" (round toward zero) or "floor" (round
            down, as Python's //). Rounded quotients keep integer dtypes and have a zero
            gradient, as in PyTorch.
    """
    if rounding_mode is None:
        a, b = _float_operands(input, other)
        return Div.apply(a, b)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(
            "div expected rounding_mode to be one of None, 'trunc', or 'floor' but found "
            f"'{rounding_mode}'"
        )
    a, b = operands(input, other)
    _check_int_division(b, "div")
    return DivRounded.apply(a, b, rounding_mode)


def floor_divide(input, other):
    """⌊input / other⌋ (Python's //). Its gradient is zero (PyTorch has none at all)."""
    return div(input, other, rounding_mode="floor")


def remainder(input, other):
    """input mod other with the sign of other (Python's %)."""
    a, b = operands(input, other)
    _check_int_division(b, "remainder")
    return Remainder.apply(a, b)


def fmod(input, other):
    """input mod other with the sign of input (C's fmod)."""
    a, b = operands(input, other)
    _check_int_division(b, "fmod")
    return Fmod.apply(a, b)


def neg(input):
    x = _tensor(input)
    if x._data.dtype == np.bool_:
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
            "to invert a mask, use the `~` or `logical_not()` operator instead."
        )
    return Neg.apply(x)


def positive(input):
    """input itself (unary +)."""
    return _tensor(input)


# ---------------------------------------------------------------------------------- powers
class PowScalar(Op):
    """y = xᵖ for a number p;  gx = gy p xᵖ⁻¹ (0 for p = 0)"""

    @staticmethod
    def forward(ctx, x, p):
        ctx.save_for_backward(x)
        ctx.p = p
        with _quiet():
            return x**p

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z) for a real p
        p = ctx.p.conjugate() if type(ctx.p) is complex else ctx.p
        if p == 0:
            return _zeros(gy), None
        with _quiet():
            return gy * (p * x ** (p - 1)), None


class RPowScalar(Op):
    """y = sˣ for a number s;  gx = gy y ln s (0 where s = 0 and x ≥ 0)"""

    @staticmethod
    def forward(ctx, x, s):
        with _quiet():
            y = _power(s, x)
        ctx.save_for_backward(x, y)
        ctx.s = s
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        if ctx.s == 0:  # 0ˣ: 0 for x > 0, 1 at 0 (PyTorch's gradient: 0), inf below (-inf)
            xr = _raw(x)
            return gy * array_module(xr).where(xr < 0, -np.inf, 0.0).astype(xr.dtype), None
        with _quiet():
            log_s = np.log(ctx.s)  # a Python number below: a NumPy scalar would upcast float32
            log_s = complex(log_s).conjugate() if np.iscomplexobj(log_s) else float(log_s)
            return gy * (_conj(y) * log_s), None


class Pow(Op):
    """y = aᵇ;  ga = gy b aᵇ⁻¹ (0 where b = 0), gb = gy y ln a (0 where a = 0 and b ≥ 0)"""

    @staticmethod
    def forward(ctx, a, b):
        with _quiet():
            y = _power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = (_conj(v) for v in ctx.saved_tensors)  # conj of the derivatives: complex
        ar, br = _raw(a), _raw(b)
        xp = array_module(gy)
        ga = gb = None
        with _quiet():
            if ctx.needs_input_grad[0]:
                ga = gy * (b * a ** (b - 1))
                if (br == 0).any():
                    ga = _masked(ga, br != 0)
            if ctx.needs_input_grad[1]:
                gb = gy * (y * xp.log(a))
                zero = (ar == 0) & (br >= 0)
                if zero.any():
                    gb = _masked(gb, ~zero)
        return ga, gb


def _power(a, b):
    """a ** b, with PyTorch's answer for integers raised to negative integer exponents (1 for
    a base of 1, ±1 for -1, else 0), where NumPy raises."""
    if not (_is_integer(a) and _is_integer(b) and np.any(b < 0)):
        return a**b
    xp = _module(b, a)
    negative = b < 0
    y = a ** xp.where(negative, 0, b)
    small = xp.where(a == 1, 1, xp.where(a == -1, 1 - 2 * (b & 1), 0))
    return xp.where(negative, small, y).astype(y.dtype, copy=False)


def pow(input, exponent):
    """input ** exponent: tensor ** number, number ** tensor or tensor ** tensor (broadcast).

    A tensor exponent gets a gradient, gy · y · ln(input). Integer tensors raised to integer
    powers stay integers; a negative Python exponent is an error, as in PyTorch, and negative
    tensor exponents give PyTorch's 0, 1 or -1.
    """
    if isinstance(exponent, Tensor) or is_array(exponent):
        if isinstance(input, Tensor) or is_array(input):
            return Pow.apply(*operands(input, exponent))
        s, x = operands(input, exponent)  # a number base: 2 ** int_tensor stays integer
        return RPowScalar.apply(x, s)
    x, p = operands(input, exponent)
    if _is_int(x) and isinstance(p, numbers.Integral) and p < 0:
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return PowScalar.apply(x, p)


def float_power(input, exponent):
    """input ** exponent computed in float64, as PyTorch's float_power."""
    a = cast(_tensor(input), backend.float64) if isinstance(input, Tensor) else float(input)
    if isinstance(exponent, Tensor):
        b = cast(exponent, backend.float64)
    else:
        b = float(exponent)
    return pow(a, b)


def square(input):
    """input ** 2 (integers stay integers)."""
    return pow(_tensor(input), 2)


# ------------------------------------------------------------------------- absolute value, sign
class Abs(Op):
    """y = |x|;  gx = gy sign(x) (0 at 0, as PyTorch)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).abs(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * array_module(gy).sign(x)


class _Step(Op):
    """A piecewise-constant op of one tensor: its gradient is zero wherever it exists."""

    @staticmethod
    def backward(ctx, gy):
        return _zeros(gy)


class Sign(_Step):
    """y = sign(x) ∈ {-1, 0, 1};  gx = 0"""

    @staticmethod
    def forward(ctx, x):
        return array_module(x).sign(x)


def abs(input):
    """|input| (integers stay integers). Its gradient at 0 is 0."""
    return Abs.apply(_tensor(input))


def sign(input):
    """-1, 0 or 1 by the sign of input (NaN stays NaN); zero gradient."""
    x = _tensor(input)
    if x._data.dtype == np.bool_:
        return Tensor._make(x._data.copy())
    return Sign.apply(x)


def sgn(input):
    """sign(input) for real tensors."""
    return sign(input)


def signbit(input):
    """True where the sign bit is set (negative numbers and -0.0); no graph."""
    x = _tensor(input)
    return Tensor._make(array_module(x._data).signbit(x._data))


class Copysign(Op):
    """y = |a| with the sign of b;  ga = gy y / a (0 at a = 0), gb = 0"""

    @staticmethod
    def forward(ctx, a, b):
        y = _module(a, b).copysign(a, b)
        ctx.save_for_backward(a, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, y = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ar = _raw(a)
            with _quiet():
                ga = gy * (y / a)
            if (ar == 0).any():
                ga = _masked(ga, ar != 0)
        if ctx.needs_input_grad[1]:
            gb = _zeros(gy)
        return ga, gb


def copysign(input, other):
    """|input| with the sign of other (the sign bit: -0.0 counts as negative)."""
    a, b = _float_operands(input, other)
    return Copysign.apply(a, b)


# --------------------------------------------------------------------------------- exp and log
class Exp(Op):
    """y = eˣ;  gx = gy * y"""

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            y = array_module(x).exp(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * (_conj(y) if y.dtype.kind == "c" else y)


class Exp2(Op):
    """y = 2ˣ;  gx = gy y ln 2"""

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            y = array_module(x).exp2(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * (y * math.log(2.0))


class Expm1(Op):
    """y = eˣ - 1 (accurate for small x);  gx = gy (y + 1)"""

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            y = array_module(x).expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        return gy * (y + 1)


class Log(Op):
    """y = ln x;  gx = gy / x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).log(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / x


class Log2(Op):
    """y = log₂ x;  gx = gy / (x ln 2)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).log2(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / (x * math.log(2.0))


class Log10(Op):
    """y = log₁₀ x;  gx = gy / (x ln 10)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).log10(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / (x * math.log(10.0))


class Log1p(Op):
    """y = ln(1 + x) (accurate for small x);  gx = gy / (1 + x)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).log1p(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / (x + 1)


class Sqrt(Op):
    """y = √x;  gx = gy / (2y)"""

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            y = array_module(x).sqrt(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / (y * 2)


class Rsqrt(Op):
    """y = 1/√x;  gx = -gy y³ / 2"""

    @staticmethod
    def forward(ctx, x):
        xp = array_module(x)
        with _quiet():
            y = xp.reciprocal(xp.sqrt(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy * (y * y * y) * -0.5


class Reciprocal(Op):
    """y = 1/x;  gx = -gy y²"""

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            y = array_module(x).reciprocal(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return -gy * (y * y)


class Logaddexp(Op):
    """y = ln(eᵃ + eᵇ) without overflow;  ga = gy e^(a-y), gb = gy e^(b-y)"""

    @staticmethod
    def forward(ctx, a, b):
        with _quiet():
            y = _module(a, b).logaddexp(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        xp = array_module(gy)
        with _quiet():
            ga = gy * xp.exp(a - y) if ctx.needs_input_grad[0] else None
            gb = gy * xp.exp(b - y) if ctx.needs_input_grad[1] else None
        return ga, gb


class Logaddexp2(Op):
    """y = log₂(2ᵃ + 2ᵇ);  ga = gy 2^(a-y), gb = gy 2^(b-y)"""

    @staticmethod
    def forward(ctx, a, b):
        with _quiet():
            y = _module(a, b).logaddexp2(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        xp = array_module(gy)
        with _quiet():
            ga = gy * xp.exp2(a - y) if ctx.needs_input_grad[0] else None
            gb = gy * xp.exp2(b - y) if ctx.needs_input_grad[1] else None
        return ga, gb


class Xlogy(Op):
    """y = a ln b, 0 where a = 0 (unless b is NaN);  ga = gy ln b (0 where a = 0 and b ≤ 0),
    gb = gy a / b"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        xp = _module(a, b)
        with _quiet():
            # a Python float, not a NumPy scalar: float32 * np.float64(…) would be float64
            y = a * (xp.log(b) if is_array(b) else float(np.log(b)))
            zero = (a == 0) & ~xp.isnan(b)
        if zero.any():
            y = xp.where(zero, 0, y).astype(y.dtype, copy=False)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        xp = array_module(gy)
        ga = gb = None
        with _quiet():
            if ctx.needs_input_grad[0]:
                ga = gy * (xp.log(b) if isinstance(b, Tensor) or is_array(b) else float(np.log(b)))
                cut = (_raw(a) == 0) & (_raw(b) <= 0)
                if np.any(cut):
                    ga = _masked(ga, ~cut)
            if ctx.needs_input_grad[1]:
                gb = gy * a / b
        return ga, gb


def exp(input):
    """eˣ."""
    return Exp.apply(_float(input))


def exp2(input):
    """2ˣ."""
    return Exp2.apply(_float(input))


def expm1(input):
    """eˣ - 1, accurate near 0."""
    return Expm1.apply(_float(input))


def log(input):
    """Natural logarithm (-inf at 0, NaN below, silently, as PyTorch)."""
    return Log.apply(_float(input))


def log2(input):
    return Log2.apply(_float(input))


def log10(input):
    return Log10.apply(_float(input))


def log1p(input):
    """ln(1 + x), accurate near 0."""
    return Log1p.apply(_float(input))


def sqrt(input):
    """√x; integer tensors give the default float dtype. The gradient at 0 is inf."""
    return Sqrt.apply(_float(input))


def rsqrt(input):
    """1/√x."""
    return Rsqrt.apply(_float(input))


def reciprocal(input):
    """1/x (integers give floats)."""
    return Reciprocal.apply(_float(input))


def logaddexp(input, other):
    """ln(eᵃ + eᵇ), computed without overflow."""
    a, b = _float_operands(input, other)
    return Logaddexp.apply(a, b)


def logaddexp2(input, other):
    """log₂(2ᵃ + 2ᵇ), computed without overflow."""
    a, b = _float_operands(input, other)
    return Logaddexp2.apply(a, b)


def xlogy(input, other):
    """input · ln(other), defined as 0 where input is 0 (so 0 · ln 0 = 0)."""
    a, b = _float_operands(input, other)
    return Xlogy.apply(a, b)


def logit(input, eps=None):
    """ln(p / (1 - p)); with eps, p is first clamped to [eps, 1 - eps] (zero gradient outside)."""
    p = _float(input)
    if eps is not None:
        p = clamp(p, eps, 1 - eps)
    return log(p / (1 - p))


# ------------------------------------------------------------------------------ trigonometry
class Sin(Op):
    """y = sin x;  gx = gy cos x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).sin(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        return gy * array_module(gy).cos(x)


class Cos(Op):
    """y = cos x;  gx = -gy sin x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).cos(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        return -gy * array_module(gy).sin(x)


class Tan(Op):
    """y = tan x;  gx = gy (1 + y²)"""

    @staticmethod
    def forward(ctx, x):
        with _quiet():
            y = array_module(x).tan(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        return gy * (y * y + 1)


class Asin(Op):
    """y = asin x;  gx = gy / √(1 - x²)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).arcsin(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / array_module(gy).sqrt(1 - x * x)


class Acos(Op):
    """y = acos x;  gx = -gy / √(1 - x²)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).arccos(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return -gy / array_module(gy).sqrt(1 - x * x)


class Atan(Op):
    """y = atan x;  gx = gy / (1 + x²)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).arctan(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        return gy / (x * x + 1)


class Atan2(Op):
    """y = atan2(a, b), the angle of (b, a);  ga = gy b / (a² + b²), gb = -gy a / (a² + b²)"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _module(a, b).arctan2(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        with _quiet():
            r2 = a * a + b * b
            ga = gy * b / r2 if ctx.needs_input_grad[0] else None
            gb = -gy * a / r2 if ctx.needs_input_grad[1] else None
        return ga, gb


class Sinh(Op):
    """y = sinh x;  gx = gy cosh x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).sinh(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy * array_module(gy).cosh(x)


class Cosh(Op):
    """y = cosh x;  gx = gy sinh x"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).cosh(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy * array_module(gy).sinh(x)


class Tanh(Op):
    """y = tanh x;  gx = gy * (1 - y²)"""

    @staticmethod
    def forward(ctx, x):
        y = array_module(x).tanh(x)
        ctx.save_for_backward(y)  # the output is cheaper to keep than x here
        return y

    @staticmethod
    def backward(ctx, gy):
        y = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        return gy * (1 - y * y)


class Asinh(Op):
    """y = asinh x;  gx = gy / √(x² + 1)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return array_module(x).arcsinh(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / array_module(gy).sqrt(x * x + 1)


class Acosh(Op):
    """y = acosh x;  gx = gy / √(x² - 1)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).arccosh(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / array_module(gy).sqrt(x * x - 1)


class Atanh(Op):
    """y = atanh x;  gx = gy / (1 - x²)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with _quiet():
            return array_module(x).arctanh(x)

    @staticmethod
    def backward(ctx, gy):
        x = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        with _quiet():
            return gy / (1 - x * x)


class Hypot(Op):
    """y = √(a² + b²) without overflow;  ga = gy a / y, gb = gy b / y"""

    @staticmethod
    def forward(ctx, a, b):
        y = _module(a, b).hypot(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        with _quiet():
            ga = gy * a / y if ctx.needs_input_grad[0] else None
            gb = gy * b / y if ctx.needs_input_grad[1] else None
        return ga, gb


def sin(input):
    return Sin.apply(_float(input))


def cos(input):
    return Cos.apply(_float(input))


def tan(input):
    return Tan.apply(_float(input))


def asin(input):
    return Asin.apply(_float(input))


def acos(input):
    return Acos.apply(_float(input))


def atan(input):
    return Atan.apply(_float(input))


def atan2(input, other):
    """The angle of the point (other, input), in (-π, π]."""
    a, b = _float_operands(input, other)
    return Atan2.apply(a, b)


def sinh(input):
    return Sinh.apply(_float(input))


def cosh(input):
    return Cosh.apply(_float(input))


def tanh(input):
    return Tanh.apply(_float(input))


def asinh(input):
    return Asinh.apply(_float(input))


def acosh(input):
    return Acosh.apply(_float(input))


def atanh(input):
    return Atanh.apply(_float(input))


def hypot(input, other):
    """√(input² + other²), without overflow for large values."""
    a, b = _float_operands(input, other)
    return Hypot.apply(a, b)


def deg2rad(input):
    return mul(_float(input), math.pi / 180)


def rad2deg(input):
    return mul(_float(input), 180 / math.pi)


# ----------------------------------------------------------------------- sigmoid and erf family
class Sigmoid(Op):
    """y = 1 / (1 + e⁻ˣ);  gx = gy y (1 - y)"""

    @staticmethod
    def forward(ctx, x):
        # e⁻ˣ overflows to inf for very negative x, and 1 / inf = 0 is the right answer
        xp = array_module(x)
        y = xp.negative(x, out=xp.empty_like(x))  # out=: a 0-d result stays an array
        with _quiet():
            xp.exp(y, out=y)
        y += 1
        xp.reciprocal(y, out=y)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        y = _conj(ctx.saved_tensors[0])  # f'(conj z) = conj f'(z)
        return gy * (y * (1 - y))


class Erf(Op):
    """y = erf x = 2/√π ∫₀ˣ e^(-t²) dt;  gx = gy 2/√π e^(-x²)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _special(_erf, x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * (array_module(gy).exp(-x * x) * _TWO_OVER_SQRT_PI)


class Erfc(Op):
    """y = 1 - erf x (accurate where erf x is near 1);  gx = -gy 2/√π e^(-x²)"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _special(_erfc, x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * (array_module(gy).exp(-x * x) * -_TWO_OVER_SQRT_PI)


class Erfinv(Op):
    """y = erf⁻¹ x;  gx = gy √π/2 e^(y²)"""

    @staticmethod
    def forward(ctx, x):
        y = _special(_erfinv, x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        with _quiet():
            return gy * (array_module(gy).exp(y * y) * (math.sqrt(math.pi) / 2))


def sigmoid(input):
    """1 / (1 + e⁻ˣ), without overflow warnings for large |x|."""
    return Sigmoid.apply(_float(input))


def erf(input):
    """The error function 2/√π ∫₀ˣ e^(-t²) dt."""
    return Erf.apply(_float(input))


def erfc(input):
    """1 - erf(input), accurate where erf is close to 1."""
    return Erfc.apply(_float(input))


def erfinv(input):
    """The inverse error function on (-1, 1) (±inf at ±1, NaN outside)."""
    return Erfinv.apply(_float(input))


# NumPy has no erf: Cephes' rational approximations (ndtr.c; double precision), written with
# array operations so that they run on NumPy and CuPy alike.
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
# fmt: off
_ERF_T = (9.60497373987051638749e0, 9.00260197203842689217e1, 2.23200534594684319226e3,
          7.00332514112805075473e3, 5.55923013010394962768e4)
_ERF_U = (3.35617141647503099647e1, 5.21357949780152679795e2, 4.59432382970980127987e3,
          2.26290000613890934246e4, 4.92673942608635921086e4)
_ERFC_P = (2.46196981473530512524e-10, 5.64189564831068821977e-1, 7.46321056442269912687e0,
           4.86371970985681366614e1, 1.96520832956077098242e2, 5.26445194995477358631e2,
           9.34528527171957607540e2, 1.02755188689515710272e3, 5.57535335369399327526e2)
_ERFC_Q = (1.32281951154744992508e1, 8.67072140885989742329e1, 3.54937778887819891062e2,
           9.75708501743205489753e2, 1.82390916687909736289e3, 2.24633760818710981792e3,
           1.65666309194161350182e3, 5.57535340817727675546e2)
_ERFC_R = (5.64189583547755073984e-1, 1.27536670759978104416e0, 5.01905042251180477414e0,
           6.16021097993053585195e0, 7.40974269950448939160e0, 2.97886665372100240670e0)
_ERFC_S = (2.26052863220117276590e0, 9.39603524938001434673e0, 1.20489539808096656605e1,
           1.70814450747565897222e1, 9.60896809063285878198e0, 3.36907645100081516050e0)
# fmt: on
# erfinv's first guess (PyTorch's calc_erfinv), refined by two Newton steps
_ERFINV_A = (-0.140543331, 0.914624893, -1.645349621, 0.886226899)
_ERFINV_B = (0.012229801, -0.329097515, 1.442710462, -2.118377725, 1.0)
_ERFINV_C = (1.641345311, 3.429567803, -1.624906493, -1.970840454)
_ERFINV_D = (1.637067800, 3.543889200, 1.0)


def _horner(x, coefs, monic=False):
    """Σ coefs[i] xⁿ⁻ⁱ, with an implicit leading 1 when monic (Cephes' polevl and p1evl),
    updating one temporary in place."""
    if monic:
        y, rest = x + coefs[0], coefs[1:]
    else:
        y, rest = x * coefs[0], coefs[2:]
        y += coefs[1]
    for c in rest:
        y *= x
        y += c
    return y


def _blend(mask, a, b):
    """a where mask, else b, for FINITE a and b: exact, and ~10x faster than NumPy's where."""
    return a * mask + b * ~mask


def _special(fn, x):
    """fn(x), computed in float32 for the half types (the polynomials overflow float16)."""
    if x.dtype.itemsize < 4:
        return fn(x.astype(np.float32)).astype(x.dtype)
    with _quiet():
        return fn(x)


# Each branch is evaluated on the whole array with its input clipped to the branch's range, so
# that both are finite everywhere and can be blended (NaN still propagates through the first).
# Temporaries are updated in place: at this many steps, allocation is a good part of the cost.
def _erf(x):
    xp = array_module(x)
    with _quiet():
        a = xp.abs(x)
        inner = a <= 1
        s = xp.clip(x, -1.0, 1.0)
        z = s * s
        small = _horner(z, _ERF_T)
        small *= s
        small /= _horner(z, _ERF_U, monic=True)
        a = xp.clip(a, 1.0, 6.0)  # erf(6) = 1 - 2e-17: 1 in float64
        large = _horner(a, _ERFC_P)
        large /= _horner(a, _ERFC_Q, monic=True)
        a *= a
        large *= xp.exp(-a)
        large = xp.copysign(1 - large, x)  # erf is odd
        small *= inner
        large *= ~inner
        small += large
        return small.astype(x.dtype, copy=False)


def _erfc(x):
    xp = array_module(x)
    with _quiet():
        ax = xp.abs(x)
        s = xp.clip(x, -1.0, 1.0)
        z = s * s
        small = 1 - s * _horner(z, _ERF_T) / _horner(z, _ERF_U, monic=True)
        a = xp.clip(ax, 1.0, 8.0)
        mid = xp.exp(-a * a) * _horner(a, _ERFC_P) / _horner(a, _ERFC_Q, monic=True)
        b = xp.clip(ax, 8.0, 30.0)  # erfc(30) underflows even in float64
        far = xp.exp(-b * b) * _horner(b, _ERFC_R) / _horner(b, _ERFC_S, monic=True)
        tail = _blend(ax < 8, mid, far)
        tail = _blend(x < 0, 2 - tail, tail)  # erfc(-x) = 2 - erfc(x)
        return _blend(ax < 1, small, tail).astype(x.dtype, copy=False)


def _erfinv(y):
    xp = array_module(y)
    with _quiet():
        ay = xp.abs(y)
        z = y * y
        central = y * _horner(z, _ERFINV_A) / _horner(z, _ERFINV_B)
        t = xp.sqrt(-xp.log((1 - ay) / 2))
        tail = xp.copysign(_horner(t, _ERFINV_C), y) / _horner(t, _ERFINV_D)
        x = xp.where(ay <= 0.7, central, tail)
        for _ in range(2):
            x = x - (_erf(x) - y) / (xp.exp(-x * x) * _TWO_OVER_SQRT_PI)
        x = xp.where(ay == 1, xp.copysign(xp.inf, y), x)
        return xp.where(ay > 1, xp.nan, x).astype(y.dtype)


# ---------------------------------------------------------------------------------- rounding
class Floor(_Step):
    """y = ⌊x⌋;  gx = 0"""

    @staticmethod
    def forward(ctx, x):
        return array_module(x).floor(x)


class Ceil(_Step):
    """y = ⌈x⌉;  gx = 0"""

    @staticmethod
    def forward(ctx, x):
        return array_module(x).ceil(x)


class Trunc(_Step):
    """y = x rounded toward zero;  gx = 0"""

    @staticmethod
    def forward(ctx, x):
        return array_module(x).trunc(x)


class Round(Op):
    """y = x rounded to `decimals` places, halves to even;  gx = 0"""

    @staticmethod
    def forward(ctx, x, decimals):
        if decimals == 0:
            return array_module(x).rint(x)
        with _quiet():
            return array_module(x).round(x, decimals)

    @staticmethod
    def backward(ctx, gy):
        return _zeros(gy), None


def _keep_int(x: Tensor) -> Tensor:
    """Rounding an integer tensor changes nothing: a copy, as PyTorch returns."""
    return Tensor._make(x._data.copy())


def round(input, *, decimals: int = 0):
    """Round half to even (to `decimals` places).

    Its gradient is ZERO everywhere (PyTorch's convention), so rounding stops gradients; for
    quantization-aware training use the straight-through estimator
    ``x + (x.round() - x).detach()``, whose gradient is 1.
    """
    x = _tensor(input)
    if _is_int(x):
        if decimals:
            raise RuntimeError('"round_cpu" not implemented for integer tensors with decimals')
        return _keep_int(x)
    return Round.apply(x, int(decimals))


def floor(input):
    """Round down. Zero gradient (see ``round`` for the straight-through estimator)."""
    x = _tensor(input)
    return _keep_int(x) if _is_int(x) else Floor.apply(x)


def ceil(input):
    """Round up. Zero gradient (see ``round`` for the straight-through estimator)."""
    x = _tensor(input)
    return _keep_int(x) if _is_int(x) else Ceil.apply(x)


def trunc(input):
    """Round toward zero. Zero gradient (see ``round`` for the straight-through estimator)."""
    x = _tensor(input)
    return _keep_int(x) if _is_int(x) else Trunc.apply(x)


def frac(input):
    """input - trunc(input) (keeps the sign); gradient 1."""
    x = _tensor(input)
    if _is_int(x):
        raise RuntimeError(
            f"frac is only defined for floating point tensors, got {backend.dtype_name(x.dtype)}"
        )
    return sub(x, trunc(x))


# ------------------------------------------------------------------------ clamp, max, min, where
class Clamp(Op):
    """y = min(max(x, lo), hi);  gx = gy where lo ≤ x ≤ hi (the gradient passes AT a bound),
    glo = gy where x < lo < hi, ghi = gy where x > hi or hi < lo"""

    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x, lo, hi)
        xp = array_module(x)
        y = x if lo is None else xp.maximum(x, lo)
        return y if hi is None else xp.minimum(y, hi)

    @staticmethod
    def backward(ctx, gy):
        x, lo, hi = ctx.saved_tensors
        x, lo, hi = _raw(x), _raw(lo), _raw(hi)
        need = ctx.needs_input_grad
        gx = glo = ghi = None
        if need[0]:
            inside = None if lo is None else x >= lo
            if hi is not None:
                inside = x <= hi if inside is None else inside & (x <= hi)
            gx = gy * inside
        if need[1]:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            glo = gy * below
        if need[2]:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            ghi = gy * above
        return gx, glo, ghi


def _bound(b, dt, device):
    """A clamp bound in the result dtype: a number stays a number, a tensor is cast."""
    if b is None or type(b) in _PY_SCALARS:
        return b
    b = _as_operand(b)
    if isinstance(b, Tensor):
        if b.device != device:
            raise RuntimeError(
                f"Expected all tensors to be on the same device, but found at least two "
                f"devices: {device} (input) and {b.device} (clamp bound)"
            )
        return cast(b, dt)
    return b


def clamp(input, min=None, max=None):
    """Limit input to [min, max]; min and max may be numbers or tensors (broadcast), either may
    be None. Where min > max the result is max, as in PyTorch.

    The gradient passes at the bounds themselves (x == min or x == max), as PyTorch's does;
    hardtanh is the variant with no gradient there.
    """
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    x = _tensor(input)
    kind = x._data.dtype.kind
    if (
        kind in "fV"
        and type(min) in (float, int, type(None))
        and type(max) in (float, int, type(None))
    ):
        return Clamp.apply(x, min, max)  # the common case: a float tensor and number bounds
    bounds = [_as_operand(b) for b in (min, max) if b is not None]
    dt = result_type(x, *bounds)
    x = cast(x, dt)
    return Clamp.apply(x, _bound(min, dt, x.device), _bound(max, dt, x.device))


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def _tie_weights(a, b, first_wins, dtype):
    """Per-element share of the gradient for `a` in max(a, b) (first_wins: a > b): 1 where a
    wins (or is NaN), 0 where b wins, 1/2 at ties."""
    w = (~((a < b) if first_wins else (a > b))).astype(dtype)
    tie = a == b
    if tie.any():
        w = array_module(w).where(tie, 0.5, w).astype(dtype)
    return w


class Maximum(Op):
    """y = max(a, b) (NaN wins);  ga = gy where a > b, gb = gy where b > a, gy/2 each at ties"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _module(a, b).maximum(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        a, b = _raw(a), _raw(b)
        ga = gy * _tie_weights(a, b, True, gy.dtype) if ctx.needs_input_grad[0] else None
        gb = gy * _tie_weights(b, a, True, gy.dtype) if ctx.needs_input_grad[1] else None
        return ga, gb


class Minimum(Op):
    """y = min(a, b) (NaN wins);  ga = gy where a < b, gb = gy where b < a, gy/2 each at ties"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _module(a, b).minimum(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        a, b = _raw(a), _raw(b)
        ga = gy * _tie_weights(a, b, False, gy.dtype) if ctx.needs_input_grad[0] else None
        gb = gy * _tie_weights(b, a, False, gy.dtype) if ctx.needs_input_grad[1] else None
        return ga, gb


class Fmax(Op):
    """y = max(a, b) ignoring NaN;  ga = gy where a ≥ b or b is NaN, gb = gy elsewhere"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _module(a, b).fmax(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        a, b = _raw(a), _raw(b)
        to_a = (a >= b) | array_module(b).isnan(b)
        ga = gy * to_a if ctx.needs_input_grad[0] else None
        gb = gy * ~to_a if ctx.needs_input_grad[1] else None
        return ga, gb


class Fmin(Op):
    """y = min(a, b) ignoring NaN;  ga = gy where a ≤ b or b is NaN, gb = gy elsewhere"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _module(a, b).fmin(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        a, b = _raw(a), _raw(b)
        to_a = (a <= b) | array_module(b).isnan(b)
        ga = gy * to_a if ctx.needs_input_grad[0] else None
        gb = gy * ~to_a if ctx.needs_input_grad[1] else None
        return ga, gb


def maximum(input, other):
    """Elementwise max (NaN propagates); ties split the gradient in half, as PyTorch."""
    a, b = operands(input, other)
    return Maximum.apply(a, b)


def minimum(input, other):
    """Elementwise min (NaN propagates); ties split the gradient in half, as PyTorch."""
    a, b = operands(input, other)
    return Minimum.apply(a, b)


def fmax(input, other):
    """Elementwise max that ignores NaN (NaN only where both are NaN); ties go to input."""
    a, b = operands(input, other)
    return Fmax.apply(a, b)


def fmin(input, other):
    """Elementwise min that ignores NaN (NaN only where both are NaN); ties go to input."""
    a, b = operands(input, other)
    return Fmin.apply(a, b)


class Where(Op):
    """y = a where c else b;  ga = gy where c, gb = gy where not c"""

    @staticmethod
    def forward(ctx, c, a, b):
        ctx.save_for_backward(c)
        return array_module(c).where(c, a, b)

    @staticmethod
    def backward(ctx, gy):
        (c,) = ctx.saved_tensors
        c = _raw(c)
        ga = gy * c if ctx.needs_input_grad[1] else None
        gb = gy * ~c if ctx.needs_input_grad[2] else None
        return None, ga, gb


def _scalars_dtype(*values):
    """PyTorch's dtype for Python numbers alone: default float if any is a float, else int64,
    else bool."""
    kinds = {category(_scalar_dtype(v)) for v in values}
    if 2 in kinds:
        return get_default_dtype()
    return backend.int64 if 1 in kinds else backend.bool_


def where(condition, input=None, other=None):
    """input where condition is True, else other (broadcast together, with type promotion);
    input and other may be numbers. ``where(condition)`` is ``nonzero(condition,
    as_tuple=True)``.

    Example:
        >>> import chainrule as torch
        >>> x = torch.tensor([-1.0, 2.0])
        >>> torch.where(x > 0, x, 0.0)
        tensor([0., 2.])
    """
    c = _tensor(condition)
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(backend.int64)) for i in c._data.nonzero())
    if c._data.dtype != np.bool_:
        raise RuntimeError(
            "where expected condition to be a boolean tensor, but got a tensor with dtype "
            f"{backend.dtype_name(c._data.dtype)}"
        )
    a, b = _as_operand(input), _as_operand(other)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        a, b = operands(a, b)
        return Where.apply(c, a, b)
    # a number branch becomes a 0-d array of the result dtype (NumPy's where would not promote
    # as PyTorch does: where(c, int_tensor, 0.5) is float32)
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        dt = result_type(a, b)
    else:
        dt = _scalars_dtype(a, b)
    xp = array_module(c._data)
    a = cast(a, dt) if isinstance(a, Tensor) else xp.asarray(a, dtype=dt)
    b = cast(b, dt) if isinstance(b, Tensor) else xp.asarray(b, dtype=dt)
    return Where.apply(c, a, b)


def _where_method(self, condition, other):
    """Tensor.where(condition, other) = where(condition, self, other)."""
    return where(condition, self, other)


class Lerp(Op):
    """y = a + w (b - a);  ga = gy (1 - w), gb = gy w, gw = gy (b - a)"""

    @staticmethod
    def forward(ctx, a, b, w):
        ctx.save_for_backward(a, b, w)
        xp = array_module(a)
        d = b - a
        # PyTorch's form: from the nearer end, so that w = 1 gives b exactly
        if not is_array(w):
            return a + w * d if builtins.abs(w) < 0.5 else b - d * (1 - w)
        return xp.where(xp.abs(w) < 0.5, a + w * d, b - d * (1 - w))

    @staticmethod
    def backward(ctx, gy):
        a, b, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        ga = gy * (1 - w) if need[0] else None
        gb = gy * w if need[1] else None
        gw = gy * (b - a) if need[2] else None
        return ga, gb, gw


def lerp(input, end, weight):
    """input + weight * (end - input); weight is a number or a tensor (broadcast)."""
    a, b = operands(input, end)
    if isinstance(weight, Tensor):
        if _is_int(a):
            raise RuntimeError(f'"lerp_kernel_tensor" not implemented for {a.dtype} tensors')
        weight = cast(weight, a._data.dtype)
    elif _is_int(a):
        raise RuntimeError(f'"lerp_kernel_scalar" not implemented for {a.dtype} tensors')
    return Lerp.apply(a, b, weight)


class NanToNum(Op):
    """y = x with NaN, +inf, -inf replaced by numbers;  gx = gy where x is finite, else 0"""

    @staticmethod
    def forward(ctx, x, nan, posinf, neginf):
        ctx.save_for_backward(x)
        return array_module(x).nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        x = _raw(x)
        return gy * array_module(x).isfinite(x), None, None, None


def nan_to_num(input, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):
    """Replace NaN by `nan`, +inf by `posinf` and -inf by `neginf` (by default the largest and
    smallest finite numbers of the dtype)."""
    x = _tensor(input)
    if _is_int(x):
        return Tensor._make(x._data.copy())
    return NanToNum.apply(x, nan, posinf, neginf)


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    prod = mul(tensor1, tensor2)
    return add(input, prod if value == 1 else mul(prod, value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    for t in (tensor1, tensor2):
        if isinstance(t, Tensor) and _is_int(t):
            raise RuntimeError(
                "Integer division with addcdiv is no longer supported, and in a future release "
                "addcdiv will perform a true division of tensor1 and tensor2. Use "
                "input + value * tensor1 / tensor2 for true division, or div(..., "
                "rounding_mode='floor') for floor division."
            )
    quot = div(tensor1, tensor2)
    return add(input, quot if value == 1 else mul(quot, value))


# ----------------------------------------------------------- comparisons and logic (no graph)
def _raw_operands(input, other):
    """Both operands as raw arrays (or Python numbers) in their promoted dtype, with no graph:
    int_tensor < 2.5 compares as floats, float32 against float64 as float64."""
    a = _as_operand(input)
    b = _as_operand(other)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a._data, b._data
        if da.dtype != db.dtype:
            dt = result_type(a, b)
            da, db = da.astype(dt, copy=False), db.astype(dt, copy=False)
        return da, db
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"expected a Tensor operand, got {type(a).__name__} and {type(b).__name__}")
    t, s = (a, b) if isinstance(a, Tensor) else (b, a)
    d = t._data
    if category(_scalar_dtype(s)) > category(d.dtype):
        d = d.astype(result_type(t, s))
    return (d, s) if t is a else (s, d)


def _compare(name, input, other):
    a, b = _raw_operands(input, other)
    return Tensor._make(getattr(_module(a, b), name)(a, b))


def eq(input, other):
    """input == other elementwise, as a bool tensor (no graph). An operand that is not a
    tensor, number or array gives NotImplemented, so that ``x == None`` is False."""
    try:
        return _compare("equal", input, other)
    except TypeError:
        return NotImplemented


def ne(input, other):
    """input != other elementwise (see eq)."""
    try:
        return _compare("not_equal", input, other)
    except TypeError:
        return NotImplemented


def lt(input, other):
    return _compare("less", input, other)


def le(input, other):
    return _compare("less_equal", input, other)


def gt(input, other):
    return _compare("greater", input, other)


def ge(input, other):
    return _compare("greater_equal", input, other)


def _predicate(name, input):
    x = _tensor(input)
    return Tensor._make(getattr(array_module(x._data), name)(x._data))


def isnan(input):
    return _predicate("isnan", input)


def isinf(input):
    return _predicate("isinf", input)


def isfinite(input):
    return _predicate("isfinite", input)


def isposinf(input):
    x = _tensor(input)
    return Tensor._make(x._data == np.inf)


def isneginf(input):
    x = _tensor(input)
    return Tensor._make(x._data == -np.inf)


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """|input - other| ≤ atol + rtol |other| elementwise, as a bool tensor."""
    a, b = _raw_operands(input, other)
    return Tensor._make(_module(a, b).isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """True if isclose holds everywhere."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input, other) -> bool:
    """True if both have the same shape and the same elements."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    a, b = _raw_operands(input, other)
    return bool((a == b).all())


def _logical(name, input, other):
    a, b = _raw(_as_operand(input)), _raw(_as_operand(other))
    return Tensor._make(getattr(_module(a, b), name)(a, b))


def logical_and(input, other):
    return _logical("logical_and", input, other)


def logical_or(input, other):
    return _logical("logical_or", input, other)


def logical_xor(input, other):
    return _logical("logical_xor", input, other)


def logical_not(input):
    return _predicate("logical_not", input)


def _bitwise(name, input, other):
    a, b = _raw_operands(input, other)
    for v in (a, b):
        kind = v.dtype.kind if is_array(v) else _scalar_dtype(v).kind
        if kind not in "biu":
            raise RuntimeError(
                f"{name} is only defined for integer and bool tensors, got "
                f"{'a float' if kind in 'fV' else kind} operand; cast with .long() or .bool()"
            )
    return Tensor._make(getattr(_module(a, b), name)(a, b))


def bitwise_and(input, other):
    """input & other for integer or bool tensors."""
    return _bitwise("bitwise_and", input, other)


def bitwise_or(input, other):
    """input | other for integer or bool tensors."""
    return _bitwise("bitwise_or", input, other)


def bitwise_xor(input, other):
    """input ^ other for integer or bool tensors."""
    return _bitwise("bitwise_xor", input, other)


def bitwise_not(input):
    """~input: logical not for bool tensors, two's complement not for integers."""
    x = _tensor(input)
    if x._data.dtype.kind not in "biu":
        raise RuntimeError(
            f"bitwise_not is only defined for integer and bool tensors, got "
            f"{backend.dtype_name(x._data.dtype)}; for a mask use logical_not"
        )
    return Tensor._make(array_module(x._data).invert(x._data))


def heaviside(input, values):
    """0 where input < 0, values where input == 0, 1 where input > 0 (no graph)."""
    a, b = _raw_operands(input, values)
    xp = _module(a, b)
    y = xp.where(a == 0, b, a > 0)  # NumPy's heaviside is for floats only
    return Tensor._make(y.astype(result_type(_as_operand(input), _as_operand(values))))


# -------------------------------------------------------------------------------- in-place
class Fill(Op):
    """y = value everywhere, in x's shape;  gx = 0 (x's old values are gone), gvalue = Σ gy"""

    @staticmethod
    def forward(ctx, x, value):
        return array_module(x).full(x.shape, value, dtype=x.dtype)

    @staticmethod
    def backward(ctx, gy):
        return (_zeros(gy) if ctx.needs_input_grad[0] else None), gy


class CopyFrom(Op):
    """y = src broadcast to x's shape, in x's dtype;  gx = 0, gsrc = gy"""

    @staticmethod
    def forward(ctx, x, src):
        return array_module(x).broadcast_to(src, x.shape).astype(x.dtype)

    @staticmethod
    def backward(ctx, gy):
        return (_zeros(gy) if ctx.needs_input_grad[0] else None), gy


def _tracks(x: Tensor, src) -> bool:
    """Does writing `src` into x need a graph node? (Under no_grad, or with nothing that
    requires grad, an in-place write is just a memory write.)"""
    if not engine._grad_enabled or x._data.dtype.kind not in "fcV":
        return False
    return x.requires_grad or (isinstance(src, Tensor) and src.requires_grad)


def _write(x: Tensor, value, op: str) -> Tensor:
    """x._data[...] = value, with PyTorch's errors, and a version bump."""
    check_inplace(x, op)
    if not writeable(x):
        raise RuntimeError(
            f"{op} on a tensor whose memory is read-only (an expanded or broadcast view): "
            "call .clone() first"
        )
    if is_array(value) and backend.device_of(value) != x.device:
        value = backend.to_device(value, x.device)
    try:
        x._data[...] = value
    except ValueError:
        raise RuntimeError(
            f"{op}: the source of shape {list(np.shape(value))} cannot be broadcast to the "
            f"destination's shape {list(x._data.shape)}"
        ) from None
    x._vc.bump(op)
    return x


def fill_(input, value):
    """Fill input with `value` (a number or a 0-d tensor, which gets a gradient)."""
    if isinstance(value, Tensor):
        if value._data.ndim != 0:
            raise RuntimeError(
                "fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value._data.ndim} dimensions."
            )
        if value.device != input.device:
            value = value.to(input.device)
    if not _tracks(input, value):
        return _write(input, _raw(value), "fill_")
    return commit_inplace(input, Fill.apply(input, value), "fill_")


def zero_(input):
    """Fill input with zeros."""
    return fill_(input, 0)


def copy_(input, src, non_blocking: bool = False):
    """Copy src (broadcast, converted to input's dtype and device) into input; differentiable
    with respect to src."""
    src = _tensor(src)
    if src.device != input.device:
        src = src.to(input.device)
    if not _tracks(input, src):
        return _write(input, src._data, "copy_")
    if tuple(np.broadcast_shapes(src._data.shape, input._data.shape)) != tuple(input._data.shape):
        raise RuntimeError(
            f"copy_: the source of shape {list(src._data.shape)} cannot be broadcast to the "
            f"destination's shape {list(input._data.shape)}"
        )
    return commit_inplace(input, CopyFrom.apply(input, src), "copy_")


def _fast_inplace(x: Tensor, other, ufunc, alpha, op: str) -> bool:
    """x op= other as one NumPy call into x's memory, where no graph is needed and x keeps its
    dtype (the optimizer-step case, `p -= lr * p.grad` under no_grad). False: take the general
    path, which also gives the errors."""
    d = x._data
    if d.__class__ is not np.ndarray or not d.flags.writeable or d.dtype.kind != "f":
        return False
    if isinstance(other, Tensor):
        if engine._grad_enabled and (x.requires_grad or other.requires_grad):
            return False
        o = other._data
        if o.__class__ is not np.ndarray or o.dtype != d.dtype:
            return False
    elif type(other) is float or type(other) is int:
        if engine._grad_enabled and x.requires_grad:
            return False
        o = other
    else:
        return False
    if alpha != 1:
        o = o * alpha
    try:
        ufunc(d, o, out=d)
    except ValueError:  # o does not broadcast to x's shape: the general path says so
        return False
    x._vc.bump(op)
    return True


def add_(input, other, *, alpha=1):
    if _fast_inplace(input, other, np.add, alpha, "add_"):
        return input
    return commit_inplace(input, add(input, other, alpha=alpha), "add_")


def sub_(input, other, *, alpha=1):
    if _fast_inplace(input, other, np.subtract, alpha, "sub_"):
        return input
    return commit_inplace(input, sub(input, other, alpha=alpha), "sub_")


def mul_(input, other):
    if _fast_inplace(input, other, np.multiply, 1, "mul_"):
        return input
    return commit_inplace(input, mul(input, other), "mul_")


def div_(input, other, *, rounding_mode=None):
    if rounding_mode is None and _fast_inplace(input, other, np.divide, 1, "div_"):
        return input
    return commit_inplace(input, div(input, other, rounding_mode=rounding_mode), "div_")


def neg_(input):
    return commit_inplace(input, neg(input), "neg_")


def exp_(input):
    return commit_inplace(input, exp(input), "exp_")


def log_(input):
    return commit_inplace(input, log(input), "log_")


def tanh_(input):
    return commit_inplace(input, tanh(input), "tanh_")


def _inplace(fn, name: str):
    """The in-place form of an out-of-place op: compute, then write into input."""

    def op_(input, *args, **kwargs):
        return commit_inplace(input, fn(input, *args, **kwargs), name)

    op_.__name__ = op_.__qualname__ = name
    op_.__doc__ = f"In-place {fn.__name__}: writes the result into ``input`` and returns it."
    return op_


def _inplace_constant(fn, name: str):
    """The in-place form of a non-differentiable op (comparisons, logic): the result is written
    like copy_ (no gradient flows to input's old value)."""

    def op_(input, *args, **kwargs):
        return copy_(input, fn(input, *args, **kwargs))

    op_.__name__ = op_.__qualname__ = name
    op_.__doc__ = f"In-place {fn.__name__}: writes the result into ``input`` and returns it."
    return op_


# aliases
subtract = sub
multiply = mul
divide = true_divide = div
negative = neg
absolute = abs
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2
arcsinh, arccosh, arctanh = asinh, acosh, atanh
clip = clamp
fix = trunc
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

_DIFFERENTIABLE = [
    "floor_divide", "remainder", "fmod", "pow", "float_power", "square", "abs", "absolute",
    "sign", "sgn", "copysign", "exp2", "expm1", "log2", "log10", "log1p", "sqrt", "rsqrt",
    "reciprocal", "xlogy", "logit", "sin", "cos", "tan", "asin", "arcsin", "acos", "arccos",
    "atan", "arctan", "atan2", "arctan2", "sinh", "cosh", "asinh", "arcsinh", "acosh", "arccosh",
    "atanh", "arctanh", "hypot", "deg2rad", "rad2deg", "sigmoid", "erf", "erfc", "erfinv",
    "round", "floor", "ceil", "trunc", "fix", "frac", "clamp", "clip", "clamp_min", "clamp_max",
    "lerp", "nan_to_num", "addcmul", "addcdiv", "subtract", "multiply", "divide", "true_divide",
    "negative",
]  # fmt: skip
_CONSTANT = [
    "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
    "not_equal", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "heaviside",
]  # fmt: skip
for _name in _DIFFERENTIABLE:
    globals()[_name + "_"] = _inplace(globals()[_name], _name + "_")
for _name in _CONSTANT:
    globals()[_name + "_"] = _inplace_constant(globals()[_name], _name + "_")
del _name


# ------------------------------------------------------- NumPy names for differentiable rules
def _np_clip(a, a_min=None, a_max=None):
    return clamp(a, a_min, a_max)


def _np_round(a, decimals=0):
    return round(a, decimals=decimals)


def _np_nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    return nan_to_num(x, nan, posinf, neginf)


tensor_numpy.register(
    add=add, subtract=sub, multiply=mul, divide=div, true_divide=div, negative=neg,
    floor_divide=floor_divide, remainder=remainder, mod=remainder, fmod=fmod, power=pow,
    float_power=float_power, square=square, abs=abs, absolute=abs, sign=sign,
    copysign=copysign, signbit=signbit, exp=exp, exp2=exp2, expm1=expm1, log=log, log2=log2,
    log10=log10, log1p=log1p, sqrt=sqrt, reciprocal=reciprocal, logaddexp=logaddexp,
    logaddexp2=logaddexp2, sin=sin, cos=cos, tan=tan, arcsin=asin, arccos=acos, arctan=atan,
    arctan2=atan2, sinh=sinh, cosh=cosh, tanh=tanh, arcsinh=asinh, arccosh=acosh,
    arctanh=atanh, hypot=hypot, deg2rad=deg2rad, rad2deg=rad2deg, floor=floor, ceil=ceil,
    trunc=trunc, fix=trunc, rint=round, round=_np_round, clip=_np_clip, maximum=maximum,
    minimum=minimum, fmax=fmax, fmin=fmin, where=where, nan_to_num=_np_nan_to_num, equal=eq,
    not_equal=ne, less=lt, less_equal=le, greater=gt, greater_equal=ge, isnan=isnan,
    isinf=isinf, isfinite=isfinite, isposinf=isposinf, isneginf=isneginf, isclose=isclose,
    allclose=allclose, array_equal=equal, logical_and=logical_and, logical_or=logical_or,
    logical_xor=logical_xor, logical_not=logical_not, bitwise_and=bitwise_and,
    bitwise_or=bitwise_or, bitwise_xor=bitwise_xor, bitwise_not=bitwise_not,
    invert=bitwise_not, heaviside=heaviside,
)  # fmt: skip

_FUNCTIONS = [
    "add", "sub", "mul", "div", "neg", "rsub", "floor_divide", "remainder", "fmod", "pow",
    "float_power", "square", "positive", "abs", "sign", "sgn", "signbit", "copysign", "exp",
    "exp2", "expm1", "log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal", "logaddexp",
    "logaddexp2", "xlogy", "logit", "sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh",
    "cosh", "tanh", "asinh", "acosh", "atanh", "hypot", "deg2rad", "rad2deg", "sigmoid", "erf",
    "erfc", "erfinv", "round", "floor", "ceil", "trunc", "frac", "clamp", "clamp_min",
    "clamp_max", "maximum", "minimum", "fmax", "fmin", "where", "lerp", "nan_to_num", "addcmul",
    "addcdiv", "eq", "ne", "lt", "le", "gt", "ge", "isnan", "isinf", "isfinite", "isposinf",
    "isneginf", "isclose", "allclose", "equal", "logical_and", "logical_or", "logical_xor",
    "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "heaviside",
    # aliases
    "subtract", "multiply", "divide", "true_divide", "negative", "absolute", "arcsin", "arccos",
    "arctan", "arctan2", "arcsinh", "arccosh", "arctanh", "clip", "fix", "greater",
    "greater_equal", "less", "less_equal", "not_equal",
]  # fmt: skip
_INPLACE = (
    ["add_", "sub_", "mul_", "div_", "neg_", "exp_", "log_", "tanh_", "fill_", "zero_", "copy_"]
    + [n + "_" for n in _DIFFERENTIABLE]
    + [n + "_" for n in _CONSTANT]
)
# PyTorch also exposes these in-place forms as torch.<name>
_TOP_LEVEL_INPLACE = [
    "neg_", "negative_", "exp_", "exp2_", "expm1_", "log_", "log2_", "log10_", "log1p_",
    "sqrt_", "rsqrt_", "reciprocal_", "square_", "abs_", "sin_", "cos_", "tan_", "asin_",
    "arcsin_", "acos_", "arccos_", "atan_", "arctan_", "sinh_", "cosh_", "tanh_", "asinh_",
    "arcsinh_", "acosh_", "arccosh_", "atanh_", "arctanh_", "sigmoid_", "erf_", "erfc_",
    "round_", "floor_", "ceil_", "trunc_", "fix_", "frac_", "clamp_", "clip_", "clamp_min_",
    "clamp_max_", "nan_to_num_", "xlogy_", "logit_", "deg2rad_", "rad2deg_", "fill_", "zero_",
]  # fmt: skip
_NOT_METHODS = {"rsub"}  # PyTorch has torch.rsub but no Tensor.rsub

# Public functions that are also Tensor methods (name or (method name, function)).
METHODS = [n for n in _FUNCTIONS if n not in _NOT_METHODS and n != "where"]
METHODS += _INPLACE + [("where", _where_method)]
__all__ = _FUNCTIONS + _TOP_LEVEL_INPLACE
