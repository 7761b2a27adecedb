"""Checking gradients: finite differences against the engine, and tensor comparison.

Users and chainrule's own tests share these tools.
"""

from __future__ import annotations

import numpy as np

from . import backend
from .autograd import grad as _grad
from .tensor import Tensor

_FULL_JACOBIAN_LIMIT = 2048  # input elements x output elements up to which the full J is built


class GradcheckError(RuntimeError):
    """Raised when analytical and numerical gradients disagree."""


def _flat_outputs(out) -> list[Tensor]:
    if isinstance(out, Tensor):
        return [out]
    return [o for o in out if isinstance(o, Tensor)]


def _diff_outputs(fn, inputs):
    return [o for o in _flat_outputs(fn(*inputs)) if o.requires_grad]


def _eval(fn, inputs) -> np.ndarray:
    outs = _flat_outputs(fn(*inputs))  # not under no_grad: fn may differentiate inside
    return (
        np.concatenate([backend.to_numpy(o._data).ravel().astype(np.float64) for o in outs])
        if outs
        else np.zeros(0)
    )


def _numerical_directional(fn, inputs, diff_idx, direction, eps):
    """(f(x + eps·v) - f(x - eps·v)) / 2eps for a direction v over all differentiable inputs."""
    originals = [inputs[i]._data.copy() for i in diff_idx]
    try:
        for i, v in zip(diff_idx, direction):
            inputs[i]._data[...] = originals[diff_idx.index(i)] + eps * v
        plus = _eval(fn, inputs)
        for i, v in zip(diff_idx, direction):
            inputs[i]._data[...] = originals[diff_idx.index(i)] - eps * v
        minus = _eval(fn, inputs)
    finally:
        for i, o in zip(diff_idx, originals):
            inputs[i]._data[...] = o
    return (plus - minus) / (2 * eps)


def _analytical_vjp(fn, inputs, diff_idx, u):
    """uᵀJ for each differentiable input, through the engine."""
    outs = _diff_outputs(fn, inputs)
    if not outs:
        return [np.zeros(inputs[i]._data.shape) for i in diff_idx]
    grads_out = []
    offset = 0
    for o in outs:
        n = o._data.size
        grads_out.append(
            Tensor._make(u[offset : offset + n].reshape(o._data.shape).astype(o._data.dtype))
        )
        offset += n
    gs = _grad(outs, [inputs[i] for i in diff_idx], grads_out, allow_unused=True)
    return [
        np.zeros(inputs[i]._data.shape)
        if g is None
        else backend.to_numpy(g._data).astype(np.float64)
        for i, g in zip(diff_idx, gs)
    ]


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    n_projections: int = 4,
    seed: int = 0,
    **_ignored,
) -> bool:
    """Check the engine's gradients of `func` at `inputs` against central finite differences.

    Inputs that require grad must be float64. For small problems the whole Jacobian is compared
    entry by entry; for large ones, random projections uᵀJv (each a full-precision check of a
    random mix of entries).

    Example:
        >>> import chainrule as torch
        >>> x = torch.randn(3, dtype=torch.float64, requires_grad=True)
        >>> torch.testing.gradcheck(lambda x: (x * x).sin(), (x,))
        True
    """
    inputs = tuple(inputs) if isinstance(inputs, list | tuple) else (inputs,)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    for i in diff_idx:
        if inputs[i]._data.dtype != np.float64:
            raise GradcheckError(
                f"gradcheck: input {i} is {backend.dtype_name(inputs[i].dtype)}; finite "
                "differences need float64 inputs (use .double())"
            )
    if not diff_idx:
        raise GradcheckError("gradcheck: no input requires grad")
    y0 = _eval(func, inputs)
    n_out = y0.size
    n_in = sum(inputs[i]._data.size for i in diff_idx)
    rng = np.random.default_rng(seed)
    failures = []

    if n_out * n_in <= _FULL_JACOBIAN_LIMIT:
        # analytical Jacobian row by row (one backward per output element) ...
        analytical = np.zeros((n_out, n_in))
        for r in range(n_out):
            u = np.zeros(n_out)
            u[r] = 1.0
            analytical[r] = np.concatenate(
                [g.ravel() for g in _analytical_vjp(func, inputs, diff_idx, u)]
            )
        # ... and numerical Jacobian column by column (one pair of evaluations per input element)
        numerical = np.zeros((n_out, n_in))
        col = 0
        for k, i in enumerate(diff_idx):
            for j in range(inputs[i]._data.size):
                direction = [np.zeros(inputs[m]._data.shape) for m in diff_idx]
                direction[k].flat[j] = 1.0
                numerical[:, col] = _numerical_directional(func, inputs, diff_idx, direction, eps)
                col += 1
        bad = ~np.isclose(analytical, numerical, rtol=rtol, atol=atol, equal_nan=True)
        if bad.any():
            r, c = np.argwhere(bad)[0]
            failures.append(
                f"Jacobian mismatch at output {r}, input element {c}: analytical "
                f"{analytical[r, c]:.10g} vs numerical {numerical[r, c]:.10g} "
                f"({int(bad.sum())} of {bad.size} entries differ)"
            )
    else:
        for p in range(n_projections):
            u = rng.standard_normal(n_out)
            v = [rng.standard_normal(inputs[i]._data.shape) for i in diff_idx]
            a = sum(
                float((g * d).sum()) for g, d in zip(_analytical_vjp(func, inputs, diff_idx, u), v)
            )
            n = float(u @ _numerical_directional(func, inputs, diff_idx, v, eps))
            if not np.isclose(a, n, rtol=rtol, atol=atol * np.sqrt(n_out * n_in)):
                failures.append(f"projection {p}: analytical uᵀJv {a:.10g} vs numerical {n:.10g}")
    if failures:
        if raise_exception:
            raise GradcheckError("gradcheck failed:\n" + "\n".join(failures))
        return False
    return True


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
    **_ignored,
) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> vᵀ ∂func/∂inputs (create_graph)."""
    inputs = tuple(inputs) if isinstance(inputs, list | tuple) else (inputs,)
    diff_idx = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    outs = _diff_outputs(func, inputs)
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        grad_outputs = [
            Tensor._make(rng.standard_normal(o._data.shape)).requires_grad_(True) for o in outs
        ]
    n_out = len(grad_outputs)

    def first_derivative(*args):
        xs, vs = args[: len(inputs)], args[len(inputs) :]
        ys = _diff_outputs(func, xs)
        gs = _grad(ys, [xs[i] for i in diff_idx], list(vs), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(
        first_derivative,
        tuple(inputs) + tuple(grad_outputs[:n_out]),
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
        seed=seed,
    )


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True,
                 msg=None) -> None:  # fmt: skip
    """Assert that two tensors (or arrays, numbers) are close, with PyTorch's default tolerances
    for the dtype; the message says where and by how much they differ."""
    a = _as_numpy(actual)
    e = _as_numpy(expected)
    if check_dtype and isinstance(actual, Tensor) and isinstance(expected, Tensor):
        if actual.dtype != expected.dtype:
            got, want = backend.dtype_name(actual.dtype), backend.dtype_name(expected.dtype)
            raise AssertionError(f"The values for attribute 'dtype' do not match: {got} != {want}.")
    if a.shape != e.shape:
        raise AssertionError(
            f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}."
        )
    default_rtol, default_atol = _tolerances(a.dtype)
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    a64 = a.astype(np.float64) if a.dtype.kind not in "c" else a
    e64 = e.astype(np.float64) if e.dtype.kind not in "c" else e
    close = np.isclose(a64, e64, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if not close.all():
        bad = np.argwhere(~close)
        idx = tuple(int(i) for i in bad[0]) if a.ndim else ()
        diff = np.abs(a64 - e64)
        worst = ()
        if a.ndim:
            worst = tuple(int(i) for i in np.unravel_index(np.nanargmax(diff), a.shape))
        text = (
            f"Tensor-likes are not close!\n\nMismatched elements: {len(bad)} / {a.size} "
            f"({100 * len(bad) / max(a.size, 1):.1f}%)\nGreatest absolute difference: "
            f"{np.nanmax(diff):.6g} at index {worst}\nFirst mismatch at {idx}: "
            f"{a64[idx].item()!r} vs {e64[idx].item()!r} (rtol={rtol}, atol={atol})"
        )
        raise AssertionError(text if msg is None else f"{msg}\n{text}")


def _tolerances(dt):
    return {
        np.dtype(np.float16): (1e-3, 1e-5),
        backend.bfloat16: (1.6e-2, 1e-5),
        np.dtype(np.float32): (1.3e-6, 1e-5),
        np.dtype(np.float64): (1e-7, 1e-7),
        np.dtype(np.complex64): (1.3e-6, 1e-5),
        np.dtype(np.complex128): (1e-7, 1e-7),
    }.get(dt, (0.0, 0.0))


def _as_numpy(x) -> np.ndarray:
    if isinstance(x, Tensor):
        return backend.to_numpy(x._data)
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor, in parity tests
        return x.detach().cpu().numpy()
    return np.asarray(x)


__all__ = ["GradcheckError", "assert_close", "gradcheck", "gradgradcheck"]
