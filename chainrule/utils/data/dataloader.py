"""DataLoader: batches from a dataset, in the main process or in worker processes.

With ``num_workers > 0`` each worker is a real process (``fork`` on Linux, else ``spawn``). The
main process hands out batch indices round-robin, keeps ``prefetch_factor`` batches per worker in
flight, and yields the batches in sampler order. A worker's exception is re-raised in the main
process with the worker's traceback; a worker that dies is reported with its exit status.
"""

from __future__ import annotations

import collections
import itertools
import math
import multiprocessing
import multiprocessing.connection
import os
import pickle
import signal
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from ... import backend
from ...ops.creation import Generator, randint
from . import _worker
from ._collate import default_collate, default_convert
from ._worker import MP_STATUS_CHECK_INTERVAL, ExceptionWrapper, IterableEnd, make_fetcher
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]


class _InfiniteConstantSampler(Sampler):
    """The 'sampler' of an IterableDataset: ``None`` forever (the dataset decides when to stop)."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Iterate over a dataset in batches.

    Args:
        dataset: a map-style ``Dataset`` (``ds[i]``, ``len(ds)``) or an ``IterableDataset``.
        batch_size: samples per batch; ``None`` disables automatic batching.
        shuffle: reshuffle at every epoch (map-style datasets only).
        sampler: an iterable of indices (mutually exclusive with ``shuffle``).
        batch_sampler: an iterable of lists of indices (mutually exclusive with
            ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: worker processes; 0 loads in the main process.
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        pin_memory: accepted for compatibility (no accelerator memory to pin on the CPU).
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers before raising (0: forever).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker after seeding.
        multiprocessing_context: ``"fork"``, ``"spawn"``, ``"forkserver"`` or a context
            (default: ``fork`` where the platform has it, else ``spawn``).
        generator: the generator for the shuffling order and the workers' base seed.
        prefetch_factor: batches in flight per worker (default 2 with workers).
        persistent_workers: keep the workers alive between epochs.

    Example:
        >>> import chainrule as torch
        >>> from chainrule.utils.data import DataLoader, TensorDataset
        >>> ds = TensorDataset(torch.arange(10.0), torch.arange(10))
        >>> [tuple(x.shape) for x, y in DataLoader(ds, batch_size=4)]
        [(4,), (4,), (2,)]
    """

    __initialized = False

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context=None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "num_workers option should be non-negative; use num_workers=0 to disable "
                "multiprocessing."
            )
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "prefetch_factor option could only be specified in multiprocessing."
                "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor "
                "to None."
            )
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.in_order = in_order
        self._iterable = isinstance(dataset, IterableDataset)

        if self._iterable:
            if shuffle not in {False, None}:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified shuffle option, but "
                    f"got shuffle={shuffle}"
                )
            if sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified sampler option, but "
                    f"got sampler={sampler}"
                )
            if batch_sampler is not None:
                raise ValueError(
                    "DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                    f"but got batch_sampler={batch_sampler}"
                )
        else:
            shuffle = bool(shuffle)
            if shuffle and sampler is not None:
                raise ValueError("sampler option is mutually exclusive with shuffle")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "batch_sampler option is mutually exclusive with batch_size, shuffle, "
                    "sampler, and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError(
                "batch_size=None option disables auto-batching and is mutually exclusive with "
                "drop_last"
            )

        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self.multiprocessing_context = multiprocessing_context
        self._iterator = None
        if pin_memory and not backend.cuda_available():
            warnings.warn(
                "'pin_memory' argument is set as true but no accelerator is found, then device "
                "pinned memory won't be used.",
                stacklevel=2,
            )
        self._check_worker_number()
        self.__initialized = True

    # ----------------------------------------------------------------------------- attributes
    def __setattr__(self, attr, val):
        frozen = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset")
        if self.__initialized and attr in frozen + ("persistent_workers",):
            raise ValueError(
                f"{attr} attribute should not be set after {type(self).__name__} is initialized"
            )
        super().__setattr__(attr, val)

    @property
    def multiprocessing_context(self):
        return self.__mp_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, ctx):
        if ctx is not None:
            if self.num_workers == 0:
                raise ValueError(
                    "multiprocessing_context can only be used with multi-process loading "
                    f"(num_workers > 0), but got num_workers={self.num_workers}"
                )
            if isinstance(ctx, str):
                methods = multiprocessing.get_all_start_methods()
                if ctx not in methods:
                    raise ValueError(
                        "multiprocessing_context option should specify a valid start method in "
                        f"{methods!r}, but got multiprocessing_context={ctx!r}"
                    )
                ctx = multiprocessing.get_context(ctx)
            elif not isinstance(ctx, multiprocessing.context.BaseContext):
                raise TypeError(
                    "multiprocessing_context option should be a valid context object or a "
                    f"string specifying the start method, but got multiprocessing_context={ctx}"
                )
        self.__mp_context = ctx

    def _mp_context(self):
        if self.__mp_context is not None:
            return self.__mp_context
        methods = multiprocessing.get_all_start_methods()
        return multiprocessing.get_context("fork" if "fork" in methods else "spawn")

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _check_worker_number(self) -> None:
        if self.num_workers == 0:
            return
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:
            cpus = os.cpu_count() or 1
        if self.num_workers > cpus:
            warnings.warn(
                f"This DataLoader will create {self.num_workers} worker processes in total. Our "
                f"suggested max number of worker in current system is {cpus}, which is smaller "
                "than what this DataLoader is going to create. Please be aware that excessive "
                "worker creation might get DataLoader running slow or even freeze, lower the "
                "worker number to avoid potential slowness/freeze if necessary.",
                stacklevel=3,
            )

    # ------------------------------------------------------------------------------ iteration
    def __iter__(self):
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None or self._iterator._shutdown:  # first epoch, or after a failure
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator._reset(first=False)
        return self._iterator

    def __len__(self) -> int:
        if self._iterable:
            length = len(self.dataset)  # a TypeError here means the stream has no length
            if self.batch_size is not None:
                if self.drop_last:
                    return length // self.batch_size
                return math.ceil(length / self.batch_size)
            return length
        return len(self._index_sampler)

    def _base_seed(self) -> int:
        return int(randint(0, 2**63 - 1, (1,), generator=self.generator).item())


class _SingleProcessIter:
    def __init__(self, loader: DataLoader):
        self._loader = loader
        self._sampler_iter = iter(loader._index_sampler)
        self._fetcher = make_fetcher(
            loader._iterable,
            loader.dataset,
            loader._auto_collation,
            loader.collate_fn,
            loader.drop_last,
        )

    def __iter__(self):
        return self

    def __next__(self):
        index = next(self._sampler_iter)
        return self._fetcher.fetch(index)  # an IterableDataset ends with StopIteration here

    def __len__(self) -> int:
        return len(self._loader)


class _MultiProcessIter:
    """Worker processes, their task queues and result pipes, and the in-order bookkeeping."""

    def __init__(self, loader: DataLoader):
        self._loader = loader
        self._num_workers = loader.num_workers
        self._prefetch = max(1, loader.prefetch_factor)
        self._timeout = loader.timeout
        self._persistent = loader.persistent_workers
        self._workers = []
        self._task_queues = []
        self._conns = []
        self._shutdown = False
        self._gen = 0
        ctx = loader._mp_context()
        forked = ctx.get_start_method() == "fork"
        base_seed = loader._base_seed()
        try:
            for worker_id in range(self._num_workers):
                task_queue = ctx.Queue()
                reader, writer = ctx.Pipe(duplex=False)
                inherited = self._conns + [reader] if forked else []
                process = ctx.Process(
                    target=_worker.worker_loop,
                    args=(
                        loader._iterable,
                        loader.dataset,
                        task_queue,
                        writer,
                        loader._auto_collation,
                        loader.collate_fn,
                        loader.drop_last,
                        base_seed,
                        loader.worker_init_fn,
                        worker_id,
                        self._num_workers,
                        inherited,
                    ),
                    daemon=True,
                )
                try:
                    process.start()
                except Exception as e:
                    reader.close()
                    writer.close()
                    raise _pickling_error(loader, ctx, e) from e
                writer.close()
                self._workers.append(process)
                self._task_queues.append(task_queue)
                self._conns.append(reader)
        except BaseException:
            self._shutdown_workers()
            raise
        self._reset(first=True)

    def _reset(self, first: bool) -> None:
        self._sampler_iter = iter(self._loader._index_sampler)
        self._send_idx = 0
        self._rcvd_idx = 0
        self._task_info: dict[int, tuple] = {}  # idx -> (worker,) or (worker, data)
        self._outstanding = 0
        self._inbox = collections.deque()
        self._active = [True] * self._num_workers
        self._cycle = itertools.cycle(range(self._num_workers))
        if not first:
            self._gen += 1  # results of the previous epoch still in flight are dropped
            for q in self._task_queues:
                q.put(("reset", self._gen, None, None))
        for _ in range(self._prefetch * self._num_workers):
            self._put_index()

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def _put_index(self) -> None:
        try:
            index = next(self._sampler_iter)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker = next(self._cycle)
            if self._active[worker]:
                break
        else:
            return
        self._task_queues[worker].put(("fetch", self._gen, self._send_idx, index))
        self._task_info[self._send_idx] = (worker,)
        self._outstanding += 1
        self._send_idx += 1

    def __next__(self):
        if self._shutdown:
            raise StopIteration
        while True:
            # skip the batches that ended workers of an IterableDataset will never send
            while self._rcvd_idx < self._send_idx:
                info = self._task_info[self._rcvd_idx]
                if len(info) == 2 or self._active[info[0]]:
                    break
                del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self._shutdown_workers()
                raise StopIteration
            info = self._task_info[self._rcvd_idx]
            if len(info) == 2:
                del self._task_info[self._rcvd_idx]
                return self._process(info[1])
            idx, data = self._get_data()
            self._outstanding -= 1
            if isinstance(data, IterableEnd):
                self._active[data.worker_id] = False
                self._put_index()
                continue
            if idx != self._rcvd_idx:
                self._task_info[idx] += (data,)
            else:
                del self._task_info[idx]
                return self._process(data)

    def _process(self, data):
        self._rcvd_idx += 1
        self._put_index()
        if isinstance(data, ExceptionWrapper):
            if not self._persistent:
                self._shutdown_workers()
            data.reraise()
        return data

    def _get_data(self):
        """The next result of this epoch from any worker (waits; raises on timeout or death)."""
        start = time.monotonic()
        while True:
            while self._inbox:
                gen, idx, data = self._inbox.popleft()
                if gen == self._gen:
                    return idx, data
            wait = MP_STATUS_CHECK_INTERVAL
            if self._timeout > 0:
                left = self._timeout - (time.monotonic() - start)
                if left <= 0:
                    self._shutdown_workers(wait=False)  # a stuck worker is not waited for
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
                wait = min(wait, left)
            ready = multiprocessing.connection.wait(self._conns, timeout=wait)
            for conn in ready:
                try:
                    payload = conn.recv_bytes()
                except (EOFError, OSError):
                    self._worker_died(self._conns.index(conn))
                self._inbox.append(pickle.loads(payload))

    def _worker_died(self, worker_id: int):
        process = self._workers[worker_id]
        process.join(timeout=1.0)
        code = process.exitcode
        self._shutdown_workers()
        how = f"exit code {code}"
        hint = ""
        if code is not None and code < 0:
            try:
                how = f"signal {signal.Signals(-code).name}"
            except ValueError:
                how = f"signal {-code}"
            if -code == signal.SIGKILL:
                hint = (
                    " SIGKILL often comes from the out-of-memory killer: try a smaller "
                    "batch_size or fewer workers."
                )
        raise RuntimeError(
            f"DataLoader worker (pid(s) {process.pid}) exited unexpectedly ({how}).{hint} "
            "Run with num_workers=0 to see the error in the main process."
        )

    def _shutdown_workers(self, wait: bool = True) -> None:
        if self._shutdown:
            return
        self._shutdown = True
        for q, process in zip(self._task_queues, self._workers):
            if process.is_alive():
                try:
                    q.put(None)
                except (OSError, ValueError):
                    pass
        for conn in self._conns:  # a worker blocked sending a batch gets EPIPE and exits
            conn.close()
        for process in self._workers:
            process.join(timeout=MP_STATUS_CHECK_INTERVAL if wait else 0.1)
            if process.is_alive():
                process.terminate()
                process.join()
        for q in self._task_queues:
            q.cancel_join_thread()
            q.close()

    def __del__(self):
        try:
            self._shutdown_workers()
        except Exception:
            pass


def _pickling_error(loader: DataLoader, ctx, error: Exception) -> Exception:
    """Name what could not be sent to the workers, and say what to do about it."""
    method = ctx.get_start_method()
    parts = [
        ("dataset", loader.dataset),
        ("collate_fn", loader.collate_fn),
        ("worker_init_fn", loader.worker_init_fn),
        ("sampler", loader.sampler),
    ]
    for name, obj in parts:
        try:
            pickle.dumps(obj)
        except Exception as e:
            culprit = name
            for attr, value in getattr(obj, "__dict__", {}).items():
                try:
                    pickle.dumps(value)
                except Exception:
                    culprit = f"{name}.{attr}"
                    break
            what = type(obj).__name__
            if callable(obj) and hasattr(obj, "__qualname__"):
                what = obj.__qualname__
            return pickle.PicklingError(
                f"DataLoader(num_workers={loader.num_workers}) with the '{method}' start method "
                f"sends the {name} ({what}) to each worker by pickling, and {culprit} cannot be "
                f"pickled: {type(e).__name__}: {e}\nDefine the dataset class and every function "
                "it uses (transforms, collate_fn, worker_init_fn) at module level instead of as "
                "lambdas or local functions, or use num_workers=0 to load in the main process."
            )
    if isinstance(error, pickle.PicklingError | AttributeError | TypeError):
        return pickle.PicklingError(
            f"DataLoader(num_workers={loader.num_workers}) could not start its workers with the "
            f"'{method}' start method: {type(error).__name__}: {error}\nUse module-level "
            "definitions for everything the dataset holds, or num_workers=0."
        )
    return error
