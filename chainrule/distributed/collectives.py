"""Collectives on tensors, with PyTorch's signatures: ``all_reduce``, ``reduce``, ``broadcast``,
``all_gather`` (uneven sizes allowed), ``all_gather_into_tensor``, ``reduce_scatter`` (uneven
too), ``reduce_scatter_tensor``, ``gather``, ``scatter``, and the object forms used to agree on
Python values (``all_gather_object``, ``broadcast_object_list``).

Each one works in place on the tensors it is given. With ``async_op=True`` it returns a ``Work``
handle at once; the tensors hold the result after ``handle.wait()``.
"""

from __future__ import annotations

from ..backend import array_module
from ..tensor import Tensor
from ._mpi import Work
from .process_group import ProcessGroup, ReduceOp, _member_group, _peer

__all__ = [
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "broadcast",
    "broadcast_object_list",
    "gather",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
]


# ----------------------------------------------------------------------------------- helpers
def _check_tensor(t, what: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{what} must be a chainrule Tensor, got {type(t).__name__}")


def _flat(t: Tensor):
    """A contiguous 1-d array of t's values: its own memory where possible (no copy)."""
    a = t._data
    if a.flags.c_contiguous:
        return a.reshape(-1)
    return array_module(a).ascontiguousarray(a).reshape(-1)


def _store(t: Tensor, flat, op: str) -> None:
    """Write flat's values into t (no-op when flat is t's own memory) and mark t modified."""
    a = t._data
    if not a.flags.c_contiguous:  # _flat made a copy: a contiguous array was worked in place
        a[...] = flat.reshape(a.shape)
    t._vc.bump(op)


def _finish(work: Work, fn, async_op: bool):
    work._then(fn)
    if async_op:
        return work
    work.wait()
    return None


def _reduce_op(op) -> ReduceOp:
    if isinstance(op, ReduceOp):
        return op
    try:
        return ReduceOp[str(op).upper().rsplit(".", 1)[-1]]
    except KeyError:
        raise ValueError(
            f"unknown reduction {op!r}: use chainrule.distributed.ReduceOp.SUM, AVG, PRODUCT, "
            "MIN or MAX"
        ) from None


def _average(flat, n: int) -> None:
    if flat.dtype.kind in "iub":
        flat //= n
    else:
        flat /= n


def _same_dtype(what: str, ref: Tensor, others) -> None:
    for i, t in enumerate(others):
        if t.dtype != ref.dtype:
            raise TypeError(
                f"{what}: every tensor must have the input's dtype {ref.dtype}, but entry {i} "
                f"is {t.dtype}"
            )


def _check_list(what: str, tensors, pg: ProcessGroup) -> None:
    if tensors is None or len(tensors) != pg.size():
        got = "None" if tensors is None else f"{len(tensors)} tensors"
        raise ValueError(
            f"{what} must hold one tensor per rank ({pg.size()} for this group), got {got}"
        )
    for t in tensors:
        _check_tensor(t, what + " entries")


# ------------------------------------------------------------------------------- reductions
def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group: ProcessGroup | None = None,
               async_op: bool = False):  # fmt: skip
    """Reduce ``tensor`` over all ranks (SUM, AVG, PRODUCT, MIN, MAX) and leave the result in
    ``tensor`` on every rank.

    Example:
        >>> import chainrule as torch, chainrule.distributed as dist
        >>> dist.init_process_group()
        >>> t = torch.tensor([1.0, 2.0])
        >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)
        >>> t
        tensor([1., 2.])
        >>> dist.destroy_process_group()
    """
    _check_tensor(tensor, "all_reduce's tensor")
    pg, op = _member_group(group, "all_reduce"), _reduce_op(op)
    if pg is None:
        return None
    flat = _flat(tensor)
    work = pg.transport.allreduce(flat, op, async_op)
    work._result = [tensor]

    def done():
        if op is ReduceOp.AVG:
            _average(flat, pg.size())
        _store(tensor, flat, "all_reduce")

    return _finish(work, done, async_op)


def reduce(tensor: Tensor, dst: int | None = None, op=ReduceOp.SUM,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None):  # fmt: skip
    """Reduce ``tensor`` over all ranks into ``tensor`` on rank ``dst`` (the others keep
    theirs). ``dst`` is a global rank; ``group_dst`` a rank within ``group``."""
    _check_tensor(tensor, "reduce's tensor")
    pg, op = _member_group(group, "reduce"), _reduce_op(op)
    if pg is None:
        return None
    dst = _peer(pg, dst, group_dst, "dst")
    flat = _flat(tensor)
    work = pg.transport.reduce(flat, op, dst, async_op)
    work._result = [tensor]

    def done():
        if pg.rank() == dst:
            if op is ReduceOp.AVG:
                _average(flat, pg.size())
            _store(tensor, flat, "reduce")

    return _finish(work, done, async_op)


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM,
                   group: ProcessGroup | None = None, async_op: bool = False):  # fmt: skip
    """Rank i gets the reduction over all ranks of their ``input_list[i]``, in ``output``.
    The entries may differ in size (the same sizes on every rank)."""
    pg, op = _member_group(group, "reduce_scatter"), _reduce_op(op)
    if pg is None:
        return None
    _check_tensor(output, "reduce_scatter's output")
    _check_list("reduce_scatter's input_list", input_list, pg)
    _same_dtype("reduce_scatter", output, input_list)
    counts = [t.numel() for t in input_list]
    if output.numel() != counts[pg.rank()]:
        raise ValueError(
            f"reduce_scatter: rank {pg.rank()}'s output has {output.numel()} elements but its "
            f"entry input_list[{pg.rank()}] has {counts[pg.rank()]}: they must match"
        )
    xp = array_module(output._data)
    send = xp.concatenate([_flat(t) for t in input_list]) if counts else None
    recv = _flat(output)
    work = pg.transport.reduce_scatterv(send, recv, counts, op, async_op)
    work._result = [output]

    def done():
        if op is ReduceOp.AVG:
            _average(recv, pg.size())
        _store(output, recv, "reduce_scatter")

    return _finish(work, done, async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM,
                          group: ProcessGroup | None = None, async_op: bool = False):  # fmt: skip
    """``reduce_scatter`` of ``input`` split into world_size equal chunks along dim 0."""
    pg = _member_group(group, "reduce_scatter_tensor")
    if pg is None:
        return None
    n = pg.size()
    if input.numel() != output.numel() * n:
        raise ValueError(
            f"reduce_scatter_tensor: input has {input.numel()} elements, expected output's "
            f"{output.numel()} times the world size {n}"
        )
    chunks = [Tensor._make(c) for c in _flat(input).reshape(n, -1)]
    return reduce_scatter(output, chunks, op, group, async_op)


# ---------------------------------------------------------------------------- data movement
def broadcast(tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None,
              async_op: bool = False, group_src: int | None = None):  # fmt: skip
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank (``src`` a global rank,
    default 0; or ``group_src``, a rank within ``group``)."""
    _check_tensor(tensor, "broadcast's tensor")
    pg = _member_group(group, "broadcast")
    if pg is None:
        return None
    src = _peer(pg, src, group_src, "src")
    flat = _flat(tensor)
    work = pg.transport.broadcast(flat, src, async_op)
    work._result = [tensor]
    return _finish(work, lambda: _store(tensor, flat, "broadcast"), async_op)


def all_gather(tensor_list: list, tensor: Tensor, group: ProcessGroup | None = None,
               async_op: bool = False):  # fmt: skip
    """Fill ``tensor_list[i]`` with rank i's ``tensor`` on every rank. Ranks may send
    different sizes: ``tensor_list[i]`` says how many elements rank i sends."""
    pg = _member_group(group, "all_gather")
    if pg is None:
        return None
    _check_tensor(tensor, "all_gather's tensor")
    _check_list("all_gather's tensor_list", tensor_list, pg)
    _same_dtype("all_gather", tensor, tensor_list)
    counts = [t.numel() for t in tensor_list]
    if tensor.numel() != counts[pg.rank()]:
        raise ValueError(
            f"all_gather: rank {pg.rank()} sends {tensor.numel()} elements but "
            f"tensor_list[{pg.rank()}] has room for {counts[pg.rank()]}: make tensor_list[i] "
            "the shape of rank i's tensor"
        )
    xp = array_module(tensor._data)
    recv = xp.empty(sum(counts), tensor._data.dtype)
    work = pg.transport.allgatherv(_flat(tensor), recv, counts, async_op)
    work._result = tensor_list

    def done():
        _scatter_into(tensor_list, recv, "all_gather")

    return _finish(work, done, async_op)


def _scatter_into(tensors: list, flat, op: str) -> None:
    start = 0
    for t in tensors:
        n = t.numel()
        t._data[...] = flat[start : start + n].reshape(t._data.shape)
        t._vc.bump(op)
        start += n


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor,
                           group: ProcessGroup | None = None, async_op: bool = False):  # fmt: skip
    """Rank i's ``input_tensor`` lands in chunk i (along dim 0) of ``output_tensor``."""
    pg = _member_group(group, "all_gather_into_tensor")
    if pg is None:
        return None
    n = pg.size()
    if output_tensor.numel() != input_tensor.numel() * n:
        raise ValueError(
            f"all_gather_into_tensor: output has {output_tensor.numel()} elements, expected "
            f"the input's {input_tensor.numel()} times the world size {n}"
        )
    recv = _flat(output_tensor)
    counts = [input_tensor.numel()] * n
    work = pg.transport.allgatherv(_flat(input_tensor), recv, counts, async_op)
    work._result = [output_tensor]
    return _finish(work, lambda: _store(output_tensor, recv, "all_gather"), async_op)


def _root_counts(op: str, what: str, role: str, tensor: Tensor, tensors, pg: ProcessGroup,
                 root: int) -> list | None:  # fmt: skip
    """gather/scatter: on the root, the checked element count of each rank's entry of the
    list; elsewhere None (and no list may be passed)."""
    if pg.rank() != root:
        if tensors:
            raise ValueError(f"{op}: only the {role} rank {root} passes a {what}")
        return None
    _check_list(f"{op}'s {what}", tensors, pg)
    _same_dtype(op, tensor, tensors)
    counts = [t.numel() for t in tensors]
    if counts[root] != tensor.numel():
        raise ValueError(
            f"{op}: {what}[{root}] has {counts[root]} elements but rank {root}'s tensor has "
            f"{tensor.numel()}"
        )
    return counts


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None,
           group: ProcessGroup | None = None, async_op: bool = False,
           group_dst: int | None = None):  # fmt: skip
    """Rank ``dst`` receives every rank's ``tensor`` into ``gather_list`` (sizes may differ:
    ``gather_list[i]`` is shaped like rank i's tensor); the other ranks pass no list."""
    pg = _member_group(group, "gather")
    if pg is None:
        return None
    dst = _peer(pg, dst, group_dst, "dst")
    _check_tensor(tensor, "gather's tensor")
    recv = None
    counts = _root_counts("gather", "gather_list", "destination", tensor, gather_list, pg, dst)
    if counts is not None:
        recv = array_module(tensor._data).empty(sum(counts), tensor._data.dtype)
    work = pg.transport.gatherv(_flat(tensor), recv, counts, dst, async_op)
    work._result = gather_list or []

    def done():
        if recv is not None:
            _scatter_into(gather_list, recv, "gather")

    return _finish(work, done, async_op)


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None,
            group: ProcessGroup | None = None, async_op: bool = False,
            group_src: int | None = None):  # fmt: skip
    """Rank i receives ``scatter_list[i]`` of rank ``src`` into ``tensor`` (sizes may differ
    per rank); the other ranks pass no list."""
    pg = _member_group(group, "scatter")
    if pg is None:
        return None
    src = _peer(pg, src, group_src, "src")
    _check_tensor(tensor, "scatter's tensor")
    send = None
    counts = _root_counts("scatter", "scatter_list", "source", tensor, scatter_list, pg, src)
    if counts is not None:
        send = array_module(tensor._data).concatenate([_flat(t) for t in scatter_list])
    recv = _flat(tensor)
    work = pg.transport.scatterv(send, counts, recv, src, async_op)
    work._result = [tensor]
    return _finish(work, lambda: _store(tensor, recv, "scatter"), async_op)


# ---------------------------------------------------------------------------------- objects
def all_gather_object(object_list: list, obj, group: ProcessGroup | None = None) -> None:
    """``object_list[i]`` becomes rank i's ``obj`` (any picklable value) on every rank."""
    pg = _member_group(group, "all_gather_object")
    if pg is None:
        return None
    values = pg.transport.allgather_object(obj)
    object_list[:] = values


def broadcast_object_list(object_list: list, src: int | None = None,
                          group: ProcessGroup | None = None, device=None,
                          group_src: int | None = None) -> None:  # fmt: skip
    """Replace ``object_list``'s entries on every rank with rank ``src``'s."""
    pg = _member_group(group, "broadcast_object_list")
    if pg is None:
        return None
    src = _peer(pg, src, group_src, "src")
    values = pg.transport.broadcast_object(list(object_list), src)
    object_list[:] = values
