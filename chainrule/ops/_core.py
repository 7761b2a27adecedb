"""What every op family shares: the op base class, dims, type promotion and in-place commits."""

from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import engine
from ..autograd.engine import Function, _apply_arrays, _Version
from ..backend import array_module
from ..tensor import Tensor


class Op(Function):
    """Base of chainrule's own ops: forward and backward work on raw arrays (see Function)."""

    __slots__ = ()
    on_arrays = True
    apply = classmethod(_apply_arrays)


# ------------------------------------------------------------------------------------ dims
def canonical_dim(dim: int, ndim: int) -> int:
    """Turn a possibly negative dim into 0..ndim-1, with PyTorch's error for out-of-range."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n


def canonical_dims(dim, ndim: int) -> tuple[int, ...]:
    """dim=None -> all dims; an int or a sequence -> sorted canonical dims."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, numbers.Integral):
        return (canonical_dim(int(dim), ndim),)
    dims = tuple(canonical_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {tuple(dim)} appears multiple times in the list of dims")
    return dims if dims else tuple(range(ndim))


def shape_arg(args) -> tuple[int, ...]:
    """Accept f(2, 3), f((2, 3)), f([2, 3]) and f(Size) alike."""
    if len(args) == 1 and not isinstance(args[0], numbers.Integral):
        args = args[0]
    return tuple(int(a) for a in args)


# ------------------------------------------------------------------------------- promotion
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "V": 2, "c": 3}  # 'V': bfloat16's kind


def category(dt) -> int:
    return _CATEGORY[dt.kind]


def _scalar_dtype(x):
    if isinstance(x, bool):
        return backend.bool_
    if isinstance(x, numbers.Integral):
        return backend.int64
    if isinstance(x, numbers.Real):
        return backend.get_default_dtype()
    if isinstance(x, numbers.Complex):
        return (
            backend.complex64
            if backend.get_default_dtype() != backend.float64
            else backend.complex128
        )
    raise TypeError(f"unsupported operand type {type(x).__name__}")


def promote_types(a, b):
    """PyTorch's promote_types for two dtypes: within a category (bool < int < float < complex)
    the wider one; across categories the higher category's dtype, so int64 + float16 is float16
    (NumPy would widen to float64)."""
    if a == b:
        return a
    ca, cb = category(a), category(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if category(hi) == 3 and lo == backend.float64:
            return backend.complex128
        return hi
    if {a, b} == {backend.bfloat16, backend.float16}:
        return backend.float32
    if a == backend.bfloat16 or b == backend.bfloat16:
        other = b if a == backend.bfloat16 else a
        return np.promote_types(other, backend.float32)
    return np.promote_types(a, b)


def result_type(*operands):
    """PyTorch's result type: dimensioned tensors outrank 0-d tensors, which outrank Python
    numbers, unless a lower-ranked operand is of a higher category (bool < int < float < complex).
    """
    groups = [None, None, None]  # promoted dtype of: dimensioned tensors, 0-d tensors, scalars
    for x in operands:
        if isinstance(x, Tensor):
            rank = 0 if x._data.ndim else 1
            dt = x._data.dtype
        else:
            rank = 2
            dt = _scalar_dtype(x)
        groups[rank] = dt if groups[rank] is None else promote_types(groups[rank], dt)
    result = None
    for rank, dt in enumerate(groups):
        if dt is None:
            continue
        if result is None:
            result = dt
        elif category(dt) > category(result):
            if rank < 2:
                result = dt
            elif category(dt) == 2:
                result = backend.get_default_dtype()
            elif category(dt) == 3:
                result = backend.complex128 if result == backend.float64 else backend.complex64
            else:
                result = dt
    return result


_PY_SCALARS = (float, int, bool)


def _as_operand(x):
    """Python numbers stay numbers (NumPy treats them as weak, like PyTorch); arrays become
    constant Tensors."""
    if isinstance(x, np.generic):  # first: np.float64 is also a numbers.Number
        return x.item()
    if type(x) in _PY_SCALARS or isinstance(x, Tensor | numbers.Number):
        return x
    if isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__"):
        return Tensor._make(x)
    if isinstance(x, list | tuple):
        from .creation import tensor

        return tensor(x)
    raise TypeError(
        f"unsupported operand type {type(x).__name__}: expected a Tensor, a number or an array"
    )


def operands(a, b):
    """Bring two operands of an elementwise op to their common dtype (PyTorch's promotion),
    casting differentiably where a Tensor has to change dtype."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a._data.dtype, b._data.dtype
        if da is db or da == db:
            if a._data.__class__ is not b._data.__class__:
                check_same_device(a, b)
            return a, b
        dt = result_type(a, b)
        check_same_device(a, b)
        return (a if da == dt else cast(a, dt)), (b if db == dt else cast(b, dt))
    a = _as_operand(a)
    b = _as_operand(b)
    t, s = (a, b) if isinstance(a, Tensor) else (b, a)
    if not isinstance(s, Tensor):
        if type(s) is float and t._data.dtype.kind in "fc":
            return a, b  # the common case: float tensor and a Python float keep the tensor's dtype
        if t._data.dtype == backend.bfloat16 and category(_scalar_dtype(s)) <= 2:
            # ml_dtypes' bfloat16 is not a NumPy float: NumPy would make bfloat16 + 2.5 float32
            s = t._data.dtype.type(s)
            return (t, s) if t is a else (s, t)
        # a Python number: NumPy's weak scalars already give PyTorch's answer when the number's
        # category is not above the tensor's (float32 tensor * 2.0 stays float32)
        if category(_scalar_dtype(s)) <= category(t._data.dtype):
            return a, b
        dt = result_type(t, s)
        t2 = cast(t, dt)
        return (t2, b) if t is a else (a, t2)
    return operands(a, b)


def check_same_device(*tensors) -> None:
    devs = {t.device for t in tensors if isinstance(t, Tensor)}
    if len(devs) > 1:
        names = ", ".join(sorted(str(d) for d in devs))
        raise RuntimeError(
            f"Expected all tensors to be on the same device, but found at least two devices: "
            f"{names}. Move them with .to(device) first."
        )


_REAL = np.dtype(np.float32)


def _conj_if_complex(a, b):
    """a and b, conjugated if either is complex: the gradient of a product of complex numbers
    takes the other factor's conjugate (PyTorch's conjugate-Wirtinger convention)."""
    if getattr(a, "dtype", _REAL).kind != "c" and getattr(b, "dtype", _REAL).kind != "c":
        if type(a) is not complex and type(b) is not complex:
            return a, b
    return _conj(a), _conj(b)


def _conj(v):
    if type(v) is complex:
        return v.conjugate()
    if getattr(v, "dtype", _REAL).kind == "c":
        return array_module(v).conj(v)
    return v


class Cast(Op):
    """y = x as another dtype;  gx = gy cast back"""

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.src = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        if gy.dtype.kind == "c" and ctx.src.kind != "c":
            gy = gy.real  # a real value cast to complex: its gradient is the real part
        return _astype(gy, ctx.src), None


def _astype(a, dtype):
    return a.to(dtype) if isinstance(a, Tensor) else a.astype(dtype)


def cast(x: Tensor, dtype) -> Tensor:
    """x converted to `dtype`; differentiable between floating dtypes, cut from the graph into
    integer or bool dtypes (which cannot carry gradients)."""
    if x._data.dtype == dtype:
        return x
    if dtype.kind not in "fcV":
        return Tensor._make(x._data.astype(dtype))
    return Cast.apply(x, dtype)


# ------------------------------------------------------------------------------- in-place
def writeable(x: Tensor) -> bool:
    """Whether x's memory can be written. A 0-d result of a NumPy op is a NumPy scalar, which is
    immutable: it is swapped for a 0-d array (nothing can share a scalar's memory)."""
    if isinstance(x._data, np.generic):
        x._data = np.array(x._data)
    return x._data.flags.writeable


def check_inplace(x: Tensor, op: str) -> None:
    if engine._grad_enabled and x.requires_grad and x.grad_fn is None:
        raise RuntimeError(
            f"a leaf Variable that requires grad is being used in an in-place operation ({op}). "
            "Leaves keep their value for .grad to refer to: wrap parameter updates in "
            "`with torch.no_grad():`, or use the out-of-place form."
        )


def commit_inplace(x: Tensor, out: Tensor, op: str) -> Tensor:
    """Make `x` hold `out`'s value in x's own memory (views see it) and take out's place in the
    graph. `out` is the out-of-place result of the op on x."""
    check_inplace(x, op)
    if tuple(out._data.shape) != tuple(x._data.shape):
        raise RuntimeError(
            f"output with shape {list(x._data.shape)} doesn't match the broadcast shape "
            f"{list(out._data.shape)} in {op}: an in-place op cannot grow its tensor; use the "
            "out-of-place form"
        )
    if out._data.dtype != x._data.dtype:
        if category(out._data.dtype) > category(x._data.dtype):
            raise RuntimeError(
                f"result type {backend.dtype_name(out._data.dtype)} can't be cast to the desired "
                f"output type {backend.dtype_name(x._data.dtype)} in {op}"
            )
        out = cast(out, x._data.dtype)
    node = out.grad_fn if (engine._grad_enabled and out.requires_grad) else None
    if node is not None and node.saved:
        _protect_saved(node, x)
    if not writeable(x):
        raise RuntimeError(
            f"{op} on a tensor whose memory is read-only (an expanded or broadcast view): "
            "call .clone() first"
        )
    rebase = node is not None and x._base is not None
    rebase = rebase and (x._base.requires_grad or out.requires_grad)
    if rebase:  # refuse before writing: a refused op must leave the data alone
        _check_rebase(x, op)
    x._data[...] = out._data
    x._vc.bump(op)
    if node is None:  # under no_grad, history is kept (saved-tensor checks catch misuse)
        return x
    if rebase:
        _rebase_view(x, out, op)
        return x
    x.grad_fn = node
    x._output_nr = out._output_nr
    x.requires_grad = True
    return x


def _protect_saved(node, x: Tensor) -> None:
    """The new node saved x's array, which is about to be overwritten: give it its own copy."""
    saved = list(node.saved)
    meta = list(node._saved_meta or [None] * len(saved))
    for i, s in enumerate(saved):
        if s is x._data:
            saved[i] = s.copy()
            if meta[i] is not None:
                meta[i] = (meta[i][0], meta[i][1], _Version(), 0)
    node.saved = tuple(saved)
    node._saved_meta = meta


def _check_rebase(x: Tensor, op: str) -> None:
    if x._view_idx is None:
        raise RuntimeError(
            f"{op}: in-place operation on a view (made by reshape/transpose/expand…) of a tensor "
            "that requires grad is not supported by chainrule. Index with [] to make the view, "
            "use the out-of-place form, or .clone() the view first."
        )
    check_inplace(x._base, op)


def _rebase_view(x: Tensor, out: Tensor, op: str) -> None:
    """An in-place op on a view changes its base: the base gets a CopySlices node (its old value
    with the view's region replaced by `out`) and the view becomes a view of the new base."""
    base = x._base
    new_base = CopySlices.apply(base, out, x._view_idx)
    base.grad_fn = new_base.grad_fn
    base._output_nr = 0
    base.requires_grad = True
    view = apply_view_chain(base, x._view_idx)
    x.grad_fn = view.grad_fn
    x._output_nr = 0
    x.requires_grad = True


def apply_view_chain(base: Tensor, chain: tuple) -> Tensor:
    """base[i0][i1]… with graph recording (chain: the basic indices that made a view)."""
    from .index import getitem

    v = base
    for idx in chain:
        v = getitem(v, idx)
    return v


def _region(a, chain):
    for idx in chain:
        a = a[idx]
    return a


class CopySlices(Op):
    """y = base with y[view] = src (src already written into base's memory);
    g_base = gy with the region zeroed, g_src = gy[view]"""

    @staticmethod
    def forward(ctx, base, src, chain):
        ctx.chain = chain
        return base

    @staticmethod
    def backward(ctx, gy):
        data = gy._data if isinstance(gy, Tensor) else gy
        keep = array_module(data).ones(data.shape, dtype=data.dtype)
        _region(keep, ctx.chain)[...] = 0
        g_src = gy
        for idx in ctx.chain:
            g_src = g_src[idx]
        return gy * keep, g_src, None


class SetItem(Op):
    """y = x with y[idx] = v, written in x's memory;  gx = gy with y[idx] zeroed, gv = gy[idx]"""

    @staticmethod
    def forward(ctx, x, v, idx):
        ctx.idx = idx
        x[idx] = v
        return x

    @staticmethod
    def backward(ctx, gy):
        data = gy._data if isinstance(gy, Tensor) else gy
        keep = array_module(data).ones(data.shape, dtype=data.dtype)
        keep[ctx.idx] = 0
        return gy * keep, gy[ctx.idx], None


def is_array(x) -> bool:
    return isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__")
