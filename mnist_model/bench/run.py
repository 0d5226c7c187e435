"""Run the benchmark suite and format its table of ratios."""

from __future__ import annotations

import os

import torch

from mnist_model.bench import measure
from mnist_model.config import PRESETS
from mnist_model.data import load_split
from mnist_model.model import MnistNet

BATCH_SIZES = (1, 64, 1000)
NAME_WIDTH = 40


def run_bench(
    root: str | os.PathLike[str],
    *,
    images: int,
    repeats: int,
    full: bool,
    model: MnistNet | None = None,
) -> dict:
    train_xy = load_split(root, train=True)
    test_xy = load_split(root, train=False)
    rates = measure.train_rates(train_xy, test_xy, os.fspath(root), images, repeats)
    ours, reference = rates["ours"], rates["reference"]
    result = {
        "threads": torch.get_num_threads(),
        "train_images_per_second": {
            "ours": ours,
            "reference": reference,
            "ratio": ours / reference,
        },
        "inference": measure.inference_rates(model or MnistNet(), test_xy[0], BATCH_SIZES, repeats),
    }
    if full:
        result["time_to_accuracy"] = {
            **{
                f"ours_{name}": measure.ours_time_to_accuracy(train_xy, test_xy, config)
                for name, config in PRESETS.items()
            },
            "reference": measure.reference_time_to_accuracy(os.fspath(root), test_xy),
        }
    return result


def bench_table(result: dict) -> str:
    t = result["train_images_per_second"]
    lines = [
        f"threads: {result['threads']}",
        f"training images/s   ours {t['ours']:9.0f}   reference {t['reference']:9.0f}   "
        f"ratio {t['ratio']:.2f}x",
    ]
    tta = result.get("time_to_accuracy")
    if tta:
        reference_seconds = tta["reference"]["seconds"]
        for name, r in tta.items():
            reach = "never" if r["seconds_to_99_4"] is None else f"{r['seconds_to_99_4']:.1f}s"
            lines.append(
                f"{name:<13} end to end {r['seconds']:7.1f}s   99.4% reached at "
                f"{reach:>7}   final {100 * r['final_accuracy']:.2f}%   "
                f"speed-up {reference_seconds / r['seconds']:.2f}x"
            )
    rates = result["inference"]["images_per_second"]
    lines.append(
        f"{'inference images/s':<{NAME_WIDTH}}"
        + "".join(f"{'batch ' + str(b):>14}" for b in BATCH_SIZES)
    )
    for name, by_batch in rates.items():
        lines.append(f"{name:<{NAME_WIDTH}}" + "".join(f"{by_batch[b]:14.0f}" for b in BATCH_SIZES))
    for name in rates:
        if name != "eager":
            ratios = "".join(f"{rates[name][b] / rates['eager'][b]:13.2f}x" for b in BATCH_SIZES)
            lines.append(f"{name + ' / eager':<{NAME_WIDTH}}{ratios}")
    for name, agree in result["inference"]["agreement"].items():
        lines.append(
            f"{name:<{NAME_WIDTH}}same predictions on all test images: {agree['same_predictions']}"
            f", max |logit diff| {agree['max_abs_logit_diff']:.2e}"
        )
    return "\n".join(lines)


def run_grid(
    root: str | os.PathLike[str],
    *,
    images: int,
    repeats: int,
    threads: list[int],
    batches: list[int],
) -> dict:
    """Training images/s of the default recipe for every (threads, batch size) pair,
    all taking turns with the reference in each repeat (``measure.train_rates``): how the
    default's thread count and batch size are chosen, measured instead of guessed."""
    import itertools

    from mnist_model.config import Machine, TrainConfig

    configs = {
        f"threads={t} batch={b}": (TrainConfig(epochs=1, batch_size=b), Machine(threads=t))
        for t, b in itertools.product(threads, batches)
    }
    train_xy = load_split(root, train=True)
    test_xy = load_split(root, train=False)
    rates = measure.train_rates(train_xy, test_xy, os.fspath(root), images, repeats, configs)
    return {"images": images, "repeats": repeats, "train_images_per_second": rates}


def grid_table(result: dict) -> str:
    rates = result["train_images_per_second"]
    lines = [
        f"training images/s, {result['images']} images per measurement, median of "
        f"{result['repeats']} repeats taken in turns"
    ]
    lines += [
        f"{name:<{NAME_WIDTH}}{rate:10.0f}   {rate / rates['reference']:5.2f}x reference"
        for name, rate in rates.items()
    ]
    return "\n".join(lines)


def run_command(
    root: str | os.PathLike[str],
    *,
    images: int | None,
    repeats: int,
    full: bool,
    checkpoint: str | os.PathLike[str] | None,
    cpu_classes: bool,
    threads: list[int] | None,
    batches: list[int] | None,
) -> tuple[dict, str]:
    """What ``mnist-model bench`` measures for its flags: (JSON result, table)."""
    from mnist_model.errors import MnistModelError

    grid = threads is not None or batches is not None
    if cpu_classes:
        from mnist_model.bench.cpu_classes import DEFAULT_IMAGES, cpu_classes_table, run_cpu_classes

        try:
            result = run_cpu_classes(root, images or DEFAULT_IMAGES, repeats)
        except RuntimeError as exc:
            raise MnistModelError(str(exc)) from None
        return result, cpu_classes_table(result)
    if grid:
        result = run_grid(
            root,
            images=images or 15360,
            repeats=repeats,
            threads=threads or [torch.get_num_threads()],
            batches=batches or [PRESETS["default"].batch_size],
        )
        return result, grid_table(result)
    from mnist_model.formats import project_checkpoint

    why = "bench times (MnistNet's forms)"
    model = project_checkpoint(checkpoint, why)[0] if checkpoint else None
    result = run_bench(root, images=images or 15360, repeats=repeats, full=full, model=model)
    return result, bench_table(result)
