"""The MPI transport (mpi4py), the world-of-one transport, and the handles of collectives.

A transport moves contiguous arrays: ``collectives.py`` turns tensors into such arrays and back.
Every method takes ``async_op``; a non-blocking call returns a ``Work`` whose ``wait()`` finishes
it (MPI's ``I*`` collectives), a blocking one returns a finished ``Work``.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from .process_group import ReduceOp

_BF16 = np.dtype(ml_dtypes.bfloat16)


class Work:
    """A collective in flight (PyTorch's ``Work``): ``wait()`` blocks until its result is in
    place and returns True; ``is_completed()`` asks without blocking."""

    def __init__(self, wait=None, test=None, result=None):
        self._wait = wait
        self._test = test
        self._finishers: list = []
        self._result = result
        self._done = wait is None

    def _then(self, fn) -> Work:
        """Run fn() once the transfer is complete (copy back, divide for AVG); the transport's
        result is only usable after it."""
        if self._done:
            fn()
        else:
            self._finishers.append(fn)
        return self

    def wait(self, timeout=None) -> bool:
        if not self._done:
            self._wait()
            self._done = True
            for fn in self._finishers:
                fn()
            self._finishers = []
        return True

    def is_completed(self) -> bool:
        if not self._done and self._test is not None and self._test():
            self.wait()
        return self._done

    def is_success(self) -> bool:
        return self.is_completed()

    def result(self) -> list:
        self.wait()
        return self._result if self._result is not None else []

    def get_future(self) -> Future:
        return Future(work=self)


class Future:
    """PyTorch's ``torch.futures.Future``, enough for DDP communication hooks: ``wait()`` and
    ``value()`` give the result (the list of output tensors of a collective), ``then(fn)`` a new
    Future whose value is ``fn(this_future)``."""

    _UNSET = object()

    def __init__(self, work: Work | None = None, parent: Future | None = None, callback=None):
        self._work = work
        self._parent = parent
        self._callback = callback
        self._value = Future._UNSET

    def set_result(self, value) -> None:
        self._value = value

    def done(self) -> bool:
        if self._value is not Future._UNSET:
            return True
        if self._work is not None:
            return self._work.is_completed()
        return self._parent is not None and self._parent.done()

    def wait(self):
        if self._value is Future._UNSET:
            if self._work is not None:
                self._value = self._work.result()
            elif self._parent is not None:
                self._parent.wait()
                self._value = self._callback(self._parent)
            else:
                raise RuntimeError("this Future has no value and nothing that will produce one")
        return self._value

    value = wait

    def then(self, callback) -> Future:
        return Future(parent=self, callback=callback)


def _done() -> Work:
    return Work()


class MPITransport:
    """Collectives on NumPy arrays over an MPI communicator."""

    def __init__(self, comm):
        from mpi4py import MPI

        self.MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self._ops = {
            ReduceOp.SUM: MPI.SUM,
            ReduceOp.AVG: MPI.SUM,
            ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX,
        }
        self._bool_ops = {ReduceOp.SUM: MPI.LOR, ReduceOp.AVG: MPI.LOR, ReduceOp.MAX: MPI.LOR,
                          ReduceOp.PRODUCT: MPI.LAND, ReduceOp.MIN: MPI.LAND}  # fmt: skip

    # -- helpers
    def _work(self, request, async_op: bool, result=None) -> Work:
        if not async_op:
            return Work(result=result)
        waitall, testall = self.MPI.Request.Waitall, self.MPI.Request.Testall
        reqs = [request]
        return Work(lambda: waitall(reqs), lambda: testall(reqs), result)

    def _op(self, op: ReduceOp, dtype):
        return (self._bool_ops if dtype == np.bool_ else self._ops)[op]

    @staticmethod
    def _raw(a):
        """What MPI can carry: bfloat16 travels as its bits (no MPI type knows it)."""
        if a is not None and a.dtype == _BF16:
            return a.view(np.uint16)
        return a

    def _reduced(self, a):
        """(array MPI can reduce, copy-back) for a reduction: bfloat16 reduces in float32."""
        if a.dtype != _BF16:
            return a, None
        wide = a.astype(np.float32)

        def back():
            a[...] = wide.astype(_BF16)

        return wide, back

    def _finish(self, work: Work, back) -> Work:
        return work if back is None else work._then(back)

    # -- collectives
    def allreduce(self, buf, op: ReduceOp, async_op: bool) -> Work:
        x, back = self._reduced(buf)
        mop = self._op(op, x.dtype)
        comm, inplace = self.comm, self.MPI.IN_PLACE
        if async_op:
            work = self._work(comm.Iallreduce(inplace, x, mop), True)
        else:
            comm.Allreduce(inplace, x, mop)
            work = _done()
        return self._finish(work, back)

    def reduce(self, buf, op: ReduceOp, dst: int, async_op: bool) -> Work:
        x, back = self._reduced(buf)
        mop = self._op(op, x.dtype)
        send = self.MPI.IN_PLACE if self.rank == dst else x
        recv = x if self.rank == dst else None
        if async_op:
            work = self._work(self.comm.Ireduce(send, recv, mop, root=dst), True)
        else:
            self.comm.Reduce(send, recv, mop, root=dst)
            work = _done()
        return self._finish(work, back if self.rank == dst else None)

    def broadcast(self, buf, src: int, async_op: bool) -> Work:
        x = self._raw(buf)
        if async_op:
            return self._work(self.comm.Ibcast(x, root=src), True)
        self.comm.Bcast(x, root=src)
        return _done()

    def allgatherv(self, send, recv, counts: list[int], async_op: bool) -> Work:
        args = (self._raw(send), [self._raw(recv), counts])
        if async_op:
            return self._work(self.comm.Iallgatherv(*args), True)
        self.comm.Allgatherv(*args)
        return _done()

    def reduce_scatterv(self, send, recv, counts: list[int], op: ReduceOp, async_op: bool):
        x, _ = self._reduced(send)
        y, back = self._reduced(recv)
        mop = self._op(op, x.dtype)
        if async_op:
            work = self._work(self.comm.Ireduce_scatter(x, y, counts, mop), True)
        else:
            self.comm.Reduce_scatter(x, y, counts, mop)
            work = _done()
        return self._finish(work, back)

    def gatherv(self, send, recv, counts, dst: int, async_op: bool) -> Work:
        target = [self._raw(recv), counts] if self.rank == dst else None
        if async_op:
            return self._work(self.comm.Igatherv(self._raw(send), target, root=dst), True)
        self.comm.Gatherv(self._raw(send), target, root=dst)
        return _done()

    def scatterv(self, send, counts, recv, src: int, async_op: bool) -> Work:
        source = [self._raw(send), counts] if self.rank == src else None
        if async_op:
            return self._work(self.comm.Iscatterv(source, self._raw(recv), root=src), True)
        self.comm.Scatterv(source, self._raw(recv), root=src)
        return _done()

    def barrier(self, async_op: bool) -> Work:
        if async_op:
            return self._work(self.comm.Ibarrier(), True)
        self.comm.Barrier()
        return _done()

    # -- Python objects (pickled between the ranks of one job; never read from disk)
    def allgather_object(self, obj) -> list:
        return self.comm.allgather(obj)

    def broadcast_object(self, obj, src: int):
        return self.comm.bcast(obj, root=src)

    def abort(self, code: int = 1) -> None:
        self.comm.Abort(code)

    def split(self, ranks: list[int]) -> MPITransport | None:
        """A transport over ``ranks`` of this one (in that order), for those ranks; None for
        the others. Every rank of this transport must call it, with the same ranks."""
        member = self.rank in ranks
        color = 0 if member else self.MPI.UNDEFINED
        key = ranks.index(self.rank) if member else 0
        sub = self.comm.Split(color, key)
        if not member:
            return None
        transport = MPITransport(sub)
        transport._owns_comm = True
        return transport

    _owns_comm = False

    def close(self) -> None:
        if self._owns_comm:
            self.comm.Free()
            self._owns_comm = False


class LocalTransport:
    """A world of one without mpi4py: every collective is a local copy."""

    rank = 0
    size = 1

    def allreduce(self, buf, op, async_op):
        return _done()

    def reduce(self, buf, op, dst, async_op):
        return _done()

    def broadcast(self, buf, src, async_op):
        return _done()

    def allgatherv(self, send, recv, counts, async_op):
        recv[...] = send
        return _done()

    def reduce_scatterv(self, send, recv, counts, op, async_op):
        recv[...] = send
        return _done()

    def gatherv(self, send, recv, counts, dst, async_op):
        recv[...] = send
        return _done()

    def scatterv(self, send, counts, recv, src, async_op):
        recv[...] = send
        return _done()

    def barrier(self, async_op):
        return _done()

    def allgather_object(self, obj) -> list:
        return [obj]

    def broadcast_object(self, obj, src):
        return obj

    def abort(self, code: int = 1) -> None:
        raise SystemExit(code)

    def split(self, ranks: list[int]) -> LocalTransport | None:
        return LocalTransport() if ranks == [0] else None

    def close(self) -> None:
        pass
