"""chainrule.testing: gradcheck must catch wrong backward rules, and assert_close must say where
and by how much two tensors differ."""

import numpy as np
import pytest

import chainrule
from chainrule.autograd import Function
from chainrule.testing import GradcheckError, assert_close, gradcheck, gradgradcheck


def t64(values, requires_grad=True):
    return chainrule.tensor(values, dtype=chainrule.float64, requires_grad=requires_grad)


class Square(Function):
    """y = x²;  gx = 2x·gy"""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 2.0 * x


class WrongSquare(Function):
    """y = x², with the classic mistake gx = x·gy (the factor 2 forgotten)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * x


class WrongSecondDerivative(Function):
    """y = x³ with a first derivative that is right at x (3x²) but built from a constant copy of
    x, so that its own derivative (the second derivative of y) comes out as 0."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 3.0 * x.detach() * x.detach()


class WrongBroadcast(Function):
    """y = a·b for a (3,) and a scalar b, with b's gradient forgetting the sum over a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        return gy * b, (gy * a)[0:1].reshape(())


# ------------------------------------------------------------------------------- gradcheck
def test_gradcheck_accepts_a_correct_backward():
    assert gradcheck(Square.apply, (t64([0.3, -1.2, 2.0]),))


def test_gradcheck_catches_a_wrong_backward_and_says_where():
    with pytest.raises(GradcheckError) as err:
        gradcheck(WrongSquare.apply, (t64([0.3, -1.2, 2.0]),))
    msg = str(err.value)
    assert "Jacobian mismatch at output 0, input element 0" in msg
    assert "analytical 0.3" in msg and "numerical 0.6" in msg
    assert "3 of 9 entries differ" in msg


def test_gradcheck_raise_exception_false_returns_false():
    assert gradcheck(WrongSquare.apply, (t64([0.3, -1.2]),), raise_exception=False) is False


def test_gradcheck_catches_a_wrong_gradient_of_a_second_input():
    a, b = t64([1.0, 2.0, 3.0]), t64(0.5)
    with pytest.raises(GradcheckError, match="input element 3"):
        gradcheck(WrongBroadcast.apply, (a, b))


def test_gradcheck_catches_a_wrong_backward_on_large_inputs_by_projections():
    """Above the full-Jacobian size the check is by random projections uᵀJv."""
    rng = np.random.default_rng(0)
    x = t64(rng.uniform(0.5, 1.5, size=(60, 50)))  # 3000 x 3000 entries: projections
    assert gradcheck(Square.apply, (x,))
    with pytest.raises(GradcheckError, match="projection 0"):
        gradcheck(WrongSquare.apply, (x,))


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = t64([0.3, -1.2])
    assert gradcheck(WrongSecondDerivative.apply, (x,)), "first derivatives are right"
    with pytest.raises(GradcheckError):
        gradgradcheck(WrongSecondDerivative.apply, (x,))
    assert gradgradcheck(Square.apply, (t64([0.3, -1.2]),))


def test_gradcheck_needs_float64_inputs():
    x = chainrule.tensor([1.0, 2.0], dtype=chainrule.float32, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"float32.*float64.*\.double\(\)"):
        gradcheck(Square.apply, (x,))


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(GradcheckError, match="no input requires grad"):
        gradcheck(Square.apply, (t64([1.0], requires_grad=False),))


def test_gradcheck_leaves_the_inputs_unchanged():
    x = t64([0.3, -1.2])
    gradcheck(Square.apply, (x,))
    np.testing.assert_array_equal(x.detach().numpy(), [0.3, -1.2])
    assert x.grad is None


# ----------------------------------------------------------------------------- assert_close
def test_assert_close_passes_within_the_dtype_tolerance():
    assert_close(chainrule.tensor([1.0, 2.0]), chainrule.tensor([1.0, 2.0 + 1e-7]))
    assert_close(np.array(1.0), 1.0 + 1e-9)


def test_assert_close_message_says_where_and_by_how_much():
    actual = chainrule.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=chainrule.float64)
    expected = chainrule.tensor([[1.0, 2.5], [3.0, 4.0]], dtype=chainrule.float64)
    with pytest.raises(AssertionError) as err:
        assert_close(actual, expected)
    msg = str(err.value)
    assert "Tensor-likes are not close!" in msg
    assert "Mismatched elements: 1 / 4 (25.0%)" in msg
    assert "Greatest absolute difference: 0.5" in msg


def test_assert_close_message_prints_plain_indices_and_values():
    actual = chainrule.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=chainrule.float64)
    expected = chainrule.tensor([[1.0, 2.5], [3.0, 4.0]], dtype=chainrule.float64)
    with pytest.raises(AssertionError) as err:
        assert_close(actual, expected)
    msg = str(err.value)
    assert "Greatest absolute difference: 0.5 at index (0, 1)" in msg
    assert "First mismatch at (0, 1): 2.0 vs 2.5" in msg


def test_assert_close_prefixes_the_callers_message():
    with pytest.raises(AssertionError, match=r"^grad of W1\n"):
        assert_close(np.array([1.0]), np.array([2.0]), msg="grad of W1")


def test_assert_close_reports_dtype_and_shape_mismatches():
    a32 = chainrule.tensor([1.0], dtype=chainrule.float32)
    a64 = chainrule.tensor([1.0], dtype=chainrule.float64)
    with pytest.raises(AssertionError, match="'dtype' do not match.*float32.*float64"):
        assert_close(a32, a64)
    assert_close(a32, a64, check_dtype=False)
    with pytest.raises(AssertionError, match=r"'shape' do not match: \(2,\) != \(3,\)"):
        assert_close(np.zeros(2), np.zeros(3))


def test_assert_close_nan_handling():
    nan = np.array([np.nan, 1.0])
    with pytest.raises(AssertionError):
        assert_close(nan, nan)
    assert_close(nan, nan, equal_nan=True)


def test_assert_close_accepts_explicit_tolerances():
    assert_close(np.array([1.0]), np.array([1.1]), rtol=0.0, atol=0.2)
    with pytest.raises(AssertionError, match="rtol=0.0, atol=0.01"):
        assert_close(np.array([1.0]), np.array([1.1]), rtol=0.0, atol=0.01)
