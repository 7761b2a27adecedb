"""Moving between devices and dtypes, copies and views of the graph."""

from __future__ import annotations

from .. import backend
from ..backend import array_module, as_dtype
from ..tensor import Tensor
from ._core import Op, cast


class ToDevice(Op):
    """y = x on another device;  gx = gy moved back"""

    @staticmethod
    def forward(ctx, x, dev):
        ctx.src = backend.device_of(x)
        return backend.to_device(x, dev)

    @staticmethod
    def backward(ctx, gy):
        return backend.to_device(gy, ctx.src), None


class Clone(Op):
    """y = a copy of x;  gx = gy"""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, gy):
        return gy


def _parse_to(args, kwargs):
    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    copy = kwargs.pop("copy", False)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, str | backend.device) and _is_device(a):
            device = a
        elif isinstance(a, bool):
            continue  # non_blocking / copy given positionally
        elif a is not None:
            dtype = a
    return device, dtype, copy


def _is_device(a) -> bool:
    if isinstance(a, backend.device):
        return True
    return a.split(":")[0] in ("cpu", "cuda")


def to(input: Tensor, *args, **kwargs) -> Tensor:
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``: returns `input`
    itself when nothing changes, like PyTorch."""
    device, dtype, copy = _parse_to(args, dict(kwargs))
    out = input
    if device is not None:
        dev = backend.device(device)
        if dev.type == "cuda" and dev.index is None:
            dev = backend.device("cuda", 0)
        if dev != input.device or (dev.type == "cuda" and dev.index != input.device.index):
            out = ToDevice.apply(out, dev)
    if dtype is not None:
        out = cast(out, as_dtype(dtype))
    if copy and out is input:
        out = clone(input)
    return out


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    return Clone.apply(input)


def contiguous(input: Tensor, memory_format=None) -> Tensor:
    if input._data.flags.c_contiguous:
        return input
    return Clone.apply(input)


def detach(input: Tensor) -> Tensor:
    return input.detach()


def _np_ascontiguous(x):
    return x


def _np_astype(x, dtype):
    return cast(x, dtype) if isinstance(x, Tensor) else x.astype(dtype)


def _xp_of(x):
    return array_module(x)


from . import tensor_numpy  # noqa: E402

tensor_numpy.register(astype=_np_astype, ascontiguousarray=_np_ascontiguous)

METHODS = ["clone", "contiguous"]
__all__ = ["clone", "detach"]
