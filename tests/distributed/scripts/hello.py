"""Rank 0 prints every rank's view of the world and its thread settings."""

import os
import sys

import chainrule.distributed as dist

dist.init_process_group()
where = f"rank {dist.get_rank()} of {dist.get_world_size()} local {dist.get_node_local_rank()}"
mine = f"{where} threads {os.environ.get('OMP_NUM_THREADS')} args {sys.argv[1:]}"
lines = []
dist.all_gather_object(lines, mine)
if dist.get_rank() == 0:
    print("\n".join(lines))
dist.destroy_process_group()
