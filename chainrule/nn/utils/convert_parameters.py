"""``parameters_to_vector`` and ``vector_to_parameters``, like ``torch.nn.utils``."""

from __future__ import annotations

from collections.abc import Iterable

from ...ops.shape import cat
from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def _check_same_device(param: Tensor, device):
    if device is not None and param.device != device:
        raise TypeError(
            "Found two parameters on different devices, this is currently not supported "
            f"({device} and {param.device}): move the model to one device first"
        )
    return param.device


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one vector (differentiable).

    Example:
        >>> import chainrule as torch
        >>> from chainrule.nn.utils import parameters_to_vector
        >>> parameters_to_vector([torch.ones(2, 2), torch.zeros(3)]).tolist()
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    """
    device = None
    flat = []
    for p in parameters:
        device = _check_same_device(p, device)
        flat.append(p.reshape(-1))
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Set the parameters' data from consecutive slices of `vec` (the inverse of
    ``parameters_to_vector``). As in PyTorch, each parameter's ``.data`` becomes a view of
    `vec`'s memory.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.nn.utils import vector_to_parameters
        >>> a, b = torch.zeros(2), torch.zeros(1)
        >>> vector_to_parameters(torch.tensor([1.0, 2.0, 3.0]), [a, b])
        >>> a.tolist(), b.tolist()
        ([1.0, 2.0], [3.0])
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device = None
    pointer = 0
    for p in parameters:
        device = _check_same_device(p, device)
        n = p.numel()
        if pointer + n > vec.numel():
            raise RuntimeError(
                f"vector_to_parameters: the vector has {vec.numel()} elements, fewer than the "
                f"parameters need (at least {pointer + n})"
            )
        p._data = vec._data.reshape(-1)[pointer : pointer + n].reshape(p._data.shape)
        pointer += n
