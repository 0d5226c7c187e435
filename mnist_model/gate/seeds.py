"""Several seeds of one recipe: each seed's result and their spread (mean, sd, min, max).

One seed proves little (0.1 % is ten test images). ``mnist-model sweep`` and the
acceptance suite's multi-seed mode summarise their seeds here, and the gate judges the
mean (``verdict.seeds_check``).
"""

from __future__ import annotations

import dataclasses
import statistics

from mnist_model.evaluate import EvalResult


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
