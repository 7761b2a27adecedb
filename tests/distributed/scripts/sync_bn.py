"""SyncBatchNorm on N ranks (uneven batches) equals BatchNorm on the concatenated batch:
outputs, input gradients, weight/bias gradients and running statistics; and a converted model
trained with DDP equals the BatchNorm model trained on the global batch."""

import _common as c
import numpy as np

import chainrule as torch
import chainrule.distributed as dist
from chainrule.nn.parallel import DistributedDataParallel as DDP

rank, size = c.setup()
nn = torch.nn
counts = [r + 2 for r in range(size)]  # uneven: rank r has r + 2 samples
start = sum(counts[:rank])
mine = slice(start, start + counts[rank])


def close(a, b, what, tol=1e-10):
    a = a.detach().numpy() if isinstance(a, torch.Tensor) else a
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else b
    diff = float(np.abs(a - b).max())
    c.check(diff <= tol, f"{what}: max diff {diff:.3g}")


for shape in [(6,), (6, 5)]:  # (N, C) and (N, C, L)
    rng = np.random.default_rng(7)
    x_all = rng.standard_normal((sum(counts), *shape)) * 3 + 1
    upstream = rng.standard_normal(x_all.shape)
    weight, bias = rng.standard_normal(6), rng.standard_normal(6)

    def build(cls, weight=weight, bias=bias):
        bn = cls(6, momentum=0.3).double()
        with torch.no_grad():
            bn.weight.copy_(torch.tensor(weight))
            bn.bias.copy_(torch.tensor(bias))
        return bn

    ref, sync = build(nn.BatchNorm1d), build(nn.SyncBatchNorm)
    x_ref = torch.tensor(x_all, requires_grad=True)
    x_mine = torch.tensor(x_all[mine], requires_grad=True)
    for _ in range(2):  # twice: the running statistics compound
        y_ref, y = ref(x_ref), sync(x_mine)
    (y_ref * torch.tensor(upstream)).sum().backward()
    (y * torch.tensor(upstream[mine])).sum().backward()
    close(y, y_ref[mine], f"output {shape}")
    close(x_mine.grad, x_ref.grad[mine], f"input grad {shape}")
    gw, gb = sync.weight.grad.clone(), sync.bias.grad.clone()
    dist.all_reduce(gw)
    dist.all_reduce(gb)
    # two forwards, one backward through the second: the grads of the second only
    close(gw, ref.weight.grad, f"weight grad {shape}")
    close(gb, ref.bias.grad, f"bias grad {shape}")
    close(sync.running_mean, ref.running_mean, f"running_mean {shape}")
    close(sync.running_var, ref.running_var, f"running_var {shape}")
    c.check(int(sync.num_batches_tracked.item()) == 2, "num_batches_tracked")
    sync.eval()
    ref.eval()
    close(sync(x_mine), ref(x_ref)[mine], f"eval output {shape}")


# convert_sync_batchnorm + DDP training equals single-process BatchNorm on the global batch
def bn_model():
    torch.manual_seed(3)
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3)).double()


converted = nn.SyncBatchNorm.convert_sync_batchnorm(bn_model())
c.check(isinstance(converted[1], nn.SyncBatchNorm), f"not converted: {converted}")
data = c.batches(5)
reference = c.train_single(bn_model(), data)
ddp = DDP(converted)
opt = torch.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
for x, y in data:
    opt.zero_grad()
    out = ddp(torch.tensor(c.shard(x, rank, size)))
    torch.nn.functional.cross_entropy(out, torch.tensor(c.shard(y, rank, size))).backward()
    opt.step()
c.check(c.max_diff(converted, reference) <= 1e-10, "DDP + SyncBatchNorm differs")
close(converted[1].running_var, reference[1].running_var, "trained running_var")
if rank == 0:
    print(f"PASS on {size} ranks")
dist.destroy_process_group()
