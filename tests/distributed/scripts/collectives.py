"""Every collective against NumPy on the inputs of all ranks (each rank can rebuild any rank's
input from its seed), for several dtypes, uneven sizes, non-contiguous tensors and async_op."""

import _common as c
import ml_dtypes
import numpy as np

import chainrule as torch
import chainrule.distributed as dist

rank, size = c.setup()
R = range(size)
checks = 0


def value(r: int, key: int, shape, dtype):
    """Rank r's input number `key`: integers for exact comparison in any dtype."""
    rng = np.random.default_rng([r, key])
    if dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(-4, 5, shape).astype(dtype) + (r + 1)


def same(actual, expected, what):
    global checks
    checks += 1
    a = actual.numpy() if isinstance(actual, torch.Tensor) else actual
    a = np.asarray(a, dtype=np.float64 if a.dtype == ml_dtypes.bfloat16 else a.dtype)
    e = np.asarray(expected, dtype=a.dtype)
    c.check(a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}")
    c.check(np.array_equal(a, e), f"{what}: got\n{a}\nexpected\n{e}")


DTYPES = [np.float64, np.float32, np.float16, np.int64, np.int32, ml_dtypes.bfloat16]
REDUCE = {
    dist.ReduceOp.SUM: lambda s: s.sum(0),
    dist.ReduceOp.MAX: lambda s: s.max(0),
    dist.ReduceOp.MIN: lambda s: s.min(0),
    dist.ReduceOp.PRODUCT: lambda s: s.prod(0),
}

key = 0
for dtype in DTYPES:
    dt = np.dtype(dtype)
    for op, fn in REDUCE.items():
        for async_op in (False, True):
            key += 1
            shape = (3, 4)
            t = torch.tensor(value(rank, key, shape, dt))
            work = dist.all_reduce(t, op=op, async_op=async_op)
            if async_op:
                c.check(work.wait() is True, "wait() returns True")
            stacked = np.stack([value(r, key, shape, dt).astype(np.float64) for r in R])
            same(t, fn(stacked).astype(dt), f"all_reduce {op} {dt} async={async_op}")
    if dt.kind == "f":  # AVG: exact for these integer values only up to the division
        key += 1
        t = torch.tensor(value(rank, key, (5,), dt))
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        stacked = np.stack([value(r, key, (5,), dt).astype(np.float64) for r in R])
        expected = (stacked.sum(0) / size).astype(dt)
        got = t.numpy().astype(np.float64)
        c.check(np.allclose(got, expected.astype(np.float64), rtol=1e-2), f"AVG {dt}")

# bool: SUM and MAX are a logical or, MIN and PRODUCT a logical and
key += 1
t = torch.tensor(value(rank, key, (8,), np.bool_))
dist.all_reduce(t)
same(t, np.stack([value(r, key, (8,), np.bool_) for r in R]).any(0), "all_reduce bool")
key += 1
t = torch.tensor(value(rank, key, (8,), np.bool_))
dist.all_reduce(t, op=dist.ReduceOp.MIN)
same(t, np.stack([value(r, key, (8,), np.bool_) for r in R]).all(0), "all_reduce bool min")

# a non-contiguous tensor (a transposed view) is reduced through a copy and written back
key += 1
base = torch.tensor(value(rank, key, (4, 3), np.float64))
view = base.t()
dist.all_reduce(view)
same(base, np.stack([value(r, key, (4, 3), np.float64) for r in R]).sum(0), "all_reduce view")

# a 0-d tensor
t = torch.tensor(float(rank + 1))
dist.all_reduce(t)
same(t, np.float64(size * (size + 1) / 2), "all_reduce 0-d")

# reduce to the last rank
for async_op in (False, True):
    key += 1
    t = torch.tensor(value(rank, key, (2, 3), np.float32))
    work = dist.reduce(t, dst=size - 1, async_op=async_op)
    if async_op:
        work.wait()
    mine = value(rank, key, (2, 3), np.float32)
    total = np.stack([value(r, key, (2, 3), np.float32) for r in R]).sum(0)
    same(t, total if rank == size - 1 else mine, f"reduce async={async_op}")

# broadcast from the last rank, several dtypes
for dtype in DTYPES + [np.bool_]:
    key += 1
    t = torch.tensor(value(rank, key, (2, 5), np.dtype(dtype)))
    dist.broadcast(t, src=size - 1)
    same(t, value(size - 1, key, (2, 5), np.dtype(dtype)), f"broadcast {np.dtype(dtype)}")
key += 1
t = torch.tensor(value(rank, key, (7,), np.float64))
dist.broadcast(t, src=0, async_op=True).wait()
same(t, value(0, key, (7,), np.float64), "broadcast async")


# all_gather with uneven sizes: rank r sends (r + 1, 2)
def shape_of(r):
    return (r + 1, 2)


for dtype in (np.float64, np.int64, ml_dtypes.bfloat16):
    for async_op in (False, True):
        key += 1
        out = [torch.tensor(np.zeros(shape_of(r), dtype)) for r in R]
        work = dist.all_gather(out, torch.tensor(value(rank, key, shape_of(rank), dtype)),
                               async_op=async_op)  # fmt: skip
        if async_op:
            c.check(work.result() is out, "all_gather's result() is its tensor_list")
        for r in R:
            same(out[r], value(r, key, shape_of(r), dtype), f"all_gather[{r}] {np.dtype(dtype)}")

# all_gather_into_tensor
key += 1
out = torch.zeros(size * 3, 2, dtype=torch.float64)
dist.all_gather_into_tensor(out, torch.tensor(value(rank, key, (3, 2), np.float64)))
same(out, np.concatenate([value(r, key, (3, 2), np.float64) for r in R]), "all_gather_into")

# reduce_scatter with uneven sizes: entry i has i + 2 elements
for op, fn in REDUCE.items():
    for async_op in (False, True):
        key += 1
        inputs = [torch.tensor(value(rank, key * 100 + i, (i + 2,), np.float64)) for i in R]
        out = torch.zeros(rank + 2, dtype=torch.float64)
        work = dist.reduce_scatter(out, inputs, op=op, async_op=async_op)
        if async_op:
            work.wait()
        stacked = np.stack([value(r, key * 100 + rank, (rank + 2,), np.float64) for r in R])
        same(out, fn(stacked), f"reduce_scatter {op} async={async_op}")
key += 1
inputs = [torch.tensor(value(rank, key * 100 + i, (i + 2,), np.float32)) for i in R]
out = torch.zeros(rank + 2, dtype=torch.float32)
dist.reduce_scatter(out, inputs, op=dist.ReduceOp.AVG)
stacked = np.stack([value(r, key * 100 + rank, (rank + 2,), np.float32) for r in R])
c.check(np.allclose(out.numpy(), stacked.mean(0)), "reduce_scatter AVG")

# reduce_scatter_tensor (even chunks)
key += 1
x = value(rank, key, (size * 2, 3), np.float64)
out = torch.zeros(2, 3, dtype=torch.float64)
dist.reduce_scatter_tensor(out, torch.tensor(x))
total = np.stack([value(r, key, (size * 2, 3), np.float64) for r in R]).sum(0)
same(out, total[rank * 2 : rank * 2 + 2], "reduce_scatter_tensor")

# gather to rank `dst` with uneven sizes, sync and async
for async_op in (False, True):
    key += 1
    dst = size - 1
    mine = torch.tensor(value(rank, key, shape_of(rank), np.float64))
    out = [torch.zeros(shape_of(r), dtype=torch.float64) for r in R] if rank == dst else None
    work = dist.gather(mine, out, dst=dst, async_op=async_op)
    if async_op:
        work.wait()
    if rank == dst:
        for r in R:
            same(out[r], value(r, key, shape_of(r), np.float64), f"gather[{r}]")

# scatter from rank 0 with uneven sizes
for async_op in (False, True):
    key += 1
    parts = [torch.tensor(value(0, key * 100 + r, shape_of(r), np.int64)) for r in R]
    out = torch.zeros(shape_of(rank), dtype=torch.int64)
    work = dist.scatter(out, parts if rank == 0 else None, src=0, async_op=async_op)
    if async_op:
        work.wait()
    same(out, value(0, key * 100 + rank, shape_of(rank), np.int64), "scatter")

# futures: then() chains on a finished all_reduce
key += 1
t = torch.tensor(value(rank, key, (3,), np.float64))
fut = dist.all_reduce(t, async_op=True).get_future().then(lambda f: f.value()[0] * 2)
expected = np.stack([value(r, key, (3,), np.float64) for r in R]).sum(0) * 2
same(fut.wait(), expected, "future.then")

# objects
objects = []
dist.all_gather_object(objects, {"rank": rank, "name": f"r{rank}"})
c.check(objects == [{"rank": r, "name": f"r{r}"} for r in R], f"all_gather_object {objects}")
box = [rank, "x"] if rank == 1 % size else [None, None]
dist.broadcast_object_list(box, src=1 % size)
c.check(box == [1 % size, "x"], f"broadcast_object_list {box}")

# errors name the sizes
try:
    dist.all_gather([torch.zeros(1) for _ in R], torch.zeros(rank + 2))
except ValueError as e:
    c.check("sends" in str(e), str(e))
else:
    c.check(False, "all_gather with a wrong tensor_list did not raise")

dist.barrier()
dist.barrier(async_op=True).wait()
if rank == 0:
    print(f"PASS {checks} checks on {size} ranks")
dist.destroy_process_group()
