"""The NCCL backend on one GPU (NCCL refuses two ranks on one GPU): communicator creation,
every collective on CuPy tensors, and a DDP step equal to the CPU one. Skipped without CuPy,
NCCL and a GPU."""

import numpy as np
import pytest

import chainrule as torch
import chainrule.distributed as dist

pytestmark = pytest.mark.skipif(
    not dist.is_nccl_available() or not dist.is_mpi_available(),
    reason="needs a GPU, CuPy with NCCL and mpi4py",
)


@pytest.fixture
def nccl_world():
    dist.init_process_group("nccl")
    yield
    dist.destroy_process_group()


def test_nccl_collectives_on_one_gpu(nccl_world):
    assert dist.get_backend() == "nccl" and dist.get_world_size() == 1
    t = torch.tensor([1.0, 2.0, 3.0], device="cuda")
    for op in (dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.MAX, dist.ReduceOp.MIN):
        dist.all_reduce(t, op=op)
    dist.all_reduce(t, async_op=True).wait()
    dist.broadcast(t, src=0)
    out = [torch.zeros(3, device="cuda")]
    dist.all_gather(out, t)
    r = torch.zeros(3, device="cuda")
    dist.reduce_scatter(r, [t])
    g = [torch.zeros(3, device="cuda")]
    dist.gather(t, g)
    s = torch.zeros(3, device="cuda")
    dist.scatter(s, [t])
    for x in (t, out[0], r, g[0], s):
        assert x.cpu().tolist() == [1.0, 2.0, 3.0]
    c = torch.tensor([1.0], device="cpu")  # CPU tensors go through MPI
    dist.all_reduce(c)
    assert c.tolist() == [1.0]


def test_nccl_ddp_step_matches_cpu(nccl_world):
    from chainrule.nn.parallel import DistributedDataParallel as DDP

    def model():
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))

    x, y = torch.randn(6, 4), torch.randn(6, 2)
    cpu = model()
    torch.nn.functional.mse_loss(cpu(x), y).backward()
    gpu = DDP(model().to("cuda"))
    torch.nn.functional.mse_loss(gpu(x.to("cuda")), y.to("cuda")).backward()
    for p, q in zip(cpu.parameters(), gpu.module.parameters()):
        assert np.allclose(p.grad.numpy(), q.grad.cpu().numpy(), atol=1e-6)
