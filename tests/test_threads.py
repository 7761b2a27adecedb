"""Intra-op threads: backend.split_rows runs large kernels (gelu, attention, convolution) in
parts on several threads.

The ops are checked in the split path (forced here on small inputs) against finite differences
in float64 and against the same op run in one part; elementwise kernels must give the same
bits either way, and every kernel the same bits from run to run.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading

import numpy as np
import pytest

import chainrule as torch
import chainrule.nn.functional as F
from chainrule import backend


@pytest.fixture
def split(monkeypatch):
    """Every split_rows call with more than one row runs in two parts on two threads."""
    monkeypatch.setattr(backend, "_SPLIT_MIN", 2)
    monkeypatch.setattr(backend, "_BLAS_SPINS", False)
    monkeypatch.setattr(backend, "_cores", lambda: 2)
    monkeypatch.setattr(backend, "_threads", [None])
    calls = []
    run_parts = backend._run_parts
    monkeypatch.setattr(backend, "_run_parts", lambda *a: (calls.append(a[1:]), run_parts(*a)))
    return calls


def _one_part(fn):
    """fn() with split_rows running everything as one call."""
    saved = backend._threads[0]
    backend._threads[0] = 1
    try:
        return fn()
    finally:
        backend._threads[0] = saved


# --------------------------------------------------------------------------------- split_rows
def test_split_rows_covers_every_row_once_on_two_threads(split):
    seen, names = [], set()

    def fn(lo, hi):
        seen.append((lo, hi))
        names.add(threading.current_thread().name)

    backend.split_rows(fn, 7, 1000)
    assert sorted(seen) == [(0, 3), (3, 7)]
    assert names == {threading.current_thread().name, "chainrule-intra-op"}


def test_split_rows_runs_small_work_and_one_thread_settings_in_one_call(split):
    seen = []
    backend._SPLIT_MIN = 1 << 16
    backend.split_rows(lambda lo, hi: seen.append((lo, hi)), 10, 1000)
    backend._SPLIT_MIN = 2
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as in PyTorch: the intra-op threads, BLAS and chainrule's own
    try:
        backend.split_rows(lambda lo, hi: seen.append((lo, hi)), 10, 1000)
    finally:
        torch.set_num_threads(before)
    assert seen == [(0, 10), (0, 10)]
    assert split == []


def test_spinning_blas_threads_turn_splitting_off(split, monkeypatch):
    monkeypatch.setattr(backend, "_BLAS_SPINS", True)
    assert backend.intra_op_parts(1 << 20) == 1


def test_an_error_in_the_worker_reaches_the_caller_and_the_worker_goes_on(split):
    def fn(lo, hi):
        if lo > 0:
            raise ValueError(f"bad rows {lo}:{hi}")

    with pytest.raises(ValueError, match="bad rows 2:4"):
        backend.split_rows(fn, 4, 1000)
    out = np.zeros(4)
    backend.split_rows(lambda lo, hi: out.__setitem__(slice(lo, hi), 1), 4, 1000)
    assert out.tolist() == [1, 1, 1, 1]


def test_a_split_inside_a_part_runs_in_one_call_rather_than_wait_for_itself(split):
    inner = []

    def fn(lo, hi):
        backend.split_rows(lambda a, b: inner.append((lo, a, b)), 6, 1000)

    backend.split_rows(fn, 2, 1000)
    # the worker's part ran its inner split in one call; the caller's split again
    assert sorted(inner) == [(0, 0, 3), (0, 3, 6), (1, 0, 6)]


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_a_forked_child_gets_its_own_worker(split):
    backend.split_rows(lambda lo, hi: None, 2, 1000)  # the parent's worker exists
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(1) as pool:
        assert pool.apply(_child_split, ()) == [0.0, 1.0, 2.0, 3.0]


def _child_split():
    backend._SPLIT_MIN, backend._BLAS_SPINS, backend._cores = 2, False, lambda: 2
    out = np.zeros(4)
    backend.split_rows(lambda lo, hi: out.__setitem__(slice(lo, hi), np.arange(lo, hi)), 4, 100)
    return out.tolist()


# ------------------------------------------------------------------------------------- ops
def _grads(fn, *inputs):
    """fn's output and the gradients of a fixed random projection of it."""
    xs = [torch.tensor(a, requires_grad=True) for a in inputs]
    y = fn(*xs)
    u = torch.tensor(np.random.default_rng(1).standard_normal(y.shape).astype(y.dtype))
    (y * u).sum().backward()
    return [y.detach().numpy()] + [x.grad.numpy() for x in xs]


def _same_split_or_not(split, fn, *inputs, bitwise=False):
    got = _grads(fn, *inputs)
    assert split, "the split path did not run"
    again = _grads(fn, *inputs)
    want = _one_part(lambda: _grads(fn, *inputs))
    for g, a, w in zip(got, again, want):
        np.testing.assert_array_equal(g, a)  # the same bits from run to run
        if bitwise:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _randn(*shape, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_gelu_tanh_in_parts_gives_the_same_bits(split):
    _same_split_or_not(split, lambda x: F.gelu(x, approximate="tanh"), _randn(5, 7, 3),
                       bitwise=True)  # fmt: skip


def test_attention_in_parts_equals_one_part(split):
    q, k, v = _randn(4, 2, 6, 8, seed=1), _randn(4, 2, 5, 8, seed=2), _randn(4, 2, 5, 3, seed=3)
    _same_split_or_not(split, lambda q, k, v: F.scaled_dot_product_attention(q, k, v), q, k, v)
    mask = _randn(4, 1, 6, 5, seed=4)  # broadcast over heads, split over the batch
    _same_split_or_not(split, lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m),
                       q, k, v, mask)  # fmt: skip


def test_causal_attention_in_parts_equals_one_part(split):
    q = _randn(3, 2, 6, 4, seed=5)
    _same_split_or_not(
        split, lambda q: F.scaled_dot_product_attention(q, q * 2, q, is_causal=True), q
    )


def test_conv_in_parts_equals_one_part(split, monkeypatch):
    from chainrule.ops import conv

    monkeypatch.setattr(conv, "_CHUNK_BYTES", 1)  # one image per chunk: several chunks
    monkeypatch.setattr(conv, "_CHUNKS", {})
    x, w, b = _randn(5, 3, 9, 9), _randn(4, 3, 3, 3, seed=1), _randn(4, seed=2)
    _same_split_or_not(split, lambda x, w, b: F.conv2d(x, w, b, padding=1), x, w, b)
    _same_split_or_not(split, lambda x, w: F.conv2d(x, w, stride=2), x, w)
    big = _randn(2, 40, 6, 6, seed=3)  # a gw block above 1024: the batch-inside GEMM path
    wide = _randn(30, 40, 3, 3, seed=4)
    _same_split_or_not(split, lambda x, w: F.conv2d(x, w), big, wide)


@pytest.mark.parametrize(
    "fn, shapes",
    [
        (lambda x: F.gelu(x, approximate="tanh"), [(4, 3)]),
        (
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
            [(3, 2, 4, 3), (3, 2, 4, 3), (3, 2, 4, 2)],
        ),  # fmt: skip
        (lambda x, w: F.conv2d(x, w, padding=1), [(3, 2, 4, 4), (2, 2, 3, 3)]),
    ],
    ids=["gelu", "sdpa", "conv2d"],
)
def test_split_kernels_pass_gradcheck_in_float64(split, monkeypatch, fn, shapes):
    from chainrule.ops import conv

    monkeypatch.setattr(conv, "_CHUNK_BYTES", 1)
    monkeypatch.setattr(conv, "_CHUNKS", {})
    inputs = [
        torch.tensor(_randn(*s, dtype=np.float64, seed=i), requires_grad=True)
        for i, s in enumerate(shapes)
    ]
    assert torch.testing.gradcheck(fn, inputs)
    assert split


@pytest.mark.parametrize("kind, opt_name", [("lenet", "adam"), ("gpt", "adamw")])
def test_jit_equals_eager_bitwise_with_kernels_in_parts(split, monkeypatch, kind, opt_name):
    """The replay calls the same ops on the same sizes, so it cuts them as eager does."""
    from chainrule.ops import conv
    from tests.test_jit import test_jit_equals_eager_bitwise

    monkeypatch.setattr(conv, "_CHUNK_BYTES", 1)  # one image per chunk: several chunks
    monkeypatch.setattr(conv, "_CHUNKS", {})
    test_jit_equals_eager_bitwise(kind, opt_name)
    assert split


def test_the_worker_keeps_nothing_of_a_finished_part_alive(split):
    import gc
    import weakref

    class Big:
        pass

    big = Big()
    ref = weakref.ref(big)
    backend.split_rows(lambda lo, hi, big=big: None, 2, 1000)
    del big
    gc.collect()
    assert ref() is None
