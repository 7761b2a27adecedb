"""Datasets, samplers and collation: rows compared with torch.utils.data where torch has the
same thing, and the behaviour PyTorch documents where it does not."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import chainrule
from chainrule.utils import data as cdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data

Point = collections.namedtuple("Point", ["x", "y"])


def _data(m):
    return cdata if m is chainrule else tdata


def _plain(x):
    """A batch as nested Python values with type tags, comparable across the two frameworks."""
    if isinstance(x, chainrule.Tensor | torch.Tensor):
        dt = str(x.dtype).replace("torch.", "").replace("chainrule.", "")
        return ("tensor", dt, tuple(x.shape), np.asarray(x.detach()).tolist())
    if isinstance(x, dict):
        return ("dict", type(x).__name__, {k: _plain(v) for k, v in x.items()})
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return ("namedtuple", type(x).__name__, [_plain(v) for v in x])
    if isinstance(x, list | tuple):
        return (type(x).__name__, [_plain(v) for v in x])
    return (type(x).__name__, x)


# ------------------------------------------------------------------------------ collation rows
# make(m) -> a list of samples built with m = chainrule or m = torch
COLLATE_ROWS = {
    "tensors": lambda m: [m.arange(3.0) + i for i in range(4)],
    "int tensors 2d": lambda m: [m.ones(2, 3, dtype=m.int64) * i for i in range(3)],
    "0-d tensors": lambda m: [m.tensor(float(i)) for i in range(3)],
    "floats": lambda m: [0.5, 1.5, 2.5],
    "ints": lambda m: [1, 2, 3],
    "bools": lambda m: [True, False, True],
    "strings": lambda m: ["a", "bb", "c"],
    "numpy arrays": lambda m: [np.arange(4, dtype=np.float32) * i for i in range(3)],
    "numpy int64 arrays": lambda m: [np.arange(4) * i for i in range(2)],
    "numpy scalars": lambda m: [np.float64(1.5), np.float64(2.5)],
    "numpy float32 scalars": lambda m: [np.float32(1.5), np.float32(2.5)],
    "numpy int scalars": lambda m: [np.int32(1), np.int32(2)],
    "tuples": lambda m: [(m.zeros(2) + i, i) for i in range(3)],
    "lists": lambda m: [[m.zeros(2) + i, float(i)] for i in range(3)],
    "dicts": lambda m: [{"x": m.ones(3) * i, "y": i, "name": str(i)} for i in range(3)],
    "ordered dicts": lambda m: [collections.OrderedDict(a=i, b=m.ones(1)) for i in range(2)],
    "namedtuples": lambda m: [Point(m.ones(2) * i, i) for i in range(3)],
    "nested": lambda m: [{"a": [(i, m.ones(2))], "b": {"c": np.ones(1) * i}} for i in range(2)],
}


@pytest.mark.parametrize("name", list(COLLATE_ROWS))
def test_default_collate_matches_torch(name):
    make = COLLATE_ROWS[name]
    ours = cdata.default_collate(make(chainrule))
    theirs = tdata.default_collate(make(torch))
    assert _plain(ours) == _plain(theirs)


CONVERT_ROWS = {
    "array": lambda m: np.arange(3.0),
    "tuple of arrays": lambda m: (np.ones(2), 3, "s"),
    "dict": lambda m: {"a": np.zeros((2, 2), np.int32), "b": [np.ones(1)]},
    "tensor": lambda m: m.ones(2),
    "string array stays": lambda m: np.array(["a", "b"]),
}


@pytest.mark.parametrize("name", list(CONVERT_ROWS))
def test_default_convert_matches_torch(name):
    make = CONVERT_ROWS[name]
    ours = cdata.default_convert(make(chainrule))
    theirs = tdata.default_convert(make(torch))
    if isinstance(ours, np.ndarray):
        assert isinstance(theirs, np.ndarray) and ours.tolist() == theirs.tolist()
        return
    assert _plain(ours) == _plain(theirs)


COLLATE_ERRORS = [
    # samples, exception, words the message must contain
    ([chainrule.ones(3), chainrule.ones(4)], RuntimeError, ["sample 1", "(4,)", "(3,)"]),
    ([(chainrule.ones(2), 0), (chainrule.ones(5), 1)], RuntimeError, ["sample 1", "sample[0]"]),
    ([{"x": np.ones(2)}, {"x": np.ones(3)}], RuntimeError, ["sample['x']", "(3,)"]),
    ([[1, 2], [1, 2, 3]], RuntimeError, ["equal size", "sample 1"]),
    ([{"a": 1}, {"b": 2}], KeyError, ["sample 1", "'a'"]),
    ([chainrule.ones(2), np.ones(2)], TypeError, ["sample 1", "ndarray"]),
    ([object(), object()], TypeError, ["batch must contain"]),
    ([np.array(["a"]), np.array(["b"])], TypeError, ["batch must contain"]),
]


@pytest.mark.parametrize("samples,exc,words", COLLATE_ERRORS)
def test_default_collate_errors_name_sample_and_shapes(samples, exc, words):
    with pytest.raises(exc) as info:
        cdata.default_collate(samples)
    for w in words:
        assert w in str(info.value)


# ------------------------------------------------------------------------------------ datasets
def test_tensor_dataset_rows_and_size_mismatch():
    x, y = chainrule.arange(10.0).reshape(5, 2), chainrule.arange(5)
    ds = cdata.TensorDataset(x, y)
    assert len(ds) == 5
    a, b = ds[3]
    assert a.tolist() == [6.0, 7.0] and b.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch"):
        cdata.TensorDataset(x, chainrule.arange(4))


def test_subset_and_concat_index_like_torch():
    for m in (chainrule, torch):
        d = _data(m)
        a, b = d.TensorDataset(m.arange(5)), d.TensorDataset(m.arange(10, 13))
        cat = d.ConcatDataset([a, b])
        sub = d.Subset(cat, [7, 0, 5])
        got = [int(cat[i][0]) for i in (0, 4, 5, 7, -1, -8)] + [int(s[0]) for s in sub]
        assert got == [0, 4, 10, 12, 12, 0, 12, 0, 10]
        assert len(cat) == 8 and len(sub) == 3 and len(a + b) == 8
    with pytest.raises(ValueError, match="absolute value"):
        cdata.ConcatDataset([list(range(3))])[-4]


def test_stack_and_chain_datasets():
    s = cdata.StackDataset(a=[1, 2], b=["x", "y"])
    assert s[1] == {"a": 2, "b": "y"} and len(s) == 2

    class Count(cdata.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

    assert list(Count(2) + Count(3)) == [0, 1, 0, 1, 2]


SPLIT_ROWS = [
    # n, lengths, expected sizes
    (10, [3, 7], [3, 7]),
    (10, [0.7, 0.3], [7, 3]),
    (10, [0.33, 0.33, 0.34], [4, 3, 3]),
    (5, [0.5, 0.5], [3, 2]),
    (1, [1.0, 0.0], [1, 0]),
]


@pytest.mark.filterwarnings("ignore:Length of split")
@pytest.mark.parametrize("n,lengths,sizes", SPLIT_ROWS)
def test_random_split_sizes_match_torch(n, lengths, sizes):
    parts = cdata.random_split(range(n), lengths, generator=chainrule.Generator().manual_seed(0))
    theirs = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == sizes == [len(p) for p in theirs]
    everything = sorted(i for p in parts for i in p)
    assert everything == list(range(n))


def test_random_split_is_reproducible_and_checks_lengths():
    a = cdata.random_split(range(20), [10, 10], generator=chainrule.Generator().manual_seed(3))
    b = cdata.random_split(range(20), [10, 10], generator=chainrule.Generator().manual_seed(3))
    assert list(a[0]) == list(b[0]) and list(a[0]) != list(range(10))
    chainrule.manual_seed(5)
    c = list(cdata.random_split(range(20), [10, 10])[0])
    chainrule.manual_seed(5)
    assert list(cdata.random_split(range(20), [10, 10])[0]) == c
    with pytest.raises(ValueError, match="Sum of input lengths"):
        cdata.random_split(range(5), [2, 2])


# ------------------------------------------------------------------------------------ samplers
def test_sequential_and_batch_sampler_match_torch():
    for n, bs, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (2, 5, False)]:
        ours = cdata.BatchSampler(cdata.SequentialSampler(range(n)), bs, drop)
        theirs = tdata.BatchSampler(tdata.SequentialSampler(range(n)), bs, drop)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


SAMPLER_ERRORS = [
    (lambda d: d.BatchSampler(range(3), 0, False), ValueError, "batch_size should be a positive"),
    (lambda d: d.BatchSampler(range(3), 2, 1), ValueError, "drop_last should be a boolean"),
    (lambda d: d.RandomSampler(range(3), replacement=1), TypeError, "replacement should be"),
    (lambda d: d.RandomSampler([], num_samples=None), ValueError, "num_samples should be"),
    (lambda d: d.WeightedRandomSampler([1.0], 0), ValueError, "num_samples should be"),
    (lambda d: d.WeightedRandomSampler([[1.0]], 1), ValueError, "weights should be a 1d"),
    (lambda d: d.WeightedRandomSampler([1.0], 1, 1), ValueError, "replacement should be"),
]


@pytest.mark.parametrize("make,exc,text", SAMPLER_ERRORS)
def test_sampler_argument_errors_match_torch(make, exc, text):
    for d in (cdata, tdata):
        with pytest.raises(exc, match=text):
            make(d)


def test_random_sampler_permutes_and_follows_generator():
    g = chainrule.Generator().manual_seed(0)
    s = cdata.RandomSampler(range(10), generator=g)
    first, second = list(s), list(s)
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    again = list(cdata.RandomSampler(range(10), generator=chainrule.Generator().manual_seed(0)))
    assert again == first
    chainrule.manual_seed(1)
    a = list(cdata.RandomSampler(range(10)))
    chainrule.manual_seed(1)
    assert list(cdata.RandomSampler(range(10))) == a


def test_random_sampler_num_samples_and_replacement():
    s = cdata.RandomSampler(range(4), num_samples=10)
    got = list(s)
    assert len(got) == len(s) == 10 and sorted(got[:8]) == [0, 0, 1, 1, 2, 2, 3, 3]
    r = list(cdata.RandomSampler(range(3), replacement=True, num_samples=100))
    assert len(r) == 100 and set(r) == {0, 1, 2}


def test_subset_random_sampler_draws_each_index_once():
    s = cdata.SubsetRandomSampler([5, 7, 9], generator=chainrule.Generator().manual_seed(0))
    assert sorted(s) == [5, 7, 9] and len(s) == 3


def test_weighted_random_sampler_follows_weights():
    g = chainrule.Generator().manual_seed(0)
    draws = list(cdata.WeightedRandomSampler([0.0, 1.0, 3.0], 4000, generator=g))
    counts = np.bincount(draws, minlength=3)
    assert counts[0] == 0 and abs(counts[2] / counts[1] - 3.0) < 0.3
    once = list(cdata.WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False, generator=g))
    assert sorted(once) == [0, 1, 2, 3]
