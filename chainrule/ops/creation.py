"""Factories (tensor, zeros, arange, randn, …) and the random number generator."""

from __future__ import annotations

import json
import numbers

import numpy as np

from .. import backend
from ..backend import as_dtype, get_default_dtype
from ..tensor import Tensor
from ._core import shape_arg


# --------------------------------------------------------------------------------- generator
class Generator:
    """A random number generator: ``Generator().manual_seed(0)``, passed as ``generator=``.

    It wraps NumPy's PCG64, so a seed gives the same numbers on every machine (not the same
    numbers as PyTorch's Mersenne Twister).
    """

    def __init__(self, device="cpu"):
        self.device = backend.device(device)
        self._seed = 67280421310721
        self._np = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        seed = int(seed)
        if seed < 0:
            seed &= 0xFFFF_FFFF_FFFF_FFFF  # PyTorch accepts negative seeds the same way
        self._seed = seed
        self._np = np.random.Generator(np.random.PCG64(seed))
        return self

    def seed(self) -> int:
        s = int(np.random.SeedSequence().entropy) & 0xFFFF_FFFF_FFFF_FFFF
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Tensor:
        """The state as a uint8 tensor (JSON of the bit generator's state), like PyTorch's."""
        state = {"seed": self._seed, "bit_generator": self._np.bit_generator.state}
        raw = json.dumps(state).encode()
        return Tensor._make(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, state: Tensor) -> Generator:
        raw = bytes(np.asarray(state._data if isinstance(state, Tensor) else state, np.uint8))
        try:
            obj = json.loads(raw.decode())
            self._seed = obj["seed"]
            bitgen = np.random.PCG64()
            bitgen.state = obj["bit_generator"]
        except (ValueError, KeyError, TypeError) as e:
            raise RuntimeError(
                f"set_rng_state: this is not a state returned by chainrule's get_rng_state() ({e})"
            ) from None
        self._np = np.random.Generator(bitgen)
        return self


default_generator = Generator()


def _gen(generator) -> np.random.Generator:
    return (default_generator if generator is None else generator)._np


def manual_seed(seed: int) -> Generator:
    """Seed every chainrule generator (the CPU one, and the GPU one where present)."""
    default_generator.manual_seed(seed)
    if backend.cuda_available():
        from .. import cuda

        cuda.manual_seed_all(seed)
    return default_generator


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Tensor:
    return default_generator.get_state()


def set_rng_state(new_state: Tensor) -> None:
    default_generator.set_state(new_state)


# --------------------------------------------------------------------------------- helpers
def _finish(array, dtype, device, requires_grad) -> Tensor:
    if device is not None:
        dev = backend.device(device)
        if dev.type != "cpu":
            array = backend.to_device(array, dev)
    t = Tensor._make(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float_dtype(dtype):
    dt = as_dtype(dtype) if dtype is not None else get_default_dtype()
    return dt


def _infer_dtype(data) -> np.dtype:
    """PyTorch's inference for tensor(data): bools -> bool, ints -> int64, floats -> default."""
    if isinstance(data, bool | np.bool_):
        return backend.bool_
    if isinstance(data, numbers.Integral):
        return backend.int64
    if isinstance(data, numbers.Real):
        return get_default_dtype()
    if isinstance(data, numbers.Complex):
        return backend.complex64
    if isinstance(data, list | tuple):
        kinds = set()
        stack = list(data)
        while stack:
            x = stack.pop()
            if isinstance(x, list | tuple):
                stack.extend(x)
            elif isinstance(x, Tensor):
                kinds.add(x._data.dtype.kind)
            elif isinstance(x, bool | np.bool_):
                kinds.add("b")
            elif isinstance(x, numbers.Integral):
                kinds.add("i")
            elif isinstance(x, numbers.Real):
                kinds.add("f")
            elif isinstance(x, numbers.Complex):
                kinds.add("c")
            else:
                raise TypeError(f"Could not infer dtype of {type(x).__name__}")
        if "c" in kinds:
            return backend.complex64
        if "f" in kinds:
            return get_default_dtype()
        if "i" in kinds or "u" in kinds:
            return backend.int64
        if "b" in kinds:
            return backend.bool_
        return get_default_dtype()  # empty list
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _to_array(data):
    if isinstance(data, Tensor):
        return data._data
    if isinstance(data, list | tuple) and any(isinstance(x, Tensor) for x in data):
        return np.array([_to_array(x) for x in data])
    return data


# --------------------------------------------------------------------------------- factories
def tensor(data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory=False):
    """A new tensor holding a copy of `data` (a number, nested lists, an array or a tensor).

    Example:
        >>> import chainrule as torch
        >>> torch.tensor([[1, 2], [3, 4]]).dtype
        dtype('int64')
    """
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        arr = backend.to_numpy(data._data).copy() if device is not None else data._data.copy()
        if dtype is not None:
            arr = arr.astype(dtype)
        return _finish(arr, dtype, device or data.device, requires_grad)
    if isinstance(data, np.ndarray):
        arr = np.array(data, dtype=dtype, copy=True)
    elif hasattr(data, "__cuda_array_interface__"):
        arr = data.astype(dtype) if dtype is not None else data.copy()
        return _finish(arr, dtype, device or backend.device_of(arr), requires_grad)
    else:
        inferred = _infer_dtype(data) if dtype is None else dtype
        arr = np.array(_to_array(data), dtype=inferred)
    return _finish(arr, dtype, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Share memory with `data` where possible (a Tensor or an ndarray of the right dtype)."""
    dtype = as_dtype(dtype)
    if isinstance(data, Tensor):
        t = data if dtype is None else data.to(dtype)
        return t if device is None else t.to(device)
    if isinstance(data, np.ndarray):
        if dtype is None or data.dtype == dtype:
            return _finish(data, None, device, False)
        return _finish(data.astype(dtype), None, device, False)
    return tensor(data, dtype=dtype, device=device)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    if copy:
        return tensor(obj, dtype=dtype, device=device, requires_grad=requires_grad)
    t = as_tensor(obj, dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with `ndarray` (changes to one show in the other)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    as_dtype(ndarray.dtype)  # refuses unsupported dtypes with a clear message
    return Tensor._make(ndarray)


def _fill(shape_args, value, dtype, device, requires_grad, fn):
    shape = shape_arg(shape_args)
    dtype = as_dtype(dtype)
    if dtype is None:
        dtype = _infer_dtype(value) if value is not None else get_default_dtype()
    return _finish(fn(np, shape, dtype), dtype, device, requires_grad)


def zeros(*size, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    return _fill(size, None, dtype, device, requires_grad, lambda xp, s, d: xp.zeros(s, d))


def ones(*size, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    return _fill(size, None, dtype, device, requires_grad, lambda xp, s, d: xp.ones(s, d))


def empty(*size, out=None, dtype=None, device=None, requires_grad=False, layout=None,
          memory_format=None, pin_memory=False):  # fmt: skip
    return _fill(size, None, dtype, device, requires_grad, lambda xp, s, d: xp.empty(s, d))


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None):
    return _fill(
        (size,),
        fill_value,
        dtype,
        device,
        requires_grad,
        lambda xp, s, d: xp.full(s, fill_value, d),
    )


def _like(input: Tensor, dtype, device):
    return (
        tuple(input.shape),
        input.dtype if dtype is None else as_dtype(dtype),
        input.device if device is None else device,
    )


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None):  # fmt: skip
    shape, dt, dev = _like(input, dtype, device)
    return zeros(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None):  # fmt: skip
    shape, dt, dev = _like(input, dtype, device)
    return ones(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None):  # fmt: skip
    shape, dt, dev = _like(input, dtype, device)
    return empty(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None):  # fmt: skip
    shape, dt, dev = _like(input, dtype, device)
    return full(shape, fill_value, dtype=dt, device=dev, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, out=None, dtype=None, device=None, requires_grad=False,
           layout=None):  # fmt: skip
    """Values from `start` to `end` (exclusive) by `step`; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        dtype = get_default_dtype() if any(isinstance(v, float) for v in vals) else backend.int64
    arr = np.arange(*vals, dtype=as_dtype(dtype))
    return _finish(arr, dtype, device, requires_grad)


def linspace(start, end, steps, *, out=None, dtype=None, device=None, requires_grad=False,
             layout=None):  # fmt: skip
    arr = np.linspace(float(start), float(end), int(steps)).astype(_float_dtype(dtype))
    return _finish(arr, dtype, device, requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    arr = np.logspace(float(start), float(end), int(steps), base=base).astype(_float_dtype(dtype))
    return _finish(arr, dtype, device, requires_grad)


def eye(n, m=None, *, out=None, dtype=None, device=None, requires_grad=False, layout=None):
    arr = np.eye(int(n), None if m is None else int(m), dtype=_float_dtype(dtype))
    return _finish(arr, dtype, device, requires_grad)


# --------------------------------------------------------------------------------- random
def _random(shape_args, dtype, device, requires_grad, sample):
    shape = shape_arg(shape_args)
    dt = _float_dtype(dtype)
    arr = sample(shape).astype(dt, copy=False)
    return _finish(arr, dt, device, requires_grad)


def rand(*size, generator=None, out=None, dtype=None, device=None, requires_grad=False,
         layout=None):  # fmt: skip
    """Uniform samples on [0, 1)."""
    g = _gen(generator)
    return _random(size, dtype, device, requires_grad, lambda s: g.random(s))


def randn(*size, generator=None, out=None, dtype=None, device=None, requires_grad=False,
          layout=None):  # fmt: skip
    """Standard normal samples."""
    g = _gen(generator)
    return _random(size, dtype, device, requires_grad, lambda s: g.standard_normal(s))


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False, layout=None):  # fmt: skip
    """Integers uniform on [low, high): ``randint(10, (3,))`` or ``randint(2, 10, (3,))``."""
    if size is None:
        if high is None or isinstance(high, numbers.Integral):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    shape = shape_arg((size,))
    arr = _gen(generator).integers(int(low), int(high), shape)
    return _finish(arr.astype(as_dtype(dtype) or backend.int64), None, device, requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False, layout=None):
    arr = _gen(generator).permutation(int(n)).astype(as_dtype(dtype) or backend.int64)
    return _finish(arr, None, device, requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
              memory_format=None):  # fmt: skip
    shape, dt, dev = _like(input, dtype, device)
    return rand(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, layout=None,
               memory_format=None):  # fmt: skip
    shape, dt, dev = _like(input, dtype, device)
    return randn(shape, dtype=dt, device=dev, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False,
                 memory_format=None):  # fmt: skip
    if high is None:
        low, high = 0, low
    shape, dt, dev = _like(input, dtype, device)
    return randint(low, high, shape, dtype=dt, device=dev)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):  # fmt: skip
    """Normal samples; `mean`/`std` may be tensors (broadcast) or numbers with `size`."""
    g = _gen(generator)
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if size is None:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    else:
        shape = shape_arg((size,))
    like = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    dt = like.dtype if like is not None and dtype is None else _float_dtype(dtype)
    arr = (m + s * g.standard_normal(shape)).astype(dt)
    return _finish(arr, dt, device, requires_grad)


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """Samples of 0/1 with probabilities `input` (or the scalar `p`)."""
    probs = input._data if p is None else np.full(input.shape, p)
    arr = (_gen(generator).random(input.shape) < backend.to_numpy(probs)).astype(input.dtype)
    return _finish(arr, None, input.device, False)


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Indices sampled from the rows of `input` (non-negative weights, need not sum to 1)."""
    w = backend.to_numpy(input._data).astype(np.float64)
    single = w.ndim == 1
    if single:
        w = w[None]
    if (w < 0).any() or not np.isfinite(w).all():
        raise RuntimeError(
            "multinomial: probability tensor contains either inf, nan or element < 0"
        )
    g = _gen(generator)
    out = np.empty((w.shape[0], num_samples), np.int64)
    for i, row in enumerate(w):
        total = row.sum()
        if total <= 0:
            raise RuntimeError(
                "multinomial: invalid multinomial distribution (sum of probabilities <= 0)"
            )
        if not replacement and num_samples > np.count_nonzero(row):
            raise RuntimeError(
                "multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
                f"replacement (row {i} has {np.count_nonzero(row)} non-zero probabilities, "
                f"{num_samples} samples asked): pass replacement=True"
            )
        out[i] = g.choice(row.size, num_samples, replace=replacement, p=row / total)
    return _finish(out[0] if single else out, None, input.device, False)


def _tensor_ctor_data(args, dtype, device):
    """torch.Tensor(…): sizes give an uninitialised float tensor, data gives a float copy."""
    dt = as_dtype(dtype) or get_default_dtype()
    if not args:
        arr = np.empty((0,), dt)
    elif all(isinstance(a, numbers.Integral) for a in args) or (
        len(args) == 1 and isinstance(args[0], tuple) and type(args[0]).__name__ == "Size"
    ):
        arr = np.zeros(shape_arg(args), dt)
    else:
        (data,) = args
        arr = np.array(_to_array(data), dtype=dt)
    if device is not None:
        arr = backend.to_device(arr, backend.device(device))
    return arr


# ------------------------------------------------------------------- in-place random fills
def _fill_random(x: Tensor, sample, op: str) -> Tensor:
    """x[...] = sample(shape), drawn in float64 then cast to x's dtype (as init schemes need)."""
    from .elementwise import _write

    arr = sample(x._data.shape)
    return _write(x, backend.to_device(np.asarray(arr).astype(x._data.dtype), x.device), op)


def uniform_(input: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill input with samples from U(a, b)."""
    g = _gen(generator)
    return _fill_random(input, lambda s: g.uniform(a, b, s), "uniform_")


def normal_(input: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill input with samples from N(mean, std²)."""
    g = _gen(generator)
    return _fill_random(input, lambda s: g.normal(mean, std, s), "normal_")


def bernoulli_(input: Tensor, p: float = 0.5, *, generator=None) -> Tensor:
    """Fill input with 1 with probability p, else 0 (p a number or a tensor of probabilities)."""
    g = _gen(generator)
    prob = backend.to_numpy(p._data) if isinstance(p, Tensor) else p
    return _fill_random(input, lambda s: g.random(s) < prob, "bernoulli_")


def exponential_(input: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill input with samples from the exponential distribution of rate lambd."""
    g = _gen(generator)
    return _fill_random(input, lambda s: g.exponential(1.0 / lambd, s), "exponential_")


def random_(input: Tensor, from_: int = 0, to: int | None = None, *, generator=None) -> Tensor:
    """Fill input with integers uniform on [from_, to - 1] (to defaults to 2**mantissa bits or
    the dtype's maximum + 1, as in PyTorch)."""
    g = _gen(generator)
    if to is None:
        from_, to = 0, from_ if from_ else _random_top(input._data.dtype)
    return _fill_random(input, lambda s: g.integers(from_, to, s), "random_")


def _random_top(dt) -> int:
    if dt.kind == "f" or dt == backend.bfloat16:
        return 2 ** (np.finfo(dt).nmant + 1)
    if dt.kind == "b":
        return 2
    return int(np.iinfo(dt).max) + 1


METHODS = ["uniform_", "normal_", "bernoulli_", "exponential_", "random_"]

__all__ = [
    "Generator", "default_generator", "manual_seed", "seed", "initial_seed", "get_rng_state",
    "set_rng_state", "tensor", "as_tensor", "asarray", "from_numpy", "zeros", "ones", "empty",
    "full", "zeros_like", "ones_like", "empty_like", "full_like", "arange", "linspace",
    "logspace", "eye", "rand", "randn", "randint", "randperm", "rand_like", "randn_like",
    "randint_like", "normal", "bernoulli", "multinomial",
]  # fmt: skip
