"""Higher-order derivatives of whole functions: vjp, jvp, jacobian, hessian, hvp and vhp.

The same signatures and return conventions as ``torch.autograd.functional``: ``inputs`` is a
Tensor or a tuple of Tensors, and results mirror that nesting (a Tensor for a Tensor, a tuple for
a tuple). Everything is built on reverse mode (``autograd.grad``):

- ``vjp``: one backward with ``v`` as the output gradient, vᵀJ.
- ``jvp``: the double-vjp trick. ``g(u) = uᵀJ`` is linear in ``u``, so differentiating it with
  respect to ``u`` in the direction ``v`` gives ``(vᵀJᵀ)ᵀ = Jv``.
- ``jacobian``: one vjp per output element, with a one-hot ``v``.
- ``hessian``: the jacobian of the gradient (computed with ``create_graph=True``).
- ``vhp``: the vjp of the gradient; ``hvp``: the double-vjp trick applied to the gradient.

Example:
    >>> import chainrule as torch
    >>> from chainrule.autograd.functional import hessian
    >>> hessian(lambda x: (x * x * x).sum(), torch.tensor([1.0, 1.5]))
    tensor([[6., 0.],
            [0., 9.]])
"""

from __future__ import annotations

from collections.abc import Callable

from . import engine
from .engine import Function, set_grad_enabled

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


# --------------------------------------------------------------------------------- helpers
class _Alias(Function):
    """y = x as a new Tensor object;  gx = gy.

    Inputs that already require grad are aliased (not detached) under create_graph, so that the
    result stays connected to them; the alias is a distinct object, so that the Tensors given to
    ``func`` are told apart from the same Tensors captured by ``func`` from outside.
    """

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, gy):
        return gy


def _tensor_cls():
    return engine.Tensor


def _as_tuple(x, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    """(was it a tuple, the tuple of Tensors), with PyTorch's error for anything else."""
    Tensor = _tensor_cls()
    is_tuple = isinstance(x, tuple)
    xs = x if is_tuple else (x,)
    for i, el in enumerate(xs):
        if not isinstance(el, Tensor):
            where = f"the value at index {i}" if is_tuple else f"the given {arg_name}"
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of "
                f"Tensors but {where} has type {type(el).__name__}."
            )
    return is_tuple, xs


def _untuple(res, to_unpack):
    """Undo _as_tuple on a result: one flag for a flat tuple, (outer, inner) for a nested one."""
    if isinstance(to_unpack, tuple):
        outer, inner = to_unpack
        if not inner:
            res = tuple(el[0] for el in res)
        if not outer:
            res = res[0]
        return res
    return res if to_unpack else res[0]


def _grad_preprocess(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """Fresh Tensor objects for the inputs: differentiable aliases of inputs that require grad
    when the caller wants a graph through them, detached leaves otherwise."""
    out = []
    for t in inputs:
        if create_graph and t.requires_grad:
            out.append(_Alias.apply(t))
        else:
            d = t.detach()
            if need_graph:
                d.requires_grad_(True)
            out.append(d)
    return tuple(out)


def _grad_postprocess(values, create_graph: bool):
    """Detach results (recursively through tuples) unless the caller asked for a graph."""
    if create_graph:
        return values
    if isinstance(values, tuple):
        return tuple(_grad_postprocess(v, create_graph) for v in values)
    return values.detach()


def _validate_v(v: tuple, other: tuple, is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(
                f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}."
            )
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other)):
        if tuple(el_v.shape) != tuple(el_other.shape):
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(
                f"{prepend}v has invalid size: should be {tuple(el_other.shape)} but got "
                f"{tuple(el_v.shape)}."
            )


_STRICT_MESSAGES = {
    "outputs": (
        "Output {i} of the user-provided function does not require gradients. The outputs must "
        "be computed in a differentiable manner from the input when running in strict mode."
    ),
    "grad_inputs": (
        "The gradient with respect to input {i} is independent of the inputs of the "
        "user-provided function. This is not allowed in strict mode."
    ),
    "jacobian": (
        "While computing the hessian, found that the jacobian of the user-provided function "
        "with respect to input {i} is independent of the input. This is not allowed in strict "
        "mode. You should ensure that your function is twice differentiable and that the "
        "jacobian depends on the inputs (this would be violated by a linear function for "
        "example)."
    ),
    "hessian": (
        "The hessian of the user-provided function with respect to input {i} is independent of "
        "the input. This is not allowed in strict mode. You should ensure that your function is "
        "thrice differentiable and that the hessian depends on the inputs."
    ),
}


def _check_requires_grad(values: tuple, kind: str, strict: bool) -> None:
    if not strict:
        return
    for i, t in enumerate(values):
        if t is None:
            raise RuntimeError(
                f"The output of the user-provided function is independent of input {i}. This is "
                "not allowed in strict mode."
            )
        if not t.requires_grad:
            raise RuntimeError(_STRICT_MESSAGES[kind].format(i=i))


def _autograd_grad(outputs: tuple, inputs: tuple, grad_outputs=None, create_graph=False,
                   retain_graph=None) -> tuple:  # fmt: skip
    """autograd.grad that skips outputs which do not require grad (None for every input when
    none does) and never complains about unused inputs."""
    from . import grad

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return grad(
        [o for o, _ in pairs],
        list(inputs),
        [g for _, g in pairs],
        retain_graph=retain_graph,
        create_graph=create_graph,
        allow_unused=True,
    )


_STAGE_MESSAGES = {
    "back": "The output of the user-provided function is independent of input {i}.",
    "back_trick": (
        "The gradient with respect to the input is independent of entry {i} in the grad_outputs "
        "when using the double backward trick to compute forward mode gradients."
    ),
    "double_back": "The jacobian of the user-provided function is independent of input {i}.",
    "double_back_trick": (
        "The hessian of the user-provided function is independent of entry {i} in the "
        "grad_jacobian."
    ),
}


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, create_graph: bool, stage: str):
    """Replace None (no path from the input) by zeros, or raise in strict mode."""
    from ..ops.creation import zeros_like

    out = []
    for i, g in enumerate(grads):
        if g is None:
            if strict:
                raise RuntimeError(
                    _STAGE_MESSAGES[stage].format(i=i) + " This is not allowed in strict mode."
                )
            g = zeros_like(refs[i])
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if stage.startswith("double") else "jacobian"
            raise RuntimeError(
                f"The {what} of the user-provided function is independent of input {i}. This is "
                "not allowed in strict mode when create_graph=True."
            )
        out.append(g)
    return tuple(out)


def _stack(rows: list, shape: tuple):
    """rows (each of one shape) stacked along a new first dim, then reshaped to `shape`."""
    from ..ops.shape import stack

    return stack(rows, 0).reshape(shape)


def _single_output(out, fn_name: str, strict: bool):
    """Check that `func` returned one Tensor with one element; return it as a 0-d Tensor."""
    Tensor = _tensor_cls()
    is_tuple, outs = _as_tuple(out, "outputs of the user-provided function", fn_name)
    _check_requires_grad(outs, "outputs", strict)
    if is_tuple or not isinstance(out, Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if out.numel() != 1:
        raise RuntimeError(
            f"The Tensor returned by the function given to {fn_name} should contain a single "
            f"element (got shape {tuple(out.shape)}): reduce it with .sum() or .mean() first"
        )
    return out


def _prepare(fn_name: str, func, inputs, v, create_graph: bool, v_like: str):
    """Shared set-up of vjp/jvp/vhp/hvp: alias the inputs, check v, run func (grad enabled)."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", fn_name)
    inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
    if v is not None:
        _, v = _as_tuple(v, "v", fn_name)
        v = _grad_preprocess(v, create_graph, need_graph=False)
    elif v_like == "inputs" and (len(inputs) != 1 or inputs[0].numel() != 1):
        raise RuntimeError(
            "The vector v can only be None if the input to the user-provided function is a "
            "single Tensor with a single element."
        )
    if v is not None and v_like == "inputs":
        _validate_v(v, inputs, is_inputs_tuple)
    outputs = func(*inputs)
    return is_inputs_tuple, inputs, v, outputs


# ------------------------------------------------------------------------------- public API
def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The vector-Jacobian product vᵀ·J of ``func`` at ``inputs``.

    Args:
        func: takes Tensors, returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors.
        v: the vector, shaped like the outputs; optional when func returns one element.
        create_graph: make the results differentiable.
        strict: raise when an input has no influence on the outputs (otherwise its vjp is 0).

    Returns:
        ``(func_output, vjp)`` with vjp shaped like ``inputs``.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.autograd.functional import vjp
        >>> vjp(lambda x: 2 * x, torch.ones(2), torch.tensor([1.0, 3.0]))
        (tensor([2., 2.]), tensor([2., 6.]))
    """
    with set_grad_enabled(True):
        is_inputs_tuple, inputs, v, outputs = _prepare(
            "vjp", func, inputs, v, create_graph, v_like="outputs"
        )
        is_outputs_tuple, outputs = _as_tuple(
            outputs, "outputs of the user-provided function", "vjp"
        )
        _check_requires_grad(outputs, "outputs", strict)
        if v is not None:
            _validate_v(v, outputs, is_outputs_tuple)
        elif len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError(
                "The vector v can only be None if the user-provided function returns a single "
                "Tensor with a single element."
            )
    with set_grad_enabled(create_graph or engine.is_grad_enabled()):
        grads = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grads, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _untuple(outputs, is_outputs_tuple), _untuple(result, is_inputs_tuple)


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The Jacobian-vector product J·v of ``func`` at ``inputs`` (by the double-vjp trick).

    Args:
        func: takes Tensors, returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors.
        v: the vector, shaped like the inputs; optional when there is one one-element input.
        create_graph: make the results differentiable.
        strict: raise when an output does not depend on the inputs (otherwise its jvp is 0).

    Returns:
        ``(func_output, jvp)`` with jvp shaped like the outputs.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.autograd.functional import jvp
        >>> jvp(lambda x: x * x, torch.tensor([1.0, 2.0]), torch.tensor([1.0, 1.0]))
        (tensor([1., 4.]), tensor([2., 4.]))
    """
    from ..ops.creation import zeros_like

    with set_grad_enabled(True):
        is_inputs_tuple, inputs, v, outputs = _prepare(
            "jvp", func, inputs, v, create_graph, v_like="inputs"
        )
        is_outputs_tuple, outputs = _as_tuple(
            outputs, "outputs of the user-provided function", "jvp"
        )
        _check_requires_grad(outputs, "outputs", strict)
        # uᵀJ is linear in u, so its value at u = 0 does not matter: only its graph is used
        us = tuple(zeros_like(o, requires_grad=True) for o in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, us, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict)
    with set_grad_enabled(create_graph or engine.is_grad_enabled()):
        grads = _autograd_grad(grad_inputs, us, v, create_graph=create_graph)
        result = _fill_in_zeros(grads, outputs, strict, create_graph, "back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return _untuple(outputs, is_outputs_tuple), _untuple(result, is_outputs_tuple)


def jacobian(
    func: Callable,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
):
    """The Jacobian of ``func`` at ``inputs``: one reverse pass per output element.

    Args:
        func: takes Tensors, returns a Tensor or a tuple of Tensors.
        inputs: a Tensor or a tuple of Tensors.
        create_graph: make the Jacobian differentiable (for Hessians and beyond).
        strict: raise when an output is independent of an input (otherwise that block is 0).
        vectorize: accepted for compatibility; chainrule always loops over output elements.
        strategy: only ``"reverse-mode"`` is supported.

    Returns:
        ``J[i][j]`` of shape ``outputs[i].shape + inputs[j].shape``, untupled where ``func``'s
        output or ``inputs`` is a single Tensor.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.autograd.functional import jacobian
        >>> jacobian(lambda x: x * x, torch.tensor([1.0, 2.0]))
        tensor([[2., 0.],
                [0., 4.]])
    """
    if strategy != "reverse-mode":
        raise NotImplementedError(
            f'jacobian(strategy="{strategy}") is not supported by chainrule, which has no '
            'forward-mode AD: use strategy="reverse-mode" (the default)'
        )
    from ..ops.creation import zeros_like

    with set_grad_enabled(True):
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(
            outputs, "outputs of the user-provided function", "jacobian"
        )
        _check_requires_grad(outputs, "outputs", strict)

        jac = []
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            for k in range(out.numel()):
                onehot = zeros_like(out)
                onehot._data.reshape(-1)[k] = 1  # zeros_like is contiguous: reshape is a view
                vj = _autograd_grad(
                    (out,), inputs, (onehot,), retain_graph=True, create_graph=create_graph
                )
                for j, (g, inp) in enumerate(zip(vj, inputs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(
                                f"Output {i} of the user-provided function is independent of "
                                f"input {j}. This is not allowed in strict mode."
                            )
                        g = zeros_like(inp)
                    elif strict and create_graph and not g.requires_grad:
                        raise RuntimeError(
                            "The jacobian of the user-provided function is independent of "
                            f"input {i}. This is not allowed in strict mode when "
                            "create_graph=True."
                        )
                    rows[j].append(g)
            jac.append(
                tuple(
                    _stack(r, tuple(out.shape) + tuple(inp.shape))
                    if r
                    else zeros_like(inp).reshape(tuple(out.shape) + tuple(inp.shape))
                    for r, inp in zip(rows, inputs)
                )
            )
    jac = _grad_postprocess(tuple(jac), create_graph)
    return _untuple(jac, (is_outputs_tuple, is_inputs_tuple))


def hessian(
    func: Callable,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
):
    """The Hessian of a scalar function: the Jacobian of its gradient.

    Args:
        func: takes Tensors, returns a Tensor with a single element.
        inputs: a Tensor or a tuple of Tensors.
        create_graph: make the Hessian differentiable.
        strict: raise when the Hessian is independent of an input (otherwise that block is 0).
        vectorize: accepted for compatibility (ignored).
        outer_jacobian_strategy: only ``"reverse-mode"`` is supported.

    Returns:
        ``H[i][j]`` of shape ``inputs[i].shape + inputs[j].shape``; a single Tensor when
        ``inputs`` is a single Tensor.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.autograd.functional import hessian
        >>> hessian(lambda x, y: (x * y).sum(), (torch.ones(1), torch.ones(1)))[0][1]
        tensor([[1.]])
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def scalar_func(*xs):
        return _single_output(func(*xs), "hessian", strict).reshape(())

    def jac_func(*xs):
        jac = jacobian(scalar_func, xs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        return jac

    res = jacobian(
        jac_func,
        inputs,
        create_graph=create_graph,
        strict=strict,
        vectorize=vectorize,
        strategy=outer_jacobian_strategy,
    )
    return _untuple(res, (is_inputs_tuple, is_inputs_tuple))


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The vector-Hessian product vᵀ·H of a scalar function at ``inputs``.

    Args:
        func: takes Tensors, returns a Tensor with a single element.
        inputs: a Tensor or a tuple of Tensors.
        v: the vector, shaped like the inputs; optional when there is one one-element input.
        create_graph: make the results differentiable.
        strict: raise when the gradient is independent of an input (otherwise its vhp is 0).

    Returns:
        ``(func_output, vhp)`` with vhp shaped like ``inputs``.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.autograd.functional import vhp
        >>> vhp(lambda x: (x * x * x).sum(), torch.tensor([1.0, 1.5]), torch.ones(2))[1]
        tensor([6., 9.])
    """
    with set_grad_enabled(True):
        is_inputs_tuple, inputs, v, outputs = _prepare(
            "vhp", func, inputs, v, create_graph, v_like="inputs"
        )
        out = _single_output(outputs, "vhp", strict)
        jac = _autograd_grad((out,), inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
    with set_grad_enabled(create_graph or engine.is_grad_enabled()):
        grads = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grads, inputs, strict, create_graph, "double_back")
    out = _grad_postprocess(out, create_graph)
    result = _grad_postprocess(result, create_graph)
    return out, _untuple(result, is_inputs_tuple)


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """The Hessian-vector product H·v of a scalar function at ``inputs`` (double-vjp trick;
    equal to ``vhp`` for twice continuously differentiable functions, which is cheaper).

    Args:
        func: takes Tensors, returns a Tensor with a single element.
        inputs: a Tensor or a tuple of Tensors.
        v: the vector, shaped like the inputs; optional when there is one one-element input.
        create_graph: make the results differentiable.
        strict: raise when the gradient is independent of an input (otherwise its hvp is 0).

    Returns:
        ``(func_output, hvp)`` with hvp shaped like ``inputs``.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.autograd.functional import hvp
        >>> hvp(lambda x: (x * x * x).sum(), torch.tensor([1.0, 1.5]), torch.ones(2))[1]
        tensor([6., 9.])
    """
    from ..ops.creation import zeros_like

    with set_grad_enabled(True):
        is_inputs_tuple, inputs, v, outputs = _prepare(
            "hvp", func, inputs, v, create_graph, v_like="inputs"
        )
        out = _single_output(outputs, "hvp", strict)
        jac = _autograd_grad((out,), inputs, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict)
        us = tuple(zeros_like(x, requires_grad=True) for x in inputs)
        double_back = _autograd_grad(jac, inputs, us, create_graph=True)
        _check_requires_grad(jac, "hessian", strict)
    with set_grad_enabled(create_graph or engine.is_grad_enabled()):
        grads = _autograd_grad(double_back, us, v, create_graph=create_graph)
        result = _fill_in_zeros(grads, inputs, strict, create_graph, "double_back_trick")
    out = _grad_postprocess(out, create_graph)
    result = _grad_postprocess(result, create_graph)
    return out, _untuple(result, is_inputs_tuple)
