"""Multi-seed evidence: train the same recipe once per seed and summarise the spread.

One seed proves little (0.1 % is ten test images); the sweep reports every seed's final
accuracy, worst class and wall time, and the mean, standard deviation, min and max.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
from pathlib import Path

from mnist_model.config import Machine, TrainConfig
from mnist_model.evaluate import EvalResult

log = logging.getLogger(__name__)


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '1,5,9' -> [1, 5, 9]; '3' -> [3]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                if int(hi) < int(lo):
                    raise ValueError
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise ValueError(f"seeds are given as '0-4' or '1,5,9', got {text!r}") from None
    if len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be distinct non-negative integers, got {text!r}")
    return seeds


@dataclasses.dataclass(frozen=True)
class SeedResult:
    seed: int
    accuracy: float
    test_loss: float
    worst_class: int
    worst_class_accuracy: float
    seconds: float

    @classmethod
    def from_eval(cls, seed: int, result: EvalResult, seconds: float) -> SeedResult:
        worst = result.worst_class
        accuracy = result.per_class_accuracy[worst]
        return cls(seed, result.accuracy, result.loss, worst, accuracy, seconds)


def summarise(results: list[SeedResult]) -> dict:
    accuracies = [r.accuracy for r in results]
    return {
        "seeds": [dataclasses.asdict(r) for r in results],
        "mean_accuracy": statistics.fmean(accuracies),
        "std_accuracy": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0,
        "min_accuracy": min(accuracies),
        "max_accuracy": max(accuracies),
        "mean_seconds": statistics.fmean(r.seconds for r in results),
    }


def summary_table(summary: dict) -> str:
    lines = [f"{'seed':>4}  {'accuracy':>8}  {'loss':>7}  {'worst class':>14}  {'seconds':>7}"]
    for r in summary["seeds"]:
        lines.append(
            f"{r['seed']:>4}  {100 * r['accuracy']:7.2f}%  {r['test_loss']:7.4f}  "
            f"{r['worst_class']:>3} ({100 * r['worst_class_accuracy']:6.2f}%)  {r['seconds']:7.1f}"
        )
    lines.append(
        f"mean {100 * summary['mean_accuracy']:.3f}% +- {100 * summary['std_accuracy']:.3f} "
        f"(min {100 * summary['min_accuracy']:.2f}%, max {100 * summary['max_accuracy']:.2f}%)"
    )
    return "\n".join(lines)


def run_sweep(
    configs: dict[int, TrainConfig],
    out: Path,
    train_xy,
    test_xy,
    *,
    checksums: dict[str, str],
    machine: Machine,
    device,
    progress: bool | None = None,
    remeasure: bool = False,
) -> dict:
    """Train each seed's config into ``out/seed<N>``, one after another; write and return
    the summary (``out/sweep.json``). ``remeasure`` applies to the first seed only."""
    from mnist_model.atomic import atomic_write_json
    from mnist_model.runner import train_and_write

    results = []
    for i, (seed, config) in enumerate(configs.items()):
        log.info("seed %d: %s", seed, config)
        run, _ = train_and_write(
            config,
            out / f"seed{seed}",
            train_xy,
            test_xy,
            checksums=checksums,
            machine=machine,
            device=device,
            progress=progress,
            remeasure=remeasure and i == 0,
        )
        results.append(SeedResult.from_eval(seed, run.final, run.seconds))
        print(f"seed {seed}: {run.final.reference_line()}", flush=True)
    summary = {
        **summarise(results),
        "config": dataclasses.asdict(next(iter(configs.values()))),
        "machine": dataclasses.asdict(machine),
        "device": str(device),
    }
    atomic_write_json(out / "sweep.json", summary)
    return summary
