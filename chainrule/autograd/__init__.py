"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function`` and grad modes."""

from __future__ import annotations

from .engine import (
    Function,
    detect_anomaly,
    enable_grad,
    inference_mode,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    once_differentiable,
    queue_callback,
    run_backward,
    set_detect_anomaly,
    set_grad_enabled,
)


class _ExecutionEngine:
    """``Variable._execution_engine``: where PyTorch code queues end-of-backward callbacks."""

    @staticmethod
    def queue_callback(callback) -> None:
        queue_callback(callback)


class _VariableMeta(type):
    def __instancecheck__(cls, other) -> bool:
        from ..tensor import Tensor

        return isinstance(other, Tensor)


class Variable(metaclass=_VariableMeta):
    """The old name of Tensor, for scripts written before PyTorch 0.4.

    ``Variable(t)`` is a tensor sharing ``t``'s memory, cut from its history;
    ``Variable(t, requires_grad=True)`` makes it a leaf that requires grad. Every tensor is an
    instance of ``Variable``.
    """

    _execution_engine = _ExecutionEngine()

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        from ..tensor import Tensor

        if not isinstance(data, Tensor):
            raise TypeError(
                f"Variable data has to be a tensor, but got {type(data).__name__}: wrap it "
                "first with chainrule.tensor(...)"
            )
        return data.detach().requires_grad_(requires_grad)


class RemovableHandle:
    """Returned by ``register_*hook``: ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict, hook):
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id
        self._hooks = hooks
        hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _as_list(x) -> list:
    from ..tensor import Tensor

    if x is None:
        return []
    if isinstance(x, Tensor):
        return [x]
    return list(x)


def _root_grads(outputs: list, grad_outputs: list, create_graph: bool) -> list:
    from ..tensor import Tensor

    if not grad_outputs:
        grad_outputs = [None] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"grad_outputs has {len(grad_outputs)} entries but there are {len(outputs)} outputs"
        )
    grads = []
    for k, (t, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(t, Tensor):
            raise TypeError(f"outputs must be Tensors, got {type(t).__name__} at position {k}")
        if not t.requires_grad:
            raise RuntimeError(_no_grad_message(t, k))
        if g is None:
            if t._data.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs, but output {k} has "
                    f"shape {tuple(t.shape)}. Reduce it to a scalar first (loss = out.sum() or "
                    ".mean()), or pass the gradient of a scalar with respect to it: "
                    "out.backward(gradient=torch.ones_like(out))."
                )
            ones = _xp(t._data).ones(t._data.shape, t._data.dtype)
            # under create_graph every gradient is a Tensor, so backward rules see one type
            grads.append(Tensor._make(ones) if create_graph else ones)
            continue
        if not isinstance(g, Tensor):
            from ..ops.creation import tensor as _tensor

            g = _tensor(g, dtype=t.dtype)
        if tuple(g.shape) != tuple(t.shape):
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{k}] has a shape of {tuple(g.shape)} and "
                f"output[{k}] has a shape of {tuple(t.shape)}."
            )
        if g.device != t.device:
            raise RuntimeError(
                f"grad_output[{k}] is on {g.device} but output[{k}] is on {t.device}"
            )
        grads.append(g if create_graph else g._data)
    return grads


def _xp(array):
    from ..backend import array_module

    return array_module(array)


def _no_grad_message(t, k: int) -> str:
    from . import engine

    why = "it is not the result of any op on a tensor that requires grad"
    if not engine._grad_enabled:
        why = (
            "gradient recording is off here (inside no_grad, inference_mode or a decorated "
            "function)"
        )
    elif t.grad_fn is None:
        why = (
            "it is a leaf created without requires_grad=True, or computed inside no_grad(), "
            "or reached through .detach(), .item() or .numpy()"
        )
    return (
        f"element {k} of tensors does not require grad and does not have a grad_fn: {why}. "
        "Check that the parameters you train have requires_grad=True and that the loss is "
        "computed from them; chainrule.debug.why_no_grad(loss, model) names the place the "
        "path was cut."
    )


def backward(
    tensors,
    grad_tensors=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    grad_variables=None,
    inputs=None,
) -> None:
    """Accumulate into ``.grad`` of the graph leaves the gradient of ``tensors``.

    Args:
        tensors: the tensors to differentiate (usually one scalar loss).
        grad_tensors: the gradient with respect to each of ``tensors`` (None for scalars).
        retain_graph: keep saved values for another backward; defaults to ``create_graph``.
        create_graph: record the backward pass, so that gradients can be differentiated.
        inputs: accumulate only into these tensors.
    """
    if grad_variables is not None:
        grad_tensors = grad_variables
    outputs = _as_list(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    grads = _root_grads(outputs, _as_list(grad_tensors), create_graph)
    input_list = None
    if inputs is not None:
        input_list = tuple(_as_list(inputs))
        if not input_list:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(outputs, grads, retain_graph, create_graph, input_list)


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched: bool = False,
    materialize_grads: bool = False,
):
    """Return the gradients of ``outputs`` with respect to ``inputs`` (no ``.grad`` is touched).

    Example:
        >>> import chainrule as torch
        >>> x = torch.tensor(3.0, requires_grad=True)
        >>> (g,) = torch.autograd.grad(x ** 3, x, create_graph=True)
        >>> g, torch.autograd.grad(g, x)[0]
        (tensor(27., grad_fn=<MulBackward>), tensor(18.))
    """
    if is_grads_batched:
        raise RuntimeError(
            "is_grads_batched=True is not supported by chainrule: call grad once per row of "
            "grad_outputs (or use chainrule.autograd.functional.jacobian)"
        )
    outs = _as_list(outputs)
    ins = tuple(_as_list(inputs))
    for k, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(
                f"One of the differentiated Tensors (input {k}) does not require grad"
            )
    if retain_graph is None:
        retain_graph = create_graph
    if materialize_grads:
        allow_unused = True
    grads = _root_grads(outs, _as_list(grad_outputs), create_graph)
    result = run_backward(
        outs, grads, retain_graph, create_graph, ins, capture=True, allow_unused=bool(allow_unused)
    )
    if materialize_grads:
        from ..ops.creation import zeros_like

        result = tuple(zeros_like(t) if g is None else g for t, g in zip(ins, result))
    return result


from . import functional  # noqa: E402  (functional uses grad and backward above)

__all__ = [
    "Function",
    "RemovableHandle",
    "Variable",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "inference_mode",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "no_grad",
    "once_differentiable",
    "queue_callback",
    "set_detect_anomaly",
    "set_grad_enabled",
]
