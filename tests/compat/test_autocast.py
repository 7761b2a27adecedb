"""autocast against PyTorch's own on CPU: output dtypes, values within bfloat16's precision and
gradients' dtypes for the ops of the lower-precision and float32 lists; nesting, enabled=False,
the decorator, and the state queries. Each row runs the same code with m = chainrule and
m = torch inside ``m.autocast("cpu", dtype=m.bfloat16)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

import chainrule
from chainrule.amp import autocast_mode

torch = pytest.importorskip("torch")


@dataclass
class Row:
    name: str
    fn: Callable  # fn(m, *tensors) -> a tensor
    shapes: list
    rtol: float = 2e-2  # bfloat16 keeps 8 bits of mantissa
    atol: float = 5e-2


def _f(m):
    return m.nn.functional


ROWS = [
    Row("matmul", lambda m, a, b: m.matmul(a, b), [(5, 4), (4, 3)]),
    Row("matmul_batch_weight", lambda m, a, b: a @ b, [(2, 5, 4), (4, 3)]),
    Row("matmul_vector", lambda m, a, b: m.matmul(a, b), [(5, 4), (4,)]),
    Row("mm", lambda m, a, b: m.mm(a, b), [(5, 4), (4, 3)]),
    Row("bmm", lambda m, a, b: m.bmm(a, b), [(2, 5, 4), (2, 4, 3)]),
    Row("addmm", lambda m, c, a, b: m.addmm(c, a, b, beta=0.5), [(5, 3), (5, 4), (4, 3)]),
    Row("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b), [(2, 5, 3), (2, 5, 4), (2, 4, 3)]),
    Row("addbmm", lambda m, c, a, b: m.addbmm(c, a, b), [(5, 3), (2, 5, 4), (2, 4, 3)]),
    Row("einsum", lambda m, a, b: m.einsum("bij,jk->bik", a, b), [(2, 5, 4), (4, 3)]),
    Row("tensordot", lambda m, a, b: m.tensordot(a, b, 1), [(5, 4), (4, 3)]),
    Row("linear", lambda m, x, w, b: _f(m).linear(x, w, b), [(2, 5, 4), (3, 4), (3,)]),
    Row("linear_no_bias", lambda m, x, w: _f(m).linear(x, w), [(5, 4), (3, 4)]),
    Row(
        "conv2d",
        lambda m, x, w, b: _f(m).conv2d(x, w, b, padding=1),
        [(2, 3, 5, 5), (4, 3, 3, 3), (4,)],
    ),
    Row("conv1d", lambda m, x, w: _f(m).conv1d(x, w, stride=2), [(2, 3, 9), (4, 3, 3)]),
    Row(
        "conv_transpose2d",
        lambda m, x, w: _f(m).conv_transpose2d(x, w, stride=2),
        [(2, 3, 4, 4), (3, 2, 3, 3)],
    ),
    Row(
        "scaled_dot_product_attention",
        lambda m, q, k, v: _f(m).scaled_dot_product_attention(q, k, v, is_causal=True),
        [(2, 5, 4), (2, 5, 4), (2, 5, 4)],
    ),
    Row("prelu", lambda m, x, w: _f(m).prelu(x, w), [(2, 3, 4), (3,)]),
    Row(
        "linear_then_relu", lambda m, x, w: _f(m).relu(_f(m).linear(x, w)).sum(-1), [(5, 4), (3, 4)]
    ),
    # CPU keeps these in float32 (mv, outer: not on CPU's list; trace: on the float32 list)
    Row("mv_stays_float32", lambda m, a, b: m.mv(a, b), [(5, 4), (4,)]),
    Row("trace_of_bf16_is_float32", lambda m, a: m.trace(a.bfloat16()), [(4, 4)]),
    Row("prod_of_bf16_is_float32", lambda m, a: (a.bfloat16() + 1).prod(1), [(3, 4)]),
    Row(
        "cross_entropy_of_bf16_logits_is_float32",
        lambda m, a, b: _f(m).cross_entropy(a @ b, m.tensor([0, 2, 1])),
        [(3, 4), (4, 5)],
    ),
    Row(
        "mse_loss_is_float32", lambda m, a, b: _f(m).mse_loss(a @ b, a @ b * 0.5), [(3, 4), (4, 5)]
    ),
    Row(
        "bce_with_logits_is_float32",
        lambda m, a, b: _f(m).binary_cross_entropy_with_logits(a @ b, (a @ b > 0).float()),
        [(3, 4), (4, 5)],
    ),
    Row(
        "inv_of_bf16_is_float32",
        lambda m, a: m.linalg.inv(a.bfloat16() + 4 * m.eye(4, dtype=m.bfloat16)),
        [(4, 4)],
    ),
    # float64 is never cast
    Row("matmul_float64", lambda m, a, b: m.matmul(a.double(), b.double()), [(5, 4), (4, 3)]),
]


def _name(dtype) -> str:
    return str(dtype).rpartition(".")[2]


def _run(m, row, arrays):
    xs = [m.tensor(a, requires_grad=True) for a in arrays]
    with m.autocast("cpu", dtype=m.bfloat16):
        y = row.fn(m, *xs)
    y.float().sum().backward() if y.dtype != m.float64 else y.sum().backward()
    return y, xs


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
def test_autocast_matches_torch(row):
    rng = np.random.default_rng(0)
    arrays = [rng.uniform(-1, 1, s).astype(np.float32) for s in row.shapes]
    y, xs = _run(chainrule, row, arrays)
    ty, txs = _run(torch, row, arrays)
    assert _name(y.dtype) == _name(ty.dtype), row.name
    np.testing.assert_allclose(
        np.asarray(y.detach().float()), ty.detach().float().numpy(), rtol=row.rtol, atol=row.atol
    )
    for x, tx in zip(xs, txs):
        assert _name(x.grad.dtype) == _name(tx.grad.dtype), row.name
        np.testing.assert_allclose(
            np.asarray(x.grad), tx.grad.numpy(), rtol=row.rtol, atol=row.atol
        )


def test_module_parameters_keep_float32_grads():
    for m in (chainrule, torch):
        m.manual_seed(0)
        model = m.nn.Sequential(
            m.nn.Conv2d(3, 4, 3), m.nn.ReLU(), m.nn.Flatten(), m.nn.Linear(36, 2)
        )
        with m.autocast("cpu", dtype=m.bfloat16):
            out = model(m.ones(2, 3, 5, 5))
            loss = out.float().pow(2).mean()
        loss.backward()
        assert str(out.dtype).endswith("bfloat16")
        assert all(str(p.grad.dtype).endswith("float32") for p in model.parameters())


def test_disabled_and_nested_blocks():
    a = chainrule.ones(2, 2)
    with chainrule.autocast("cpu", enabled=False):
        assert (a @ a).dtype == chainrule.float32
    with chainrule.autocast("cpu"):
        assert (a @ a).dtype == chainrule.bfloat16
        with chainrule.autocast("cpu", enabled=False):
            assert not chainrule.amp.is_autocast_enabled("cpu")
            assert (a @ a).dtype == chainrule.float32
        with chainrule.autocast("cpu", dtype=chainrule.float16):
            assert (a @ a).dtype == chainrule.float16
            with chainrule.autocast("cpu"):  # dtype=None inherits the enclosing block's
                assert chainrule.amp.get_autocast_dtype("cpu") == chainrule.float16
        assert chainrule.amp.get_autocast_dtype("cpu") == chainrule.bfloat16
        assert (a @ a).dtype == chainrule.bfloat16
    assert not autocast_mode.active
    assert (a @ a).dtype == chainrule.float32


def test_state_queries_match_torch():
    def states(m):
        out = [m.is_autocast_enabled("cpu") if m is torch else m.amp.is_autocast_enabled("cpu")]
        with m.autocast(device_type="cpu"):
            out.append(
                m.amp.is_autocast_enabled("cpu") if m is chainrule else m.is_autocast_enabled("cpu")
            )
            out.append(
                str(m.get_autocast_dtype("cpu") if m is torch else m.amp.get_autocast_dtype("cpu"))
            )
            with m.autocast("cpu", dtype=m.float16):
                out.append(
                    str(
                        m.get_autocast_dtype("cpu")
                        if m is torch
                        else m.amp.get_autocast_dtype("cpu")
                    )
                )
        out.append(m.is_autocast_enabled("cpu") if m is torch else m.amp.is_autocast_enabled("cpu"))
        return [
            s.replace("torch.", "").replace("chainrule.", "") if isinstance(s, str) else s
            for s in out
        ]

    assert states(chainrule) == states(torch)


def test_an_exception_inside_restores_the_state():
    with pytest.raises(ValueError), chainrule.autocast("cpu"):
        raise ValueError
    assert not chainrule.amp.is_autocast_enabled("cpu") and not autocast_mode.active


def test_decorator_form_and_reentry():
    @chainrule.autocast("cpu")
    def f(a, depth):
        inner = f(a, depth - 1) if depth else None
        return (a @ a).dtype, inner

    a = chainrule.ones(2, 2)
    assert f(a, 2) == (chainrule.bfloat16, (chainrule.bfloat16, (chainrule.bfloat16, None)))
    assert (a @ a).dtype == chainrule.float32


def test_unsupported_dtype_and_missing_cuda_disable_with_torchs_warning():
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        block = chainrule.autocast("cpu", dtype=chainrule.float32)
    with block:
        assert not chainrule.amp.is_autocast_enabled("cpu")
    if not chainrule.cuda.is_available():
        with pytest.warns(UserWarning, match="CUDA is not available"):
            chainrule.autocast("cuda")
    with pytest.raises(ValueError, match="device_type"):
        chainrule.autocast(chainrule.device("cpu"))


def test_deprecated_spellings():
    a = chainrule.ones(2, 2)
    with chainrule.amp.cpu_autocast():
        assert (a @ a).dtype == chainrule.bfloat16
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with chainrule.cuda.amp.autocast():  # no GPU: disabled, as in PyTorch
            assert (a @ a).dtype == chainrule.float32 or chainrule.cuda.is_available()


def test_custom_fwd_casts_inputs_and_runs_without_autocast():
    class Square(chainrule.autograd.Function):
        @staticmethod
        @chainrule.amp.custom_fwd(device_type="cpu", cast_inputs=chainrule.float32)
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x @ x

        @staticmethod
        @chainrule.amp.custom_bwd(device_type="cpu")
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g @ x.mT + x.mT @ g

    x = chainrule.ones(2, 2, dtype=chainrule.bfloat16, requires_grad=True)
    with chainrule.autocast("cpu"):
        y = Square.apply(x)
    assert y.dtype == chainrule.float32
    y.sum().backward()
    assert x.grad.dtype == chainrule.bfloat16


def test_no_cast_while_off_costs_nothing_visible():
    a = chainrule.ones(2, 2, requires_grad=True)
    y = a @ a
    assert y.grad_fn.name() == "MatMulBackward"  # no Cast node in front


def test_double_backward_inside_autocast_keeps_the_forward_dtypes():
    grads = []
    for m in (chainrule, torch):
        x = m.tensor(np.linspace(-1, 1, 12).reshape(4, 3), dtype=m.float32)
        w = m.tensor(np.linspace(0.5, -0.5, 6).reshape(3, 2), dtype=m.float32, requires_grad=True)
        with m.autocast("cpu"):
            y = (x @ w).float().pow(2).sum()
            (g,) = m.autograd.grad(y, w, create_graph=True)
            g.pow(2).sum().backward()
        assert _name(g.dtype) == "float32" and _name(w.grad.dtype) == "float32"
        grads.append((np.asarray(g.detach()), np.asarray(w.grad)))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=2e-2, atol=5e-2)
