"""What runs inside a DataLoader worker process, and what travels between it and the main one.

A worker reads tasks ``("fetch", generation, idx, index)`` from its own queue, fetches and
collates the batch, pickles the result itself (so that an unpicklable batch becomes a clear error
instead of a silent hang) and sends the bytes on its own pipe. The main process reorders.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

from ...ops.creation import default_generator

MP_STATUS_CHECK_INTERVAL = 5.0  # seconds between liveness checks while waiting

__all__ = ["WorkerInfo", "get_worker_info"]


class WorkerInfo:
    """What ``get_worker_info()`` returns in a worker: ``id``, ``num_workers``, ``seed`` (the
    loader's base seed plus ``id``) and ``dataset`` (this worker's copy)."""

    __initialized = False

    def __init__(self, **kwargs):
        for k, v in kwargs.items():
            setattr(self, k, v)
        self.__keys = tuple(kwargs)
        self.__initialized = True

    def __setattr__(self, key, val):
        if self.__initialized:
            raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")
        return super().__setattr__(key, val)

    def __repr__(self):
        items = ", ".join(f"{k}={getattr(self, k)}" for k in self.__keys)
        return f"{type(self).__name__}({items})"


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker: its ``WorkerInfo``; in the main process: ``None``.

    An ``IterableDataset`` uses it to give each worker its own shard::

        info = get_worker_info()
        start = 0 if info is None else info.id
        step = 1 if info is None else info.num_workers
        yield from self.items[start::step]
    """
    return _worker_info


class _KeyErrorMessage(str):
    """KeyError quotes its message with repr(); this keeps the traceback text readable."""

    def __repr__(self):
        return self


class ExceptionWrapper:
    """An exception caught in a worker, with its traceback as text, to re-raise in the main one."""

    def __init__(self, exc_info=None, where: str = "in background"):
        if exc_info is None:
            exc_info = sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:
            raise RuntimeError(msg) from None
        raise exception


class IterableEnd:
    """A worker's copy of an IterableDataset is exhausted."""

    def __init__(self, worker_id: int):
        self.worker_id = worker_id


# ------------------------------------------------------------------------------------ fetchers
class MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        from ._collate import default_collate
        from .dataset import TensorDataset

        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        # rows of a TensorDataset stacked by default_collate are one fancy index per tensor
        self.fast = (
            auto_collation and collate_fn is default_collate and type(dataset) is TensorDataset
        )
        getitems = getattr(dataset, "__getitems__", None)
        self.getitems = getitems if callable(getitems) else None

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.fast:
            rows = np.asarray(index, dtype=np.int64)
            return [t[rows] for t in self.dataset.tensors]
        if self.getitems is not None:
            data = self.getitems(index)
        else:
            data = [self.dataset[i] for i in index]
        return self.collate_fn(data)


class IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, drop_last):
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False

    def fetch(self, index):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        data = []
        for _ in index:
            try:
                data.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


def make_fetcher(iterable: bool, dataset, auto_collation, collate_fn, drop_last):
    cls = IterableFetcher if iterable else MapFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)


# ------------------------------------------------------------------------------------ the loop
def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed Python's, NumPy's and chainrule's global RNGs in a worker; returns its seed."""
    seed = base_seed + worker_id
    random.seed(seed)
    default_generator.manual_seed(seed)  # not chainrule.manual_seed: never touch CUDA in a fork
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def _dumps(message, worker_id: int):
    """Pickle a result here, so that a failure is reported instead of lost in a feeder thread."""
    try:
        return ForkingPickler.dumps(message)
    except Exception as e:
        gen, idx, data = message
        if isinstance(data, ExceptionWrapper):  # the exception's own class cannot travel
            data.exc_msg = f"{data.exc_type.__module__}.{data.exc_type.__name__}: " + data.exc_msg
            data.exc_type = RuntimeError
        else:
            try:
                raise RuntimeError(
                    f"DataLoader worker {worker_id} cannot send batch {idx} back to the main "
                    f"process: the batch cannot be pickled ({type(e).__name__}: {e}). Return "
                    "tensors, arrays, numbers, strings, dicts and lists from the dataset and "
                    "collate_fn, or use num_workers=0."
                ) from e
            except RuntimeError:
                data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
        return ForkingPickler.dumps((gen, idx, data))


def worker_loop(
    iterable,
    dataset,
    task_queue,
    result_conn,
    auto_collation,
    collate_fn,
    drop_last,
    base_seed,
    init_fn,
    worker_id,
    num_workers,
    inherited,
):
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    for conn in inherited:  # forked copies of the main side's pipe ends: keep EOF/EPIPE working
        conn.close()
    where = f"in DataLoader worker process {worker_id}"
    seed = seed_worker(base_seed, worker_id)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    init_error = None
    fetcher = None
    try:
        if init_fn is not None:
            init_fn(worker_id)
        fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
    except Exception:
        init_error = ExceptionWrapper(where=where)
    parent = os.getppid()
    ended = False
    try:
        while True:
            try:
                task = task_queue.get(timeout=MP_STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent:  # the main process is gone
                    break
                continue
            if task is None:
                break
            kind, gen, idx, index = task
            if kind == "reset":  # a new epoch with persistent workers
                ended = False
                try:
                    fetcher = make_fetcher(iterable, dataset, auto_collation, collate_fn, drop_last)
                except Exception:
                    init_error = ExceptionWrapper(where=where)
                continue
            if init_error is not None:
                data, init_error = init_error, None
            elif ended:
                data = IterableEnd(worker_id)
            else:
                try:
                    data = fetcher.fetch(index)
                except StopIteration:
                    if not iterable:
                        data = ExceptionWrapper(where=where)
                    else:
                        data = IterableEnd(worker_id)
                        ended = True
                except Exception:
                    data = ExceptionWrapper(where=where)
            payload = _dumps((gen, idx, data), worker_id)
            del data
            try:
                result_conn.send_bytes(payload)
            except OSError:  # the main process closed its end: shutting down
                break
    except KeyboardInterrupt:
        pass
    finally:
        result_conn.close()
        task_queue.cancel_join_thread()
