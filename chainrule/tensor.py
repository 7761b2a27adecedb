"""Tensor: an array (NumPy or CuPy) with a gradient, a graph node and a version counter.

Methods are one-line calls into ``chainrule.ops``; the math lives there.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .autograd import engine as _engine
from .autograd.engine import _Version

_new = object.__new__


class Size(tuple):
    """A tensor's shape: a tuple that prints as ``chainrule.Size([2, 3])``."""

    __slots__ = ()

    def __repr__(self):
        return f"chainrule.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for d in self:
            n *= d
        return n


class Tensor:
    """A multi-dimensional array that records the operations applied to it for backward().

    Create tensors with ``chainrule.tensor``, ``zeros``, ``randn`` and the other factories; or
    ``Tensor(data)`` like ``torch.Tensor`` (float32).

    Example:
        >>> import chainrule as torch
        >>> x = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __slots__ = (
        "_data",
        "_grad",
        "requires_grad",
        "grad_fn",
        "_output_nr",
        "_ver",
        "_base",
        "_view_idx",
        "_hooks",
        "_post_hooks",
        "_retains_grad",
        "name",
        "__weakref__",
    )
    _is_chainrule_tensor = True
    __array_priority__ = 1000  # NumPy defers `ndarray + Tensor` to Tensor.__radd__

    def __init__(self, *args, dtype=None, device=None, requires_grad: bool = False):
        # torch.Tensor(data) / torch.Tensor(2, 3): float32 by default, like PyTorch
        from .ops.creation import _tensor_ctor_data

        self._init(_tensor_ctor_data(args, dtype, device), requires_grad)

    def _init(self, data, requires_grad=False, grad_fn=None, output_nr=0):
        self._data = data
        self._grad = None
        self.requires_grad = requires_grad
        self.grad_fn = grad_fn
        self._output_nr = output_nr
        self._ver = None
        self._base = None
        self._view_idx = None
        self._hooks = None
        self._post_hooks = None
        self._retains_grad = False
        self.name = None

    @staticmethod
    def _make(data, grad_fn=None, output_nr=0):
        """The fast constructor: wraps an array without copying or checking."""
        t = _new(Tensor)
        t._data = data
        t._grad = None
        t.requires_grad = grad_fn is not None
        t.grad_fn = grad_fn
        t._output_nr = output_nr
        t._ver = None
        t._base = None
        t._view_idx = None
        t._hooks = None
        t._post_hooks = None
        t._retains_grad = False
        t.name = None
        return t

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_ops.canonical_dim(dim, self._data.ndim)]

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self) -> backend.device:
        return backend.device_of(self._data)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    def ndimension(self) -> int:
        return self._data.ndim

    def numel(self) -> int:
        return int(self._data.size)

    def nelement(self) -> int:
        return int(self._data.size)

    def element_size(self) -> int:
        return self._data.dtype.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.dtype.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return backend.is_floating(self._data.dtype)

    def is_complex(self) -> bool:
        return backend.is_complex(self._data.dtype)

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags.c_contiguous)

    @property
    def _vc(self) -> _Version:
        """The in-place modification counter, shared with views (made when first needed)."""
        v = self._ver
        if v is None:
            v = self._ver = _Version()
        return v

    @_vc.setter
    def _vc(self, v: _Version) -> None:
        self._ver = v

    @property
    def _version(self) -> int:
        """How many times this tensor (or a view of its memory) was modified in place."""
        v = self._ver
        return 0 if v is None else v.value

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            import warnings

            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. "
                "Its .grad attribute won't be populated during autograd.backward(). If you "
                "indeed want the .grad field to be populated for a non-leaf Tensor, use "
                ".retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor by "
                "mistake, make sure you access the leaf Tensor instead.",
                UserWarning,
                stacklevel=2,
            )
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad expected to be a Tensor or None but got {type(value).__name__}"
                )
            if tuple(value.shape) != tuple(self.shape):
                raise RuntimeError(
                    f"assigned grad has data of a different size: grad {tuple(value.shape)} "
                    f"vs tensor {tuple(self.shape)}"
                )
        self._grad = value

    @property
    def T(self) -> Tensor:
        return _ops.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        return _ops.transpose(self, -2, -1)

    @property
    def H(self) -> Tensor:
        return self.T.conj() if self.is_complex() else self.T

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Compute the gradient of this tensor with respect to the graph leaves.

        Args:
            gradient: the gradient of some scalar with respect to this tensor; may be omitted
                for a scalar (it is then 1).
            retain_graph: keep saved values so that backward can run again (defaults to
                ``create_graph``).
            create_graph: record the backward pass, for gradients of gradients.
            inputs: accumulate only into these tensors' ``.grad``.
        """
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph (never requires grad)."""
        t = Tensor._make(self._data)
        t._vc = self._vc
        if _engine._debug is not None:
            _engine._debug.detached(self, t)
        return t

    @property
    def data(self) -> Tensor:
        """This tensor's values as a tensor that shares its memory but not its history.

        It never requires grad, and autograd does not see changes made through it: writing
        ``w.data.mul_(0.5)`` after ``w`` was saved for backward gives silently wrong gradients,
        where ``with chainrule.no_grad(): w.mul_(0.5)`` would raise. Prefer ``detach()`` and
        ``no_grad()``; ``.data`` exists for code written for PyTorch.
        """
        return Tensor._make(self._data)

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"Tensor.data must be set to a Tensor, got {type(value).__name__}; wrap it "
                f"first with chainrule.as_tensor(value)"
            )
        if value.device != self.device:
            raise RuntimeError(
                f"Tensor.data: the new data is on {value.device} but this tensor is on "
                f"{self.device}; move it first with .to({str(self.device)!r})"
            )
        self._data = value._data

    def detach_(self) -> Tensor:
        if self._base is not None and self._base.requires_grad:
            raise RuntimeError(
                "Can't detach views in-place. Use detach() instead, which returns a new tensor."
            )
        if _engine._debug is not None:
            _engine._debug.detached(self, self)
        self.grad_fn = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        if requires_grad and not (
            backend.is_floating(self._data.dtype) or backend.is_complex(self._data.dtype)
        ):
            raise RuntimeError(
                f"only Tensors of floating point and complex dtype can require gradients, "
                f"got {backend.dtype_name(self._data.dtype)}: convert first with .float()"
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        import weakref

        ref = weakref.ref(self)

        def keep(g):
            t = ref()
            if t is not None:
                t._grad = g.detach() if t._grad is None else t._grad + g.detach()

        self._retains_grad = True
        self.register_hook(keep)

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one.

        Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        from .autograd import RemovableHandle

        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            return RemovableHandle(self._hooks, hook)
        node = self.grad_fn
        if node._pre_hooks is None:
            node._pre_hooks = {}
        hooks = node._pre_hooks.setdefault(self._output_nr, {})
        return RemovableHandle(hooks, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after this leaf's ``.grad`` has been accumulated."""
        if self.grad_fn is not None:
            raise RuntimeError(
                "post accumulate grad hooks cannot be registered on non-leaf tensors"
            )
        from .autograd import RemovableHandle

        if self._post_hooks is None:
            self._post_hooks = {}
        return RemovableHandle(self._post_hooks, hook)

    # ------------------------------------------------------------------ conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        if self.device.type != "cpu":
            if not force:
                raise TypeError(
                    f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() "
                    "to copy the tensor to host memory first."
                )
            return backend.to_numpy(self._data)
        return self._data

    def item(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"a Tensor with {self._data.size} elements cannot be converted to Scalar "
                f"(shape {tuple(self.shape)}); index it or reduce it first, e.g. x.sum().item()"
            )
        return self._data.reshape(()).item() if self.device.type == "cpu" else self._data.item()

    def tolist(self):
        return backend.to_numpy(self._data).tolist()

    def __array__(self, dtype=None, copy=None):
        a = backend.to_numpy(self._data)
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous "
                f"(shape {tuple(self.shape)}): use .any() or .all()"
            )
        return bool(self.item())

    def __complex__(self):
        return complex(self.item())

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(_ops.unbind(self, 0))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        from .ops.printing import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self) if not spec else format(str(self), spec)

    def __reduce_ex__(self, protocol):
        # copying/pickling for DataLoader workers and deepcopy: data, requires_grad only
        if self.grad_fn is not None:
            raise RuntimeError(
                "Cowardly refusing to serialize non-leaf tensor which requires_grad, since "
                "autograd does not support crossing process boundaries: send .detach() instead"
            )
        return (_rebuild, (backend.to_numpy(self._data), self.requires_grad, str(self.device)))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support the "
                "deepcopy protocol at the moment. Use .detach().clone() first."
            )
        t = type(self).__new__(type(self))
        Tensor._init(t, self._data.copy(), self.requires_grad)
        if self._grad is not None:
            t._grad = Tensor._make(self._grad._data.copy())
        memo[id(self)] = t
        return t

    # ------------------------------------------------------------------ device and dtype
    def to(self, *args, **kwargs) -> Tensor:
        return _ops.to(self, *args, **kwargs)

    def cpu(self) -> Tensor:
        return _ops.to(self, "cpu")

    def cuda(self, device=None, non_blocking: bool = False) -> Tensor:
        return _ops.to(self, "cuda" if device is None else backend.device(device))

    def type(self, dtype=None):
        if dtype is None:
            return "chainrule." + _LEGACY_TYPES.get(self._data.dtype, str(self._data.dtype))
        return _ops.to(self, dtype)

    def type_as(self, other: Tensor) -> Tensor:
        """This tensor with other's type: its dtype and, as PyTorch's legacy types include it,
        its device."""
        return _ops.to(self, other.device, other.dtype)

    def float(self) -> Tensor:
        return _ops.to(self, backend.float32)

    def double(self) -> Tensor:
        return _ops.to(self, backend.float64)

    def half(self) -> Tensor:
        return _ops.to(self, backend.float16)

    def bfloat16(self) -> Tensor:
        return _ops.to(self, backend.bfloat16)

    def long(self) -> Tensor:
        return _ops.to(self, backend.int64)

    def int(self) -> Tensor:
        return _ops.to(self, backend.int32)

    def short(self) -> Tensor:
        return _ops.to(self, backend.int16)

    def char(self) -> Tensor:
        return _ops.to(self, backend.int8)

    def byte(self) -> Tensor:
        return _ops.to(self, backend.uint8)

    def bool(self) -> Tensor:
        return _ops.to(self, backend.bool_)

    # ------------------------------------------------------------------ operators
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(other, self)

    def __iadd__(self, other):
        return _ops.add_(self, other)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __isub__(self, other):
        return _ops.sub_(self, other)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(other, self)

    def __imul__(self, other):
        return _ops.mul_(self, other)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __itruediv__(self, other):
        return _ops.div_(self, other)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __ipow__(self, other):
        return _ops.pow_(self, other)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    def __invert__(self):
        return _ops.bitwise_not(self)

    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    def __rand__(self, other):
        return _ops.bitwise_and(other, self)

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    def __ror__(self, other):
        return _ops.bitwise_or(other, self)

    def __xor__(self, other):
        return _ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _ops.bitwise_xor(other, self)

    def __iand__(self, other):
        return self.bitwise_and_(other)

    def __ior__(self, other):
        return self.bitwise_or_(other)

    def __ixor__(self, other):
        return self.bitwise_xor_(other)

    def __eq__(self, other):
        return _ops.eq(self, other)

    def __ne__(self, other):
        return _ops.ne(self, other)

    def __lt__(self, other):
        return _ops.lt(self, other)

    def __le__(self, other):
        return _ops.le(self, other)

    def __gt__(self, other):
        return _ops.gt(self, other)

    def __ge__(self, other):
        return _ops.ge(self, other)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    def __setitem__(self, index, value):
        _ops.setitem_(self, index, value)

    def __contains__(self, value):
        return bool((self == value).any())


def _rebuild(array, requires_grad, device):
    t = Tensor._make(array)
    t.requires_grad = requires_grad
    if device != "cpu":
        t._data = backend.to_device(array, backend.device(device))
    return t


_LEGACY_TYPES = {
    backend.float32: "FloatTensor",
    backend.float64: "DoubleTensor",
    backend.float16: "HalfTensor",
    backend.bfloat16: "BFloat16Tensor",
    backend.int64: "LongTensor",
    backend.int32: "IntTensor",
    backend.int16: "ShortTensor",
    backend.int8: "CharTensor",
    backend.uint8: "ByteTensor",
    backend.bool_: "BoolTensor",
}

_engine.Tensor = Tensor

from . import ops as _ops  # noqa: E402  (ops import Tensor; methods resolve _ops at call time)
# Every public op that PyTorch also offers as a method becomes a Tensor method when chainrule.ops
# finishes importing (ops.install_methods), from the families' METHODS lists.
