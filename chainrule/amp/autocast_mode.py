"""``autocast``: mixed precision with PyTorch's op lists, as a context manager and a decorator.

Inside ``autocast("cpu", dtype=torch.bfloat16)`` the ops that PyTorch runs in lower precision
(matmul, mm, bmm, addmm, baddbmm, addbmm, einsum, linear, conv1d/2d) cast their floating inputs
to bfloat16 (or float16) first, and the ops that PyTorch keeps in float32 (the decompositions of
``torch.linalg``, the FFTs, ``quantile``, ``cdist``, ``trace``) cast theirs to float32. The cast
is chainrule's differentiable ``Cast`` op, so gradients flow back in each parameter's own dtype:
a float32 weight gets a float32 ``.grad``. float64 tensors are never cast, as in PyTorch.

An op opts in with two lines at its entry::

    if _amp.active:
        a, b = _amp.autocast_inputs("lower", a, b)

``active`` is one module global, True only while autocast is enabled for some device type, so
the check costs one attribute read when autocast is off. State is a per-device stack of
(enabled, dtype), which gives PyTorch's nesting: an inner ``autocast(enabled=False)`` turns
casting off inside, an inner block with another dtype overrides the outer one, and a block
without ``dtype`` inherits the enclosing block's. Differences from PyTorch: no weight-cast
cache (``cache_enabled`` is accepted), and the state is global rather than per thread.
"""

from __future__ import annotations

import functools
import warnings

from .. import backend

_DEFAULT_DTYPE = {"cpu": backend.bfloat16, "cuda": backend.float16}
_SUPPORTED = (backend.bfloat16, backend.float16)
_state = {"cpu": [(False, backend.bfloat16)], "cuda": [(False, backend.float16)]}
_cache_enabled = [True]

# True while autocast is enabled for any device type: the one global that ops read
active = False

# the lower-precision list that only CUDA has (PyTorch's CPU list leaves these in float32)
_CUDA_ONLY = "lower_cuda"


def _refresh() -> None:
    global active
    active = _state["cpu"][-1][0] or _state["cuda"][-1][0]


def is_autocast_available(device_type: str) -> bool:
    """Whether autocast can be used on ``device_type`` ("cpu" and "cuda")."""
    return str(device_type) in _state


def is_autocast_enabled(device_type: str = "cuda") -> bool:
    """Whether autocast is on for ``device_type`` (PyTorch's default, with no argument: CUDA)."""
    return _state[_device_type(device_type)][-1][0]


def get_autocast_dtype(device_type: str):
    """The lower-precision dtype autocast uses on ``device_type`` now."""
    return _state[_device_type(device_type)][-1][1]


def set_autocast_enabled(device_type, enabled=None) -> None:
    """``torch.set_autocast_enabled(device_type, enabled)`` (or the old ``(enabled)``: CUDA)."""
    if enabled is None:
        device_type, enabled = "cuda", device_type
    stack = _state[_device_type(device_type)]
    stack[-1] = (bool(enabled), stack[-1][1])
    _refresh()


def set_autocast_dtype(device_type: str, dtype) -> None:
    stack = _state[_device_type(device_type)]
    stack[-1] = (stack[-1][0], backend.as_dtype(dtype))


def is_autocast_cpu_enabled() -> bool:
    return is_autocast_enabled("cpu")


def get_autocast_cpu_dtype():
    return get_autocast_dtype("cpu")


def get_autocast_gpu_dtype():
    return get_autocast_dtype("cuda")


def is_autocast_cache_enabled() -> bool:
    return _cache_enabled[-1]


def set_autocast_cache_enabled(enabled: bool) -> None:
    _cache_enabled[-1] = bool(enabled)


def clear_autocast_cache() -> None:
    """Nothing to clear: chainrule keeps no cache of cast weights."""


def _device_type(device_type) -> str:
    name = str(device_type).partition(":")[0]
    if name not in _state:
        raise RuntimeError(
            f"User specified an unsupported autocast device_type '{device_type}': chainrule "
            "supports 'cpu' and 'cuda'"
        )
    return name


# ------------------------------------------------------------------------------- casting
_ops = None  # (engine, cast, promote_types, Tensor), bound at first use (amp loads before ops)


def _bind() -> None:
    global _ops
    from ..autograd import engine
    from ..ops._core import cast, promote_types
    from ..tensor import Tensor

    _ops = (engine, cast, promote_types, Tensor)


def _tensor_device_type(t) -> str:
    return "cpu" if t._data.__class__.__module__ == "numpy" else "cuda"


def autocast_inputs(policy: str, *tensors):
    """The op's tensor arguments as autocast wants them (call only when ``active``).

    policy: "lower" (PyTorch's lower-precision list on every device), "lower_cuda" (on CUDA
    only: mv, addmv, addr, chain_matmul…), "fp32" (the float32 list) or "promote" (the widest
    floating dtype among the inputs). Tensors that are not floating, are float64, or live on a
    device type whose autocast is off pass through, as do None and numbers. Nothing is cast
    while ``backward(create_graph=True)`` runs the rules as ops (they keep the forward's dtypes).
    """
    if _ops is None:
        _bind()
    engine, cast, promote_types, Tensor = _ops
    if engine._create_graph_active:
        return tensors
    out = list(tensors)
    if policy == "promote":
        widest = None
        for t in tensors:
            if isinstance(t, Tensor) and t._data.dtype.kind in "fV":
                dt = t._data.dtype
                widest = dt if widest is None else promote_types(widest, dt)
        for i, t in enumerate(tensors):
            if isinstance(t, Tensor) and t._data.dtype.kind in "fV" and t._data.dtype != widest:
                if _state[_tensor_device_type(t)][-1][0]:
                    out[i] = cast(t, widest)
        return tuple(out)
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            continue
        dt = t._data.dtype
        if dt.kind not in "fV" or dt == backend.float64:
            continue
        device = _tensor_device_type(t)
        enabled, fast = _state[device][-1]
        if not enabled or (policy == _CUDA_ONLY and device != "cuda"):
            continue
        target = backend.float32 if policy == "fp32" else fast
        if dt != target:
            out[i] = cast(t, target)
    return tuple(out)


def run_lower(fn, *args):
    """``fn(*args)`` for an op of the lower-precision list whose forward may compute half
    precision inputs in float32 (conv, linear): its floating tensor arguments cast to the
    autocast dtype, autocast off while it runs, and a float32 result rounded to that dtype."""
    global active
    cast_args = autocast_inputs("lower", *args)
    active = False
    try:
        y = fn(*cast_args)
    finally:
        _refresh()
    low = [a._data.dtype for a in cast_args if hasattr(a, "_data") and a._data.dtype.itemsize == 2]
    if low and hasattr(y, "_data") and y._data.dtype.kind in "fV" and y._data.dtype != low[0]:
        y = _ops[1](y, low[0])
    return y


# ------------------------------------------------------------------------------- autocast
class autocast:
    """``with autocast("cpu", dtype=torch.bfloat16):`` (or ``@autocast("cuda")``).

    Args:
        device_type: "cpu" or "cuda".
        dtype: the lower-precision dtype: bfloat16 or float16 (default: the enclosing block's,
            else bfloat16 on CPU and float16 on CUDA).
        enabled: False turns autocast off inside the block (also inside an enclosing one).
        cache_enabled: accepted for PyTorch compatibility (chainrule caches no casts).

    Example:
        >>> import chainrule as torch
        >>> w = torch.ones(3, 2, requires_grad=True)
        >>> with torch.autocast("cpu", dtype=torch.bfloat16):
        ...     y = torch.ones(4, 3) @ w
        >>> y.dtype == torch.bfloat16
        True
        >>> y.float().sum().backward()
        >>> w.grad.dtype == torch.float32  # the cast is differentiable
        True
    """

    def __init__(self, device_type: str, dtype=None, enabled: bool = True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = self.device_type = _device_type(device_type)
        if dtype is None:
            self.fast_dtype = get_autocast_dtype(self.device)
        else:
            self.fast_dtype = backend.as_dtype(dtype)
        self._cache_enabled = _cache_enabled[-1] if cache_enabled is None else bool(cache_enabled)
        enabled = bool(enabled)
        if enabled and self.device == "cuda" and not backend.cuda_available():
            warnings.warn(
                "CUDA is not available or torch_xla is imported. Disabling autocast.",
                UserWarning,
                stacklevel=2,
            )
            enabled = False
        elif enabled and self.fast_dtype not in _SUPPORTED:
            name = self.device.upper()
            warnings.warn(
                f"In {name} autocast, but the target dtype is not supported. Disabling "
                f"autocast.\n{name} Autocast only supports dtypes of chainrule.bfloat16, "
                "chainrule.float16 currently.",
                UserWarning,
                stacklevel=2,
            )
            enabled = False
        self._enabled = enabled

    def __enter__(self):
        _state[self.device].append((self._enabled, self.fast_dtype))
        _cache_enabled.append(self._cache_enabled)
        _refresh()
        return self

    def __exit__(self, *exc):
        _state[self.device].pop()
        _cache_enabled.pop()
        _refresh()
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. Did you "
                "mean to use autocast as a context manager? For example:\n"
                "    with torch.autocast(device_type=...):\n"
                "        output = model(input)"
            )

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self._twin():
                return func(*args, **kwargs)

        return wrapper

    def _twin(self) -> autocast:
        """A fresh block with the same settings (a decorated function may be re-entered)."""
        twin = object.__new__(autocast)
        twin.__dict__.update(self.__dict__)
        return twin


def cuda_autocast(enabled: bool = True, dtype=None, cache_enabled: bool = True) -> autocast:
    """``torch.cuda.amp.autocast(...)``: the deprecated spelling of ``autocast("cuda", ...)``."""
    return autocast("cuda", dtype=dtype or backend.float16, enabled=enabled)


def cpu_autocast(enabled: bool = True, dtype=None, cache_enabled: bool = True) -> autocast:
    """``torch.cpu.amp.autocast(...)``: the deprecated spelling of ``autocast("cpu", ...)``."""
    return autocast("cpu", dtype=dtype or backend.bfloat16, enabled=enabled)


# ------------------------------------------------------------------ custom Functions
def custom_fwd(fwd=None, *, device_type: str, cast_inputs=None):
    """Decorate a custom Function's ``forward``: with ``cast_inputs`` set and autocast on, cast
    its floating tensor arguments to that dtype and run it with autocast off."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(ctx, *args, **kwargs):
        ctx.__dict__["_dtype"] = get_autocast_dtype(device_type)
        enabled = is_autocast_enabled(device_type)
        if cast_inputs is None or not enabled:
            ctx.__dict__["_fwd_used_autocast"] = enabled and cast_inputs is None
            return fwd(ctx, *args, **kwargs)
        ctx.__dict__["_fwd_used_autocast"] = False
        target = backend.as_dtype(cast_inputs)
        with autocast(device_type, enabled=False):
            args = [_cast_value(a, device_type, target) for a in args]
            kwargs = {k: _cast_value(v, device_type, target) for k, v in kwargs.items()}
            return fwd(ctx, *args, **kwargs)

    return decorate_fwd


def custom_bwd(bwd=None, *, device_type: str):
    """Decorate a custom Function's ``backward``: it runs with the autocast state of forward."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(ctx, *args, **kwargs):
        enabled = ctx.__dict__.get("_fwd_used_autocast", False)
        dtype = ctx.__dict__.get("_dtype")
        with autocast(device_type, dtype=dtype, enabled=enabled):
            return bwd(ctx, *args, **kwargs)

    return decorate_bwd


def _cast_value(v, device_type: str, dtype):
    from ..tensor import Tensor

    if isinstance(v, Tensor):
        ok = v._data.dtype.kind in "fV" and v._data.dtype != backend.float64
        if ok and _tensor_device_type(v) == device_type:
            return v.to(dtype)
        return v
    if isinstance(v, list | tuple):
        return type(v)(_cast_value(x, device_type, dtype) for x in v)
    if isinstance(v, dict):
        return {k: _cast_value(x, device_type, dtype) for k, x in v.items()}
    return v
