"""PyTorch's default DDP communication hooks: plain averaging, and averaging in float16 or
bfloat16 (half the bytes on the wire, at a half-precision rounding of each gradient).

A hook is ``hook(state, bucket) -> Future`` whose value is the bucket's averaged flat gradient;
``state`` is the process group (None: the world).
"""

from __future__ import annotations

from ... import collectives
from ..._mpi import Future
from ...process_group import GroupMember

__all__ = ["allreduce_hook", "bf16_compress_hook", "fp16_compress_hook"]


def _world(process_group):
    return process_group if process_group is not None else GroupMember.WORLD


def allreduce_hook(process_group, bucket) -> Future:
    """Average the bucket: divide by the world size, then all-reduce (sum)."""
    group = _world(process_group)
    buffer = bucket.buffer()
    buffer.div_(group.size())
    return (
        collectives.all_reduce(buffer, group=group, async_op=True)
        .get_future()
        .then(lambda fut: fut.value()[0])
    )


def _compress_hook(dtype):
    def hook(process_group, bucket) -> Future:
        group = _world(process_group)
        buffer = bucket.buffer()
        compressed = buffer.to(dtype).div_(group.size())
        fut = collectives.all_reduce(compressed, group=group, async_op=True).get_future()

        def decompress(fut):
            decompressed = bucket.buffer()
            decompressed.copy_(fut.value()[0])
            return decompressed

        return fut.then(decompress)

    return hook


def fp16_compress_hook(process_group, bucket) -> Future:
    """Cast the bucket to float16, divide by the world size, all-reduce, cast back."""
    from .... import backend

    return _compress_hook(backend.float16)(process_group, bucket)


def bf16_compress_hook(process_group, bucket) -> Future:
    """As fp16_compress_hook, in bfloat16 (float32's range, 8 bits of mantissa)."""
    from .... import backend

    return _compress_hook(backend.bfloat16)(process_group, bucket)
