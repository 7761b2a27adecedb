"""The NCCL transport: GPU arrays through ``cupy.cuda.nccl``, CPU arrays through MPI.

Ranks come from MPI, and rank 0's NCCL unique id reaches the others through MPI too; after that,
GPU buffers only ever travel through NCCL (an MPI of unknown build may not read device memory).
Each rank uses the GPU ``local_rank % device_count``. NCCL has no gather/scatter and no uneven
all-gather; those are grouped point-to-point calls or one broadcast/reduce per rank, as PyTorch
does. CuPy comes from ``chainrule.backend`` (the one module that imports it).

Status: written against CuPy's documented NCCL API and checked on a one-GPU machine only when
one was lent (see tests/distributed/test_nccl.py); the CPU/MPI path is the tested one.
"""

from __future__ import annotations

import importlib

from .. import backend
from ._mpi import Work
from .process_group import ReduceOp

# ncclDataType_t and ncclRedOp_t, from nccl.h
_NCCL_TYPES = {"int8": 0, "uint8": 1, "int32": 2, "uint32": 3, "int64": 4, "uint64": 5,
               "float16": 6, "float32": 7, "float64": 8}  # fmt: skip
_NCCL_OPS = {ReduceOp.SUM: 0, ReduceOp.AVG: 0, ReduceOp.PRODUCT: 1, ReduceOp.MAX: 2,
             ReduceOp.MIN: 3}  # fmt: skip


def nccl_module():
    """CuPy's NCCL binding, or None (no CuPy, no GPU, or CuPy built without NCCL)."""
    cupy = backend._cupy
    if cupy is None:
        return None
    try:
        nccl = importlib.import_module("cupy.cuda.nccl")
    except Exception:
        return None
    return nccl if getattr(nccl, "available", True) else None


class NCCLTransport:
    """Collectives on CuPy arrays over an NCCL communicator; NumPy arrays go to ``cpu``."""

    def __init__(self, cpu):
        nccl = nccl_module()
        if nccl is None:
            raise RuntimeError(
                "backend='nccl' needs CuPy with NCCL and an NVIDIA GPU: install the `gpu` extra "
                "(pip install 'chainrule[gpu]'), or use backend='mpi' for CPU tensors"
            )
        self.cpu, self.nccl, self.cupy = cpu, nccl, backend._cupy
        self.rank, self.size = cpu.rank, cpu.size
        local_rank = self._local_rank()
        n_dev = self.cupy.cuda.runtime.getDeviceCount()
        self.device = self.cupy.cuda.Device(local_rank % n_dev)
        self.device.use()
        uid = nccl.get_unique_id() if self.rank == 0 else None
        uid = cpu.broadcast_object(uid, 0)
        self.comm = nccl.NcclCommunicator(self.size, uid, self.rank)

    def _local_rank(self) -> int:
        comm = getattr(self.cpu, "comm", None)
        if comm is None:
            return 0
        MPI = self.cpu.MPI
        node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        try:
            return node.Get_rank()
        finally:
            node.Free()

    # -- helpers
    def _on_gpu(self, *arrays) -> bool:
        return any(isinstance(a, self.cupy.ndarray) for a in arrays if a is not None)

    def _dtype(self, a, op: ReduceOp | None = None):
        """(array NCCL can carry, NCCL type code): bool as uint8, complex as float pairs."""
        kind = a.dtype.kind
        if kind == "b":
            a = a.view(self.cupy.uint8)
        elif kind == "c":
            if op not in (None, ReduceOp.SUM, ReduceOp.AVG):
                raise TypeError(f"NCCL cannot reduce complex tensors with {op}")
            a = a.view(self.cupy.float32 if a.dtype.itemsize == 8 else self.cupy.float64)
        name = str(a.dtype)
        if name not in _NCCL_TYPES:
            raise TypeError(f"NCCL does not carry {a.dtype} tensors")
        return a, _NCCL_TYPES[name]

    def _op(self, op: ReduceOp, dtype) -> int:
        if dtype.kind == "b" and op in (ReduceOp.SUM, ReduceOp.AVG):
            return _NCCL_OPS[ReduceOp.MAX]  # logical or
        return _NCCL_OPS[op]

    def _stream(self) -> int:
        return self.cupy.cuda.get_current_stream().ptr

    def _work(self, async_op: bool) -> Work:
        if not async_op:
            self.cupy.cuda.get_current_stream().synchronize()
            return Work()
        event = self.cupy.cuda.Event()
        event.record()
        return Work(event.synchronize, lambda: event.done)

    @staticmethod
    def _at(a, offset: int) -> int:
        return a._data.ptr + offset * a.dtype.itemsize

    # -- collectives
    def allreduce(self, buf, op, async_op):
        if not self._on_gpu(buf):
            return self.cpu.allreduce(buf, op, async_op)
        x, dt = self._dtype(buf, op)
        self.comm.allReduce(x._data.ptr, x._data.ptr, x.size, dt, self._op(op, buf.dtype),
                            self._stream())  # fmt: skip
        return self._work(async_op)

    def reduce(self, buf, op, dst, async_op):
        if not self._on_gpu(buf):
            return self.cpu.reduce(buf, op, dst, async_op)
        x, dt = self._dtype(buf, op)
        self.comm.reduce(x._data.ptr, x._data.ptr, x.size, dt, self._op(op, buf.dtype), dst,
                         self._stream())  # fmt: skip
        return self._work(async_op)

    def broadcast(self, buf, src, async_op):
        if not self._on_gpu(buf):
            return self.cpu.broadcast(buf, src, async_op)
        x, dt = self._dtype(buf)
        self.comm.broadcast(x._data.ptr, x._data.ptr, x.size, dt, src, self._stream())
        return self._work(async_op)

    def allgatherv(self, send, recv, counts, async_op):
        if not self._on_gpu(send, recv):
            return self.cpu.allgatherv(send, recv, counts, async_op)
        x, dt = self._dtype(send)
        y, _ = self._dtype(recv)
        scale = y.size // max(recv.size, 1) if recv.size else 1  # complex: two floats each
        stream = self._stream()
        if len(set(counts)) == 1:
            self.comm.allGather(x._data.ptr, y._data.ptr, x.size, dt, stream)
            return self._work(async_op)
        self.nccl.groupStart()
        offset = 0
        for i, n in enumerate(counts):
            target = self._at(y, offset * scale)
            source = x._data.ptr if i == self.rank else target
            if n:
                self.comm.broadcast(source, target, n * scale, dt, i, stream)
            offset += n
        self.nccl.groupEnd()
        return self._work(async_op)

    def reduce_scatterv(self, send, recv, counts, op, async_op):
        if not self._on_gpu(send, recv):
            return self.cpu.reduce_scatterv(send, recv, counts, op, async_op)
        x, dt = self._dtype(send, op)
        y, _ = self._dtype(recv, op)
        scale = x.size // max(send.size, 1) if send.size else 1
        nop, stream = self._op(op, send.dtype), self._stream()
        if len(set(counts)) == 1:
            self.comm.reduceScatter(x._data.ptr, y._data.ptr, y.size, dt, nop, stream)
            return self._work(async_op)
        self.nccl.groupStart()
        offset = 0
        for i, n in enumerate(counts):
            source = self._at(x, offset * scale)
            target = y._data.ptr if i == self.rank else source
            if n:
                self.comm.reduce(source, target, n * scale, dt, nop, i, stream)
            offset += n
        self.nccl.groupEnd()
        return self._work(async_op)

    def gatherv(self, send, recv, counts, dst, async_op):
        if not self._on_gpu(send, recv):
            return self.cpu.gatherv(send, recv, counts, dst, async_op)
        x, dt = self._dtype(send)
        stream = self._stream()
        self.nccl.groupStart()
        if self.rank == dst:
            y, _ = self._dtype(recv)
            scale = y.size // max(recv.size, 1) if recv.size else 1
            offset = 0
            for i, n in enumerate(counts):
                if i == dst:
                    recv[offset : offset + n] = send
                elif n:
                    self.comm.recv(self._at(y, offset * scale), n * scale, dt, i, stream)
                offset += n
        elif x.size:
            self.comm.send(x._data.ptr, x.size, dt, dst, stream)
        self.nccl.groupEnd()
        return self._work(async_op)

    def scatterv(self, send, counts, recv, src, async_op):
        if not self._on_gpu(send, recv):
            return self.cpu.scatterv(send, counts, recv, src, async_op)
        y, dt = self._dtype(recv)
        stream = self._stream()
        self.nccl.groupStart()
        if self.rank == src:
            x, _ = self._dtype(send)
            scale = x.size // max(send.size, 1) if send.size else 1
            offset = 0
            for i, n in enumerate(counts):
                if i == src:
                    recv[...] = send[offset : offset + n]
                elif n:
                    self.comm.send(self._at(x, offset * scale), n * scale, dt, i, stream)
                offset += n
        elif y.size:
            self.comm.recv(y._data.ptr, y.size, dt, src, stream)
        self.nccl.groupEnd()
        return self._work(async_op)

    def barrier(self, async_op):
        self.cupy.cuda.get_current_stream().synchronize()
        return self.cpu.barrier(async_op)

    def allgather_object(self, obj) -> list:
        return self.cpu.allgather_object(obj)

    def broadcast_object(self, obj, src: int):
        return self.cpu.broadcast_object(obj, src)

    def abort(self, code: int = 1) -> None:
        try:
            self.comm.abort()
        finally:
            self.cpu.abort(code)

    def split(self, ranks: list[int]) -> NCCLTransport | None:
        """A new NCCL communicator over ``ranks`` (its id travels over the matching MPI one)."""
        cpu = self.cpu.split(ranks)
        return None if cpu is None else NCCLTransport(cpu)

    def close(self) -> None:
        self.comm.destroy()
        self.cpu.close()
