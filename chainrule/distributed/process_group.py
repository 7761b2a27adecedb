"""The default process group: which process this is, how many there are, and the transport.

Ranks and the world size come from MPI (mpi4py with the MPICH wheel): a script started with
``mpiexec -n 4 python train.py`` (or ``chainrule run -n 4 train.py``, or ``srun`` under Slurm)
is one rank of four, and a script started without a launcher is a world of one. The ``nccl``
backend still learns ranks from MPI and sends the NCCL id over it; GPU buffers then travel through
NCCL only, never through an MPI whose CUDA support nobody knows.

Once a group of more than one rank exists, an uncaught exception on any rank prints that rank's
traceback and calls ``MPI_Abort``: the launcher ends every rank within seconds instead of leaving
the others waiting forever in their next collective.
"""

from __future__ import annotations

import enum
import os
import sys
import traceback

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "barrier",
    "destroy_process_group",
    "get_backend",
    "get_node_local_rank",
    "get_global_rank",
    "get_group_rank",
    "get_process_group_ranks",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "new_group",
]


class ReduceOp(enum.Enum):
    """How a reduction combines the ranks' values: ``ReduceOp.SUM``, ``AVG``, ``MAX``, ``MIN``,
    ``PRODUCT``."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"

    def __repr__(self):
        return f"<ReduceOp.{self.name}>"


class Backend(str):
    """Backend names, as PyTorch spells them: ``Backend.MPI``, ``Backend.NCCL`` (``"gloo"`` is
    accepted too and means MPI on CPU, so that PyTorch scripts run unchanged)."""

    MPI = "mpi"
    NCCL = "nccl"
    GLOO = "gloo"

    def __new__(cls, name: str):
        value = str(name).lower()
        if value == "gloo":
            value = "mpi"
        elif "nccl" in value:  # "nccl" or PyTorch's "cpu:gloo,cuda:nccl"
            value = "nccl"
        if value not in ("mpi", "nccl"):
            raise ValueError(
                f"Unknown backend {name!r}: chainrule.distributed supports 'mpi' (CPU tensors, "
                "through mpi4py), 'nccl' (GPU tensors, through cupy.cuda.nccl) and 'gloo' (an "
                "alias of 'mpi')"
            )
        return super().__new__(cls, value)


class ProcessGroup:
    """A set of ranks and the transport between them: the world, or a group made by
    ``new_group``. ``ranks`` are the members' global ranks, in group-rank order."""

    def __init__(self, transport, backend: str, ranks: list[int] | None = None):
        self.transport = transport
        self.backend_name = backend
        self.ranks = list(range(transport.size)) if ranks is None else ranks

    def rank(self) -> int:
        return self.transport.rank

    def size(self) -> int:
        return self.transport.size

    def name(self) -> str:
        return self.backend_name

    def group_rank(self, global_rank: int, what: str = "rank") -> int:
        """The group rank of a global rank (a ValueError naming the members if not one)."""
        try:
            return self.ranks.index(global_rank)
        except ValueError:
            raise ValueError(
                f"{what} {global_rank} is not a member of this group (global ranks "
                f"{self.ranks}); collectives take global ranks, or pass group_{what}= with a "
                f"rank within the group"
            ) from None

    def __repr__(self):
        return (
            f"ProcessGroup(backend={self.backend_name!r}, rank={self.rank()}, size={self.size()})"
        )


class GroupMember:
    """``GroupMember.WORLD`` is the default group once ``init_process_group`` has run."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = -100


class _WorldProxy:
    """``chainrule.distributed.group.WORLD``, resolved when used (it changes with init)."""

    @property
    def WORLD(self) -> ProcessGroup | None:  # noqa: N802 (PyTorch's name)
        return GroupMember.WORLD


group = _WorldProxy()
_previous_excepthook = None

_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def _mpi():
    """mpi4py's MPI module, or None where mpi4py is not installed."""
    try:
        from mpi4py import MPI
    except ImportError:
        return None
    return MPI


def is_available() -> bool:
    return True


def is_mpi_available() -> bool:
    """Whether mpi4py is installed (asked without starting MPI)."""
    import importlib.util

    return importlib.util.find_spec("mpi4py") is not None


def is_nccl_available() -> bool:
    from ._nccl import nccl_module

    return nccl_module() is not None


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` has not)."""
    return GroupMember.WORLD is not None


def _default_group(group: ProcessGroup | None = None) -> ProcessGroup:
    if group is not None and group is not GroupMember.WORLD:
        if isinstance(group, ProcessGroup):
            return group
        if group is GroupMember.NON_GROUP_MEMBER:
            raise ValueError(
                "this rank is not a member of the group (new_group returned "
                "GroupMember.NON_GROUP_MEMBER on it): skip the call on ranks outside the group"
            )
        raise ValueError(f"group must be None or a ProcessGroup, got {type(group).__name__}")
    if GroupMember.WORLD is None:
        raise ValueError(
            "Default process group has not been initialized, please make sure to call "
            "init_process_group. (chainrule: call chainrule.distributed.init_process_group() "
            "first; start the script with `chainrule run -n N script.py` or `mpiexec -n N "
            "python script.py` for N ranks)"
        )
    return GroupMember.WORLD


def _member_group(group, op: str) -> ProcessGroup | None:
    """The group of a collective, or None (after PyTorch's warning) on a rank outside it."""
    if group is GroupMember.NON_GROUP_MEMBER:
        import warnings

        warnings.warn(
            f"Running {op} on global rank {get_rank()} which does not belong to the given group.",
            stacklevel=3,
        )
        return None
    return _default_group(group)


def _peer(pg: ProcessGroup, rank: int | None, group_rank: int | None, what: str) -> int:
    """The group rank of a collective's src/dst: given as a global rank (PyTorch's ``src``,
    ``dst``) or as a rank within the group (``group_src``, ``group_dst``)."""
    if group_rank is not None:
        if rank is not None:
            raise ValueError(f"pass {what} or group_{what}, not both")
        if not 0 <= group_rank < pg.size():
            raise ValueError(
                f"group_{what}={group_rank} is out of range for a group of {pg.size()} ranks"
            )
        return group_rank
    return pg.group_rank(0 if rank is None else rank, what)


def new_group(ranks=None, timeout=None, backend=None, pg_options=None,
              use_local_synchronization: bool = False, group_desc=None,
              device_id=None):  # fmt: skip
    """A process group over some of the world's ranks, for collectives among them only.

    Every rank of the world must call it, with the same ``ranks`` (a collective, as in
    PyTorch); ranks outside get ``GroupMember.NON_GROUP_MEMBER``, and collectives called there
    with it warn and do nothing.

    Args:
        ranks: the members' global ranks (default: all); their order is ignored, group ranks
            follow the global order, as in PyTorch.
        backend: ``"mpi"``/``"gloo"`` or ``"nccl"``; default: the world's.
        timeout, pg_options, use_local_synchronization, group_desc, device_id: accepted so that
            PyTorch scripts run.

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.init_process_group()
        >>> g = dist.new_group([0])
        >>> dist.get_process_group_ranks(g), dist.get_rank(g)
        ([0], 0)
        >>> dist.destroy_process_group()
    """
    world = _default_group()
    members = list(range(world.size())) if ranks is None else sorted({int(r) for r in ranks})
    bad = [r for r in members if not 0 <= r < world.size()]
    if bad or not members:
        raise ValueError(
            f"new_group: ranks must be distinct global ranks in 0..{world.size() - 1} and not "
            f"empty, got {list(ranks)}"
        )
    name = Backend(world.backend_name if backend is None else backend)
    if name != world.backend_name:
        raise ValueError(
            f"new_group(backend={backend!r}): the world's backend is {world.backend_name!r}; "
            "a group uses the world's transport, so pass the same backend or none"
        )
    transport = world.transport.split(members)
    if transport is None:
        return GroupMember.NON_GROUP_MEMBER
    return ProcessGroup(transport, world.backend_name, members)


def get_process_group_ranks(group: ProcessGroup | None) -> list[int]:
    """The global ranks of the group's members, in group-rank order."""
    return list(_default_group(group).ranks)


def get_group_rank(group: ProcessGroup | None, global_rank: int) -> int:
    """The rank within ``group`` of the process with global rank ``global_rank``."""
    return _default_group(group).group_rank(global_rank, "global_rank")


def get_global_rank(group: ProcessGroup | None, group_rank: int) -> int:
    """The global rank of the process with rank ``group_rank`` within ``group``."""
    pg = _default_group(group)
    if not 0 <= group_rank < pg.size():
        raise ValueError(f"group_rank {group_rank} is out of range for a group of {pg.size()}")
    return pg.ranks[group_rank]


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout=None,
    world_size: int = -1,
    rank: int = -1,
    store=None,
    group_name: str = "",
    pg_options=None,
    device_id=None,
) -> None:
    """Join the job's default process group.

    Args:
        backend: ``"mpi"`` (the default; CPU tensors through mpi4py), ``"nccl"`` (GPU tensors
            through NCCL, CPU tensors through MPI) or ``"gloo"`` (an alias of ``"mpi"``).
        init_method, timeout, store, group_name, pg_options, device_id: accepted so that
            PyTorch scripts run; MPI's launcher already knows the ranks.
        world_size, rank: optional; if given they must agree with what the launcher says.

    A script started without a launcher is a world of one (rank 0, size 1), with or without
    mpi4py installed.

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.init_process_group("mpi")
        >>> dist.get_rank(), dist.get_world_size()
        (0, 1)
        >>> dist.destroy_process_group()
    """
    global _previous_excepthook
    if GroupMember.WORLD is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = Backend("mpi" if backend is None else backend)
    MPI = _mpi()
    if MPI is None:
        launched = [v for v in _LAUNCHER_SIZE_VARS if os.environ.get(v, "1").strip() not in "01"]
        if launched:
            raise RuntimeError(
                f"this process was started by an MPI launcher ({launched[0]}="
                f"{os.environ[launched[0]]}) but mpi4py is not installed: install the "
                "`distributed` extra (pip install 'chainrule[distributed]')"
            )
        from ._mpi import LocalTransport

        transport = LocalTransport()
    else:
        from ._mpi import MPITransport

        transport = MPITransport(MPI.COMM_WORLD)
    if name == "nccl":
        from ._nccl import NCCLTransport

        transport = NCCLTransport(transport)
    for given, actual, what in ((world_size, transport.size, "world_size"),
                                (rank, transport.rank, "rank")):  # fmt: skip
        if given is not None and given >= 0 and given != actual:
            raise ValueError(
                f"init_process_group({what}={given}) disagrees with the launcher, which gives "
                f"{what} {actual}: leave {what} out (MPI's launcher decides it)"
            )
    GroupMember.WORLD = ProcessGroup(transport, str(name))
    if transport.size > 1:
        _previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught(transport)


def _abort_on_uncaught(transport):
    """An excepthook that prints the traceback with the rank and aborts the whole job."""

    def hook(exc_type, exc, tb):
        try:
            text = "".join(traceback.format_exception(exc_type, exc, tb))
            sys.stderr.write(
                f"[chainrule.distributed] rank {transport.rank} of {transport.size} raised; "
                f"aborting all ranks:\n{text}"
            )
            sys.stderr.flush()
            sys.stdout.flush()
        finally:
            transport.abort(1)

    return hook


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Leave the default group (collectives raise again until the next init), or free a group
    made by ``new_group``. MPI itself is finalized at interpreter exit, so a later
    ``init_process_group`` works."""
    global _previous_excepthook
    if group is GroupMember.NON_GROUP_MEMBER:
        return
    pg = _default_group(group)
    pg.transport.close()
    if pg is not GroupMember.WORLD:
        return
    GroupMember.WORLD = None
    if _previous_excepthook is not None:
        sys.excepthook = _previous_excepthook
        _previous_excepthook = None


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in the group (0 .. world_size - 1; -1 outside the group)."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _default_group(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """How many ranks the group has (-1 on a rank outside it)."""
    if group is GroupMember.NON_GROUP_MEMBER:
        return -1
    return _default_group(group).size()


def get_node_local_rank(fallback_rank: int | None = None) -> int:
    """This process's rank among the ranks on its machine (to pick its GPU), from the
    launcher's environment: LOCAL_RANK, MPICH's MPI_LOCALRANKID, Open MPI's or Slurm's."""
    for name in ("LOCAL_RANK", "MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    if fallback_rank is not None:
        return int(fallback_rank)
    raise RuntimeError(
        "no local rank in the environment (LOCAL_RANK, MPI_LOCALRANKID, "
        "OMPI_COMM_WORLD_LOCAL_RANK or SLURM_LOCALID): start the script with `chainrule run` "
        "or mpiexec, or pass fallback_rank"
    )


def get_backend(group: ProcessGroup | None = None) -> str:
    return _default_group(group).backend_name


def barrier(group: ProcessGroup | None = None, async_op: bool = False, device_ids=None):
    """Wait until every rank of the group has reached this call."""
    pg = _member_group(group, "barrier")
    if pg is None:
        return None
    work = pg.transport.barrier(async_op)
    if async_op:
        return work
    return None
