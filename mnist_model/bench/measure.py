"""Measurements for `mnist-model bench`: training throughput, time-to-accuracy, inference.

Every figure is a median over repeats taken in the same process, and the report is in
ratios (ours / reference, optimised / eager), which survive a slower or busier machine
far better than absolute numbers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import torch
import torch.nn.functional as F

from mnist_model.bench.reference import (
    REFERENCE_BATCH,
    REFERENCE_EPOCHS,
    ReferenceNet,
    reference_dataset,
    reference_loader,
    reference_optimizer,
)
from mnist_model.config import Machine, TrainConfig
from mnist_model.evaluate import evaluate
from mnist_model.gate import thresholds
from mnist_model.inference import fold_for_inference
from mnist_model.model import MnistNet, normalize
from mnist_model.run.runner import run_recipe
from mnist_model.run.timing import interleaved_medians
from mnist_model.train import Hooks

ONE_EPOCH = (TrainConfig(epochs=1), Machine())
"""The default recipe for one epoch, in the arithmetic ``auto`` picks."""


def ours_trainer(
    train_xy, test_xy, images: int, run: tuple[TrainConfig, Machine] = ONE_EPOCH
) -> Callable[[], float]:
    """A callable that runs the real training loop (augmentation included) for one epoch
    over the first ``images`` training images and returns that epoch's seconds.
    ``run`` defaults to the default recipe, one epoch (its arithmetic ``auto``)."""
    config, machine = run
    sub = (train_xy[0][:images], train_xy[1][:images])
    tests = (test_xy[0][:100], test_xy[1][:100])

    def one() -> float:
        result = run_recipe(config, machine, sub, tests)
        one.last = result  # what the last call trained, for callers that check it
        return result.history[0]["train_seconds"]

    return one


def reference_trainer(root: str, images: int) -> Callable[[], int]:
    """A callable that runs the reference recipe (per-sample DataLoader, batch 64, SGD)
    until it has trained on ``images`` images; returns how many it saw. The dataset is
    read once, here, as the reference reads it once per run: each call pays what an epoch
    pays (the DataLoader's per-sample transforms), like ``ours_trainer``'s, which times
    its epoch loop and not the run's set-up."""
    torch.manual_seed(0)
    model = ReferenceNet().train()
    optimizer = reference_optimizer(model)
    dataset = reference_dataset(root, train=True)

    def run() -> int:
        seen = 0
        for x, y in reference_loader(dataset, REFERENCE_BATCH, seed=0):
            optimizer.zero_grad()
            F.nll_loss(model(x), y).backward()
            optimizer.step()
            seen += len(y)
            if seen >= images:
                break
        return seen

    return run


def train_rates(
    train_xy,
    test_xy,
    root: str,
    images: int,
    repeats: int,
    configs: dict[str, tuple[TrainConfig, Machine]] | None = None,
) -> dict[str, float]:
    """Median training images/s of each of our ``configs`` (recipe and machine; default:
    ``{"ours": ONE_EPOCH}``) and of the reference (key ``"reference"``), all taking turns in
    every repeat (so a machine that slows down mid-run slows them all), each over the same
    number of images and the same scope: one epoch's loop, set-up excluded."""
    configs = configs or {"ours": ONE_EPOCH}
    ours = {name: ours_trainer(train_xy, test_xy, images, c) for name, c in configs.items()}
    reference = reference_trainer(root, images)

    def reference_rate() -> float:
        start = time.perf_counter()
        seen = reference()
        return seen / (time.perf_counter() - start)

    candidates = {name: (lambda run=run: images / run()) for name, run in ours.items()}
    return interleaved_medians({**candidates, "reference": reference_rate}, repeats)


def ours_time_to_accuracy(train_xy, test_xy, config: TrainConfig) -> dict:
    """One full training: wall time until test accuracy first reaches the bar (99.4 %)."""
    target = thresholds.overall_accuracy()
    start = time.perf_counter()
    reached: list[float] = []

    class FirstAtTarget(Hooks):
        def epoch_done(self, epoch, record, result, state) -> None:
            if record["test_accuracy"] >= target and not reached:
                reached.append(time.perf_counter() - start)

    run = run_recipe(config, Machine(), train_xy, test_xy, hooks=FirstAtTarget())
    return {
        "seconds": time.perf_counter() - start,
        "seconds_to_99_4": reached[0] if reached else None,
        "final_accuracy": run.final.accuracy,
    }


def reference_time_to_accuracy(root: str, test_xy) -> dict:
    """The reference recipe end to end: 20 epochs, evaluated after each."""
    target = thresholds.overall_accuracy()
    torch.manual_seed(0)
    model = ReferenceNet()
    optimizer = reference_optimizer(model)
    start, reached, accuracy = time.perf_counter(), None, 0.0
    dataset = reference_dataset(root, train=True)
    for epoch in range(REFERENCE_EPOCHS):
        model.train()
        for x, y in reference_loader(dataset, REFERENCE_BATCH, seed=epoch):
            optimizer.zero_grad()
            F.nll_loss(model(x), y).backward()
            optimizer.step()
        accuracy = evaluate(model, *test_xy).accuracy
        if accuracy >= target and reached is None:
            reached = time.perf_counter() - start
    return {
        "seconds": time.perf_counter() - start,
        "seconds_to_99_4": reached,
        "final_accuracy": accuracy,
    }


def inference_rates(model: MnistNet, test_x: torch.Tensor, batch_sizes, repeats: int) -> dict:
    """Eval-mode forward images/s of the eager model and the folded (BN-free) paths, in the
    default thread count and, for the inference form, in one thread. The candidates take
    turns within each repeat, so a machine that slows down mid-run slows all of them."""
    inputs = normalize(test_x)
    threads = torch.get_num_threads()
    folded_channels_last = fold_for_inference(model, channels_last=True)
    candidates = {  # name -> (network, intra-op threads)
        "eager": (model.eval(), threads),
        "folded": (fold_for_inference(model), threads),
        "folded_channels_last": (folded_channels_last, threads),
        "folded_channels_last_1_thread": (folded_channels_last, 1),
    }
    with torch.inference_mode():
        reference_logits = model(inputs)
        agreement = {}
        for name, (net, _) in candidates.items():
            logits = torch.cat([net(inputs[i : i + 1000]) for i in range(0, len(inputs), 1000)])
            agreement[name] = {
                "same_predictions": bool((logits.argmax(1) == reference_logits.argmax(1)).all()),
                "max_abs_logit_diff": float((logits - reference_logits).abs().max()),
            }
        rates: dict[str, dict[int, float]] = {name: {} for name in candidates}
        try:
            for batch in batch_sizes:
                x = inputs[:batch].contiguous()
                # at least 10 calls and 4,000 images a sample: 2 calls of batch 1,000
                # gave ratios that moved by tenths between runs
                calls = max(10, 4000 // batch)
                for net, count in candidates.values():  # warm-up
                    torch.set_num_threads(count)
                    for _ in range(3):
                        net(x)

                def rate(net, count, x=x, calls=calls) -> float:
                    torch.set_num_threads(count)
                    start = time.perf_counter()
                    for _ in range(calls):
                        net(x)
                    return calls * len(x) / (time.perf_counter() - start)

                medians = interleaved_medians(
                    {name: partial(rate, *candidate) for name, candidate in candidates.items()},
                    repeats,
                )
                for name, value in medians.items():
                    rates[name][batch] = value
        finally:
            torch.set_num_threads(threads)
    return {"images_per_second": rates, "agreement": agreement}
