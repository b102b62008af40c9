"""Scale-out: the same job under ``torchrun --nproc_per_node N`` with DistributedDataParallel.

torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; with a world of one (plain
``python -m trainer``) nothing here does anything. Backend: NCCL when training on CUDA,
gloo on the CPU. Only rank 0 emits events and writes files; every rank computes the
same decisions (best epoch, early stop) from the same gathered validation results, so
they never disagree.

``batch_size`` in the job is the global batch: each of N processes takes
``batch_size // N``, so a job means the same on one process or several.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

__all__ = ["Dist", "setup", "world_from_env"]


@dataclass
class Dist:
    """This process's place in the job.

    Attributes
    ----------
    rank, world, local_rank : int
    backend : str or None
        ``"gloo"``/``"nccl"`` when distributed, else None.
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0: the process that emits events and writes files."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is true on any (e.g. a cancel seen by one)."""
        if not self.enabled:
            return flag
        import torch
        import torch.distributed as dist

        t = torch.tensor([1 if flag else 0], dtype=torch.int32, device=self._device())
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's ``obj``, in rank order (a list of one when not distributed)."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        import torch.distributed as dist

        box = [obj if self.main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def _device(self):
        import torch

        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")


def world_from_env() -> tuple[int, int, int]:
    """(rank, world, local_rank) from torchrun's environment; (0, 1, 0) without it."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    rank = int(os.environ.get("RANK", "0") or 0)
    local = int(os.environ.get("LOCAL_RANK", str(rank)) or 0)
    return rank, world, local


def setup(use_cuda: bool) -> Dist:
    """Join the process group when started by torchrun (else a world of one).

    Parameters
    ----------
    use_cuda : bool
        Train on CUDA (NCCL, one GPU per local rank) or on the CPU (gloo).
    """
    rank, world, local = world_from_env()
    if world <= 1:
        return Dist()
    import torch
    import torch.distributed as dist

    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(local)
    else:
        # N processes share the machine's cores: one set of compute threads each.
        local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)) or world)
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(1, local_world)))
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return Dist(rank, world, local, backend)
