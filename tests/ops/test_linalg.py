"""Op-table rows: matmul and its forms, einsum, tensordot, kron, trace and diag."""

import numpy as np
import pytest

import chainrule
from tests.opcheck import OpCase, params, run_case
from tests.ops.test_reduce import check_double_backward_from_implicit_root, double_backward_params

CASES = [
    OpCase(
        "matmul",
        shapes=[
            ((3, 4), (4, 5)),
            ((4,), (4,)),  # 1-D @ 1-D: a 0-d dot product
            ((3, 4), (4,)),
            ((4,), (4, 5)),
            ((2, 3, 4), (4, 5)),  # a batch times a weight: one GEMM
            ((2, 3, 4), (2, 4, 5)),
            ((2, 1, 3, 4), (5, 4, 2)),  # batch dims broadcast
            ((3, 4), (2, 4, 5)),
            ((4,), (2, 4, 5)),
            ((2, 3, 4), (4,)),
        ],
    ),
    OpCase("matmul_operator", lambda m, a, b: a @ b, shapes=[((3, 4), (4, 2))]),
    OpCase("mm", shapes=[((3, 4), (4, 5)), ((1, 4), (4, 1))]),
    OpCase("mm_method", lambda m, a, b: a.mm(b), shapes=[((2, 3), (3, 2))]),
    OpCase("bmm", shapes=[((2, 3, 4), (2, 4, 5))]),
    OpCase("mv", shapes=[((3, 4), (4,))]),
    OpCase("dot", shapes=[((5,), (5,))]),
    OpCase("vdot", shapes=[((5,), (5,))]),
    OpCase("inner", shapes=[((2, 3), (4, 3)), ((3,), (3,)), ((), (2, 3)), ((2, 2, 3), (3,))]),
    OpCase("outer", shapes=[((3,), (4,))]),
    OpCase("ger", lambda m, a, b: a.ger(b), shapes=[((3,), (2,))]),
    OpCase("addmm", shapes=[((5,), (3, 4), (4, 5)), ((3, 5), (3, 4), (4, 5))]),
    OpCase(
        "addmm_beta_alpha",
        lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=-2.0),
        shapes=[((3, 1), (3, 4), (4, 2))],
    ),
    OpCase(
        "addmm_beta0",
        lambda m, c, a, b: c.addmm(a, b, beta=0),
        make=lambda rng: [
            np.full((3, 2), np.nan),
            rng.normal(size=(3, 4)),
            rng.normal(size=(4, 2)),
        ],
        requires_grad=(False, True, True),
    ),
    OpCase("addmv", lambda m, c, a, b: m.addmv(c, a, b, alpha=3), shapes=[((3,), (3, 4), (4,))]),
    OpCase("addr", lambda m, c, a, b: m.addr(c, a, b, beta=2), shapes=[((3, 4), (3,), (4,))]),
    OpCase("baddbmm", shapes=[((3, 5), (2, 3, 4), (2, 4, 5))]),
    OpCase("addbmm", shapes=[((3, 5), (2, 3, 4), (2, 4, 5))]),
    OpCase("kron", shapes=[((2, 3), (3, 2)), ((2,), (3, 2)), ((), (2,))]),
    # einsum: contractions, diagonals, broadcasting '...', implicit outputs, 3 operands
    OpCase("einsum_mm", lambda m, a, b: m.einsum("ij,jk->ik", a, b), shapes=[((3, 4), (4, 5))]),
    OpCase(
        "einsum_bmm",
        lambda m, a, b: m.einsum("bij,bjk->bik", a, b),
        shapes=[((2, 3, 4), (2, 4, 5))],
    ),
    OpCase("einsum_implicit", lambda m, a, b: m.einsum("ij,jk", a, b), shapes=[((3, 4), (4, 2))]),
    OpCase(
        "einsum_implicit_order", lambda m, a, b: m.einsum("ba,bc", a, b), shapes=[((3, 4), (3, 2))]
    ),
    OpCase("einsum_diag", lambda m, x: m.einsum("ii->i", x), shapes=[(3, 3)]),
    OpCase("einsum_trace", lambda m, x: m.einsum("ii", x), shapes=[(4, 4)]),
    OpCase("einsum_diag_mixed", lambda m, x: m.einsum("iij->ji", x), shapes=[(3, 3, 2)]),
    OpCase("einsum_sum", lambda m, x: m.einsum("ij->", x), shapes=[(3, 4)]),
    OpCase(
        "einsum_diag_contract",
        lambda m, a, b: m.einsum("ii,ij->j", a, b),
        shapes=[((3, 3), (3, 2))],
    ),
    OpCase("einsum_scalar", lambda m, a, b: m.einsum("i,->i", a, b), shapes=[((3,), ())]),
    OpCase(
        "einsum_batch_1",
        lambda m, a, b: m.einsum("bij,bjk->bik", a, b),
        shapes=[((1, 3, 4), (2, 4, 5))],
    ),
    OpCase("einsum_transpose", lambda m, x: m.einsum("ij->ji", x), shapes=[(3, 4)]),
    OpCase("einsum_outer", lambda m, a, b: m.einsum("i,j->ij", a, b), shapes=[((3,), (4,))]),
    OpCase(
        "einsum_only_in_one", lambda m, a, b: m.einsum("ij,jk->i", a, b), shapes=[((3, 4), (4, 2))]
    ),
    OpCase(
        "einsum_ellipsis",
        lambda m, a, b: m.einsum("...ij,...jk->...ik", a, b),
        shapes=[((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (2, 4, 2))],
    ),
    OpCase("einsum_ellipsis_implicit", lambda m, x: m.einsum("i...->...", x), shapes=[(3, 2, 2)]),
    OpCase(
        "einsum_broadcast_1", lambda m, a, b: m.einsum("ij,ij->ij", a, b), shapes=[((3, 4), (1, 4))]
    ),
    OpCase(
        "einsum_broadcast_k",
        lambda m, a, b: m.einsum("ij,jk->ik", a, b),
        shapes=[((3, 4), (1, 2))],
    ),
    OpCase(
        "einsum_bilinear",
        lambda m, a, w, b: m.einsum("bn,anm,bm->ba", a, w, b),
        shapes=[((2, 3), (4, 3, 5), (2, 5))],
    ),
    OpCase(
        "einsum_same_letter_3",
        lambda m, a, b, c: m.einsum("i,i,i->", a, b, c),
        shapes=[((4,), (4,), (4,))],
    ),
    OpCase("einsum_list", lambda m, a, b: m.einsum("ij,jk->ik", [a, b]), shapes=[((2, 3), (3, 2))]),
    OpCase(
        "einsum_spaces",
        lambda m, a, b: m.einsum("i j , j k -> i k", a, b),
        shapes=[((2, 3), (3, 2))],
    ),
    OpCase(
        "einsum_sublist",
        lambda m, a, b: m.einsum(a, [0, 1], b, [1, 2], [0, 2]),
        shapes=[((2, 3), (3, 4))],
    ),
    OpCase(
        "einsum_sublist_ellipsis",
        lambda m, a, b: m.einsum(a, [Ellipsis, 0], b, [Ellipsis, 0]),
        shapes=[((2, 3), (2, 3))],
    ),
    # tensordot
    OpCase("tensordot", lambda m, a, b: m.tensordot(a, b), shapes=[((2, 3, 4), (3, 4, 2))]),
    OpCase("tensordot_1", lambda m, a, b: m.tensordot(a, b, dims=1), shapes=[((2, 3), (3, 4))]),
    OpCase("tensordot_0", lambda m, a, b: m.tensordot(a, b, dims=0), shapes=[((2,), (3,))]),
    OpCase(
        "tensordot_lists",
        lambda m, a, b: m.tensordot(a, b, dims=([1, 0], [0, 2])),
        shapes=[((3, 2, 4), (2, 5, 3))],
    ),
    OpCase(
        "tensordot_neg",
        lambda m, a, b: m.tensordot(a, b, dims=([-1], [0])),
        shapes=[((2, 3), (3, 2))],
    ),
    # trace, diag
    OpCase("trace", shapes=[(3, 3), (3, 4), (4, 2)]),
    OpCase("diag", shapes=[(4,), (3, 4), (4, 3), (3, 3)]),
    OpCase("diag_k1", lambda m, x: m.diag(x, 1), shapes=[(4,), (3, 4), (4, 3)]),
    OpCase("diag_k_neg", lambda m, x: x.diag(-2), shapes=[(3,), (4, 3), (3, 5)]),
    OpCase(
        "trace_int",
        lambda m, x: m.trace(x),
        make=lambda rng: [rng.integers(-3, 4, (3, 3))],
        requires_grad=(False,),
    ),
    OpCase(
        "matmul_int",
        lambda m, a, b: a @ b,
        make=lambda rng: [rng.integers(-3, 4, (2, 3)), rng.integers(-3, 4, (3,))],
        requires_grad=(False, False),
    ),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


@pytest.mark.parametrize("case,sig,device", double_backward_params(CASES))
def test_double_backward_from_implicit_root(case, sig, device):
    check_double_backward_from_implicit_root(case, sig, device)


@pytest.mark.parametrize(
    "a,b,message",
    [
        (
            (4, 3),
            (4, 5),
            r"mat1 and mat2 shapes cannot be multiplied \(4x3 and 4x5\): did you mean input.T @",
        ),
        ((4, 3), (5, 3), r"\(4x3 and 5x3\): did you mean input @ other.T \(as in x @ W.T\)"),
        ((2, 4, 3), (4, 5), r"\(4x3 and 4x5\) \(input shape \[2, 4, 3\], other shape \[4, 5\]\)"),
        ((3,), (4,), r"inconsistent tensor size, expected tensor \[3\] and src \[4\]"),
        ((2, 3), (4,), r"size mismatch, got input \(2\), mat \(2x3\), vec \(4\)"),
        ((5, 2, 3), (2, 3, 5), r"The size of tensor a \(5\) must match the size of tensor b \(2\)"),
        ((), (3,), r"both arguments to matmul need to be at least 1D, but they are 0D and 1D"),
    ],
)
def test_matmul_errors_name_the_shapes(a, b, message):
    with pytest.raises(RuntimeError, match=message):
        chainrule.matmul(chainrule.ones(*a), chainrule.ones(*b))


def test_matmul_refuses_mixed_dtypes_like_pytorch():
    with pytest.raises(
        RuntimeError, match="expected m1 and m2 to have the same dtype.*float32 != float64"
    ):
        chainrule.ones(2, 3) @ chainrule.ones(3, 2, dtype=chainrule.float64)


@pytest.mark.parametrize(
    "fn,a,b,message",
    [
        ("mm", (3,), (3, 5), "self must be a matrix"),
        ("bmm", (2, 3), (3, 4), "batch1 must be a 3D tensor"),
        ("bmm", (2, 2, 3), (2, 4, 4), r"batch2 tensor to be: \[2, 3\] but got: \[2, 4\]"),
        ("mv", (2, 3), (3, 1), "vector \\+ matrix @ vector expected, got 1, 2, 2"),
        ("dot", (2, 3), (3,), "1D tensors expected, but got 2D and 1D tensors"),
        ("outer", (2, 3), (3,), "outer: Expected 1-D argument self, but got 2-D"),
        ("inner", (2, 3), (2,), r"inner\(\) the last dimension must match"),
        ("trace", (3,), None, "trace: expected a matrix, but got tensor with dim 1"),
        ("diag", (2, 2, 2), None, r"diag\(\): Supports 1D or 2D tensors. Got 3D"),
    ],
)  # fmt: skip
def test_product_errors(fn, a, b, message):
    args = [chainrule.ones(*a)] + ([] if b is None else [chainrule.ones(*b)])
    with pytest.raises(RuntimeError, match=message):
        getattr(chainrule, fn)(*args)


@pytest.mark.parametrize(
    "eq,shapes,message",
    [
        ("ii->i", [(2, 3)], "i is repeated for operand 0 but the sizes don't match, 2 != 3"),
        ("ij->iij", [(2, 3)], "output subscript i appears more than once in the output"),
        ("ij->k", [(2, 3)], "output subscript k does not appear in the equation for any input"),
        ("i1->i", [(2, 3)], "invalid subscript given at index 1 in the equation string"),
        ("ijk->i", [(2, 3)], r"the number of subscripts in the equation \(3\) does not match"),
        ("ij,jk->ik", [(2, 3)], "fewer operands were provided than specified in the equation"),
        ("ij->i", [(2, 3), (2, 3)], "more operands were provided than specified in the equation"),
        ("ij,jk->ik", [(2, 3), (4, 2)], "j has size 4 for operand 1 which does not broadcast"),
    ],
)  # fmt: skip
def test_einsum_errors(eq, shapes, message):
    with pytest.raises(RuntimeError, match=message):
        chainrule.einsum(eq, *[chainrule.ones(*s) for s in shapes])


def test_einsum_of_one_operand_does_not_share_memory():
    x = chainrule.ones(2, 3)
    y = chainrule.einsum("ij->ji", x)
    y[0, 0] = 5.0
    assert x[0, 0].item() == 1.0


def test_batched_matmul_weight_gradient_is_one_gemm():
    """The weight's gradient for a batch @ 2-D weight equals the sum over the batch."""
    rng = np.random.default_rng(0)
    a = chainrule.tensor(rng.normal(size=(4, 3, 5)), requires_grad=True)
    w = chainrule.tensor(rng.normal(size=(5, 2)), requires_grad=True)
    g = rng.normal(size=(4, 3, 2))
    (a @ w).backward(chainrule.tensor(g))
    expected = np.einsum("bik,bin->kn", a.detach().numpy(), g)
    assert np.allclose(w.grad.numpy(), expected)
    assert np.allclose(a.grad.numpy(), g @ w.detach().numpy().T)
