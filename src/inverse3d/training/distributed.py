"""Data parallelism under torchrun: joining and leaving the process group, and each process's device.

Run any training command under ``torchrun --nproc_per_node P``: every process joins the group (gloo on the CPU, NCCL
on CUDA), takes its share of the data, and ``DistributedDataParallel`` averages the gradients; only rank 0 writes
files. Started alone (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) nothing is joined.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass
class Dist:
    """This process's place among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    initialised_here: bool = False
    """True when ``setup_distributed`` joined the group (so ``teardown_distributed`` leaves it)."""

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: str) -> Dist:
    """Joins the process group when started by torchrun (WORLD_SIZE > 1); gloo on the CPU, NCCL on CUDA."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    here = False
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend=backend)
        here = True
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), here)


def teardown_distributed(info: Dist) -> None:
    """Leaves the process group if ``setup_distributed`` joined it."""
    if info.initialised_here:
        torch.distributed.destroy_process_group()


def process_device(device: str, info: Dist) -> torch.device:
    """The device of this process: ``device``, except under torchrun with CUDA, where each process takes
    ``cuda:LOCAL_RANK`` (and makes it current)."""
    out = torch.device(device)
    if out.type == "cuda" and info.enabled:
        out = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(out)
    return out
