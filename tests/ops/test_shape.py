"""Op-table rows: shape ops (views, joining, splitting, flipping, padding, triangles, diagonals)."""

import numpy as np
import pytest

import chainrule
from chainrule.ops.shape import pad as cr_pad
from tests.opcheck import OpCase, params, run_case


def _pad(m, x, widths, **kw):
    fn = cr_pad if m is chainrule else m.nn.functional.pad
    return fn(x, widths, **kw)


def _int_and_float(rng):
    return [rng.uniform(-2, 2, (2, 3)), rng.integers(-3, 3, (1, 3))]


CASES = [
    # ------------------------------------------------------------------ reshape and views
    OpCase("reshape", lambda m, x: x.reshape(4, 3), shapes=[(3, 4), (2, 6)]),
    OpCase("reshape_infer", lambda m, x: m.reshape(x, (-1, 2)), shapes=[(3, 4), (2,)]),
    OpCase("reshape_0d", lambda m, x: x.reshape(1, 1), shapes=[()]),
    OpCase("reshape_of_transpose", lambda m, x: x.t().reshape(-1), shapes=[(3, 4)]),
    OpCase("view", lambda m, x: x.view(2, -1), shapes=[(3, 4), (2, 3, 2)]),
    OpCase("view_as", lambda m, x, y: x.view_as(y), shapes=[((3, 4), (2, 6))]),
    OpCase("reshape_as", lambda m, x, y: x.reshape_as(y), shapes=[((3, 4), (12,))]),
    OpCase("flatten", lambda m, x: x.flatten(), shapes=[(2, 3, 2), ()]),
    OpCase("flatten_dims", lambda m, x: m.flatten(x, 1, -1), shapes=[(2, 3, 2)]),
    OpCase("flatten_neg", lambda m, x: m.flatten(x, -3, -2), shapes=[(2, 3, 2)]),
    OpCase("ravel", lambda m, x: m.ravel(x.t()), shapes=[(3, 4)]),
    OpCase("unflatten", lambda m, x: x.unflatten(1, (2, -1)), shapes=[(3, 4)]),
    OpCase("unflatten_neg", lambda m, x: m.unflatten(x, -1, (3, 1, 2)), shapes=[(2, 6)]),
    OpCase("squeeze", lambda m, x: x.squeeze(), shapes=[(3, 1, 4, 1), (1,), ()]),
    OpCase("squeeze_dim", lambda m, x: x.squeeze(-1), shapes=[(3, 1, 4, 1), (3, 4), ()]),
    OpCase("squeeze_dims", lambda m, x: m.squeeze(x, (1, 2, -1)), shapes=[(3, 1, 4, 1)]),
    OpCase("unsqueeze", lambda m, x: x.unsqueeze(0), shapes=[(3, 4), ()]),
    OpCase("unsqueeze_neg", lambda m, x: m.unsqueeze(x, -2), shapes=[(3, 4), (2,)]),
    OpCase("unsqueeze_last", lambda m, x: x.unsqueeze(-1), shapes=[()]),
    OpCase("permute", lambda m, x: x.permute(2, 0, 1), shapes=[(2, 3, 4)]),
    OpCase("permute_tuple", lambda m, x: m.permute(x, (-1, 0, -2)), shapes=[(2, 3, 4)]),
    OpCase("transpose", lambda m, x: x.transpose(0, -1), shapes=[(2, 3, 4), (3,), ()]),
    OpCase("swapaxes", lambda m, x: m.swapaxes(x, 1, 2), shapes=[(2, 3, 4)]),
    OpCase("swapdims", lambda m, x: x.swapdims(-1, -2), shapes=[(3, 4)]),
    OpCase("t", lambda m, x: x.t(), shapes=[(3, 4), (3,), ()]),
    OpCase("T_then_matmul", lambda m, x: x.T @ x, shapes=[(3, 4)]),
    OpCase("movedim", lambda m, x: m.movedim(x, 0, -1), shapes=[(2, 3, 4)]),
    OpCase("movedim_many", lambda m, x: x.movedim((0, 1), (2, 0)), shapes=[(2, 3, 4)]),
    OpCase("moveaxis", lambda m, x: m.moveaxis(x, -1, 1), shapes=[(2, 3, 4)]),
    # ----------------------------------------------------------------------- broadcasting
    OpCase("expand", lambda m, x: x.expand(2, 3, 4), shapes=[(3, 1), (1, 4), ()]),
    OpCase("expand_keep", lambda m, x: x.expand(-1, 4), shapes=[(3, 1)]),
    OpCase("expand_as", lambda m, x, y: x.expand_as(y), shapes=[((3, 1), (2, 3, 4))]),
    OpCase("broadcast_to", lambda m, x: m.broadcast_to(x, (2, 3, 4)), shapes=[(4,), (3, 1)]),
    OpCase(
        "broadcast_tensors",
        lambda m, x, y: m.broadcast_tensors(x, y),
        shapes=[((3, 1), (4,)), ((), (2, 3))],
    ),
    OpCase("repeat", lambda m, x: x.repeat(2, 3), shapes=[(3, 4), (3, 1)]),
    OpCase("repeat_new_dims", lambda m, x: x.repeat(2, 1, 3), shapes=[(2, 3), (2,)]),
    OpCase("repeat_0d", lambda m, x: x.repeat(3), shapes=[()]),
    OpCase("tile", lambda m, x: m.tile(x, (2,)), shapes=[(2, 3)]),
    OpCase("tile_more", lambda m, x: x.tile((2, 1, 2)), shapes=[(2, 3)]),
    # ------------------------------------------------------------------------ cat and stack
    OpCase(
        "cat",
        lambda m, a, b: m.cat([a, b]),
        shapes=[((2, 3), (4, 3)), ((3,), (2,))],
    ),
    OpCase("cat_neg_dim", lambda m, a, b: m.cat((a, b), dim=-1), shapes=[((2, 3), (2, 1))]),
    OpCase("cat_three", lambda m, a, b: m.cat([a, b, a], 1), shapes=[((2, 3, 2), (2, 1, 2))]),
    OpCase("cat_one", lambda m, a: m.cat([a], 0), shapes=[(2, 3)]),
    OpCase("cat_empty_1d", lambda m, a: m.cat([a, m.zeros(0, dtype=a.dtype)], 1), shapes=[(2, 3)]),
    OpCase("concat", lambda m, a, b: m.concat([a, b], 1), shapes=[((2, 3), (2, 2))]),
    OpCase("concatenate", lambda m, a, b: m.concatenate([a, b]), shapes=[((1, 3), (2, 3))]),
    OpCase(  # float64 only: _core.promote_types gives float32 + int64 -> float64 (torch: float32)
        "cat_promotes_int_to_float",
        lambda m, a, b: m.cat([a, b]),
        make=_int_and_float,
        requires_grad=(True, False),
        dtypes=("float64",),
    ),
    OpCase("stack", lambda m, a, b: m.stack([a, b]), shapes=[((2, 3), (2, 3)), ((), ())]),
    OpCase("stack_neg_dim", lambda m, a, b: m.stack((a, b, a), -1), shapes=[((2, 3), (2, 3))]),
    OpCase("stack_mid", lambda m, a, b: m.stack([a, b], dim=1), shapes=[((2, 3), (2, 3))]),
    OpCase("hstack", lambda m, a, b: m.hstack([a, b]), shapes=[((2, 3), (2, 1)), ((3,), (2,))]),
    OpCase("vstack", lambda m, a, b: m.vstack([a, b]), shapes=[((2, 3), (3,)), ((3,), (3,))]),
    OpCase("dstack", lambda m, a, b: m.dstack([a, b]), shapes=[((2, 3), (2, 3)), ((3,), (3,))]),
    OpCase("column_stack", lambda m, a, b: m.column_stack([a, b]), shapes=[((3,), (3, 2))]),
    OpCase("atleast_1d", lambda m, x: m.atleast_1d(x), shapes=[(), (3,)]),
    OpCase("atleast_2d", lambda m, x: m.atleast_2d(x), shapes=[(), (3,), (2, 3)]),
    OpCase("atleast_3d", lambda m, x: m.atleast_3d(x), shapes=[(), (3,), (2, 3), (1, 2, 3)]),
    OpCase("atleast_2d_many", lambda m, x, y: m.atleast_2d(x, y), shapes=[((3,), ())]),
    OpCase(
        "meshgrid_ij",
        lambda m, x, y: m.meshgrid(x, y, indexing="ij"),
        shapes=[((3,), (4,))],
    ),
    OpCase(
        "meshgrid_xy",
        lambda m, x, y, z: m.meshgrid(x, y, z, indexing="xy"),
        shapes=[((3,), (2,), (2,))],
    ),
    # ------------------------------------------------------------------ split, chunk, unbind
    OpCase("split", lambda m, x: x.split(2), shapes=[(5, 3), (4,)]),
    OpCase("split_dim", lambda m, x: m.split(x, 3, dim=-1), shapes=[(2, 7)]),
    OpCase("split_sizes", lambda m, x: x.split([1, 0, 3], 1), shapes=[(2, 4)]),
    OpCase("split_one_used", lambda m, x: x.split(2)[1], shapes=[(5, 3)]),
    OpCase("chunk", lambda m, x: x.chunk(3), shapes=[(5, 2), (6,), (2, 3)]),
    OpCase("chunk_dim", lambda m, x: m.chunk(x, 2, dim=-1), shapes=[(2, 5)]),
    OpCase("tensor_split", lambda m, x: m.tensor_split(x, 3), shapes=[(7, 2), (2,)]),
    OpCase("tensor_split_idx", lambda m, x: x.tensor_split([1, 4], dim=1), shapes=[(2, 6)]),
    OpCase("tensor_split_unsorted", lambda m, x: m.tensor_split(x, [3, 1]), shapes=[(5,)]),
    OpCase("unbind", lambda m, x: x.unbind(), shapes=[(3, 4), (2,)]),
    OpCase("unbind_dim", lambda m, x: m.unbind(x, -1), shapes=[(3, 4)]),
    OpCase("unbind_one_used", lambda m, x: x.unbind(1)[2], shapes=[(3, 4)]),
    OpCase("iterate", lambda m, x: [r * (i + 1) for i, r in enumerate(x)], shapes=[(3, 2)]),
    OpCase("narrow", lambda m, x: x.narrow(1, 1, 2), shapes=[(3, 4)]),
    OpCase("narrow_neg", lambda m, x: m.narrow(x, -1, -3, 3), shapes=[(3, 4), (5,)]),
    OpCase("select", lambda m, x: x.select(1, -1), shapes=[(3, 4), (2, 3, 4)]),
    OpCase("select_1d", lambda m, x: m.select(x, 0, 2), shapes=[(4,)]),
    # ------------------------------------------------------------------------ flip and roll
    OpCase("flip", lambda m, x: m.flip(x, (0, -1)), shapes=[(3, 4), (2, 3, 2)]),
    OpCase("flip_method", lambda m, x: x.flip(1), shapes=[(3, 4)]),
    OpCase("flip_0d", lambda m, x: m.flip(x, ()), shapes=[()]),
    OpCase("fliplr", lambda m, x: m.fliplr(x), shapes=[(3, 4), (2, 3, 2)]),
    OpCase("flipud", lambda m, x: x.flipud(), shapes=[(3, 4), (3,)]),
    OpCase("roll", lambda m, x: m.roll(x, 1, 0), shapes=[(3, 4), (5,)]),
    OpCase("roll_flat", lambda m, x: x.roll(5), shapes=[(3, 4)]),
    OpCase("roll_many", lambda m, x: m.roll(x, (2, -1), (-1, 0)), shapes=[(3, 4, 2)]),
    # ---------------------------------------------------------------------------- padding
    OpCase("pad", lambda m, x: _pad(m, x, (1, 2)), shapes=[(3, 4), (2,)]),
    OpCase("pad_2d_value", lambda m, x: _pad(m, x, (1, 0, 0, 2), value=1.5), shapes=[(3, 4)]),
    OpCase("pad_negative_crops", lambda m, x: _pad(m, x, (-1, 2, 1, -1)), shapes=[(3, 4)]),
    OpCase("pad_reflect", lambda m, x: _pad(m, x, (2, 1), mode="reflect"), shapes=[(2, 4)]),
    OpCase(
        "pad_reflect_2d",
        lambda m, x: _pad(m, x, (1, 2, 2, 1), mode="reflect"),
        shapes=[(2, 3, 4), (1, 2, 3, 3)],
    ),
    OpCase(
        "pad_replicate",
        lambda m, x: _pad(m, x, (2, 3), mode="replicate"),
        shapes=[(2, 3), (1, 2, 3)],
    ),
    OpCase(
        "pad_replicate_3d",
        lambda m, x: _pad(m, x, (1, 0, 0, 1, 1, 1), mode="replicate"),
        shapes=[(1, 2, 2, 3)],
    ),
    OpCase(
        "pad_circular",
        lambda m, x: _pad(m, x, (1, 2, 3, 0), mode="circular"),
        shapes=[(1, 3, 4)],
    ),
    # ------------------------------------------------------------------ triangles, diagonals
    OpCase("tril", lambda m, x: m.tril(x), shapes=[(3, 4), (2, 3, 3)]),
    OpCase("tril_offset", lambda m, x: x.tril(-1), shapes=[(4, 3)]),
    OpCase("triu", lambda m, x: m.triu(x, diagonal=1), shapes=[(3, 4), (2, 3, 3)]),
    OpCase("triu_neg", lambda m, x: x.triu(-2), shapes=[(4, 3)]),
    OpCase("diagonal", lambda m, x: m.diagonal(x), shapes=[(3, 4), (4, 3)]),
    OpCase("diagonal_offset", lambda m, x: x.diagonal(1), shapes=[(3, 4), (4, 3)]),
    OpCase("diagonal_neg_offset", lambda m, x: x.diagonal(-2), shapes=[(3, 4), (4, 3)]),
    OpCase("diagonal_dims", lambda m, x: m.diagonal(x, 1, -1, 0), shapes=[(3, 2, 4)]),
    OpCase("diagonal_batch", lambda m, x: x.diagonal(0, -2, -1), shapes=[(2, 3, 3)]),
    OpCase("diagonal_empty", lambda m, x: x.diagonal(5), shapes=[(3, 4)]),
    OpCase("diag_embed", lambda m, x: m.diag_embed(x), shapes=[(3,), (2, 3)]),
    OpCase("diag_embed_offset", lambda m, x: m.diag_embed(x, -1, 0, 2), shapes=[(2, 3)]),
    OpCase("diag", lambda m, x: m.diag(x), shapes=[(3,), (3, 4)]),
    OpCase("diag_offset", lambda m, x: x.diag(1), shapes=[(3,), (3, 4)]),
]


@pytest.mark.parametrize("case,sig,device", params(CASES))
def test_op(case, sig, device):
    run_case(case, sig, device)


# ---------------------------------------------------------- what the rows cannot say: views
def test_view_ops_share_memory_and_version_with_their_base():
    x = chainrule.zeros(2, 3, 4)
    for v in (
        x.reshape(6, 4),
        x.view(-1),
        x.permute(2, 0, 1),
        x.transpose(0, 1),
        x.unsqueeze(1),
        x[:, :1].squeeze(1),
        x.narrow(2, 1, 2),
        x.select(0, 1),
        x.diagonal(0, 1, 2),
        x.split(1)[1],
        x.unbind(2)[3],
        x.chunk(2, 1)[0],
        x.movedim(0, -1),
        x.flatten(),
    ):
        assert v._vc is x._vc
        assert np.shares_memory(v._data, x._data)
        v._data[...] = 0  # no error: writeable
    assert x[0:1].expand(5, 3, 4)._vc is x._vc


def test_copies_are_not_views():
    x = chainrule.zeros(3, 4)
    for y in (x.t().reshape(-1), x.repeat(2, 1), x.flip(0), x.roll(1), x.tril(), x.diag()):
        assert not np.shares_memory(y._data, x._data)
        assert y._vc is not x._vc
        assert y._view_idx is None and (y._base is None or y._base._base is None)


def test_view_dtype_reinterprets_bits_like_torch():
    torch = pytest.importorskip("torch")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    ours = chainrule.tensor(a).view(chainrule.int32)
    theirs = torch.tensor(a).view(torch.int32)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert tuple(chainrule.tensor(a).view(chainrule.float16).shape) == (2, 6)


def test_diagonal_view_writes_through_to_the_base():
    x = chainrule.zeros(3, 4)
    x.diagonal(1).add_(1)
    np.testing.assert_array_equal(x.numpy(), np.eye(3, 4, 1))


def test_split_and_chunk_piece_counts_match_torch():
    torch = pytest.importorskip("torch")
    for n in range(0, 8):
        for k in range(1, 5):
            a = np.arange(n, dtype=np.float32)
            for name, args in [("chunk", (k,)), ("split", (k,)), ("tensor_split", (k,))]:
                ours = getattr(chainrule, name)(chainrule.tensor(a), *args)
                theirs = getattr(torch, name)(torch.tensor(a), *args)
                assert [tuple(p.shape) for p in ours] == [tuple(p.shape) for p in theirs], (
                    name,
                    n,
                    k,
                )


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "fn,match",
    [
        (lambda m: m.cat([m.zeros(2, 3), m.zeros(2, 4)]), "Expected size 3 but got size 4 for "),
        (lambda m: m.cat([m.zeros(2, 3), m.zeros(2, 3, 1)]), "same number of dimensions"),
        (lambda m: m.cat([m.zeros(()), m.zeros(())]), "zero-dimensional tensor"),
        (lambda m: m.cat([]), "expected a non-empty list of Tensors"),
        (lambda m: m.stack([m.zeros(3), m.zeros(4)]), r"got \[3\] at entry 0 and \[4\] at entry 1"),
        (lambda m: m.zeros(2, 3, 4).t(), "t\\(\\) expects a tensor with <= 2 dimensions"),
        (lambda m: m.zeros(2, 3).repeat(2), "Number of dimensions of repeat dims"),
        (lambda m: m.zeros(3, 4).expand(2, 5), "must match the existing size"),
        (lambda m: m.zeros(3, 4).view(5, -1), "is invalid for input of size 12"),
        (lambda m: m.zeros(3, 4).permute(0, 0), "duplicate dims"),
        (lambda m: m.zeros(4).narrow(0, 2, 3), r"start \(2\) \+ length \(3\) exceeds"),
        (lambda m: m.zeros(3, 4).select(0, 5), "index 5 out of range"),
        (lambda m: m.zeros(3).tril(), "at least 2 dimensions"),
        (lambda m: m.zeros(3, 4).split(0), "split_size can only be 0"),
        (lambda m: m.zeros(3, 4).chunk(0), "chunk expects `chunks` to be greater than 0"),
        (lambda m: m.zeros(3, 4).unflatten(1, (3, 2)), "don't multiply up to the size of dim"),
        (lambda m: m.zeros(3, 4).diagonal(0, 1, 1), "diagonal dimensions cannot be identical"),
        (lambda m: m.zeros(3, 4).flatten(1, 0), "start_dim cannot come after end_dim"),
        (lambda m: m.zeros(3, 4).squeeze(3), "Dimension out of range"),
        (lambda m: m.roll(m.zeros(2, 3), (1, 2), (0,)), "shifts and dimensions must align"),
    ],
)
def test_errors_match_torch(fn, match):
    torch = pytest.importorskip("torch")
    with pytest.raises((RuntimeError, IndexError, ValueError), match=match):
        fn(chainrule)
    with pytest.raises((RuntimeError, IndexError, ValueError), match=match):
        fn(torch)


@pytest.mark.parametrize(
    "args,match",
    [
        (((5, 5), "reflect"), "Padding size should be less than the corresponding input"),
        (((1, 1, 1, 1), "replicate"), "Padding size 4 is not supported for 2D input"),
    ],
)
def test_pad_errors_match_torch(args, match):
    torch = pytest.importorskip("torch")
    widths, mode = args
    with pytest.raises((RuntimeError, NotImplementedError), match=match):
        cr_pad(chainrule.zeros(3, 4), widths, mode=mode)
    with pytest.raises((RuntimeError, NotImplementedError), match=match):
        torch.nn.functional.pad(torch.zeros(3, 4), widths, mode=mode)
