"""``chainrule.nn.parallel``: DistributedDataParallel."""

from .distributed import DistributedDataParallel, GradBucket

DDP = DistributedDataParallel

__all__ = ["DDP", "DistributedDataParallel", "GradBucket"]
