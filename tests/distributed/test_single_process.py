"""What needs no launcher: a world of one, DistributedSampler, SyncBatchNorm outside a group,
the launcher's command line, and the errors of a group that does not exist."""

import math
import sys

import numpy as np
import pytest

import chainrule as torch
import chainrule.distributed as dist
from chainrule.distributed._mpi import LocalTransport
from chainrule.distributed.process_group import GroupMember, ProcessGroup
from chainrule.launch import build_command, build_parser
from chainrule.nn.parallel import DistributedDataParallel as DDP
from chainrule.utils.data import DistributedSampler


@pytest.fixture
def world_of_one():
    dist.init_process_group("mpi")
    yield
    dist.destroy_process_group()


@pytest.fixture
def local_world():
    """The world of one that a process without mpi4py gets."""
    GroupMember.WORLD = ProcessGroup(LocalTransport(), "mpi")
    yield
    GroupMember.WORLD = None


# ------------------------------------------------------------------------- process group
@pytest.mark.parametrize("world", ["world_of_one", "local_world"])
def test_gather_and_scatter_lists_must_fit_the_roots_tensor(world, request):
    request.getfixturevalue(world)
    with pytest.raises(ValueError, match=r"gather: gather_list\[0\] has 3 elements but rank 0's"):
        dist.gather(torch.zeros(2), [torch.zeros(3)], dst=0)
    with pytest.raises(ValueError, match=r"scatter: scatter_list\[0\] has 3 elements but rank 0"):
        dist.scatter(torch.zeros(2), [torch.zeros(3)], src=0)
    out = [torch.zeros(2)]
    dist.gather(torch.ones(2), out, dst=0)
    assert out[0].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("world", ["world_of_one", "local_world"])
def test_new_group_in_a_world_of_one(world, request):
    request.getfixturevalue(world)
    g = dist.new_group([0])
    assert dist.get_process_group_ranks(g) == [0] and dist.get_rank(g) == 0
    t = torch.tensor([2.0])
    dist.all_reduce(t, group=g)
    dist.broadcast(t, group=g, group_src=0)
    assert t.item() == 2.0
    with pytest.raises(ValueError, match="pass src or group_src, not both"):
        dist.broadcast(t, src=0, group=g, group_src=0)
    with pytest.raises(ValueError, match=r"ranks must be distinct global ranks in 0\.\.0"):
        dist.new_group([1])
    with pytest.raises(ValueError, match="backend"):
        dist.new_group([0], backend="nccl")
    dist.destroy_process_group(g)
    assert dist.is_initialized()  # freeing a group leaves the world


def test_collectives_before_init_say_what_to_do():
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(ValueError, match="init_process_group"):
        dist.all_reduce(torch.ones(2))


def test_a_script_without_launcher_is_a_world_of_one(world_of_one):
    assert (dist.get_rank(), dist.get_world_size(), dist.is_initialized()) == (0, 1, True)
    assert dist.get_backend() == "mpi"
    assert sys.excepthook is sys.__excepthook__  # no abort hook for a world of one
    with pytest.raises(ValueError, match="twice"):
        dist.init_process_group()


@pytest.mark.parametrize("fixture", ["world_of_one", "local_world"])
def test_collectives_on_one_rank_are_identities(fixture, request):
    request.getfixturevalue(fixture)
    t = torch.tensor([1.0, -2.0, 3.0])
    dist.all_reduce(t, op=dist.ReduceOp.AVG)
    dist.broadcast(t, src=0)
    out = [torch.zeros(3)]
    dist.all_gather(out, t)
    assert out[0].tolist() == [1.0, -2.0, 3.0]
    r = torch.zeros(3)
    dist.reduce_scatter(r, [t])
    g = [torch.zeros(3)]
    dist.gather(t, g)
    s = torch.zeros(3)
    dist.scatter(s, [t])
    work = dist.all_reduce(t, async_op=True)
    assert work.wait() and work.is_completed()
    assert r.tolist() == g[0].tolist() == s.tolist() == [1.0, -2.0, 3.0]
    objs = []
    dist.all_gather_object(objs, {"a": 1})
    assert objs == [{"a": 1}]


def test_unknown_backend_and_reduce_op_are_refused():
    with pytest.raises(ValueError, match="supports 'mpi'"):
        dist.init_process_group("smoke-signals")
    assert dist.Backend("gloo") == "mpi" and dist.Backend("cpu:gloo,cuda:nccl") == "nccl"


def test_ddp_on_one_rank_equals_plain_training(world_of_one):
    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))

    x, y = torch.randn(5, 4), torch.randn(5, 2)
    plain, wrapped = model(), DDP(model(), bucket_cap_mb=0.0001)
    for m in (plain, wrapped):
        torch.nn.functional.mse_loss(m(x), y).backward()
    for (name, p), q in zip(plain.named_parameters(), wrapped.module.parameters()):
        assert np.array_equal(p.grad.numpy(), q.grad.numpy()), name
    assert list(wrapped.state_dict()) == ["module." + k for k in plain.state_dict()]


# ---------------------------------------------------------------------- DistributedSampler
class _Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (2, 4, False),
                                                     (12, 4, False), (7, 2, True)])  # fmt: skip
def test_sampler_without_shuffle_matches_pytorch(n, replicas, drop_last):
    torch_data = pytest.importorskip("torch.utils.data")
    for rank in range(replicas):
        ours = DistributedSampler(_Sized(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch_data.DistributedSampler(_Sized(n), replicas, rank, shuffle=False,
                                               drop_last=drop_last)  # fmt: skip
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("n, replicas", [(10, 3), (9, 3), (5, 4)])
def test_sampler_shuffle_partitions_with_padding(n, replicas):
    parts = [list(DistributedSampler(_Sized(n), replicas, r, seed=5)) for r in range(replicas)]
    per = math.ceil(n / replicas)
    assert all(len(p) == per for p in parts)
    flat = sorted(i for p in parts for i in p)
    assert set(flat) == set(range(n)) and len(flat) == per * replicas  # padded with repeats
    again = [list(DistributedSampler(_Sized(n), replicas, r, seed=5)) for r in range(replicas)]
    assert parts == again  # every rank draws the same permutation


def test_sampler_set_epoch_changes_the_order_and_drop_last_drops():
    s = DistributedSampler(_Sized(40), 2, 0, seed=1)
    first = list(s)
    s.set_epoch(1)
    assert list(s) != first and sorted(list(s)) != list(s)
    s.set_epoch(0)
    assert list(s) == first
    dropped = [list(DistributedSampler(_Sized(11), 3, r, drop_last=True)) for r in range(3)]
    assert [len(p) for p in dropped] == [3, 3, 3] and len(set(sum(dropped, []))) == 9


def test_sampler_rank_out_of_range():
    with pytest.raises(ValueError, match="Invalid rank 3"):
        DistributedSampler(_Sized(4), num_replicas=3, rank=3)


# ------------------------------------------------------------------------- SyncBatchNorm
def test_sync_batchnorm_alone_is_batchnorm():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 4)
    bn, sync = torch.nn.BatchNorm1d(3), torch.nn.SyncBatchNorm(3)
    assert np.allclose(bn(x).detach().numpy(), sync(x).detach().numpy())
    assert np.allclose(bn.running_var.numpy(), sync.running_var.numpy())
    assert list(sync.state_dict()) == list(bn.state_dict())
    with pytest.raises(ValueError, match="at least 2D"):
        sync(torch.randn(3))


def test_convert_sync_batchnorm_keeps_parameters_and_statistics():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    model[1].running_mean.data[:] = [1.0, 2.0]
    model.eval()
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert type(converted[1]) is torch.nn.SyncBatchNorm
    assert converted[1].weight is model[1].weight
    assert converted[1].running_mean.tolist() == [1.0, 2.0] and not converted[1].training


# ------------------------------------------------------------------------------- launcher
def test_launch_command_sets_one_blas_thread_per_rank():
    cmd = build_command(4, "train.py", ["--lr", "0.1"], hostfile="hosts", mpiexec="mpiexec",
                        python="python")  # fmt: skip
    assert cmd[:5] == ["mpiexec", "-n", "4", "-f", "hosts"]
    assert cmd[cmd.index("OMP_NUM_THREADS") - 1 : cmd.index("OMP_NUM_THREADS") + 2] == [
        "-genv", "OMP_NUM_THREADS", "1"]  # fmt: skip
    assert "OPENBLAS_NUM_THREADS" in cmd
    assert cmd[-4:] == ["python", "train.py", "--lr", "0.1"]


def test_run_subcommand_parses_script_arguments_after_the_script():
    import argparse

    parser = argparse.ArgumentParser(prog="chainrule")
    build_parser(parser.add_subparsers(dest="command").add_parser("run"))
    ns = parser.parse_args(["run", "-n", "4", "--hostfile", "h", "train.py", "--lr", "0.1", "-n"])
    assert (ns.nproc, ns.hostfile, ns.script, ns.args) == (
        4,
        "h",
        "train.py",
        ["--lr", "0.1", "-n"],
    )
