"""Activation checkpointing: keep a segment's inputs, not its activations, and recompute the
segment in backward.

``checkpoint(f, x)`` runs ``f`` under ``no_grad`` (no graph, so no activations are kept), saving
only the tensor inputs and the RNG state. Its output hangs on one ``_Checkpoint`` node. When the
backward pass reaches that node, it restores the RNG state (so dropout draws the same masks),
runs ``f`` again with grad enabled on detached copies of the inputs, and runs a nested backward
through that fresh graph: the parameters used inside ``f`` accumulate their gradients there,
and the inputs' gradients are returned to the outer pass.

When does the output require grad? Whenever grad mode is on and an input requires grad, as in
PyTorch; and also when no input does but ``f`` may use parameters: chainrule then links the
node to a private anchor leaf, so that the backward pass reaches it and the parameters inside
get their gradients (PyTorch's reentrant variant silently leaves them without). "May use
parameters" is decided without running anything: a Module (or a bound method of one) whose
parameters all have ``requires_grad=False`` does not; any other callable is assumed to, so its
output requires grad even if, on recomputation, nothing inside turns out to (backward then
simply has nothing to do).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd import engine
from ..autograd.engine import Function, enable_grad, is_grad_enabled, run_backward
from ..ops.creation import get_rng_state, set_rng_state
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]

# a leaf that requires grad and never receives one: it makes the checkpoint node reachable by
# backward when no input requires grad but the parameters inside the function do
_ANCHOR = Tensor._make(np.zeros((), np.float32))
_ANCHOR.requires_grad = True


def checkpoint(
    function: Callable,
    *args: Any,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
    context_fn: Callable | None = None,
    determinism_check: str = "default",
    debug: bool = False,
    early_stop: bool = True,
    **kwargs: Any,
) -> Any:
    """Run ``function(*args, **kwargs)`` without keeping its activations; recompute in backward.

    Args:
        function: the segment to run: a module or any callable.
        *args: its positional arguments; tensors among them (and among ``kwargs``) get
            gradients, everything else passes through unchanged.
        use_reentrant: accepted for PyTorch compatibility. chainrule has one implementation,
            which behaves like PyTorch's ``use_reentrant=False``: keyword arguments are allowed
            and parameters inside get gradients even when no input requires grad.
        preserve_rng_state: restore the RNG state before recomputing, so that random ops
            (dropout) draw the same values as in the forward pass.
        context_fn: PyTorch's hook: returns two context managers, entered around the forward
            run and around the recomputation.
        determinism_check: ``"default"`` checks that the recomputation gives outputs of the
            same shapes and dtypes; ``"none"`` skips that.
        debug, early_stop: accepted for PyTorch compatibility.
        **kwargs: keyword arguments for ``function``.

    Returns:
        What ``function`` returns: a tensor, or tuples, lists and dicts of tensors and values.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.utils.checkpoint import checkpoint
        >>> w = torch.ones(3, requires_grad=True)
        >>> y = checkpoint(lambda x: (x * w).tanh(), torch.ones(3), use_reentrant=False)
        >>> y.sum().backward()
        >>> w.grad.shape
        chainrule.Size([3])
    """
    if determinism_check not in ("default", "none"):
        raise ValueError(
            f"determinism_check should be one of ['default', 'none'], but got {determinism_check}"
        )
    if not is_grad_enabled():
        return function(*args, **kwargs)
    tensors, template = _split(args, kwargs)
    needs_grad = any(t.requires_grad for t in tensors)
    anchor = () if needs_grad or not _may_use_parameters(function) else (_ANCHOR,)
    if not needs_grad and not anchor:
        return function(*args, **kwargs)
    if context_fn is None:
        forward_ctx = recompute_ctx = None
    else:
        forward_ctx, recompute_ctx = context_fn()
    spec = _Spec(function, template, preserve_rng_state, recompute_ctx, determinism_check)
    outs = _Checkpoint.apply(spec, forward_ctx, len(anchor), *anchor, *tensors)
    return _unflatten(spec.out_template, list(outs))


def checkpoint_sequential(
    functions,
    segments: int,
    input: Tensor,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Tensor:
    """Run a sequence of modules/functions in ``segments`` chunks, checkpointing all but the last.

    Args:
        functions: a ``Sequential`` or a list of modules/functions, each taking one input.
        segments: how many chunks; each but the last keeps only its input for backward.
        input: the input of the first function.
        use_reentrant, preserve_rng_state: as in ``checkpoint``.

    Returns:
        The output of the last function.
    """
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if hasattr(functions, "children") and callable(functions.children):
        functions = list(functions.children())
    functions = list(functions)
    if not isinstance(segments, int) or segments < 1:
        raise ValueError(f"segments should be a positive integer, but got segments={segments}")
    size = len(functions) // segments

    def run(start: int, end: int) -> Callable:
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x

        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(
            run(start, end),
            input,
            use_reentrant=use_reentrant,
            preserve_rng_state=preserve_rng_state,
        )
    return run(end + 1, len(functions) - 1)(input)


class _Spec:
    """What the node needs besides the input tensors (kept off ``ctx`` so that it is one arg)."""

    def __init__(self, function, template, preserve, recompute_ctx, check):
        self.function = function
        self.template = template
        self.preserve = preserve
        self.recompute_ctx = recompute_ctx
        self.check = check
        self.rng_state = None
        self.out_template = None
        self.out_meta = None


class _Checkpoint(Function):
    """y = function(*inputs) without a graph;  backward: recompute with a graph, backprop it."""

    @staticmethod
    def forward(ctx, spec, forward_ctx, n_anchor, *tensors):
        tensors = tensors[n_anchor:]
        if spec.preserve:
            spec.rng_state = get_rng_state()
        ctx.spec = spec
        ctx.n_anchor = n_anchor
        ctx.save_for_backward(*tensors)
        args, kwargs = _merge(spec.template, tensors)
        if forward_ctx is None:
            result = spec.function(*args, **kwargs)
        else:
            with forward_ctx:
                result = spec.function(*args, **kwargs)
        flat, spec.out_template = _flatten(result)
        spec.out_meta = [(tuple(t.shape), t.dtype) for t in flat]
        # outputs that are inputs would alias them: the node needs outputs of its own
        return tuple(t.detach() if any(t is x for x in tensors) else t for t in flat)

    @staticmethod
    def backward(ctx, *gys):
        if engine._create_graph_active:
            raise RuntimeError(
                "checkpoint does not support backward(create_graph=True) or double backward: "
                "the recomputed segment is differentiated by a nested backward pass. Run that "
                "segment without checkpoint where you need higher-order gradients."
            )
        spec = ctx.spec
        saved = ctx.saved_tensors
        inputs = []
        for t in saved:
            d = t.detach()
            if t.requires_grad:
                d.requires_grad = True
            inputs.append(d)
        args, kwargs = _merge(spec.template, inputs)
        outer_state = get_rng_state() if spec.preserve else None
        try:
            if spec.preserve:
                set_rng_state(spec.rng_state)
            with enable_grad():
                if spec.recompute_ctx is None:
                    result = spec.function(*args, **kwargs)
                else:
                    with spec.recompute_ctx:
                        result = spec.function(*args, **kwargs)
        finally:
            if outer_state is not None:
                set_rng_state(outer_state)
        flat, _ = _flatten(result)
        if spec.check == "default":
            meta = [(tuple(t.shape), t.dtype) for t in flat]
            if meta != spec.out_meta:
                raise RuntimeError(
                    "checkpoint: recomputing the function in backward gave outputs of shapes and "
                    f"dtypes {meta}, but the forward pass gave {spec.out_meta}. The function must "
                    "be deterministic given its inputs (keep preserve_rng_state=True for random "
                    "ops, and do not depend on state that changes between forward and backward)."
                )
        roots, grads = [], []
        for y, gy in zip(flat, gys):
            if gy is not None and y.requires_grad:
                roots.append(y)
                grads.append(gy)
        if roots:
            run_backward(roots, grads, retain_graph=False, create_graph=False)
        gxs = [d.grad if d.requires_grad else None for d in inputs]
        return (None, None, None) + (None,) * ctx.n_anchor + tuple(gxs)


# ------------------------------------------------------------------------ argument plumbing
def _split(args: tuple, kwargs: dict) -> tuple[list, tuple]:
    """Pull the tensors out of args and kwargs; the rest is a template to merge them back into."""
    tensors = []
    arg_t = []
    for a in args:
        if isinstance(a, Tensor):
            arg_t.append(_Slot(len(tensors)))
            tensors.append(a)
        else:
            arg_t.append(a)
    kw_t = {}
    for k, v in kwargs.items():
        if isinstance(v, Tensor):
            kw_t[k] = _Slot(len(tensors))
            tensors.append(v)
        else:
            kw_t[k] = v
    return tensors, (arg_t, kw_t)


def _merge(template: tuple, tensors: Sequence) -> tuple[list, dict]:
    arg_t, kw_t = template
    args = [tensors[a.index] if isinstance(a, _Slot) else a for a in arg_t]
    kwargs = {k: tensors[v.index] if isinstance(v, _Slot) else v for k, v in kw_t.items()}
    return args, kwargs


class _Slot:
    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


def _flatten(result) -> tuple[list, Any]:
    """The tensors of a (nested) result in order, and a template with _Slots in their place."""
    flat: list = []

    def walk(x):
        if isinstance(x, Tensor):
            flat.append(x)
            return _Slot(len(flat) - 1)
        if isinstance(x, tuple) and hasattr(x, "_fields"):
            return type(x)(*(walk(v) for v in x))
        if isinstance(x, list | tuple):
            return type(x)(walk(v) for v in x)
        if isinstance(x, dict):
            return type(x)((k, walk(v)) for k, v in x.items())
        return x

    return flat, walk(result)


def _unflatten(template, flat: list):
    if isinstance(template, _Slot):
        return flat[template.index]
    if isinstance(template, tuple) and hasattr(template, "_fields"):
        return type(template)(*(_unflatten(v, flat) for v in template))
    if isinstance(template, list | tuple):
        return type(template)(_unflatten(v, flat) for v in template)
    if isinstance(template, dict):
        return type(template)((k, _unflatten(v, flat)) for k, v in template.items())
    return template


def _may_use_parameters(function) -> bool:
    """False only when ``function`` is provably free of parameters that require grad."""
    owner = function
    if not hasattr(owner, "parameters") and hasattr(function, "__self__"):
        owner = function.__self__  # a bound method, e.g. model.encoder.forward
    params = getattr(owner, "parameters", None)
    if not callable(params):
        return True
    try:
        return any(p.requires_grad for p in params())
    except TypeError:
        return True
