"""Products: matmul and its 2-D/3-D/vector forms, einsum, tensordot, kron, trace and diag.

matmul is the primitive that most models spend their time in; its backward keeps BLAS busy (a
batch times a 2-D weight is one GEMM over the flattened batch, forward and backward, and
transposes are views). einsum is the general primitive: each operand's gradient is itself an
einsum, so double backward comes for free; tensordot and inner are written with it.
"""

from __future__ import annotations

import string

import numpy as np

from ..amp import autocast_mode as _amp
from ..autograd.engine import _NULL_CTX
from ..backend import array_module
from ..tensor import Tensor
from . import tensor_numpy
from ._core import Op, _conj_if_complex, check_same_device, is_array


def _mT(a):
    """The last two axes swapped (a view; .T where that is the same thing)."""
    if a.ndim == 2:
        return a.T
    return array_module(a).swapaxes(a, -1, -2)


class MatMul(Op):
    """y = a @ b;  ga = gy @ bᵀ, gb = aᵀ @ gy  (a 1-D a acts as a row, a 1-D b as a column)"""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        if a.itemsize == 2 and a.dtype.kind in "fV":
            return _in_float32(MatMul.forward, a, b)
        if a.ndim > 2 and b.ndim == 2:  # a batch times a weight: one GEMM over the whole batch
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(a.shape[:-1] + b.shape[-1:])
        return a @ b

    @staticmethod
    def backward(ctx, gy):
        a, b = _conj_if_complex(*ctx.saved_tensors)
        if a.itemsize == 2 and a.dtype.kind in "fV" and not isinstance(gy, Tensor):
            return _grads_in_float32(MatMul, ctx, gy)
        need_a, need_b = ctx.needs_input_grad
        if a.ndim == 1 or b.ndim == 1:
            return _vector_grads(a, b, gy, need_a, need_b)
        if a.ndim > 2 and b.ndim == 2:
            # the weight's gradient sums over the batch: one GEMM, not a batch of them summed
            k, n = b.shape
            gy2 = gy.reshape(-1, n)
            ga = (gy2 @ b.T).reshape(a.shape) if need_a else None
            gb = a.reshape(-1, k).T @ gy2 if need_b else None
            return ga, gb
        ga = gy @ _mT(b) if need_a else None
        gb = _mT(a) @ gy if need_b else None
        return ga, gb


def _vector_grads(a, b, gy, need_a, need_b):
    """matmul's gradients where an operand is 1-D."""
    if a.ndim == 1 and b.ndim == 1:  # y = a · b
        return (gy * b if need_a else None), (gy * a if need_b else None)
    if b.ndim == 1:  # y[..., m] = Σ_k a[..., m, k] b[k]
        ga = gy.reshape(gy.shape + (1,)) * b if need_a else None
        gb = a.reshape(-1, a.shape[-1]).T @ gy.reshape(-1) if need_b else None
        return ga, gb
    # a is 1-D: y[..., n] = Σ_k a[k] b[..., k, n]
    k, n = b.shape[-2:]
    ga = gb = None
    if need_a:
        if b.ndim == 2:
            ga = b @ gy
        else:
            ga = (b @ gy.reshape(gy.shape + (1,))).reshape(gy.shape[:-1] + (k,))
    if need_b:
        gb = a.reshape(k, 1) * gy.reshape(gy.shape[:-1] + (1, n))
    return ga, gb


# ---------------------------------------------------------------------- half precision
# NumPy has no BLAS for bfloat16 and float16: their products run in float32 (fast, and
# accumulated in float32 as PyTorch's half-precision GEMMs are) and round once to the dtype.
class _Float32Ctx:
    """A stand-in ctx whose saved arrays are float32 copies of the real ones."""

    def __init__(self, ctx, saved):
        self.saved_tensors = saved
        self.needs_input_grad = ctx.needs_input_grad
        self.__dict__.update({k: v for k, v in ctx.__dict__.items() if k not in self.__dict__})


def _up(a):
    return a.astype(np.float32) if is_array(a) and a.dtype.itemsize == 2 else a


def _in_float32(forward, *args):
    """forward(*args) computed on float32 copies of the half-precision arrays, rounded back."""
    dtype = next(a.dtype for a in args if is_array(a))
    return forward(_NULL_CTX, *(_up(a) for a in args)).astype(dtype)


def _grads_in_float32(cls, ctx, gy):
    """cls.backward with the saved arrays and gy in float32; each gradient back in its
    input's dtype (the engine's edges remember it)."""
    saved = ctx.saved_tensors
    grads = cls.backward(_Float32Ctx(ctx, tuple(_up(s) for s in saved)), _up(gy))
    out = []
    for g, edge in zip(grads, ctx.next):
        out.append(g.astype(edge[3]) if is_array(g) and edge is not None else g)
    return tuple(out)


# ------------------------------------------------------------------------------- checks
def _dims_str(shape) -> str:
    return "x".join(str(s) for s in shape)


def _tensor(x, fn: str, name: str, position: int) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if is_array(x):
        return Tensor._make(x)
    raise TypeError(
        f"{fn}(): argument '{name}' (position {position}) must be Tensor, not {type(x).__name__}"
    )


def _operands(fn, a, b, names=("input", "other")):
    a = _tensor(a, fn, names[0], 1)
    b = _tensor(b, fn, names[1], 2)
    check_same_device(a, b)
    return a, b


def _same_dtype(a, b, what="m1 and m2") -> None:
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"expected {what} to have the same dtype, but got: {a._data.dtype} != {b._data.dtype}. "
            "chainrule, like PyTorch, does not promote in matrix products: cast one operand "
            "with .to(other.dtype)"
        )


def _hint(a_shape, b_shape) -> str:
    """A suggestion for the common mistake of a missing transpose."""
    if len(b_shape) >= 2 and a_shape[-1] == b_shape[-1]:
        return f": did you mean input @ other.{'T' if len(b_shape) == 2 else 'mT'} (as in x @ W.T)?"
    if len(a_shape) >= 2 and len(b_shape) >= 2 and a_shape[-2] == b_shape[-2]:
        return f": did you mean input.{'T' if len(a_shape) == 2 else 'mT'} @ other?"
    return ""


def _mismatch(a_shape, b_shape) -> str:
    if len(a_shape) == 1 and len(b_shape) == 1:
        return (
            f"inconsistent tensor size, expected tensor [{a_shape[0]}] and src [{b_shape[0]}] to "
            f"have the same number of elements, but got {a_shape[0]} and {b_shape[0]} elements "
            "respectively"
        )
    if len(b_shape) == 1:
        return (
            f"size mismatch, got input ({a_shape[-2]}), mat ({_dims_str(a_shape[-2:])}), vec "
            f"({b_shape[0]})"
        )
    m1 = a_shape[-2:] if len(a_shape) > 1 else (1,) + tuple(a_shape)
    msg = (
        f"mat1 and mat2 shapes cannot be multiplied ({_dims_str(m1)} and {_dims_str(b_shape[-2:])})"
    )
    if len(a_shape) > 2 or len(b_shape) > 2:
        msg += f" (input shape {list(a_shape)}, other shape {list(b_shape)})"
    return msg + _hint(a_shape, b_shape)


def _batch_shape(a_shape, b_shape):
    """Broadcast the batch dims of two matmul operands, with PyTorch's error."""
    sa, sb = list(a_shape[:-2]), list(b_shape[:-2])
    n = max(len(sa), len(sb))
    sa, sb = [1] * (n - len(sa)) + sa, [1] * (n - len(sb)) + sb
    for i, (x, y) in enumerate(zip(sa, sb)):
        if x != y and x != 1 and y != 1:
            raise RuntimeError(
                f"The size of tensor a ({x}) must match the size of tensor b ({y}) at "
                f"non-singleton dimension {i} (matmul batch dims of input shape {list(a_shape)} "
                f"and other shape {list(b_shape)})"
            )


# ------------------------------------------------------------------------------ matmul family
def matmul(input, other):
    """input @ other: 1-D operands act as vectors (1-D @ 1-D is a 0-d dot product), more than
    2 dims are batches that broadcast.

    Example:
        >>> import chainrule as torch
        >>> torch.matmul(torch.ones(2, 3), torch.ones(3))
        tensor([3., 3.])
    """
    if _amp.active:
        input, other = _amp.autocast_inputs("lower", input, other)
    if isinstance(input, Tensor) and isinstance(other, Tensor):  # the hot case, checked cheaply
        da, db = input._data, other._data
        if (da.ndim == 2 and db.ndim == 2 and da.shape[1] == db.shape[0]
                and da.dtype is db.dtype and da.__class__ is db.__class__):  # fmt: skip
            return MatMul.apply(input, other)
    a, b = _operands("matmul", input, other)
    if a.ndim < 1 or b.ndim < 1:
        raise RuntimeError(
            f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D"
        )
    _same_dtype(a, b)
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise RuntimeError(_mismatch(a.shape, b.shape))
    if a.ndim > 2 or b.ndim > 2:
        _batch_shape(a.shape, b.shape)
    return MatMul.apply(a, b)


def mm(input, mat2):
    """The matrix product of two 2-D tensors."""
    if _amp.active:
        input, mat2 = _amp.autocast_inputs("lower", input, mat2)
    a, b = _operands("mm", input, mat2, ("input", "mat2"))
    if a.ndim != 2:
        raise RuntimeError(
            f"self must be a matrix (got a {a.ndim}-D tensor of shape {list(a.shape)})"
        )
    if b.ndim != 2:
        raise RuntimeError(
            f"mat2 must be a matrix (got a {b.ndim}-D tensor of shape {list(b.shape)})"
        )
    _same_dtype(a, b)
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(_mismatch(a.shape, b.shape))
    return MatMul.apply(a, b)


def bmm(input, mat2):
    """Batched matrix product of two 3-D tensors with the same batch size (no broadcasting)."""
    if _amp.active:
        input, mat2 = _amp.autocast_inputs("lower", input, mat2)
    a, b = _operands("bmm", input, mat2, ("input", "mat2"))
    if a.ndim != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor (got shape {list(a.shape)})")
    if b.ndim != 3:
        raise RuntimeError(f"batch2 must be a 3D tensor (got shape {list(b.shape)})")
    _same_dtype(a, b)
    if b.shape[0] != a.shape[0] or b.shape[1] != a.shape[2]:
        raise RuntimeError(
            f"Expected size for first two dimensions of batch2 tensor to be: [{a.shape[0]}, "
            f"{a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}]." + _hint(a.shape, b.shape)
        )
    return MatMul.apply(a, b)


def mv(input, vec):
    """Matrix (2-D) times vector (1-D)."""
    if _amp.active:
        input, vec = _amp.autocast_inputs("lower_cuda", input, vec)
    a, b = _operands("mv", input, vec, ("input", "vec"))
    if a.ndim != 2 or b.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {a.ndim}, {b.ndim}")
    _same_dtype(a, b)
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(_mismatch(a.shape, b.shape))
    return MatMul.apply(a, b)


def dot(input, tensor):
    """The dot product of two 1-D tensors (a 0-d tensor)."""
    a, b = _operands("dot", input, tensor, ("input", "tensor"))
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a._data.dtype != b._data.dtype:
        raise RuntimeError(
            f"dot : expected both vectors to have same dtype, but found {a._data.dtype} and "
            f"{b._data.dtype}"
        )
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(_mismatch(a.shape, b.shape))
    return MatMul.apply(a, b)


def vdot(input, other):
    """dot(conj(input), other) of two 1-D tensors; the same as dot for real tensors."""
    if input._data.dtype.kind == "c":
        raise NotImplementedError("vdot of complex tensors is not implemented in chainrule")
    return dot(input, other)


def inner(input, other):
    """Σ over the last dims of both (a product if either is 0-d)."""
    a, b = _operands("inner", input, other)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(
            "inner() the last dimension must match on both input tensors but got shapes "
            f"{list(a.shape)} and {list(b.shape)}"
        )
    return tensordot(a, b, ([-1], [-1]))


def outer(input, vec2):
    """The outer product of two 1-D tensors: out[i, j] = input[i] · vec2[j]."""
    a, b = _operands("outer", input, vec2, ("input", "vec2"))
    if a.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument self, but got {a.ndim}-D")
    if b.ndim != 1:
        raise RuntimeError(f"outer: Expected 1-D argument vec2, but got {b.ndim}-D")
    return a.reshape(-1, 1) * b


ger = outer


def _scaled_sum(input, product, beta, alpha):
    """beta·input + alpha·product; with beta = 0 the input is ignored (NaN in it included)."""
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return (input if beta == 1 else input * beta) + product


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta·input + alpha·(mat1 @ mat2), input broadcast to the product's shape."""
    if _amp.active:
        input, mat1, mat2 = _amp.autocast_inputs("lower", input, mat1, mat2)
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """beta·input + alpha·(mat @ vec)."""
    if _amp.active:
        input, mat, vec = _amp.autocast_inputs("lower_cuda", input, mat, vec)
    return _scaled_sum(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """beta·input + alpha·outer(vec1, vec2)."""
    if _amp.active:
        input, vec1, vec2 = _amp.autocast_inputs("lower_cuda", input, vec1, vec2)
    return _scaled_sum(input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta·input + alpha·bmm(batch1, batch2)."""
    if _amp.active:
        input, batch1, batch2 = _amp.autocast_inputs("lower", input, batch1, batch2)
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta·input + alpha·Σ_b batch1[b] @ batch2[b]."""
    if _amp.active:
        input, batch1, batch2 = _amp.autocast_inputs("lower", input, batch1, batch2)
    return _scaled_sum(input, bmm(batch1, batch2).sum(0), beta, alpha)


# ------------------------------------------------------------------------------------ einsum
class Einsum(Op):
    """y = einsum(eq, x₁, …, xₙ);  gx_k = einsum(out, other operands -> subscripts of x_k)"""

    @staticmethod
    def forward(ctx, equation, *xs):
        ctx.save_for_backward(*xs)
        ctx.equation = equation
        dtype = xs[0].dtype
        if dtype.itemsize == 2 and dtype.kind in "fV":  # half precision: in float32, as MatMul
            y = array_module(xs[0]).einsum(equation, *map(_up, xs), optimize=len(xs) > 1)
            return y.astype(dtype)
        y = array_module(xs[0]).einsum(equation, *xs, optimize=len(xs) > 1)
        if len(xs) == 1 and getattr(y, "base", None) is not None:
            y = y.copy()  # a transpose or diagonal comes back as a view of x
        return y

    @staticmethod
    def backward(ctx, gy):
        xs = ctx.saved_tensors
        if xs[0].dtype.itemsize == 2 and xs[0].dtype.kind in "fV" and not isinstance(gy, Tensor):
            return _grads_in_float32(Einsum, ctx, gy)
        lhs, out = ctx.equation.split("->")
        terms = lhs.split(",")
        grads = [None]
        for k in range(len(xs)):
            need = ctx.needs_input_grad[k + 1]
            grads.append(_einsum_grad(ctx.equation, terms, out, xs, k, gy) if need else None)
        return tuple(grads)


def _einsum_grad(equation, terms, out, xs, k, gy):
    """The einsum that gives operand k's gradient: gy and the other operands contracted to x_k's
    subscripts. A subscript repeated in x_k (a diagonal) gets a fresh letter tied to it by an
    identity matrix; one that only x_k has gets a ones vector."""
    x = xs[k]
    xp = array_module(x)  # a Tensor under create_graph, where gy may still be an array
    rxp = array_module(x._data if isinstance(x, Tensor) else x)
    dtype = x.dtype
    in_terms = [out] + [t for j, t in enumerate(terms) if j != k]
    ops = [gy] + [o for j, o in enumerate(xs) if j != k]
    fresh = (c for c in string.ascii_letters if c not in equation)
    target = []
    for pos, c in enumerate(terms[k]):
        if c in target:
            c2 = next(fresh, None)
            if c2 is None:
                raise NotImplementedError(f"einsum backward: too many subscripts in '{equation}'")
            in_terms.append(c + c2)
            ops.append(rxp.eye(x.shape[pos], dtype=dtype))
            c = c2
        target.append(c)
    present = set("".join(in_terms))
    for pos, c in enumerate(terms[k]):
        if c not in present:
            in_terms.append(c)
            ops.append(rxp.ones(x.shape[pos], dtype=dtype))
            present.add(c)
    g = xp.einsum(",".join(in_terms) + "->" + "".join(target), *ops, optimize=len(ops) > 1)
    if any(gs < xs_ for gs, xs_ in zip(g.shape, x.shape)):
        # x_k was broadcast against size-1 dims: expand (the engine sums the other direction)
        g = xp.broadcast_to(g, tuple(max(gs, xs_) for gs, xs_ in zip(g.shape, x.shape)))
    return g


def _einsum_error(msg: str):
    return RuntimeError(f"einsum(): {msg}")


def _parse_einsum(equation: str, shapes) -> str:
    """The equation with spaces dropped, ellipses spelled out as letters and the output made
    explicit; raises PyTorch's errors for malformed equations."""
    for i, c in enumerate(equation):
        if not (c in string.ascii_letters or c in ".,-> "):
            raise _einsum_error(
                f"invalid subscript given at index {i} in the equation string, subscripts must "
                "be in [a-zA-Z]"
            )
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(shapes):
        raise _einsum_error("fewer operands were provided than specified in the equation")
    if len(terms) < len(shapes):
        raise _einsum_error("more operands were provided than specified in the equation")
    n_ell = []
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        if "..." in t:
            if t.count(".") != 3:
                raise _einsum_error(f"found '.' for operand {i} that is not part of any ellipsis")
            n = len(shape) - (len(t) - 3)
            if n < 0:
                raise _einsum_error(
                    f"the number of subscripts in the equation ({len(t) - 3}) is more than the "
                    f"number of dimensions ({len(shape)}) for operand {i}"
                )
            n_ell.append(n)
        else:
            if "." in t:
                raise _einsum_error(f"found '.' for operand {i} that is not part of any ellipsis")
            if len(t) != len(shape):
                raise _einsum_error(
                    f"the number of subscripts in the equation ({len(t)}) does not match the "
                    f"number of dimensions ({len(shape)}) for operand {i} and no ellipsis was given"
                )
            n_ell.append(0)
    n_max = max(n_ell, default=0)
    free = [c for c in string.ascii_letters if c not in eq]
    if n_max > len(free):
        raise NotImplementedError(f"einsum(): '{equation}' needs more than 52 subscripts")
    ell = "".join(free[:n_max])
    terms = [t.replace("...", ell[n_max - n :]) for t, n in zip(terms, n_ell)]
    if arrow:
        if out.count(".") not in (0, 3) or (out.count(".") == 3 and "..." not in out):
            raise _einsum_error("found '.' for output that is not part of any ellipsis")
        out = out.replace("...", ell)
    else:
        letters = "".join(terms)
        out = ell + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        )
    _check_einsum_sizes(terms, out, shapes)
    return ",".join(terms) + "->" + out


def _check_einsum_sizes(terms, out, shapes) -> None:
    for c in out:
        if out.count(c) > 1:
            raise _einsum_error(f"output subscript {c} appears more than once in the output")
        if not any(c in t for t in terms):
            raise _einsum_error(
                f"output subscript {c} does not appear in the equation for any input operand"
            )
    sizes: dict = {}
    for i, (t, shape) in enumerate(zip(terms, shapes)):
        mine: dict = {}
        for c, s in zip(t, shape):
            if c in mine and mine[c] != s:
                raise _einsum_error(
                    f"subscript {c} is repeated for operand {i} but the sizes don't match, "
                    f"{mine[c]} != {s}"
                )
            mine[c] = s
        for c, s in mine.items():
            seen = sizes.get(c)
            if seen is not None and s != seen and 1 not in (s, seen):
                raise _einsum_error(
                    f"subscript {c} has size {s} for operand {i} which does not broadcast with "
                    f"previously seen size {seen}"
                )
            sizes[c] = s if seen is None or seen == 1 else seen


def _sublist_equation(args):
    """einsum(op0, [0, 1], op1, [1, 2], [0, 2]): PyTorch's sublist format, as an equation."""

    def letters(sub):
        return "".join("..." if s is Ellipsis else string.ascii_letters[int(s)] for s in sub)

    ops = list(args[0::2][: len(args) // 2])
    subs = list(args[1::2][: len(args) // 2])
    out = args[-1] if len(args) % 2 else None
    eq = ",".join(letters(s) for s in subs)
    if out is not None:
        eq += "->" + letters(out)
    return eq, ops


def einsum(equation, *operands):
    """Einstein summation: ``einsum("bij,bjk->bik", a, b)``.

    Supports repeated subscripts in an operand (diagonals), ``...`` with broadcasting, the
    implicit output (subscripts used once, in alphabetical order), operands passed as one list,
    and PyTorch's sublist format ``einsum(a, [0, 1], b, [1, 2], [0, 2])``.

    Example:
        >>> import chainrule as torch
        >>> torch.einsum("ii->", torch.eye(3))
        tensor(3.)
    """
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation,) + operands)
    elif len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    xs = [_tensor(o, "einsum", "operands", i + 2) for i, o in enumerate(operands)]
    if _amp.active:
        xs = _amp.autocast_inputs("lower", *xs)
    eq = _parse_einsum(equation, [x.shape for x in xs])
    check_same_device(*xs)
    for i, x in enumerate(xs[1:], 1):
        if x._data.dtype != xs[0]._data.dtype:
            raise RuntimeError(
                f"einsum(): expected all operands to have the same dtype, but operand {i} is "
                f"{x._data.dtype} and operand 0 is {xs[0]._data.dtype}; cast with .to(dtype)"
            )
    return Einsum.apply(eq, *xs)


def tensordot(a, b, dims=2):
    """Contract dims of a with dims of b: ``dims`` an int (the last n of a with the first n of
    b) or a pair of lists ``([dims of a], [dims of b])``. Free dims of a come first."""
    a, b = _operands("tensordot", a, b, ("a", "b"))
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        dims_a, dims_b = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, int) else list(d) for d in dims)
    if len(dims_a) != len(dims_b):
        raise RuntimeError("both dimension lists should have same length")
    dims_a = [d % a.ndim for d in dims_a]
    dims_b = [d % b.ndim for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[da]} in dim "
                f"{da} and second has size {b.shape[db]} in dim {db}"
            )
    letters = string.ascii_letters
    sa = letters[: a.ndim]
    sb = list(letters[a.ndim : a.ndim + b.ndim])
    for da, db in zip(dims_a, dims_b):
        sb[db] = sa[da]
    out = "".join(c for i, c in enumerate(sa) if i not in dims_a)
    out += "".join(c for i, c in enumerate(sb) if i not in dims_b)
    return einsum(f"{sa},{''.join(sb)}->{out}", a, b)


def kron(input, other):
    """The Kronecker product: block (i, j) of the result is input[i, j] · other."""
    a, b = _operands("kron", input, other)
    n = max(a.ndim, b.ndim)
    sa = (1,) * (n - a.ndim) + tuple(a.shape)
    sb = (1,) * (n - b.ndim) + tuple(b.shape)
    a2 = a.reshape(tuple(s for d in sa for s in (d, 1)))
    b2 = b.reshape(tuple(s for d in sb for s in (1, d)))
    return (a2 * b2).reshape(tuple(x * y for x, y in zip(sa, sb)))


# ------------------------------------------------------------------------------- trace, diag
class Diag(Op):
    """1-D x: y = a matrix of `shape` with x on diagonal k;  gx = diagonal k of gy.
    2-D x: y = diagonal k of x;  gx = zeros with gy on diagonal k."""

    @staticmethod
    def forward(ctx, x, k, shape):
        ctx.k = k
        ctx.shape = x.shape
        return _diag_arrays(x, k, shape)

    @staticmethod
    def backward(ctx, gy):
        return _diag(gy, ctx.k, ctx.shape if len(ctx.shape) == 2 else None), None, None


def _diag_arrays(x, k, shape):
    xp = array_module(x)
    if x.ndim == 2:
        return xp.diagonal(x, k).copy()
    y = xp.zeros(shape, dtype=x.dtype)
    i = xp.arange(x.shape[0])
    y[i + max(-k, 0), i + max(k, 0)] = x
    return y


def _diag(a, k, shape):
    """Diag on arrays, or (differentiably) on Tensors."""
    if isinstance(a, Tensor):
        return Diag.apply(a, k, shape)
    return _diag_arrays(a, k, shape)


def diag(input, diagonal: int = 0):
    """1-D input: a square matrix with input on diagonal `diagonal` (above the main one when
    positive). 2-D input: diagonal `diagonal` of it, as a 1-D tensor (a copy)."""
    if input.ndim == 1:
        n = input.shape[0] + abs(diagonal)
        return Diag.apply(input, diagonal, (n, n))
    if input.ndim == 2:
        return Diag.apply(input, diagonal, None)
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def trace(input):
    """The sum of the main diagonal of a 2-D tensor."""
    if _amp.active:
        (input,) = _amp.autocast_inputs("fp32", input)
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return Diag.apply(input, 0, None).sum()


# ----------------------------------------------------------------- NumPy names for backward rules
def _np_swapaxes(x, a1, a2):
    from .shape import transpose

    return transpose(x if isinstance(x, Tensor) else Tensor._make(x), a1, a2)


def _np_einsum(equation, *operands, optimize=False):
    return einsum(equation, *(o if isinstance(o, Tensor) else Tensor._make(o) for o in operands))


tensor_numpy.register(matmul=matmul, swapaxes=_np_swapaxes, einsum=_np_einsum)

_PRODUCTS = [
    "matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv",
    "addr", "baddbmm", "addbmm", "einsum", "tensordot", "kron", "trace", "diag",
]  # fmt: skip
METHODS = [n for n in _PRODUCTS if n not in ("einsum", "tensordot")]
__all__ = _PRODUCTS
