"""Batches for the training core: a batch order that can be resumed, and moving a collated batch to a device.

``ResumableBatchSampler`` yields the index batches of training step ``start_step``, ``start_step + 1``, ... as a
pure function of (seed, step, rank, world size): every epoch is a fresh permutation drawn from ``seed`` and the
epoch number (like ``DistributedSampler.set_epoch``), split across processes the way ``DistributedSampler`` does,
so a resumed run sees exactly the batches the uninterrupted run would have seen, without replaying the loader.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch


class ResumableBatchSampler(torch.utils.data.Sampler):
    """Endless index batches for a ``DataLoader(batch_sampler=...)``, starting at training step ``start_step``.

    Args:
        n: dataset length.
        batch_size: indices per batch (per process); the last incomplete batch of an epoch is dropped.
        seed: seed of the epoch permutations (the same on every process).
        rank, world_size: this process and the number of processes; each takes every ``world_size``-th index of
            the epoch's permutation (padded by wrapping to a multiple of ``world_size``).
        start_step: the first step to yield.
    """

    def __init__(self, n: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1,
                 start_step: int = 0) -> None:
        if n < 1:
            raise ValueError("the training set is empty")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive; got {batch_size}")
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size, self.start_step = rank, world_size, start_step
        self.per_rank = -(-n // world_size)  # ceil
        self.batches_per_epoch = self.per_rank // batch_size
        if self.batches_per_epoch < 1:
            raise ValueError(
                f"the training set has {n} shapes: too few for batches of {batch_size} on {world_size} process(es); "
                "lower --batch-size or generate more shapes"
            )

    def epoch_indices(self, epoch: int) -> torch.Tensor:
        """(per_rank,) long: this process's indices of ``epoch``, in order."""
        gen = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = torch.randperm(self.n, generator=gen)
        total = self.per_rank * self.world_size
        if total > self.n:
            perm = torch.cat([perm, perm[: total - self.n]])
        return perm[self.rank :: self.world_size]

    def batch(self, step: int) -> list[int]:
        """The indices of training step ``step``."""
        epoch, b = divmod(step, self.batches_per_epoch)
        idx = self.epoch_indices(epoch)
        return idx[b * self.batch_size : (b + 1) * self.batch_size].tolist()

    def __iter__(self) -> Iterator[list[int]]:
        step = self.start_step
        cached_epoch, idx = None, None
        while True:
            epoch, b = divmod(step, self.batches_per_epoch)
            if epoch != cached_epoch:
                cached_epoch, idx = epoch, self.epoch_indices(epoch)
            yield idx[b * self.batch_size : (b + 1) * self.batch_size].tolist()
            step += 1


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """Moves the tensors of a collated batch to ``device`` (lists and strings stay)."""
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}
