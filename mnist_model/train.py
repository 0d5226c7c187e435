"""Training: ``train()`` turns a recipe and the MNIST split into a model and its metrics.

The whole split lives in memory as a normalised tensor. Each step draws a random batch of
indices, warps it with a per-sample random affine transform (``augment``) and takes one
Nesterov SGD step under a one-cycle schedule (``optim``); the judged model is the
weights' moving average. One ``torch.Generator`` seeded from ``TrainConfig.seed`` drives
every draw, so on the CPU the same seed reproduces the same weights bit for bit within
one arithmetic class.

``train()`` takes resolved settings (the arithmetic already chosen, see
``mnist_model.run.autotune``) and reports through ``Hooks``; writing files, progress bars and
resuming from a file are the caller's (``mnist_model.run.runner``). Under torchrun a
``Replicas`` object from ``mnist_model.run.distributed`` splits each batch across processes.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from mnist_model.augment import random_affine
from mnist_model.config import FLOAT32, Arithmetic, ModelConfig, TrainConfig
from mnist_model.errors import TrainingError
from mnist_model.evaluate import EvalResult, evaluate
from mnist_model.model import IMAGE_SHAPE, LOW_RES_SIZE, MnistNet, normalize
from mnist_model.optim import NesterovSGD, WeightAverage, one_cycle_lr

log = logging.getLogger(__name__)

STATE_SCHEMA = 7
"""The training state's format. 6: ``low_res_fraction`` in the config; 7: the config is
the recipe only (the machine's settings may change between a run and its resumption)."""


@dataclass
class TrainResult:
    model: MnistNet
    """The judged model: the weights' moving average, or the live weights without one."""
    history: list[dict] = field(default_factory=list)
    """One dict per epoch: train/test loss and accuracy, learning rate, the side of the
    pictures it trained on (``train_side``), seconds."""
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


class Hooks:
    """What ``train()`` reports as it goes; each method does nothing here."""

    def step_done(self, epoch: int, step: int, steps: int, loss_sum, correct, seen: int) -> None:
        """After each step: the epoch's summed loss and correct count so far (tensors)."""

    def epoch_done(
        self, epoch: int, record: dict, result: TrainResult, state: Callable[[], dict]
    ) -> None:
        """After each epoch's evaluation; ``state()`` builds the training state to resume
        from (``save_state`` writes it)."""


class Replicas:
    """The processes a run trains on: here just this one. ``distributed.Torchrun`` is the
    torchrun kind, with the same methods."""

    world_size = 1

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        return model

    def shard(self, count: int) -> slice:
        """This process's slice of ``count`` items."""
        return slice(0, count)

    def sum(self, *tensors: torch.Tensor) -> None:
        """Sum ``tensors`` in place over the processes."""

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Give every process the first one's BatchNorm statistics."""

    def reduce(self, result: EvalResult) -> EvalResult:
        """Combine the processes' evaluations of disjoint shards."""
        return result


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
    arithmetic: Arithmetic = FLOAT32,
    model_config: ModelConfig | None = None,
    device: torch.device | str = "cpu",
    threads: int = 0,
    eval_batch_size: int = 1000,
    hooks: Hooks | None = None,
    replicas: Replicas | None = None,
    state: dict | None = None,
) -> TrainResult:
    """Train a model on uint8 images and return it with per-epoch metrics.

    ``state`` is a training state (``Hooks.epoch_done``'s ``state()``) to continue from:
    on the CPU the run then ends with exactly the metrics of an uninterrupted one.
    ``threads`` > 0 sets torch's thread count for the run. Global state is left as
    found: the run seeds a fork of torch's global RNG and restores the thread count."""
    device = torch.device(device)
    saved_threads = torch.get_num_threads()
    forked = []  # the CUDA generator too, when the run uses one
    if device.type == "cuda":
        forked = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=forked):
        try:
            model_config = model_config or ModelConfig()
            check_split("training", train_images, train_labels, model_config.num_classes)
            check_split("test", test_images, test_labels, model_config.num_classes)
            if state is not None:
                check_state(state, config, model_config)
            if threads > 0:
                torch.set_num_threads(threads)
            run = _setup(config, model_config, arithmetic, device, replicas or Replicas())
            run.hooks = hooks or Hooks()
            return _loop(
                run,
                (train_images, train_labels),
                (test_images, test_labels),
                state,
                eval_batch_size,
            )
        finally:
            torch.set_num_threads(saved_threads)


@dataclass
class _Run:
    """What one training run works with (built by ``_setup``)."""

    config: TrainConfig
    model: MnistNet
    net: torch.nn.Module
    optimizer: NesterovSGD
    average: WeightAverage | None
    generator: torch.Generator
    arithmetic: Arithmetic
    device: torch.device
    replicas: Replicas
    hooks: Hooks = field(default_factory=Hooks)

    @property
    def judged(self) -> MnistNet:
        return self.model if self.average is None else self.average.model


def _setup(config, model_config, arithmetic, device, replicas) -> _Run:
    log.info("arithmetic: %s", arithmetic.describe())
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    model = MnistNet(model_config).to(device, memory_format=arithmetic.memory_format)
    optimizer = build_optimizer(model, config)
    average = WeightAverage(model, config.ema_decay) if config.ema_decay > 0 else None
    net = replicas.wrap(model, device)
    return _Run(config, model, net, optimizer, average, generator, arithmetic, device, replicas)


def _loop(run: _Run, train_xy, test_xy, state: dict | None, eval_batch_size: int) -> TrainResult:
    config = run.config
    images, labels = normalize(train_xy[0]).to(run.device), train_xy[1].to(run.device)
    test_inputs = normalize(test_xy[0])  # once, not before every epoch's evaluation
    result = TrainResult(model=run.judged, arithmetic=run.arithmetic)
    first_epoch = 1
    if state is not None:
        first_epoch = restore_state(state, run, result) + 1
        log.info("resuming after epoch %d", first_epoch - 1)
    follow = None if run.average is None else run.average.follower(run.model)  # after restore
    start = time.perf_counter()
    for epoch in range(first_epoch, config.epochs + 1):
        epoch_start = time.perf_counter()
        loss_sum, correct = _epoch(run, epoch, images, labels, follow)
        train_seconds = time.perf_counter() - epoch_start
        views = evaluation_views(run.judged, config, epoch)
        test = _evaluate_shard(run, test_inputs, test_xy[1], eval_batch_size, views)
        record = {
            "epoch": epoch,
            "train_loss": loss_sum.item() / len(images),
            "train_accuracy": correct.item() / len(images),
            "test_loss": test.loss,
            "test_accuracy": test.accuracy,
            "lr": learning_rate(
                config, (epoch - 1) * _steps(config, images), _total(config, images)
            ),
            "train_side": train_side(config, epoch),
            "test_views": views,
            "train_seconds": train_seconds,
            "seconds": time.perf_counter() - epoch_start,
        }
        result.history.append(record)
        result.final = test
        log.info("Epoch %d/%d %s", epoch, config.epochs, test.reference_line())
        run.hooks.epoch_done(epoch, record, result, lambda e=epoch: training_state(run, e, result))
    run.judged.to(memory_format=torch.contiguous_format)  # the layout a loaded checkpoint has
    if result.final is None:  # resumed a run whose epochs were all done: evaluate it
        result.final = evaluate(run.judged, *test_xy, batch_size=eval_batch_size)
    result.seconds = time.perf_counter() - start
    return result


def _steps(config: TrainConfig, images: torch.Tensor) -> int:
    return math.ceil(len(images) / config.batch_size)


def _total(config: TrainConfig, images: torch.Tensor) -> int:
    return config.epochs * _steps(config, images)


def train_side(config: TrainConfig, epoch: int) -> int:
    """The side in pixels of the warped batches that 1-based ``epoch`` trains on: the first
    ``config.low_res_epochs`` see them at 20x20 (``TrainConfig.low_res_fraction``), the rest
    at the full 28x28. Each epoch's history record keeps it (``train_side``)."""
    return LOW_RES_SIZE if epoch <= config.low_res_epochs else IMAGE_SHAPE[-1]


def evaluation_views(model: MnistNet, config: TrainConfig, epoch: int) -> int:
    """The views 1-based ``epoch``'s test evaluation averages: one while training goes on
    (a look at progress, at a single pass's cost), the model's own test-time views after
    the last epoch, so the final figures are the judged model's. The history keeps it
    (``test_views``)."""
    return model.config.test_time_views if epoch == config.epochs else 1


def _epoch(run: _Run, epoch: int, images, labels, follow) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over the shuffled training set; returns the summed loss and correct count."""
    config, device = run.config, run.device
    steps, total = _steps(config, images), _total(config, images)
    side = train_side(config, epoch)
    size = None if side == IMAGE_SHAPE[-1] else (side, side)  # None: the images' own size
    run.model.train()
    order = torch.randperm(len(images), generator=run.generator).to(device)
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    for step in range(steps):
        index = order[step * config.batch_size : (step + 1) * config.batch_size]
        global_step = (epoch - 1) * steps + step
        loss, logits, y = _step(run, images[index], labels[index], global_step / total, size)
        if not torch.isfinite(loss):
            raise TrainingError(
                f"non-finite loss ({loss.item()}) at epoch {epoch}, step {step + 1}: "
                f"lower the learning rate (lr {config.lr}) or check the data"
            )
        run.optimizer.zero_grad()
        loss.backward()
        run.optimizer.step(learning_rate(config, global_step, total))
        if follow is not None:
            follow()
        loss_sum += loss.detach() * len(y)
        correct += (logits.detach().argmax(1) == y).sum()
        seen = min((step + 1) * config.batch_size, len(images))
        run.hooks.step_done(epoch, step, steps, loss_sum, correct, seen)
    run.replicas.sum(loss_sum, correct)
    return loss_sum, correct


def _step(run: _Run, images, labels, done: float, size):
    """The forward pass of one step on this process's slice of the warped batch."""
    config = run.config
    magnitude = 1.0 - config.augment_decay * done
    mine = run.replicas.shard(len(images))  # everything when not distributed
    x = random_affine(
        images,
        run.generator,
        max_rotation_deg=config.max_rotation_deg * magnitude,
        max_translate=config.max_translate * magnitude,
        max_scale=config.max_scale * magnitude,
        max_elastic_px=config.max_elastic_px * magnitude,
        size=size,
    )[mine].contiguous(memory_format=run.arithmetic.memory_format)
    y = labels[mine]
    with run.arithmetic.autocast(run.device):
        logits = run.net(x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=config.label_smoothing)
    return loss, logits, y


def _evaluate_shard(run: _Run, images, labels, batch_size: int, views: int) -> EvalResult:
    """This process's slice of the test set, evaluated over ``views`` views and combined
    over processes. evaluate() runs a folded channels_last copy whatever the model's
    layout, so the last epoch's metrics match what `mnist-model evaluate --checkpoint`
    recomputes bit for bit."""
    run.replicas.sync_buffers(run.judged)
    mine = run.replicas.shard(len(images))
    result = evaluate(run.judged, images[mine], labels[mine], batch_size=batch_size, views=views)
    return run.replicas.reduce(result)


# --- the training state: everything needed to continue bit-exactly -----------------------
def training_state(run: _Run, epoch: int, result: TrainResult) -> dict:
    """The state after ``epoch``, as plain data and tensors (``torch.save`` writes it)."""
    return {
        "schema_version": STATE_SCHEMA,
        "train_config": asdict(run.config),
        "model_config": asdict(run.model.config),
        "arithmetic": run.arithmetic.to_dict(),
        "epoch": epoch,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "average": None if run.average is None else run.average.state_dict(),
        "generator": run.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "history": result.history,
    }


def check_state(state: dict, config: TrainConfig, model_config: ModelConfig) -> None:
    """A TrainingError unless ``state`` is a training state of this recipe."""
    if not isinstance(state, dict) or state.get("schema_version") != STATE_SCHEMA:
        raise TrainingError("not a training state this version reads")
    if state["train_config"] != asdict(config) or state["model_config"] != asdict(model_config):
        raise TrainingError("the training state was written by a run of another recipe")


def restore_state(state: dict, run: _Run, result: TrainResult) -> int:
    """Load ``state`` into the run; return its last finished epoch."""
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    if run.average is not None:
        run.average.load_state_dict(state["average"])
    run.generator.set_state(state["generator"])
    torch.set_rng_state(state["torch_rng"])
    result.history.extend(state["history"])
    return int(state["epoch"])
