"""DistributedDataParallel support for runs started by ``torchrun``.

``torchrun --nproc_per_node N -m mnist_model train ...`` sets WORLD_SIZE/RANK; the CLI
then joins a process group (gloo on CPU, nccl on CUDA). Every rank draws the same global
batch and the same augmentation from the shared seed and trains on its own slice of it,
so the global batch size and learning rate are those of the single-process recipe.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from mnist_model.evaluate import EvalResult
from mnist_model.train import Replicas


def world_size() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if world_size() > 1 else 0


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: torch.device) -> None:
    """Join the process group torchrun describes (no-op when not under torchrun)."""
    if not launched_by_torchrun() or dist.is_initialized():
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)


def leave() -> None:
    """After a finished run under torchrun: wait until every rank is done (rank 0 writes
    the artifacts after the others have nothing left to do), then tear the process group
    down, so that no rank exits while a peer still holds its connections open (the likely
    cause, not a proven one, of a rank's single SIGABRT at exit in CI). A no-op outside a
    process group."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def shard(count: int) -> slice:
    """This rank's contiguous slice of ``count`` items (the slices tile 0..count)."""
    size, me = world_size(), rank()
    return slice(me * count // size, (me + 1) * count // size)


def sum_across_ranks(*tensors: torch.Tensor) -> None:
    if world_size() > 1:
        for tensor in tensors:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)


def same_on_every_rank(value):
    """Rank 0's ``value`` on every rank (e.g. the arithmetic: ranks that measured apart could
    disagree, and DDP needs them to compute alike). Picklable values only."""
    if world_size() == 1:
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def sync_buffers(model: torch.nn.Module) -> None:
    """Give every rank rank 0's BatchNorm statistics (each rank saw only its slices)."""
    if world_size() > 1:
        for buffer in model.buffers():
            dist.broadcast(buffer, src=0)


def reduce_eval(result: EvalResult) -> EvalResult:
    """Combine per-rank evaluations of disjoint test shards into the full-set result."""
    if world_size() == 1:
        return result
    loss_sum = torch.tensor([result.loss * result.total], dtype=torch.float64)
    counts = torch.tensor([result.correct, result.total], dtype=torch.long)
    confusion = result.confusion.clone()
    sum_across_ranks(loss_sum, counts, confusion)
    return EvalResult(
        loss=float(loss_sum) / int(counts[1]),
        correct=int(counts[0]),
        total=int(counts[1]),
        confusion=confusion,
    )


class Torchrun(Replicas):
    """The ranks of a torchrun process group, for ``train(replicas=...)``: DDP averages
    the gradients of the ranks' slices of each global batch."""

    @property
    def world_size(self) -> int:
        return world_size()

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    def shard(self, count: int) -> slice:
        return shard(count)

    def sum(self, *tensors: torch.Tensor) -> None:
        sum_across_ranks(*tensors)

    def sync_buffers(self, model: torch.nn.Module) -> None:
        sync_buffers(model)

    def reduce(self, result: EvalResult) -> EvalResult:
        return reduce_eval(result)


def replicas() -> Replicas:
    """The replicas of this process: torchrun's ranks once joined, else this one alone."""
    return Torchrun() if world_size() > 1 else Replicas()


def join_torchrun(device: torch.device, threads: int) -> tuple[torch.device, int]:
    """Under torchrun: join the process group with one GPU or a share of the cores per rank
    (``threads`` 0 becomes cores / local ranks), and let only rank 0 log below warnings.
    Returns the (device, threads) to train with; unchanged otherwise."""
    import logging

    if not launched_by_torchrun():
        return device, threads
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    init_from_env(device)
    if threads == 0:
        per_rank = (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        threads = max(1, per_rank)
    if rank() != 0:
        logging.getLogger("mnist_model").setLevel(logging.WARNING)
    return device, threads
