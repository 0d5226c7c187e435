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
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from mnist_model import distributed
from mnist_model.arithmetic import Arithmetic, choose
from mnist_model.augment import random_affine
from mnist_model.config import ModelConfig, TrainConfig
from mnist_model.data import normalize
from mnist_model.errors import TrainingError
from mnist_model.evaluate import EvalResult, evaluate
from mnist_model.model import IMAGE_SHAPE, LOW_RES_SIZE, MnistNet
from mnist_model.optim import NesterovSGD, WeightAverage, one_cycle_lr

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model: MnistNet
    history: list[dict] = field(default_factory=list)
    """One dict per epoch: train/test loss and accuracy, learning rate, seconds."""
    final: EvalResult | None = None
    seconds: float = 0.0
    arithmetic: Arithmetic | None = None
    """The precision and layout the run trained in, and how they were chosen."""

    def summary_line(self) -> str:
        """Final accuracy, worst class, epochs and seconds, for a person to read."""
        final, worst = self.final, self.final.worst_class
        return (
            f"final accuracy {100 * final.accuracy:.2f}% (worst class {worst}: "
            f"{100 * final.per_class_accuracy[worst]:.2f}%) after {len(self.history)} epochs "
            f"in {self.seconds:.1f}s"
        )


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; nothing requires CUDA."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TrainingError(
            f"--device {name!r} is not a device (use auto, cpu, cuda or cuda:N)"
        ) from None
    if device.type not in ("cpu", "cuda"):
        raise TrainingError(f"--device {name!r}: this project trains on cpu or cuda only")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"--device {name} asked for CUDA but no CUDA device is available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise TrainingError(
            f"--device {name}: there are only {torch.cuda.device_count()} CUDA devices"
        )
    return device


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> NesterovSGD:
    # BatchNorm scales/shifts and biases are the 1-D parameters.
    exempt = [] if config.decay_norm_and_bias else [p for p in model.parameters() if p.dim() <= 1]
    return NesterovSGD(
        model.parameters(),
        momentum=config.momentum,
        weight_decay=config.weight_decay,
        nesterov=config.momentum > 0,
        no_decay=exempt,
    )


def learning_rate(config: TrainConfig, step: int, total_steps: int) -> float:
    """The one-cycle schedule's value at 0-based ``step`` (defined for any step count)."""
    return one_cycle_lr(
        step,
        total_steps,
        peak=config.lr,
        warmup_fraction=config.warmup_fraction,
        initial_divisor=config.initial_lr_divisor,
        final_divisor=config.final_lr_divisor,
    )


def check_split(name: str, images, labels, num_classes: int) -> None:
    """A ValueError naming what is wrong, before anything is trained on it."""
    if not isinstance(images, torch.Tensor) or not isinstance(labels, torch.Tensor):
        raise ValueError(f"{name} images and labels must be tensors")
    if images.dtype != torch.uint8 or tuple(images.shape[-2:]) != IMAGE_SHAPE[1:]:
        raise ValueError(
            f"{name} images must be uint8 (N, {IMAGE_SHAPE[1]}, {IMAGE_SHAPE[2]}), got "
            f"{images.dtype} {tuple(images.shape)}"
        )
    if labels.dim() != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(
            f"{name} labels must be a 1-D integer tensor, got {labels.dtype} {tuple(labels.shape)}"
        )
    if len(images) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"{name} split needs as many labels as images (> 0), got {len(images)} and "
            f"{len(labels)}"
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= num_classes:
        raise ValueError(f"{name} labels must be in 0..{num_classes - 1}, got {low}..{high}")


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
    remeasure: bool = False,
) -> TrainResult:
    """Train a model on uint8 images and return it with per-epoch metrics.

    ``progress=None`` shows a tqdm bar only when stderr is a terminal. ``on_epoch`` is
    called after each epoch's evaluation (the CLI uses it to write artifacts).
    With ``state_path``, the complete training state (weights, optimizer, schedule, every
    RNG) is written atomically after each finished epoch; ``resume=True`` continues from
    that file, and on the CPU reaches exactly the metrics of an uninterrupted run.
    ``precision``/``layout`` ``auto`` are resolved by ``arithmetic.choose`` (cached per
    machine; ``remeasure=True`` measures again); a resumed run keeps its recorded choice.

    Global state is left as found: the run seeds a fork of torch's global RNG and sets the
    thread count to ``config.threads`` only for its own duration.
    """
    device = torch.device(device)
    threads = torch.get_num_threads()
    forked = []  # the CUDA generator too, when the run uses one
    if device.type == "cuda":
        forked = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=forked):
        try:
            return _train(
                config,
                train_images,
                train_labels,
                test_images,
                test_labels,
                model_config=model_config,
                device=device,
                progress=progress,
                on_epoch=on_epoch,
                state_path=state_path,
                resume=resume,
                remeasure=remeasure,
            )
        finally:
            torch.set_num_threads(threads)


def _train(
    config: TrainConfig,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    model_config: ModelConfig | None,
    device: torch.device,
    progress: bool | None,
    on_epoch: Callable[[int, dict, TrainResult], None] | None,
    state_path: Path | None,
    resume: bool,
    remeasure: bool,
) -> TrainResult:
    model_config = model_config or ModelConfig()
    check_split("training", train_images, train_labels, model_config.num_classes)
    check_split("test", test_images, test_labels, model_config.num_classes)
    if config.threads > 0:
        torch.set_num_threads(config.threads)

    images = normalize(train_images).to(device)
    labels = train_labels.to(device)
    test_inputs = normalize(test_images)  # once, not before every epoch's evaluation
    state = None
    if resume:
        if state_path is None:
            raise TrainingError("resume needs the path of a training state")
        state = read_training_state(state_path, config, model_config)
        arithmetic = replace(state["arithmetic"], source="resumed")
    else:
        arithmetic = choose(
            config.precision,
            config.layout,
            device,
            images[: config.batch_size],
            labels[: config.batch_size],
            refresh=remeasure,
        )
        arithmetic = distributed.same_on_every_rank(arithmetic)
    log.info("arithmetic: %s", arithmetic.describe())
    memory_format = arithmetic.memory_format

    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = MnistNet(model_config).to(device, memory_format=memory_format)
    steps_per_epoch = math.ceil(len(images) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    optimizer = build_optimizer(model, config)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    judged = model if average is None else average.model  # what is evaluated and saved
    show = sys.stderr.isatty() if progress is None else progress

    # Under torchrun, DDP averages the gradients of the ranks' slices of each global batch.
    net = model
    if distributed.world_size() > 1:
        if resume:  # (checked after the state was read: a bad state file is reported first)
            raise TrainingError("--resume is not supported under torchrun; resume on one process")
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )

    result = TrainResult(model=judged, arithmetic=arithmetic)
    first_epoch = 1
    if state is not None:
        first_epoch = restore_training_state(state, model, optimizer, generator, result, average)
        first_epoch += 1
        log.info("resuming after epoch %d from %s", first_epoch - 1, state_path)
    update_average = None if average is None else average.follower(model)  # after restore
    start = time.perf_counter()
    for epoch in range(first_epoch, config.epochs + 1):
        epoch_start = time.perf_counter()
        lr = learning_rate(config, (epoch - 1) * steps_per_epoch, total_steps)
        # The first epochs see the warped batches at 20x20 (see TrainConfig.low_res_fraction).
        size = (LOW_RES_SIZE, LOW_RES_SIZE) if epoch <= config.low_res_epochs else None
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
            global_step = (epoch - 1) * steps_per_epoch + step
            done = global_step / total_steps
            magnitude = 1.0 - config.augment_decay * done
            x = random_affine(
                images[index],
                generator,
                max_rotation_deg=config.max_rotation_deg * magnitude,
                max_translate=config.max_translate * magnitude,
                max_scale=config.max_scale * magnitude,
                max_elastic_px=config.max_elastic_px * magnitude,
                size=size,
            )[mine].contiguous(memory_format=memory_format)
            y = labels[index][mine]
            with arithmetic.autocast(device):
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"non-finite loss ({loss.item()}) at epoch {epoch}, step {step + 1}: "
                    f"lower --lr (now {config.lr}) or check the data"
                )
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(learning_rate(config, global_step, total_steps))
            if update_average is not None:
                update_average()
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
        test = _evaluate_shard(judged, test_inputs, test_labels, config)
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
                state_path, config, epoch, model, optimizer, generator, result, average
            )
        if on_epoch is not None:
            on_epoch(epoch, record, result)
    judged.to(memory_format=torch.contiguous_format)  # the layout a loaded checkpoint has
    if result.final is None:  # resumed a run whose epochs were all done: evaluate it
        result.final = evaluate(judged, test_images, test_labels, batch_size=config.eval_batch_size)
    result.seconds = time.perf_counter() - start
    return result


STATE_SCHEMA = 6
"""2: the pool-before-BatchNorm layout (see checkpoint.SCHEMA_VERSION); 3: records the
arithmetic the run chose, which --resume keeps, and mnist_model.optim's optimiser state;
4: the weight average's state (None without ``ema_decay``); 5: the train config has
``max_elastic_px`` (an older state would be refused as written with other flags); 6: and
``low_res_fraction``."""


def _evaluate_shard(model, images, labels, config) -> EvalResult:
    """This rank's slice of the test set, evaluated and summed over ranks. evaluate() runs
    a folded channels_last copy whatever the model's layout, so metrics.json matches what
    `mnist-model evaluate --checkpoint` recomputes bit for bit."""
    distributed.sync_buffers(model)
    mine = distributed.shard(len(images))
    result = evaluate(model, images[mine], labels[mine], batch_size=config.eval_batch_size)
    return distributed.reduce_eval(result)


def save_training_state(path, config, epoch, model, optimizer, generator, result, average=None):
    """Everything needed to continue bit-exactly after ``epoch``; written atomically."""
    from mnist_model.atomic import atomic_path

    state = {
        "schema_version": STATE_SCHEMA,
        "train_config": asdict(config),
        "model_config": asdict(model.config),
        "arithmetic": result.arithmetic.to_dict(),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "average": None if average is None else average.state_dict(),
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": result.history,
    }
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def read_training_state(path, config: TrainConfig, model_config: ModelConfig) -> dict:
    """A saved state, checked against this run's configs; its ``arithmetic`` is parsed."""
    from mnist_model.checkpoint import CheckpointError, load_plain

    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"--resume: no training state at {path}; train without --resume")
    try:
        state = load_plain(path, "training state")
    except CheckpointError as exc:
        raise CheckpointError(f"--resume: {exc}; delete it to start over") from None
    if not isinstance(state, dict) or state.get("schema_version") != STATE_SCHEMA:
        raise CheckpointError(f"--resume: {path} is not a training state this version reads")
    if state["train_config"] != asdict(config) or state["model_config"] != asdict(model_config):
        raise TrainingError(
            f"--resume: {path} was written by a run with a different config; "
            "resume with the same flags, or delete it to start over"
        )
    try:
        state["arithmetic"] = Arithmetic.from_dict(state.get("arithmetic"))
    except ValueError as exc:
        raise CheckpointError(f"--resume: {path} has no valid arithmetic ({exc})") from None
    return state


def restore_training_state(state, model, optimizer, generator, result, average=None) -> int:
    """Load a state read by ``read_training_state`` into the given objects; return the last
    finished epoch."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if average is not None:
        average.load_state_dict(state["average"])
    generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    result.history.extend(state["history"])
    return int(state["epoch"])
