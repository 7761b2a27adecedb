"""new_group on 3 ranks: collectives among the members only, global src/dst ranks, group
ranks, a rank outside the group, and DDP over a group (its ranks agree, the other differs)."""

import warnings

import _common as c
import numpy as np

import chainrule as torch
import chainrule.distributed as dist

rank, size = c.setup()
assert size == 3, "run on 3 ranks"

# the members are ranks 1 and 2: group ranks 0 and 1
g = dist.new_group([2, 1])  # order does not matter: group ranks follow global ranks
world_again = dist.new_group()  # every rank
member = rank in (1, 2)
if member:
    c.check(dist.get_process_group_ranks(g) == [1, 2], f"ranks {dist.get_process_group_ranks(g)}")
    c.check(dist.get_rank(g) == rank - 1 and dist.get_world_size(g) == 2, "group rank, size")
    c.check(dist.get_group_rank(g, 2) == 1 and dist.get_global_rank(g, 0) == 1, "translations")

    t = torch.tensor([float(rank)])
    dist.all_reduce(t, group=g)
    c.check(t.item() == 3.0, f"all_reduce in the group gave {t.item()}")

    b = torch.tensor([10.0 * rank])
    dist.broadcast(b, src=2, group=g)  # src is a global rank
    c.check(b.item() == 20.0, f"broadcast from global rank 2 gave {b.item()}")
    b = torch.tensor([10.0 * rank])
    dist.broadcast(b, group=g, group_src=0)  # or a rank within the group
    c.check(b.item() == 10.0, f"broadcast from group rank 0 gave {b.item()}")

    r = torch.tensor([float(rank)])
    dist.reduce(r, dst=1, group=g)
    c.check(r.item() == (3.0 if rank == 1 else 2.0), f"reduce to global rank 1 gave {r.item()}")

    out = [torch.zeros(1) for _ in range(2)]
    dist.all_gather(out, torch.tensor([float(rank)]), group=g)
    c.check([o.item() for o in out] == [1.0, 2.0], f"all_gather {out}")

    try:
        dist.broadcast(torch.zeros(1), src=0, group=g)
    except ValueError as e:
        c.check("not a member" in str(e) and "[1, 2]" in str(e), str(e))
    else:
        c.check(False, "broadcast from a rank outside the group did not raise")

    # DDP over the group: its two ranks see different data and end with the same weights
    model = c.make_model(seed=rank)  # different initial weights: DDP broadcasts group rank 0's
    ddp = torch.nn.parallel.DistributedDataParallel(model, process_group=g)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    rng = np.random.default_rng(rank)
    for _ in range(3):
        x = torch.tensor(rng.standard_normal((4, 6)))
        opt.zero_grad()
        ddp(x).pow(2).mean().backward()
        opt.step()
    w = model.fc1.weight.detach().numpy().copy()
    others = [None, None]
    dist.all_gather_object(others, w, group=g)
    c.check(np.array_equal(others[0], others[1]), "DDP over the group: weights differ")
    dist.destroy_process_group(g)
else:
    c.check(g is dist.GroupMember.NON_GROUP_MEMBER, f"outside the group got {g!r}")
    c.check(dist.get_rank(g) == -1 and dist.get_world_size(g) == -1, "rank/size outside")
    t = torch.tensor([5.0])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        result = dist.all_reduce(t, group=g)
    c.check(result is None and t.item() == 5.0, "all_reduce outside the group changed t")
    c.check(any("does not belong" in str(w.message) for w in seen), "no warning outside")

# the world is untouched by the group
t = torch.tensor([1.0])
dist.all_reduce(t, group=world_again)
c.check(t.item() == 3.0, f"all_reduce over new_group() gave {t.item()}")
dist.all_reduce(t)
c.check(t.item() == 9.0, f"all_reduce over the world gave {t.item()}")
dist.barrier()
if rank == 0:
    print("PASS groups on 3 ranks")
dist.destroy_process_group()
