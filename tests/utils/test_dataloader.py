"""DataLoader: argument errors and batches row by row beside torch's DataLoader; worker
processes (order, errors with the worker's traceback, seeding, pickling errors, death,
timeout, shutdown, persistent workers)."""

from __future__ import annotations

import os
import re
import signal
import time

import numpy as np
import pytest

import chainrule
from chainrule.utils import data as cdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _data(m):
    return cdata if m is chainrule else tdata


def _plain(x):
    if isinstance(x, chainrule.Tensor | torch.Tensor):
        dt = str(x.dtype).replace("torch.", "").replace("chainrule.", "")
        return ("tensor", dt, tuple(x.shape), np.asarray(x.detach()).tolist())
    if isinstance(x, dict):
        return ("dict", {k: _plain(v) for k, v in x.items()})
    if isinstance(x, list | tuple):
        return (type(x).__name__, [_plain(v) for v in x])
    return (type(x).__name__, x)


def _tensor_ds(m, n=10):
    return _data(m).TensorDataset(m.arange(n * 2.0).reshape(n, 2), m.arange(n))


class Squares:
    """A map-style dataset that is not a Dataset subclass (duck typing, as PyTorch allows)."""

    def __init__(self, n=7):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": np.full(2, i * i, np.float32), "i": i}


def _stream(m, n=7):
    class Stream(_data(m).IterableDataset):
        def __iter__(self):
            return iter(range(n))

        def __len__(self):
            return n

    return Stream()


# --------------------------------------------------------------------- argument-conflict rows
ARG_ERRORS = {
    "negative workers": lambda m: dict(dataset=_tensor_ds(m), num_workers=-1),
    "negative timeout": lambda m: dict(dataset=_tensor_ds(m), timeout=-1),
    "prefetch without workers": lambda m: dict(dataset=_tensor_ds(m), prefetch_factor=2),
    "persistent without workers": lambda m: dict(dataset=_tensor_ds(m), persistent_workers=True),
    "shuffle and sampler": lambda m: dict(
        dataset=_tensor_ds(m), shuffle=True, sampler=_data(m).SequentialSampler(range(10))
    ),
    "batch_sampler and batch_size": lambda m: dict(
        dataset=_tensor_ds(m), batch_sampler=[[0, 1]], batch_size=2
    ),
    "batch_sampler and shuffle": lambda m: dict(
        dataset=_tensor_ds(m), batch_sampler=[[0, 1]], shuffle=True
    ),
    "batch_sampler and drop_last": lambda m: dict(
        dataset=_tensor_ds(m), batch_sampler=[[0, 1]], drop_last=True
    ),
    "no batching and drop_last": lambda m: dict(
        dataset=_tensor_ds(m), batch_size=None, drop_last=True
    ),
    "iterable and shuffle": lambda m: dict(dataset=_stream(m), shuffle=True),
    "iterable and sampler": lambda m: dict(dataset=_stream(m), sampler=[0, 1]),
    "iterable and batch_sampler": lambda m: dict(dataset=_stream(m), batch_sampler=[[0]]),
    "context without workers": lambda m: dict(
        dataset=_tensor_ds(m), multiprocessing_context="spawn"
    ),
    "unknown context": lambda m: dict(
        dataset=_tensor_ds(m), num_workers=1, multiprocessing_context="nope"
    ),
}


def _normalized(e: Exception) -> str:
    return re.sub(r"<[^>]*>", "<obj>", str(e))


@pytest.mark.parametrize("name", list(ARG_ERRORS))
def test_argument_errors_match_torch(name):
    make = ARG_ERRORS[name]
    with pytest.raises(Exception) as theirs:
        tdata.DataLoader(**make(torch))
    with pytest.raises(type(theirs.value)) as ours:
        cdata.DataLoader(**make(chainrule))
    assert _normalized(ours.value) == _normalized(theirs.value)


def test_attributes_are_frozen_after_init():
    loader = cdata.DataLoader(_tensor_ds(chainrule), batch_size=2)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        loader.batch_size = 3
    loader.num_workers = 0  # not frozen in PyTorch either


# ------------------------------------------------------------------------------ batch rows
LOADER_ROWS = {
    "defaults": lambda m: (_tensor_ds(m), {}),
    "batch 3": lambda m: (_tensor_ds(m), dict(batch_size=3)),
    "batch 3 drop_last": lambda m: (_tensor_ds(m), dict(batch_size=3, drop_last=True)),
    "batch larger than data": lambda m: (_tensor_ds(m, 3), dict(batch_size=8)),
    "no auto-batching": lambda m: (_tensor_ds(m, 3), dict(batch_size=None)),
    "sampler list": lambda m: (_tensor_ds(m), dict(sampler=[9, 0, 4], batch_size=2)),
    "batch_sampler": lambda m: (_tensor_ds(m), dict(batch_sampler=[[3, 1], [0], [2, 2]])),
    "collate_fn": lambda m: (_tensor_ds(m), dict(batch_size=4, collate_fn=lambda b: len(b))),
    "dict samples": lambda m: (Squares(), dict(batch_size=3)),
    "dict samples, no batching": lambda m: (Squares(3), dict(batch_size=None)),
    "iterable": lambda m: (_stream(m), dict(batch_size=3)),
    "iterable drop_last": lambda m: (_stream(m), dict(batch_size=3, drop_last=True)),
    "iterable no batching": lambda m: (_stream(m), dict(batch_size=None)),
}


@pytest.mark.parametrize("name", list(LOADER_ROWS))
def test_batches_and_len_match_torch(name):
    ds, kw = LOADER_ROWS[name](chainrule)
    ours = cdata.DataLoader(ds, **kw)
    tds, tkw = LOADER_ROWS[name](torch)
    theirs = tdata.DataLoader(tds, **tkw)
    assert [_plain(b) for b in ours] == [_plain(b) for b in theirs]
    assert len(ours) == len(theirs)


def test_shuffle_follows_generator_and_global_seed():
    ds = cdata.TensorDataset(chainrule.arange(20))

    def order(**kw):
        return [
            int(i) for (b,) in cdata.DataLoader(ds, batch_size=5, shuffle=True, **kw) for i in b
        ]

    a = order(generator=chainrule.Generator().manual_seed(0))
    assert sorted(a) == list(range(20)) and a != list(range(20))
    assert order(generator=chainrule.Generator().manual_seed(0)) == a
    chainrule.manual_seed(4)
    b = order()
    chainrule.manual_seed(4)
    assert order() == b


def test_pin_memory_warns_without_accelerator():
    with pytest.warns(UserWarning, match="no accelerator"):
        cdata.DataLoader(_tensor_ds(chainrule), pin_memory=True)


# ----------------------------------------------------------------------------- worker processes
class Faulty(cdata.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"bad sample {i}")
        if i == 6:
            return {}["missing key"]
        return i


class Seeds(cdata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        info = cdata.get_worker_info()
        return (info.id, info.seed, float(np.random.rand()), float(chainrule.rand(1)), i)


class Sharded(cdata.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = cdata.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))


class WithTransform(cdata.Dataset):
    def __init__(self, transform):
        self.transform = transform

    def __len__(self):
        return 4

    def __getitem__(self, i):
        return self.transform(i)


class Dies(cdata.Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(cdata.Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        time.sleep(3)
        return i


def test_workers_keep_sampler_order():
    ds = _tensor_ds(chainrule, 23)
    single = [_plain(b) for b in cdata.DataLoader(ds, batch_size=4)]
    multi = [_plain(b) for b in cdata.DataLoader(ds, batch_size=4, num_workers=2)]
    assert multi == single
    d = Squares(9)
    assert [_plain(b) for b in cdata.DataLoader(d, batch_size=2, num_workers=2)] == [
        _plain(b) for b in cdata.DataLoader(d, batch_size=2)
    ]


def test_workers_iterable_dataset_matches_torch_order():
    ours = [b.tolist() for b in cdata.DataLoader(Sharded(11), batch_size=2, num_workers=2)]
    assert ours == [[0, 2], [1, 3], [4, 6], [5, 7], [8, 10], [9]]
    assert cdata.get_worker_info() is None
    ours = [b.tolist() for b in cdata.DataLoader(Sharded(5), batch_size=3, num_workers=2)]
    assert ours == [[0, 2, 4], [1, 3]]


def test_worker_exception_is_reraised_with_worker_traceback():
    loader = cdata.DataLoader(Faulty(), batch_size=2, num_workers=2)
    with pytest.raises(ValueError) as info:
        list(loader)
    msg = str(info.value)
    assert "Caught ValueError in DataLoader worker process 0" in msg
    assert 'raise ValueError(f"bad sample {i}")' in msg and "bad sample 5" in msg
    assert "Traceback (most recent call last)" in msg
    with pytest.raises(KeyError) as info:
        list(cdata.DataLoader(Faulty(), sampler=[6], num_workers=1))
    assert "missing key" in str(info.value) and "\\n" not in str(info.value)


def test_worker_seeding_and_worker_info():
    def run(seed):
        g = chainrule.Generator().manual_seed(seed)
        loader = cdata.DataLoader(Seeds(), batch_size=None, num_workers=2, generator=g)
        return [(w, seed, a, float(b), i) for w, seed, a, b, i in loader]

    rows = run(0)
    assert [int(r[4]) for r in rows] == list(range(6))
    assert {int(r[0]) for r in rows} == {0, 1}
    assert len({int(r[1]) - int(r[0]) for r in rows}) == 1  # seed = base_seed + worker id
    assert len({r[2] for r in rows}) == len({r[3] for r in rows}) == 6  # different streams
    assert run(0) == rows  # reproducible from the loader's generator
    assert run(1) != rows


_INIT = {}


def _init_worker(worker_id):
    _INIT["mark"] = 10 * worker_id + 1


def _init_mark_and_pid(_):
    return _INIT.get("mark"), os.getpid()


def test_worker_init_fn_runs_in_each_worker():
    loader = cdata.DataLoader(
        WithTransform(_init_mark_and_pid),
        batch_size=None,
        num_workers=2,
        worker_init_fn=_init_worker,
    )
    got = [tuple(sample) for sample in loader]
    assert {mark for mark, _ in got} == {1, 11}
    pids = {pid for _, pid in got}
    assert len(pids) == 2 and os.getpid() not in pids
    assert "mark" not in _INIT  # it ran in the workers, not here


def test_unpicklable_dataset_under_spawn_names_the_attribute():
    loader = cdata.DataLoader(
        WithTransform(lambda i: i), num_workers=1, multiprocessing_context="spawn"
    )
    with pytest.raises(Exception) as info:
        list(loader)
    msg = str(info.value)
    assert "dataset.transform" in msg and "module level" in msg and "num_workers=0" in msg


def test_unpicklable_batch_is_an_error_not_a_hang():
    loader = cdata.DataLoader(range(4), num_workers=1, collate_fn=lambda b: lambda: b, timeout=30)
    with pytest.raises(RuntimeError, match="cannot be pickled"):
        list(loader)


def test_dead_worker_is_reported():
    with pytest.raises(RuntimeError, match=r"exited unexpectedly \(signal SIGKILL\)"):
        list(cdata.DataLoader(Dies(), num_workers=2))


def test_timeout():
    with pytest.raises(RuntimeError, match="DataLoader timed out after 0.3 seconds"):
        list(cdata.DataLoader(Slow(), num_workers=1, timeout=0.3))


def test_workers_shut_down_after_the_epoch_and_after_break():
    it = iter(cdata.DataLoader(range(40), batch_size=2, num_workers=2))
    next(it)
    workers = list(it._workers)
    assert all(w.is_alive() for w in workers)
    del it  # leaving an epoch early
    assert not any(w.is_alive() for w in workers)
    it = iter(cdata.DataLoader(range(4), num_workers=2))
    assert [int(b) for b in it] == [0, 1, 2, 3]
    assert [w.exitcode for w in it._workers] == [0, 0]


def test_persistent_workers_serve_every_epoch():
    ds = cdata.TensorDataset(chainrule.arange(12))
    loader = cdata.DataLoader(
        ds, batch_size=3, shuffle=True, num_workers=2, persistent_workers=True
    )
    epochs = []
    for _ in range(2):
        epochs.append([int(i) for (b,) in loader for i in b])
    first = iter(loader)
    next(first)  # an epoch left early must not leak into the next one
    epochs.append([int(i) for (b,) in loader for i in b])
    assert all(sorted(e) == list(range(12)) for e in epochs)
    assert epochs[0] != epochs[1]
    workers = loader._iterator._workers
    assert all(w.is_alive() for w in workers)
    loader._iterator._shutdown_workers()
    assert not any(w.is_alive() for w in workers)


def test_spawn_workers_load_correctly():
    ds = _tensor_ds(chainrule, 5)
    loader = cdata.DataLoader(ds, batch_size=2, num_workers=1, multiprocessing_context="spawn")
    assert [_plain(b) for b in loader] == [_plain(b) for b in cdata.DataLoader(ds, batch_size=2)]


def _failing_init(worker_id):
    raise OSError(f"cannot open the shard of worker {worker_id}")


def test_worker_init_fn_error_is_reraised():
    loader = cdata.DataLoader(range(4), num_workers=1, worker_init_fn=_failing_init)
    with pytest.raises(OSError, match="cannot open the shard of worker 0"):
        list(loader)


def test_persistent_workers_restart_an_iterable_dataset_each_epoch():
    loader = cdata.DataLoader(Sharded(7), batch_size=2, num_workers=2, persistent_workers=True)
    first = [b.tolist() for b in loader]
    second = [b.tolist() for b in loader]
    assert first == second == [[0, 2], [1, 3], [4, 6], [5]]
    loader._iterator._shutdown_workers()


def test_persistent_loader_recovers_after_a_worker_error():
    loader = cdata.DataLoader(Faulty(), sampler=[5, 0], num_workers=1, persistent_workers=True)
    with pytest.raises(ValueError, match="bad sample 5"):
        list(loader)
    loader._iterator._shutdown_workers()  # e.g. after a timeout: the next epoch starts afresh
    with pytest.raises(ValueError, match="bad sample 5"):
        list(loader)
    loader._iterator._shutdown_workers()
