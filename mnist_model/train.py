"""Training: one function that takes explicit arguments and returns metrics.

The whole split lives in memory as a normalised tensor; each step draws a random batch
of indices, warps it with a per-sample random affine transform and takes one SGD step
under a one-cycle learning-rate schedule. The random numbers come from one
``torch.Generator`` seeded from ``TrainConfig.seed``, so on the CPU the same seed and
config reproduce the same weights and metrics bit for bit.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from mnist_model import distributed
from mnist_model.augment import random_affine
from mnist_model.config import ModelConfig, TrainConfig
from mnist_model.data import normalize
from mnist_model.errors import TrainingError
from mnist_model.evaluate import EvalResult, evaluate
from mnist_model.model import MnistNet

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model: MnistNet
    history: list[dict] = field(default_factory=list)
    """One dict per epoch: train/test loss and accuracy, learning rate, seconds."""
    final: EvalResult | None = None
    seconds: float = 0.0


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; nothing requires CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"--device {name} asked for CUDA but no CUDA device is available")
    return device


def build_optimizer(
    model: torch.nn.Module, config: TrainConfig, steps: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.momentum > 0,
        weight_decay=config.weight_decay,
        foreach=True,  # one multi-tensor update for all parameters: torch's CPU default loops
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=config.lr,
        total_steps=steps,
        pct_start=config.warmup_fraction,
        anneal_strategy="linear",
        div_factor=config.initial_lr_divisor,
        final_div_factor=config.final_lr_divisor,
        cycle_momentum=False,
    )
    return optimizer, scheduler


def train(
    config: TrainConfig,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    model_config: ModelConfig | None = None,
    device: torch.device | str = "cpu",
    progress: bool | None = None,
    on_epoch: Callable[[int, dict, TrainResult], None] | None = None,
    state_path: Path | None = None,
    resume: bool = False,
) -> TrainResult:
    """Train a model on uint8 images and return it with per-epoch metrics.

    ``progress=None`` shows a tqdm bar only when stderr is a terminal. ``on_epoch`` is
    called after each epoch's evaluation (the CLI uses it to write artifacts).
    With ``state_path``, the complete training state (weights, optimizer, schedule, every
    RNG) is written atomically after each finished epoch; ``resume=True`` continues from
    that file, and on the CPU reaches exactly the metrics of an uninterrupted run.
    """
    device = torch.device(device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)

    images = normalize(train_images).to(device)
    labels = train_labels.to(device)
    test_inputs = normalize(test_images)  # once, not before every epoch's evaluation
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = MnistNet(model_config or ModelConfig()).to(device, memory_format=memory_format)
    steps_per_epoch = math.ceil(len(images) / config.batch_size)
    optimizer, scheduler = build_optimizer(model, config, config.epochs * steps_per_epoch)
    show = sys.stderr.isatty() if progress is None else progress

    # Under torchrun, DDP averages the gradients of the ranks' slices of each global batch.
    net = model
    if distributed.world_size() > 1:
        if resume:
            raise TrainingError("--resume is not supported under torchrun; resume on one process")
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    result = TrainResult(model=model)
    first_epoch = 1
    if resume:
        if state_path is None:
            raise TrainingError("resume needs the path of a training state")
        first_epoch = (
            load_training_state(state_path, config, model, optimizer, scheduler, generator, result)
            + 1
        )
        log.info("resuming after epoch %d from %s", first_epoch - 1, state_path)
    start = time.perf_counter()
    for epoch in range(first_epoch, config.epochs + 1):
        epoch_start = time.perf_counter()
        lr = scheduler.get_last_lr()[0]
        model.train()
        order = torch.randperm(len(images), generator=generator).to(device)
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device, dtype=torch.long)
        bar = tqdm(
            range(steps_per_epoch),
            desc=f"epoch {epoch}/{config.epochs}",
            disable=not show,
            leave=False,
            file=sys.stderr,
        )
        for step in bar:
            index = order[step * config.batch_size : (step + 1) * config.batch_size]
            mine = distributed.shard(len(index))  # everything when not distributed
            done = ((epoch - 1) * steps_per_epoch + step) / (config.epochs * steps_per_epoch)
            magnitude = 1.0 - config.augment_decay * done
            x = random_affine(
                images[index],
                generator,
                max_rotation_deg=config.max_rotation_deg * magnitude,
                max_translate=config.max_translate * magnitude,
                max_scale=config.max_scale * magnitude,
            )[mine].contiguous(memory_format=memory_format)
            y = labels[index][mine]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16_autocast):
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"non-finite loss ({loss.item()}) at epoch {epoch}, step {step + 1}: "
                    f"lower --lr (now {config.lr}) or check the data"
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            loss_sum += loss.detach() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()
            if show and step % 20 == 0:
                seen = min((step + 1) * config.batch_size, len(images))
                bar.set_postfix(
                    loss=f"{loss_sum.item() / seen:.4f}", acc=f"{100 * correct.item() / seen:.2f}%"
                )
        bar.close()
        distributed.sum_across_ranks(loss_sum, correct)
        train_seconds = time.perf_counter() - epoch_start
        test = _evaluate_shard(model, test_inputs, test_labels, config)
        record = {
            "epoch": epoch,
            "train_loss": loss_sum.item() / len(images),
            "train_accuracy": correct.item() / len(images),
            "test_loss": test.loss,
            "test_accuracy": test.accuracy,
            "lr": lr,
            "train_seconds": train_seconds,
            "seconds": time.perf_counter() - epoch_start,
        }
        result.history.append(record)
        result.final = test
        log.info("Epoch %d/%d %s", epoch, config.epochs, test.reference_line())
        if state_path is not None:
            save_training_state(
                state_path, config, epoch, model, optimizer, scheduler, generator, result.history
            )
        if on_epoch is not None:
            on_epoch(epoch, record, result)
    model.to(memory_format=torch.contiguous_format)  # the layout a loaded checkpoint has
    if result.final is None:  # resumed a run whose epochs were all done: evaluate it
        result.final = evaluate(model, test_images, test_labels, batch_size=config.eval_batch_size)
    result.seconds = time.perf_counter() - start
    return result


STATE_SCHEMA = 2  # 2: the pool-before-BatchNorm layout (see checkpoint.SCHEMA_VERSION)


def _evaluate_shard(model, images, labels, config) -> EvalResult:
    """This rank's slice of the test set, evaluated and summed over ranks. evaluate() runs
    a folded channels_last copy whatever the model's layout, so metrics.json matches what
    `mnist-model evaluate --checkpoint` recomputes bit for bit."""
    distributed.sync_buffers(model)
    mine = distributed.shard(len(images))
    result = evaluate(model, images[mine], labels[mine], batch_size=config.eval_batch_size)
    return distributed.reduce_eval(result)


def save_training_state(path, config, epoch, model, optimizer, scheduler, generator, history):
    """Everything needed to continue bit-exactly after ``epoch``; written atomically."""
    from mnist_model.atomic import atomic_path

    state = {
        "schema_version": STATE_SCHEMA,
        "train_config": asdict(config),
        "model_config": asdict(model.config),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": history,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_training_state(path, config, model, optimizer, scheduler, generator, result) -> int:
    """Restore a saved state into the given objects; return the last finished epoch."""
    from mnist_model.checkpoint import CheckpointError

    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"--resume: no training state at {path}; train without --resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable/unsafe file is refused the same way
        raise CheckpointError(
            f"--resume: cannot read training state {path} ({type(exc).__name__}); "
            "delete it to start over"
        ) from None
    if not isinstance(state, dict) or state.get("schema_version") != STATE_SCHEMA:
        raise CheckpointError(f"--resume: {path} is not a training state this version reads")
    if state["train_config"] != asdict(config) or state["model_config"] != asdict(model.config):
        raise TrainingError(
            f"--resume: {path} was written by a run with a different config; "
            "resume with the same flags, or delete it to start over"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    result.history.extend(state["history"])
    return int(state["epoch"])
