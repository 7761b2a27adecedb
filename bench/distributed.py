"""Distributed benchmarks: ``python bench/distributed.py`` prints a markdown table.

1. All-reduce of 40 MB of float32 between 2 ranks: ``chainrule.distributed.all_reduce`` on a
   tensor against a bare mpi4py ``Allreduce`` of the same buffer (goal: within 1.1x), with
   torch.distributed (gloo) for reference.
2. One DDP training step of the MLP 784-512-512-10 workload (ReLU, cross-entropy, SGD with
   momentum, float32; global batch 128 split over the ranks) on 1 and 2 ranks: chainrule's
   DistributedDataParallel over MPI against torch's over gloo, one thread per rank in both.

Every measurement runs under the MPICH wheel's ``mpiexec``, one core per rank; the parent
process only launches the workers and formats what rank 0 reports (one JSON line).
Options: --steps N (timed DDP steps, default 40, in windows of 5 of which the fastest counts),
--reps N (all-reduce repetitions, default 20).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

ALLREDUCE_BYTES = 40 * 10**6
MLP_PARAMS = 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10  # 669,706: 2.68 MB in float32
GLOBAL_BATCH = 128


# ------------------------------------------------------------------------------ workers
def _pmi() -> tuple[int, int]:
    return int(os.environ.get("PMI_RANK", 0)), int(os.environ.get("PMI_SIZE", 1))


def _median_time(fn, reps: int, barrier) -> float:
    times = []
    for _ in range(reps):
        barrier()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def worker_allreduce_chainrule(reps: int) -> dict:
    from mpi4py import MPI

    import chainrule as cr
    import chainrule.distributed as dist

    dist.init_process_group("mpi")
    comm = MPI.COMM_WORLD
    n = ALLREDUCE_BYTES // 4
    bare = np.ones(n, np.float32)
    tensor = cr.from_numpy(np.ones(n, np.float32))
    for _ in range(3):  # warm up both paths (page faults, MPI's internal buffers)
        comm.Allreduce(MPI.IN_PLACE, bare)
        dist.all_reduce(tensor)
    grads = cr.from_numpy(np.ones(MLP_PARAMS, np.float32))  # one step's worth of MLP gradients
    paths = {
        "mpi4py": lambda: comm.Allreduce(MPI.IN_PLACE, bare),
        "chainrule": lambda: dist.all_reduce(tensor),
        "chainrule_async": lambda: dist.all_reduce(tensor, async_op=True).wait(),
        "chainrule_mlp_grads": lambda: dist.all_reduce(grads),
    }
    times: dict = {k: [] for k in paths}
    for rep in range(reps):  # interleaved, in alternating order: a busy moment hits all alike
        order = list(paths.items())
        for name, fn in order[::-1] if rep % 2 else order:
            times[name].append(_median_time(fn, 1, comm.Barrier))
    return {k: float(np.median(v)) for k, v in times.items()}


def _torch_init():
    import torch
    import torch.distributed as tdist

    rank, size = _pmi()
    torch.set_num_threads(1)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    tdist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{os.environ['BENCH_PORT']}",
                             rank=rank, world_size=size)  # fmt: skip
    return torch, tdist


def worker_allreduce_torch(reps: int) -> dict:
    torch, tdist = _torch_init()
    t = torch.ones(ALLREDUCE_BYTES // 4, dtype=torch.float32)
    for _ in range(3):
        tdist.all_reduce(t)
    result = {"torch_gloo": _median_time(lambda: tdist.all_reduce(t), reps, tdist.barrier)}
    tdist.destroy_process_group()
    return result


def _batch(rank: int, size: int):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((GLOBAL_BATCH, 784)).astype(np.float32)
    y = rng.integers(0, 10, GLOBAL_BATCH)
    per = GLOBAL_BATCH // size
    return x[rank * per : (rank + 1) * per], y[rank * per : (rank + 1) * per]


def _time_steps(step, steps: int, barrier) -> float:
    """Seconds per step: the fastest of several windows of 5 steps (robust to other load on a
    shared machine, the same rule for every framework)."""
    for _ in range(5):
        step()
    best = float("inf")
    for _ in range(max(steps // 5, 1)):
        barrier()
        start = time.perf_counter()
        for _ in range(5):
            step()
        barrier()
        best = min(best, (time.perf_counter() - start) / 5)
    return best


def worker_ddp_chainrule(steps: int, wrap: bool = True) -> dict:
    import chainrule as m
    import chainrule.distributed as dist
    from chainrule.nn.parallel import DistributedDataParallel

    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    m.manual_seed(0)
    nn = m.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))  # fmt: skip
    ddp = DistributedDataParallel(model) if wrap else model
    opt = m.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    xa, ya = _batch(rank, size)
    x, y = m.tensor(xa), m.tensor(ya)

    def step():
        opt.zero_grad(set_to_none=True)
        m.nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()

    return {"chainrule": _time_steps(step, steps, dist.barrier)}


def worker_local_chainrule(steps: int) -> dict:
    """The same step without DDP: each rank trains alone on its share (no communication)."""
    return worker_ddp_chainrule(steps, wrap=False)


def worker_ddp_torch(steps: int) -> dict:
    torch, tdist = _torch_init()
    rank, size = _pmi()
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))  # fmt: skip
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    xa, ya = _batch(rank, size)
    x, y = torch.from_numpy(xa), torch.from_numpy(ya)

    def step():
        opt.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(ddp(x), y).backward()
        opt.step()

    result = {"torch_gloo": _time_steps(step, steps, tdist.barrier)}
    tdist.destroy_process_group()
    return result


WORKERS = {
    "allreduce-chainrule": worker_allreduce_chainrule,
    "allreduce-torch": worker_allreduce_torch,
    "ddp-chainrule": worker_ddp_chainrule,
    "ddp-torch": worker_ddp_torch,
    "local-chainrule": worker_local_chainrule,
}


# ------------------------------------------------------------------------------ launcher
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(n: int, worker: str, count: int) -> dict | None:
    from chainrule.launch import THREAD_VARIABLES, find_mpiexec

    env = dict(os.environ, BENCH_PORT=str(_free_port()), PYTHONPATH=ROOT)
    for name in THREAD_VARIABLES:
        env[name] = "1"
    cmd = [find_mpiexec(), "-n", str(n), sys.executable, os.path.abspath(__file__),
           "--worker", worker, "--count", str(count)]  # fmt: skip
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    for line in result.stdout.splitlines():
        if line.startswith("{"):
            return json.loads(line)
    sys.stderr.write(f"{worker} on {n} ranks failed:\n{result.stdout}\n{result.stderr}\n")
    return None


def _ms(t) -> str:
    return "n/a" if t is None else f"{t * 1e3:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = WORKERS[args.worker](args.count)
        if _pmi()[0] == 0:
            print(json.dumps(result), flush=True)
        return

    ours = launch(2, "allreduce-chainrule", args.reps) or {}
    torch_ar = launch(2, "allreduce-torch", args.reps) or {}
    mb = ALLREDUCE_BYTES / 1e6
    print(f"### All-reduce of {mb:.0f} MB float32, 2 ranks (median of {args.reps})\n")
    print("| path | time | algorithm bandwidth | vs bare mpi4py |")
    print("|---|---|---|---|")
    bare = ours.get("mpi4py")
    for name, key, source in (("bare mpi4py Allreduce", "mpi4py", ours),
                              ("chainrule all_reduce", "chainrule", ours),
                              ("chainrule all_reduce(async_op=True).wait()", "chainrule_async",
                               ours),
                              ("torch.distributed gloo", "torch_gloo", torch_ar)):  # fmt: skip
        t = source.get(key)
        bw = "n/a" if t is None else f"{ALLREDUCE_BYTES / t / 1e9:.2f} GB/s"
        ratio = "n/a" if t is None or bare is None else f"{t / bare:.2f}x"
        print(f"| {name} | {_ms(t)} | {bw} | {ratio} |")
    t = ours.get("chainrule_mlp_grads")
    if t is not None:
        print(f"\nThe MLP's {MLP_PARAMS * 4 / 1e6:.2f} MB of gradients (one DDP step's traffic): "
              f"{_ms(t)}, {MLP_PARAMS * 4 / t / 1e9:.2f} GB/s.")  # fmt: skip

    print(f"\n### DDP step, MLP 784-512-512-10, global batch {GLOBAL_BATCH}, float32, "
          "one thread per rank\n")  # fmt: skip
    print("| ranks | chainrule (MPI) | torch DDP (gloo) | torch / chainrule "
          "| chainrule without DDP (no communication) |")  # fmt: skip
    print("|---|---|---|---|---|")
    for n in (1, 2):
        a = (launch(n, "ddp-chainrule", args.steps) or {}).get("chainrule")
        b = (launch(n, "ddp-torch", args.steps) or {}).get("torch_gloo")
        c = (launch(n, "local-chainrule", args.steps) or {}).get("chainrule")
        ratio = "n/a" if a is None or b is None else f"{b / a:.2f}x"
        print(f"| {n} | {_ms(a)} | {_ms(b)} | {ratio} | {_ms(c)} |")


if __name__ == "__main__":
    main()
