"""Op-table rows: elementwise arithmetic, math functions, clamping, selection, comparisons and
the in-place forms; then the few behaviours a row cannot state."""

import math
import warnings

import numpy as np
import pytest

import chainrule
from chainrule.ops import elementwise as ew
from tests.opcheck import OpCase, params, run_case

try:
    import torch
except ImportError:
    torch = None

U = [(3, 4), ()]  # unary shapes
B = [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3))]  # binary shapes, with broadcasting
B2 = B[:2]
NO_GRAD = dict(gradcheck=False)
INT = dict(dtypes=("float32",))  # integer inputs: one parity pass is enough
SPECIALS = [np.nan, np.inf, -np.inf, 0.0]


def _where(m):
    """elementwise.where (chainrule.where may be another family's), or torch.where."""
    return m.where if m is torch else ew.where


def _ints(*shapes, lo=-5, hi=6, dtype=np.int64):
    return lambda rng: [rng.integers(lo, hi, size=s).astype(dtype) for s in shapes]


def _fixed(*values):
    """Inputs chosen by hand (kinks, ties, NaN and inf)."""
    return lambda rng: [np.array(v) for v in values]


def _pos_neg(rng, shape, lo=0.5, hi=2.0):
    """Values of both signs, away from 0 (divisors, reciprocals)."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


def _int_div(rng):
    return [rng.integers(-9, 9, (3, 4)), rng.choice([-3, -2, -1, 1, 2, 3], size=(4,))]


def _float_div(rng):
    return [rng.uniform(-5, 5, (3, 4)), _pos_neg(rng, (4,))]


def _inplace(method, *args, **kwargs):
    """An in-place method on a non-leaf copy (a leaf that requires grad refuses in-place)."""
    return lambda m, x, *rest: getattr(x * 1, method)(*rest, *args, **kwargs)


def _div(mode):
    return lambda m, a, b: m.div(a, b, rounding_mode=mode)


ARITHMETIC = [
    OpCase("add", shapes=[((3, 4), (3, 4)), ((3, 4), (4,)), ((), (2, 3)), ((2, 1, 3), (4, 1))]),
    OpCase("add_alpha", lambda m, a, b: m.add(a, b, alpha=2.5), shapes=B),
    OpCase("add_scalar", lambda m, a: a + 1.5, shapes=U),
    OpCase(
        "add_int16_float",
        lambda m, a, b: a + b,
        make=lambda rng: [rng.integers(-5, 5, 4).astype(np.int16), rng.uniform(-1, 1, (3, 4))],
    ),
    OpCase("add_int_pyfloat", lambda m, a: a + 0.5, make=_ints((3, 4)), **INT),
    OpCase("sub", shapes=[((3, 4), (4,)), ((), ())]),
    OpCase("sub_alpha", lambda m, a, b: m.sub(a, b, alpha=-2), shapes=B),
    OpCase("rsub", lambda m, a, b: m.rsub(a, b, alpha=3), shapes=B),
    OpCase("rsub_operator", lambda m, a: 2.0 - a, shapes=U),
    OpCase("mul", shapes=[((3, 4), (3, 1)), ((), (5,))]),
    OpCase("mul_int", lambda m, a, b: a * b, make=_ints((3, 4), (4,)), **INT),
    OpCase("div", shapes=[((3, 4), (4,))], domain=(0.5, 2.0)),
    OpCase("div_signs", lambda m, a, b: a / b, make=_float_div),
    OpCase("rdiv", lambda m, a: 3.0 / a, make=lambda rng: [_pos_neg(rng, (3, 4))]),
    OpCase("div_int", lambda m, a, b: a / b, make=_int_div, **INT),
    OpCase("div_floor", _div("floor"), make=_float_div),
    OpCase("div_trunc", _div("trunc"), make=_float_div),
    OpCase("div_floor_int", _div("floor"), make=_int_div, **INT),
    OpCase("div_trunc_int", _div("trunc"), make=_int_div, **INT),
    OpCase("floor_divide", make=_int_div, **INT),
    OpCase(
        "floor_divide_float", lambda m, a, b: a // b, make=_float_div, requires_grad=(False, False)
    ),
    OpCase("remainder", make=_float_div),
    OpCase("remainder_scalar", lambda m, a: a % 1.5, shapes=U, domain=(-4, 4)),
    OpCase("remainder_int", lambda m, a, b: a % b, make=_int_div, **INT),
    OpCase("fmod", make=_float_div),
    OpCase("fmod_scalar", lambda m, a: m.fmod(a, -1.5), shapes=U, domain=(-4, 4)),
    OpCase("fmod_int", lambda m, a, b: m.fmod(a, b), make=_int_div, **INT),
    OpCase("neg", shapes=U),
    OpCase("neg_int", lambda m, a: -a, make=_ints((3, 4)), **INT),
    OpCase("positive", shapes=U),
    OpCase(
        "addcmul",
        lambda m, a, b, c: m.addcmul(a, b, c, value=0.5),
        shapes=[((3, 4), (4,), (3, 1)), ((), (2,), ())],
    ),
    OpCase(
        "addcdiv",
        lambda m, a, b, c: m.addcdiv(a, b, c, value=-2),
        make=lambda rng: [
            rng.uniform(-2, 2, (3, 4)),
            rng.uniform(-2, 2, (4,)),
            _pos_neg(rng, (3, 1)),
        ],
    ),
]

POWERS = [
    OpCase("pow_scalar", lambda m, x: x**2.5, shapes=U, domain=(0.5, 2.0)),
    OpCase("pow_int_exponent", lambda m, x: m.pow(x, 3), shapes=U),
    OpCase("pow_negative", lambda m, x: x**-1.5, shapes=U, domain=(0.5, 2.0)),
    OpCase("pow_zero", lambda m, x: x**0, shapes=U),
    OpCase("pow_half_at_zero", lambda m, x: x**0.5, make=_fixed([0.0, 1.0, 4.0]), **NO_GRAD),
    OpCase("pow_zero_at_zero", lambda m, x: x**0.0, make=_fixed([0.0, 2.0]), **NO_GRAD),
    OpCase("rpow", lambda m, x: 2.5**x, shapes=U),
    OpCase("rpow_fn", lambda m, x: m.pow(0.5, x), shapes=U),
    OpCase("rpow_zero_base", lambda m, x: 0.0**x, make=_fixed([0.0, 1.0, 2.5]), **NO_GRAD),
    OpCase("pow", shapes=B, domain=(0.5, 2.0)),
    OpCase(
        "pow_kinks", lambda m, a, b: a**b, make=_fixed([0.0, 0.0, 2.0], [0.0, 2.0, 0.0]), **NO_GRAD
    ),
    OpCase("pow_0d_exponent", lambda m, x, e: x**e, shapes=[((3, 4), ())], domain=(0.5, 2.0)),
    OpCase(
        "pow_int",
        lambda m, a, b: m.pow(a, b),
        make=lambda rng: [rng.integers(-4, 5, (3, 4)), rng.integers(0, 4, (4,))],
        **INT,
    ),
    OpCase("pow_int_negative", lambda m, a, b: a**b, make=_ints((3, 4), (4,), lo=-3, hi=4), **INT),
    OpCase("rpow_int_negative", lambda m, b: 2**b, make=_ints((3, 4), lo=-3, hi=4), **INT),
    OpCase(
        "heaviside_int",
        lambda m, a, b: m.heaviside(a, b),
        make=_ints((3, 4), (4,), lo=-1, hi=2),
        **INT,
    ),
    OpCase("pow_int_scalar", lambda m, x: x**2, make=_ints((3, 4)), **INT),
    OpCase("pow_int_float", lambda m, x: x**0.5, make=_ints((3, 4), lo=0), **INT),
    OpCase("rpow_int", lambda m, x: 2**x, make=_ints((3, 4), lo=0), **INT),
    OpCase("rpow_float_int", lambda m, x: 2.0**x, make=_ints((3, 4)), **INT),
    OpCase("float_power", shapes=[((3, 4), (4,))], domain=(0.5, 2.0)),
    OpCase("float_power_scalar", lambda m, x: m.float_power(x, 2), shapes=U),
    OpCase("square", shapes=U),
    OpCase("square_int", lambda m, x: m.square(x), make=_ints((3, 4)), **INT),
    OpCase("sqrt", shapes=U, domain=(0.2, 3.0)),
    OpCase("sqrt_int", lambda m, x: m.sqrt(x), make=_ints((3, 4), lo=0), **INT),
    OpCase("sqrt_at_zero", lambda m, x: m.sqrt(x), make=_fixed([0.0, 1.0]), **NO_GRAD),
    OpCase("rsqrt", shapes=U, domain=(0.2, 3.0)),
    OpCase("reciprocal", make=lambda rng: [_pos_neg(rng, (3, 4))]),
    OpCase("reciprocal_0d", lambda m, x: m.reciprocal(x), shapes=[()], domain=(0.5, 2.0)),
    OpCase(
        "reciprocal_int", lambda m, x: m.reciprocal(x), make=lambda rng: _int_div(rng)[1:], **INT
    ),
]

EXP_LOG = [
    OpCase("exp", shapes=U),
    OpCase("exp_int", lambda m, x: m.exp(x), make=_ints((3, 4)), **INT),
    OpCase("exp2", shapes=U),
    OpCase("expm1", shapes=U),
    OpCase("log", shapes=U, domain=(0.2, 3.0)),
    OpCase("log_int", lambda m, x: m.log(x), make=_ints((3, 4), lo=1), **INT),
    OpCase("log2", shapes=U, domain=(0.2, 3.0)),
    OpCase("log10", shapes=U, domain=(0.2, 3.0)),
    OpCase("log1p", shapes=U, domain=(-0.5, 2.0)),
    OpCase("logaddexp", shapes=B),
    OpCase(
        "logaddexp_far",
        lambda m, a, b: m.logaddexp(a, b),
        make=_fixed([-50.0, 50.0, 0.0], [50.0, -50.0, 0.0]),
    ),
    OpCase("logaddexp2", shapes=B),
    OpCase("xlogy", shapes=B, domain=(0.5, 2.0)),
    OpCase(
        "xlogy_zeros",
        lambda m, a, b: m.xlogy(a, b),
        make=_fixed([0.0, 0.0, 1.0, 2.0], [-1.0, 2.0, 0.5, 1.5]),
        **NO_GRAD,
    ),
    OpCase("xlogy_scalar", lambda m, a: m.xlogy(a, 3.0), shapes=U),
    OpCase("logit", shapes=U, domain=(0.1, 0.9)),
    OpCase("logit_eps", lambda m, x: m.logit(x, eps=0.2), shapes=U, domain=(0.05, 0.95)),
]

TRIG = [
    OpCase("sin", shapes=U),
    OpCase("sin_int", lambda m, x: m.sin(x), make=_ints((3, 4)), **INT),
    OpCase("cos", shapes=U),
    OpCase("tan", shapes=U, domain=(-1.2, 1.2)),
    OpCase("asin", shapes=U, domain=(-0.9, 0.9)),
    OpCase("acos", shapes=U, domain=(-0.9, 0.9)),
    OpCase("atan", shapes=U, domain=(-3, 3)),
    OpCase("atan2", shapes=B),
    OpCase("atan2_int", lambda m, a, b: m.atan2(a, b), make=_ints((3, 4), (4,)), **INT),
    OpCase("sinh", shapes=U),
    OpCase("cosh", shapes=U),
    OpCase("tanh", shapes=U, domain=(-3, 3)),
    OpCase("asinh", shapes=U, domain=(-3, 3)),
    OpCase("acosh", shapes=U, domain=(1.2, 3.0)),
    OpCase("atanh", shapes=U, domain=(-0.9, 0.9)),
    OpCase("hypot", shapes=B),
    OpCase("deg2rad", shapes=U, domain=(-180, 180)),
    OpCase("rad2deg", shapes=U),
    OpCase("sigmoid", shapes=U + [(2, 3, 2)], domain=(-5, 5)),
    OpCase(
        "sigmoid_extremes",
        lambda m, x: m.sigmoid(x),
        make=_fixed([-800.0, -30.0, 0.0, 30.0, 800.0]),
        **NO_GRAD,
    ),
    OpCase("sigmoid_int", lambda m, x: m.sigmoid(x), make=_ints((3, 4)), **INT),
    OpCase("erf", shapes=U, domain=(-2.5, 2.5)),
    OpCase("erf_wide", lambda m, x: m.erf(x), shapes=[(4, 5)], domain=(-6, 6)),
    OpCase("erfc", shapes=U, domain=(-2.5, 2.5)),
    OpCase("erfc_tail", lambda m, x: m.erfc(x), shapes=[(4,)], domain=(2, 9)),
    OpCase("erfinv", shapes=U, domain=(-0.9, 0.9)),
    OpCase("erfinv_tails", lambda m, x: m.erfinv(x), make=_fixed([-0.995, -0.75, 0.0, 0.75, 0.99])),
]

SIGN_AND_ROUNDING = [
    OpCase("abs", shapes=U),
    OpCase("abs_at_zero", lambda m, x: m.abs(x), make=_fixed([-1.0, 0.0, 2.0]), **NO_GRAD),
    OpCase("abs_int", lambda m, x: m.abs(x), make=_ints((3, 4)), **INT),
    OpCase("sign", shapes=U),
    OpCase("sign_at_zero", lambda m, x: m.sign(x), make=_fixed([-1.5, 0.0, 2.0]), **NO_GRAD),
    OpCase("sign_int", lambda m, x: m.sign(x), make=_ints((3, 4)), **INT),
    # torch's sgn gradient is a ZeroTensor that cannot be read: forward parity only
    OpCase("sgn", shapes=U, requires_grad=(False,)),
    OpCase("signbit", make=_fixed([-1.0, -0.0, 0.0, 2.0]), **NO_GRAD),
    OpCase("copysign", shapes=B, domain=(0.5, 2.0)),
    OpCase(
        "copysign_signs",
        lambda m, a, b: m.copysign(a, b),
        make=lambda rng: [rng.uniform(-2, 2, (3, 4)), _pos_neg(rng, (4,))],
    ),
    OpCase(
        "copysign_at_zero",
        lambda m, a: m.copysign(a, -1.0),
        make=_fixed([0.0, 2.0, -1.0]),
        **NO_GRAD,
    ),
    OpCase("round", shapes=U, domain=(-5, 5)),
    OpCase(
        "round_halves",
        lambda m, x: m.round(x),
        make=_fixed([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]),
        **NO_GRAD,
    ),
    OpCase("round_decimals", lambda m, x: m.round(x, decimals=2), shapes=U, domain=(-5, 5)),
    OpCase(
        "round_negative_decimals",
        lambda m, x: m.round(x, decimals=-1),
        shapes=U,
        domain=(-500, 500),
    ),
    OpCase("round_int", lambda m, x: m.round(x), make=_ints((3, 4)), **INT),
    OpCase("floor", shapes=U, domain=(-5, 5)),
    OpCase("floor_int", lambda m, x: m.floor(x), make=_ints((3, 4)), **INT),
    OpCase("ceil", shapes=U, domain=(-5, 5)),
    OpCase("trunc", shapes=U, domain=(-5, 5)),
    OpCase("fix", shapes=U, domain=(-5, 5)),
    OpCase("frac", shapes=U, domain=(-5, 5)),
    # the straight-through estimator's gradient (1) is by design not the finite difference (0)
    OpCase(
        "straight_through",
        lambda m, x: x + (x.round() - x).detach(),
        shapes=U,
        domain=(-5, 5),
        **NO_GRAD,
    ),
]

CLAMP_SELECT = [
    OpCase("clamp", lambda m, x: m.clamp(x, -1, 1), shapes=U + [(2, 3, 2)]),
    OpCase("clamp_min_only", lambda m, x: m.clamp(x, min=-0.5), shapes=U),
    OpCase("clamp_max_only", lambda m, x: x.clamp(max=0.5), shapes=U),
    OpCase(
        "clamp_at_bounds",
        lambda m, x: m.clamp(x, -1, 1),
        make=_fixed([-2.0, -1.0, 0.0, 1.0, 2.0]),
        **NO_GRAD,
    ),
    OpCase("clamp_min_gt_max", lambda m, x: m.clamp(x, 1.0, -1.0), shapes=U),
    OpCase(
        "clamp_tensors",
        lambda m, x, lo, hi: m.clamp(x, lo - 1, hi + 1),
        shapes=[((3, 4), (4,), (3, 1)), ((), (), ())],
    ),
    OpCase("clamp_tensor_min", lambda m, x, lo: m.clamp(x, min=lo), shapes=[((3, 4), (4,))]),
    OpCase(
        "clamp_tensor_max",
        lambda m, x, hi: m.clamp(x, max=hi),
        shapes=[((3, 4), (4,)), ((2, 4), (2, 4))],
    ),
    OpCase(
        "clamp_tensors_crossed",
        lambda m, x, lo, hi: m.clamp(x, lo + 1, hi - 1),
        shapes=[((3, 4), (4,), (3, 1))],
    ),
    OpCase(
        "clamp_tensor_ties",
        lambda m, x, lo: m.clamp(x, min=lo),
        make=_fixed([0.0, 1.0, 2.0], [1.0, 1.0, 1.0]),
        **NO_GRAD,
    ),
    OpCase("clamp_int", lambda m, x: m.clamp(x, -2, 3), make=_ints((3, 4)), **INT),
    OpCase("clamp_int_float_bound", lambda m, x: m.clamp(x, 0.5), make=_ints((3, 4)), **INT),
    OpCase(
        "clamp_int_tensor_bound",
        lambda m, x, lo: m.clamp(x, min=lo),
        make=lambda rng: [rng.integers(-5, 5, (3, 4)), np.array(1.5)],
        requires_grad=(False, True),
    ),
    OpCase("clip", lambda m, x: m.clip(x, -0.5, 0.5), shapes=U),
    OpCase("clamp_min", lambda m, x: m.clamp_min(x, 0.2), shapes=U),
    OpCase("clamp_max", lambda m, x: x.clamp_max(0.2), shapes=U),
    OpCase("maximum", shapes=B),
    OpCase(
        "maximum_ties",
        lambda m, a, b: m.maximum(a, b),
        make=_fixed([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]),
        **NO_GRAD,
    ),
    OpCase("maximum_tie_0d", lambda m, a, b: m.maximum(a, b), make=_fixed(1.0, 1.0), **NO_GRAD),
    OpCase("maximum_int", lambda m, a, b: m.maximum(a, b), make=_ints((3, 4), (4,)), **INT),
    OpCase("minimum", shapes=B),
    OpCase(
        "minimum_ties",
        lambda m, a, b: m.minimum(a, b),
        make=_fixed([1.0, 2.0, 3.0], [1.0, 3.0, 2.0]),
        **NO_GRAD,
    ),
    OpCase("fmax", shapes=B),
    OpCase(
        "fmax_nan_ties",
        lambda m, a, b: m.fmax(a, b),
        make=_fixed([1.0, np.nan, 2.0, -1.0], [np.nan, 3.0, 2.0, 0.0]),
        **NO_GRAD,
    ),
    OpCase("fmin", shapes=B),
    OpCase(
        "fmin_nan_ties",
        lambda m, a, b: m.fmin(a, b),
        make=_fixed([1.0, np.nan, 2.0, -1.0], [np.nan, 3.0, 2.0, 0.0]),
        **NO_GRAD,
    ),
    OpCase(
        "where",
        lambda m, c, a, b: _where(m)(c > 0, a, b),
        shapes=[((3, 4), (3, 4), (4,)), ((3, 1), (), (4,)), ((), (2,), ())],
        requires_grad=(False, True, True),
    ),
    OpCase(
        "where_scalar_other",
        lambda m, c, a: _where(m)(c > 0, a, 0.0),
        shapes=[((3, 4), (4,))],
        requires_grad=(False, True),
    ),
    OpCase(
        "where_scalar_input",
        lambda m, c, b: _where(m)(c > 0, -1.5, b),
        shapes=[((3, 4), (3, 4))],
        requires_grad=(False, True),
    ),
    OpCase(
        "where_scalars",
        lambda m, c: _where(m)(c > 0, 1.0, 0),
        shapes=[(3, 4)],
        requires_grad=(False,),
    ),
    OpCase(
        "where_int_scalar",
        lambda m, c, a: _where(m)(c > 0, a, 0.5),
        make=lambda rng: [rng.uniform(-1, 1, (3, 4)), rng.integers(-5, 5, (3, 4))],
        requires_grad=(False, False),
    ),
    OpCase(
        "where_promote",
        lambda m, c, a, b: _where(m)(c > 0, a, b),
        make=lambda rng: [
            rng.uniform(-1, 1, (3, 4)),
            rng.integers(-5, 5, (4,)).astype(np.int16),
            rng.uniform(-1, 1, (3, 4)),
        ],
        requires_grad=(False, False, True),
    ),
    OpCase(
        "where_method",
        lambda m, c, a, b: a.where(c > 0, b),
        shapes=[((3, 4), (3, 4), (4,))],
        requires_grad=(False, True, True),
    ),
    OpCase("where_nonzero", lambda m, c: _where(m)(c > 0), shapes=[(3, 4)], requires_grad=(False,)),
    OpCase("lerp_small_weight", lambda m, a, b: m.lerp(a, b, 0.3), shapes=B),
    OpCase("lerp_large_weight", lambda m, a, b: m.lerp(a, b, 0.8), shapes=B),
    OpCase(
        "lerp_tensor_weight",
        lambda m, a, b, w: m.lerp(a, b, w),
        shapes=[((3, 4), (4,), (3, 1)), ((), (), (2,))],
        domain=(-1, 1.5),
    ),
    OpCase("nan_to_num", shapes=U),
    OpCase("nan_to_num_specials", lambda m, x: m.nan_to_num(x), make=_fixed(SPECIALS), **NO_GRAD),
    OpCase(
        "nan_to_num_values",
        lambda m, x: m.nan_to_num(x, nan=1.0, posinf=2.0, neginf=-3.0),
        make=_fixed(SPECIALS),
        **NO_GRAD,
    ),
    OpCase("nan_to_num_int", lambda m, x: m.nan_to_num(x), make=_ints((3,)), **INT),
]


def _cmp(name):
    return OpCase(name, shapes=B, **NO_GRAD)


COMPARE_LOGIC = [
    *(_cmp(n) for n in ["eq", "ne", "lt", "le", "gt", "ge"]),
    *(_cmp(n) for n in ["greater", "greater_equal", "less", "less_equal", "not_equal"]),
    OpCase(
        "eq_ties",
        lambda m, a, b: m.eq(a, b),
        make=_fixed([1.0, 2.0, 3.0], [1.0, 2.5, 3.0]),
        **NO_GRAD,
    ),
    OpCase("lt_int_float", lambda m, a: a < 1.5, make=_ints((3, 4)), **INT),
    OpCase(
        "ge_int_float",
        lambda m, a, b: a >= b,
        make=lambda rng: [rng.integers(-2, 3, (3, 4)), rng.uniform(-2, 2, (4,))],
        **NO_GRAD,
    ),
    OpCase(
        "eq_float32_float64",
        lambda m, a, b: a == b.double(),
        make=_fixed([0.1, 0.5], [0.1, 0.5]),
        **NO_GRAD,
    ),
    OpCase(
        "operators",
        lambda m, a, b: (a < b, a <= b, a > b, a >= b, a == b, a != b),
        shapes=B2,
        **NO_GRAD,
    ),
    *(
        OpCase(n, make=_fixed(SPECIALS), **NO_GRAD)
        for n in ["isnan", "isinf", "isfinite", "isposinf", "isneginf"]
    ),
    OpCase(
        "isnan_int",
        lambda m, x: (m.isnan(x), m.isinf(x), m.isfinite(x), m.isposinf(x), m.isneginf(x)),
        make=_ints((3,)),
        **INT,
    ),
    *(
        OpCase(n, make=_ints((3, 4), (4,), lo=-1, hi=2), **INT)
        for n in ["logical_and", "logical_or", "logical_xor"]
    ),
    OpCase("logical_not", make=_ints((3, 4), lo=-1, hi=2), **INT),
    OpCase(
        "logical_float",
        lambda m, a, b: m.logical_and(a, b),
        make=_fixed([0.0, 1.5, -2.0], [1.0, 0.0, 3.0]),
        **NO_GRAD,
    ),
    *(
        OpCase(n, make=_ints((3, 4), (4,), lo=-8, hi=8), **INT)
        for n in ["bitwise_and", "bitwise_or", "bitwise_xor"]
    ),
    OpCase("bitwise_not", make=_ints((3, 4), lo=-8, hi=8), **INT),
    OpCase(
        "bitwise_operators",
        lambda m, a, b: (a & b, a | b, a ^ b, ~a, a & 3, 5 | b),
        make=_ints((3, 4), (4,), lo=-8, hi=8),
        **INT,
    ),
    OpCase(
        "bitwise_bool",
        lambda m, a, b: ((a > 0) & (b > 0), (a > 0) | (b > 0), (a > 0) ^ (b > 0), ~(a > 0)),
        make=_ints((3, 4), (4,)),
        **INT,
    ),
    OpCase("bitwise_bool_int", lambda m, a, b: (a > 0) & b, make=_ints((3, 4), (4,)), **INT),
    OpCase("isclose", lambda m, a, b: m.isclose(a, a + b * 1e-6), shapes=B, **NO_GRAD),
    OpCase(
        "isclose_nan",
        lambda m, a, b: m.isclose(a, b, equal_nan=True),
        make=_fixed([np.nan, 1.0, 2.0], [np.nan, 1.0, 2.1]),
        **NO_GRAD,
    ),
    OpCase(
        "allclose", lambda m, a, b: m.tensor(m.allclose(a, a + b * 1e-9)), shapes=B[:1], **NO_GRAD
    ),
    OpCase(
        "allclose_tolerances",
        lambda m, a, b: m.tensor(m.allclose(a, a + 0.01, rtol=0, atol=0.1)),
        shapes=B[:1],
        **NO_GRAD,
    ),
    OpCase(
        "equal", lambda m, a, b: m.tensor((m.equal(a, a), m.equal(a, b))), shapes=B[:1], **NO_GRAD
    ),
    OpCase(
        "heaviside",
        lambda m, a, b: m.heaviside(a, b),
        make=_fixed([-1.0, 0.0, 2.0], [0.5, 0.5, 0.5]),
        requires_grad=(False, False),
    ),
]

# In-place rows use non-0-d shapes: a 0-d result is a read-only NumPy scalar today (see
# test_inplace_on_0d_result below).
INPLACE = [
    OpCase("add_", _inplace("add_", alpha=2), shapes=B2),
    OpCase("sub_", _inplace("sub_"), shapes=B2),
    OpCase("mul_", _inplace("mul_"), shapes=B2),
    OpCase("div_", _inplace("div_"), shapes=B2, domain=(0.5, 2.0)),
    OpCase("iadd", lambda m, x, y: _iadd(x * 1, y), shapes=B2),
    OpCase("pow_", _inplace("pow_", 2), shapes=[(3, 4)]),
    OpCase("pow_tensor_", _inplace("pow_"), shapes=B2, domain=(0.5, 2.0)),
    OpCase("sqrt_", _inplace("sqrt_"), shapes=[(3, 4)], domain=(0.2, 3.0)),
    OpCase("abs_", _inplace("abs_"), shapes=[(3, 4)]),
    OpCase("exp_", _inplace("exp_"), shapes=[(3, 4)]),
    OpCase("log_", _inplace("log_"), shapes=[(3, 4)], domain=(0.2, 3.0)),
    OpCase("sigmoid_", _inplace("sigmoid_"), shapes=[(3, 4)]),
    OpCase("tanh_", _inplace("tanh_"), shapes=[(3, 4)]),
    OpCase("sin_", _inplace("sin_"), shapes=[(3, 4)]),
    OpCase("neg_", _inplace("neg_"), shapes=[(3, 4)]),
    OpCase("reciprocal_", _inplace("reciprocal_"), shapes=[(3, 4)], domain=(0.5, 2.0)),
    OpCase("floor_", _inplace("floor_"), shapes=[(3, 4)]),
    OpCase("round_", _inplace("round_"), shapes=[(3, 4)]),
    OpCase("round_decimals_", _inplace("round_", decimals=1), shapes=[(3, 4)]),
    OpCase("frac_", _inplace("frac_"), shapes=[(3, 4)]),
    OpCase("clamp_", _inplace("clamp_", -1, 1), shapes=[(3, 4)]),
    OpCase("clamp_min_", _inplace("clamp_min_", 0.0), shapes=[(3, 4)]),
    OpCase("clip_", _inplace("clip_", max=0.5), shapes=[(3, 4)]),
    OpCase("lerp_", _inplace("lerp_", weight=0.25), shapes=B2),
    OpCase("addcmul_", _inplace("addcmul_", value=2), shapes=[((3, 4), (4,), (3, 1))]),
    OpCase("nan_to_num_", _inplace("nan_to_num_"), shapes=[(3, 4)]),
    OpCase("atan2_", _inplace("atan2_"), shapes=B2),
    OpCase("copy_", _inplace("copy_"), shapes=[((3, 4), (4,)), ((3, 4), ()), ((2, 3), (2, 3))]),
    OpCase("copy_cast", lambda m, x, s: (x * 1).copy_(s.double()), shapes=[((3, 4), (4,))]),
    OpCase(
        "copy_from_int",
        lambda m, x, s: (x * 1).copy_(s),
        make=lambda rng: [rng.uniform(-1, 1, (3, 4)), rng.integers(-5, 5, (4,))],
    ),
    OpCase("fill_", _inplace("fill_", 1.5), shapes=[(3, 4)]),
    OpCase("fill_tensor", _inplace("fill_"), shapes=[((3, 4), ())]),
    OpCase("zero_", _inplace("zero_"), shapes=[(3, 4)]),
    OpCase("eq_", _inplace("eq_", 0.0), make=_fixed([0.0, 1.0, 0.0])),
    OpCase("view_inplace", lambda m, x: _view_inplace(x), shapes=[(3, 4)]),
]


def _iadd(x, y):
    x += y
    return x


def _view_inplace(x):
    y = x * 1
    y[0].mul_(2)
    y[1:, 1].clamp_(-0.5, 0.5)
    return y


CASES = ARITHMETIC + POWERS + EXP_LOG + TRIG + SIGN_AND_ROUNDING + CLAMP_SELECT + INPLACE
CASES += COMPARE_LOGIC


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


# ------------------------------------------------------------------ names match PyTorch's
@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_public_names_exist_in_torch():
    missing = [n for n in ew.__all__ if not hasattr(torch, n)]
    assert not missing, f"chainrule exports names torch does not have: {missing}"
    methods = [e if isinstance(e, str) else e[0] for e in ew.METHODS]
    missing = [n for n in methods if not hasattr(torch.Tensor, n)]
    assert not missing, f"Tensor methods torch.Tensor does not have: {missing}"


@pytest.mark.skipif(torch is None, reason="torch is not installed")
def test_every_torch_inplace_form_exists():
    methods = {e if isinstance(e, str) else e[0] for e in ew.METHODS}
    wanted = [n + "_" for n in ew._FUNCTIONS if hasattr(torch.Tensor, n + "_")]
    assert [n for n in wanted if n not in methods] == []


def test_aliases_are_the_same_functions():
    pairs = [
        ("arcsin", "asin"),
        ("arccos", "acos"),
        ("arctan", "atan"),
        ("arctan2", "atan2"),
        ("arcsinh", "asinh"),
        ("arccosh", "acosh"),
        ("arctanh", "atanh"),
        ("absolute", "abs"),
        ("clip", "clamp"),
        ("fix", "trunc"),
        ("greater", "gt"),
        ("greater_equal", "ge"),
        ("less", "lt"),
        ("less_equal", "le"),
        ("not_equal", "ne"),
        ("negative", "neg"),
        ("subtract", "sub"),
        ("multiply", "mul"),
        ("divide", "div"),
        ("true_divide", "div"),
    ]
    for alias, name in pairs:
        assert getattr(ew, alias) is getattr(ew, name), alias
        assert getattr(chainrule.Tensor, alias) is getattr(ew, name), alias


_INPLACE_ARGS = {
    "lerp": (0.5, 0.3), "clamp": (0.3, 0.6),
    "clip": (0.3, 0.6), "clamp_min": (0.5,), "clamp_max": (0.5,),
}  # fmt: skip
_BINARY = {
    "floor_divide", "remainder", "fmod", "pow", "float_power", "copysign", "xlogy", "atan2",
    "arctan2", "hypot", "subtract", "multiply", "divide", "true_divide", "heaviside", "eq", "ne",
    "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal",
    "logical_and", "logical_or", "logical_xor", "bitwise_and", "bitwise_or", "bitwise_xor",
}  # fmt: skip


@pytest.mark.parametrize("name", ew._DIFFERENTIABLE + ew._CONSTANT)
def test_every_inplace_form_writes_the_out_of_place_result(name):
    rng = np.random.default_rng(0)
    if name.startswith("bitwise"):
        data = rng.integers(-8, 8, (3, 4))
    else:
        lo = 1.2 if name in ("acosh", "arccosh") else 0.2
        data = rng.uniform(lo, lo + 0.7, (3, 4))
        data = data if name == "float_power" else data.astype(np.float32)
    args = _INPLACE_ARGS.get(name, ())
    if name in _BINARY:
        args = (chainrule.tensor(data[::-1].copy()),)
    if name in ("addcmul", "addcdiv"):
        args = (chainrule.tensor(data[::-1].copy()), chainrule.tensor(data + 1))
    x = chainrule.tensor(data.copy())
    version = x._version
    y = getattr(x, name + "_")(*args)
    expected = getattr(ew, name)(chainrule.tensor(data.copy()), *args)
    assert y is x and x._version > version
    np.testing.assert_allclose(x.numpy(), expected.numpy().astype(x.numpy().dtype), rtol=1e-6)


# ------------------------------------------------------------------- behaviour beyond rows
def test_straight_through_estimator_passes_gradient_one():
    x = chainrule.tensor([-1.6, -0.5, 0.4, 2.5], requires_grad=True)
    y = x + (x.round() - x).detach()
    (y * chainrule.tensor([1.0, 2.0, 3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), [-2.0, -0.0, 0.0, 2.0])
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0, 4.0])


@pytest.mark.parametrize("op", ["round", "floor", "ceil", "trunc", "sign"])
def test_step_functions_give_zero_gradient_not_none(op):
    x = chainrule.tensor([0.3, -1.7], requires_grad=True)
    getattr(x, op)().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_comparisons_and_logic_have_no_graph():
    x = chainrule.tensor([1.0, -2.0], requires_grad=True)
    for out in [x > 0, x == 1, chainrule.isnan(x), chainrule.logical_not(x), x.isclose(x)]:
        assert out.dtype == chainrule.bool and not out.requires_grad and out.grad_fn is None


def test_eq_with_none_is_false_and_membership_works():
    x = chainrule.tensor([1.0])
    assert (x == None) is False  # noqa: E711
    assert (x != None) is True  # noqa: E711
    assert x in [None, x]
    with pytest.raises(TypeError):
        x < None  # noqa: B015


def test_integer_errors_name_the_problem():
    a = chainrule.tensor([4, 5])
    with pytest.raises(RuntimeError, match="Integers to negative integer powers"):
        a**-1
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        a // chainrule.tensor([1, 0])
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        a % 0
    with pytest.raises(RuntimeError, match="bool tensor is not supported"):
        -chainrule.tensor([True])
    with pytest.raises(RuntimeError, match="integer and bool"):
        chainrule.tensor([1.0]) & chainrule.tensor([1.0])
    with pytest.raises(RuntimeError, match="boolean tensor"):
        ew.where(chainrule.tensor([1.0]), 1.0, 0.0)
    with pytest.raises(RuntimeError, match="At least one of 'min' or 'max'"):
        chainrule.clamp(chainrule.tensor([1.0]))


def test_poles_and_overflow_are_silent_like_pytorch():
    x = chainrule.tensor([0.0, -1.0, 1000.0, -1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isneginf(chainrule.log(x).numpy()[0])
        assert np.isnan(chainrule.sqrt(x).numpy()[1])
        assert chainrule.sigmoid(x).numpy()[3] == 0.0
        assert np.isinf(chainrule.exp(x).numpy()[2])
        assert np.isinf(x.reciprocal().numpy()[0])
        assert chainrule.xlogy(x, x).numpy()[0] == 0.0


def test_erf_matches_math_to_double_precision():
    xs = np.concatenate([np.linspace(-7, 7, 2001), [-30.0, 30.0, np.inf, -np.inf]])
    ours = chainrule.erf(chainrule.tensor(xs)).numpy()
    np.testing.assert_allclose(ours, [math.erf(v) for v in xs], rtol=1e-15, atol=1e-16)
    xs = np.linspace(-5, 26, 2001)
    ours = chainrule.erfc(chainrule.tensor(xs)).numpy()
    np.testing.assert_allclose(ours, [math.erfc(v) for v in xs], rtol=1e-13, atol=0)
    assert np.isnan(chainrule.erf(chainrule.tensor([np.nan])).numpy()).all()


def test_erfinv_inverts_erf_and_has_torch_limits():
    ys = np.linspace(-0.999999, 0.999999, 1001)
    xs = chainrule.erfinv(chainrule.tensor(ys)).numpy()
    np.testing.assert_allclose([math.erf(v) for v in xs], ys, rtol=0, atol=1e-15)
    edge = chainrule.erfinv(chainrule.tensor([1.0, -1.0, 1.5, 0.0])).numpy()
    assert edge[0] == np.inf and edge[1] == -np.inf and np.isnan(edge[2]) and edge[3] == 0.0


def test_erf_in_half_precision_does_not_overflow():
    x = chainrule.tensor([-3.0, -0.5, 0.0, 2.0, 7.0], dtype=chainrule.float16)
    y = chainrule.erf(x)
    assert y.dtype == chainrule.float16
    np.testing.assert_allclose(
        y.numpy().astype(np.float64), [math.erf(v) for v in x.tolist()], atol=1e-3
    )


def test_inplace_on_leaf_that_requires_grad_is_refused():
    w = chainrule.ones(3, requires_grad=True)
    for fn in [
        lambda: w.zero_(),
        lambda: w.fill_(1.0),
        lambda: w.copy_(chainrule.zeros(3)),
        lambda: w.clamp_(0, 1),
        lambda: w.sqrt_(),
    ]:
        with pytest.raises(RuntimeError, match="leaf Variable"):
            fn()
    with chainrule.no_grad():  # an optimizer step or an init: allowed, and counted
        before = w._version
        w.zero_()
        w.add_(1.0)
        w.copy_(chainrule.tensor([1.0, 2.0, 3.0]))
        assert w._version == before + 3
    np.testing.assert_array_equal(w.detach().numpy(), [1.0, 2.0, 3.0])


def test_copy_broadcasts_casts_and_checks_shape():
    x = chainrule.zeros(2, 3, dtype=chainrule.int64)
    x.copy_(chainrule.tensor([1.7, -2.2, 3.9]))
    np.testing.assert_array_equal(x.numpy(), [[1, -2, 3], [1, -2, 3]])
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        x.copy_(chainrule.ones(4))
    with pytest.raises(RuntimeError, match="0-dimension"):
        x.fill_(chainrule.ones(2))


def test_inplace_result_dtype_must_fit():
    x = chainrule.tensor([1, 4])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.sqrt_()


def test_saved_input_modified_in_place_is_detected():
    x = chainrule.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1
    y = h.sin()  # saves h
    h.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


# ------------------------------------------------- known problems outside this family's files
def test_int64_plus_float32_is_float32():
    x = chainrule.tensor([1, 2]) + chainrule.tensor([0.5, 0.5])
    assert x.dtype == chainrule.float32


def test_inplace_on_0d_result():
    x = chainrule.tensor(2.0) * 1
    x.add_(1.0)
    assert x.item() == 3.0


def test_inplace_bitwise_operators_write_into_the_tensor():
    m = chainrule.tensor([True, False, True])
    alias = m
    m &= chainrule.tensor([True, True, False])
    assert m is alias and m.tolist() == [True, False, False]
    x = chainrule.tensor([1, 2])
    x |= 4
    x ^= 1
    assert x.tolist() == [4, 7] and x.dtype == chainrule.int64
