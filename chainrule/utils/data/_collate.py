"""``default_collate`` (a list of samples -> one batch) and ``default_convert`` (arrays ->
tensors, for loaders without automatic batching), with PyTorch's rules."""

from __future__ import annotations

import collections.abc
from typing import Any

import numpy as np

from ...ops.creation import as_tensor, tensor
from ...ops.shape import stack
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERR = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"
)


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _is_numeric_array(x) -> bool:
    return isinstance(x, np.ndarray) and x.dtype.kind not in "SUaO"


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays (at any depth of dicts, tuples and lists) into tensors.

    Tuples become lists, as in PyTorch. Everything else is returned unchanged.
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray | np.generic) and type(data).__module__ == "numpy":
        if isinstance(data, np.str_ | np.bytes_) or data.dtype.kind in "SUaO":
            return data
        return as_tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {k: default_convert(v) for k, v in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, str | bytes):
        items = [default_convert(d) for d in data]
        try:
            return type(data)(items)
        except TypeError:
            return items
    return data


def default_collate(batch: list) -> Any:
    """Combine a list of samples into a batch, recursively, as PyTorch's ``default_collate``.

    Tensors and NumPy arrays are stacked into a new first dimension; Python floats become a
    float64 tensor, ints an int64 tensor, bools a bool tensor; strings stay a list; dicts,
    namedtuples, tuples and lists are collated field by field (tuples come back as lists).

    Example:
        >>> import chainrule as torch
        >>> from chainrule.utils.data import default_collate
        >>> b = default_collate([{"x": torch.zeros(3), "y": 1}, {"x": torch.ones(3), "y": 0}])
        >>> tuple(b["x"].shape), b["y"].tolist()
        ((2, 3), [1, 0])
    """
    return _collate(batch, "")


def _where(path: str) -> str:
    return f" (at sample{path})" if path else ""


def _collate(batch: list, path: str) -> Any:
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch")
    elem = batch[0]
    if isinstance(elem, Tensor):
        _check_same(batch, Tensor, path)
        _check_shapes([t.shape for t in batch], path, "tensor")
        return stack(list(batch), 0)
    if type(elem).__module__ == "numpy" and not isinstance(elem, np.str_ | np.bytes_):
        if isinstance(elem, np.ndarray):
            if not _is_numeric_array(elem):
                raise TypeError(_ERR.format(elem.dtype) + _where(path))
            _check_same(batch, np.ndarray, path)
            _check_shapes([a.shape for a in batch], path, "array")
            return Tensor._make(np.stack(batch))
        if isinstance(elem, np.generic):  # NumPy scalars: as_tensor keeps their dtype
            return as_tensor(np.asarray(batch))
    if isinstance(elem, float):
        return tensor(batch, dtype=np.float64)
    if isinstance(elem, int):  # bools included: tensor() gives them a bool dtype
        return tensor(batch)
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        _check_same(batch, collections.abc.Mapping, path)
        out = {}
        for key in elem:
            try:
                column = [d[key] for d in batch]
            except KeyError:
                missing = next(i for i, d in enumerate(batch) if key not in d)
                raise KeyError(
                    f"default_collate: sample {missing} has no key {key!r} that sample 0 "
                    f"has{_where(path)}; every sample in a batch needs the same keys"
                ) from None
            out[key] = _collate(column, f"{path}[{key!r}]")
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if _is_namedtuple(elem):
        fields = zip(elem._fields, zip(*batch))
        return type(elem)(*(_collate(list(column), f"{path}.{name}") for name, column in fields))
    if isinstance(elem, collections.abc.Sequence):
        n = len(elem)
        for i, s in enumerate(batch):
            if len(s) != n:
                raise RuntimeError(
                    "each element in list of batch should be of equal size: sample "
                    f"{i} has {len(s)} elements but sample 0 has {n}{_where(path)}"
                )
        columns = [_collate(list(c), f"{path}[{k}]") for k, c in enumerate(zip(*batch))]
        if isinstance(elem, tuple):
            return columns  # a list, as in PyTorch
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(_ERR.format(type(elem)) + _where(path))


def _check_same(batch, kind, path) -> None:
    for i, x in enumerate(batch):
        if not isinstance(x, kind):
            raise TypeError(
                f"default_collate: sample {i} is a {type(x).__name__} but sample 0 is a "
                f"{type(batch[0]).__name__}{_where(path)}; every sample needs the same structure"
            )


def _check_shapes(shapes, path, what) -> None:
    first = tuple(shapes[0])
    for i, s in enumerate(shapes):
        if tuple(s) != first:
            raise RuntimeError(
                f"default_collate: sample {i} is a {what} of shape {tuple(s)} but sample 0 has "
                f"shape {first}{_where(path)}. The samples of a batch are stacked, so they must "
                "have the same shape: resize or pad them in the dataset or in a collate_fn, or "
                "use batch_size=1."
            )
