"""DistributedSampler: each rank reads its own share of the dataset, as PyTorch's does."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

from ...ops.creation import Generator, randperm
from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices of rank ``rank``'s share: every ``num_replicas``-th index of one (shuffled)
    order of the dataset, starting at ``rank``.

    All ranks draw the same permutation, seeded with ``seed + epoch``: call ``set_epoch(epoch)``
    at the start of each epoch, or every epoch repeats the first one's order. Unless
    ``drop_last``, the order is padded with its own first indices so that every rank gets
    ``ceil(len(dataset) / num_replicas)`` of them; with ``drop_last`` the tail is dropped
    instead. (The permutation comes from chainrule's PCG64 generator, so the shuffled order
    differs from PyTorch's; without shuffle it is the same.)

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: how many ranks share it (default: the world size).
        rank: this rank (default: the process's rank).
        shuffle: shuffle each epoch.
        seed: the shuffle's seed (the same on every rank).
        drop_last: drop the tail instead of padding.

    Example:
        >>> from chainrule.utils.data import DistributedSampler
        >>> list(DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False))
        [1, 3, 0]
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from ... import distributed as dist

            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = Generator().manual_seed(self.seed + self.epoch)
            indices = randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * math.ceil(padding / len(indices)))[:padding]
        else:
            indices = indices[: self.total_size]
        return iter(indices[self.rank : self.total_size : self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``seed + epoch`` for the next pass's order (the same on every rank)."""
        self.epoch = epoch
