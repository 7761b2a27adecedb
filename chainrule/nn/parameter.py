"""Parameter: a tensor that a Module registers as learnable; Buffer: one it registers as state."""

from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad and that ``Module.__setattr__`` registers as a parameter.

    Args:
        data: the initial value (a Tensor; its memory is shared, not copied). ``None`` gives an
            empty float tensor.
        requires_grad: whether the parameter learns (default True).

    Example:
        >>> import chainrule as torch
        >>> w = torch.nn.Parameter(torch.zeros(2, 3))
        >>> w.requires_grad, w.is_leaf
        (True, True)
    """

    __slots__ = ()

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            from ..ops.creation import empty

            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(data) expects a Tensor, got {type(data).__name__}: wrap it with "
                "chainrule.tensor(...) first"
            )
        self._init(data._data, requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __reduce_ex__(self, protocol):
        return (_rebuild_parameter, (Tensor.__reduce_ex__(self, protocol), self.requires_grad))


def _rebuild_parameter(reduced, requires_grad):
    fn, args = reduced
    return Parameter(fn(*args), requires_grad)


class Buffer(Tensor):
    """A tensor that ``Module.__setattr__`` registers as a buffer (state saved with the model
    but not learned), like ``torch.nn.Buffer``.

    Args:
        data: the value (memory shared, not copied).
        persistent: whether it appears in ``state_dict()``.
    """

    __slots__ = ("persistent",)

    def __init__(self, data: Tensor, *, persistent: bool = True):
        self._init(data._data, False)
        self.persistent = persistent
