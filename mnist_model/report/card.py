"""The report folder of a run: four pictures and ``report.md``, a model card linking them.

``build_report`` needs only a checkpoint's payload, the model and the test split, so
``mnist-model train`` and ``mnist-model report --checkpoint`` write the same files.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mnist_model.atomic import atomic_write_text
from mnist_model.config import Arithmetic
from mnist_model.evaluate import EvalResult, predict_logits
from mnist_model.gate import thresholds
from mnist_model.gate.evidence import test_counts
from mnist_model.gate.inputs import suite_description
from mnist_model.gate.verdict import DIGITS, judge
from mnist_model.model import normalize
from mnist_model.report.layers import layer_rows
from mnist_model.report.plots import plot_confusion, plot_curves, plot_misclassified, plot_per_class

REPORT_FILES = {
    "curves": "curves.png",
    "misclassified": "misclassified.png",
    "per_class_plot": "per_class.png",
    "confusion_matrix": "confusion_matrix.png",
    "report": "report.md",
}
"""The files ``build_report`` writes, by the name it returns each under."""


def build_report(
    out: Path,
    model: torch.nn.Module,
    payload: dict,
    history: list[dict],
    result: EvalResult,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    ood: dict[str, dict[str, tuple[int, int]]] | None = None,
    comparison: str | None = None,
    bars: dict | None = None,
) -> dict[str, Path]:
    """Write the pictures and report.md into ``out``; return their paths by name. ``ood``:
    the out-of-distribution suite's counts by preprocessing (``default``, ``plain``:
    ``ood.counts`` on the gate's suite), for the model card; ``comparison``: the paired
    comparison with a baseline (``paired.comparison_text``). Every pass or fail on the
    card is the gate's verdict (``verdict.judge``)."""
    out.mkdir(parents=True, exist_ok=True)
    bars = thresholds.load() if bars is None else bars  # the acceptance suite's floors
    per_class_bars = thresholds.per_class(bars)
    logits = result.logits
    if logits is None or len(logits) != len(test_images):
        logits = predict_logits(model, normalize(test_images))
    probabilities = logits.softmax(1)
    path = {key: out / name for key, name in REPORT_FILES.items()}
    paths = {
        "curves": plot_curves(history, thresholds.overall_accuracy(bars), path["curves"]),
        "misclassified": plot_misclassified(
            test_images, test_labels.cpu(), probabilities, path["misclassified"]
        ),
        "per_class_plot": plot_per_class(
            result.per_class_accuracy, per_class_bars, path["per_class_plot"]
        ),
        "confusion_matrix": plot_confusion(result.confusion, path["confusion_matrix"]),
    }
    report = path["report"]
    verdict = judge(_record(result, ood), bars)
    card = model_card(model, payload, history, result, [verdict[d] for d in DIGITS])
    if ood is not None:
        card += ood_section(verdict, _accuracies(ood.get("plain")))
    if comparison is not None:
        card += "\n## Compared with the baseline\n\n```\n" + comparison + "\n```\n"
    atomic_write_text(report, card)
    paths["report"] = report
    return paths


def _record(result: EvalResult, ood: dict | None) -> dict:
    """What the card shows, as a record for the verdict: the test set and the suite."""
    record = {"test": test_counts(result)}
    if ood is not None:
        counts = ood["default"]
        record["ood"] = {
            **suite_description(),
            "correct": {name: c for name, (c, _) in counts.items()},
            "total": {name: n for name, (_, n) in counts.items()},
        }
    return record


def _accuracies(counts: dict | None) -> dict[str, float] | None:
    return None if counts is None else {name: c / n for name, (c, n) in counts.items()}


def _interval(correct: int, total: int) -> str:
    from mnist_model.gate.stats import wilson_interval

    if total == 0:
        return "-"
    low, high = wilson_interval(correct, total)
    return f"{100 * low:.2f}-{100 * high:.2f} %"


def _arithmetic_line(raw: object) -> str:
    try:
        return Arithmetic.from_dict(raw).describe()
    except ValueError:
        return "not recorded"


def _confused_pairs(confusion: torch.Tensor, top: int = 5) -> list[tuple[int, int, int]]:
    off = confusion.clone()
    off.fill_diagonal_(0)
    classes = range(confusion.shape[0])
    pairs = [(int(off[t, p]), t, p) for t in classes for p in classes if off[t, p] > 0]
    return [(t, p, n) for n, t, p in sorted(pairs, reverse=True)[:top]]


def model_card(
    model: torch.nn.Module,
    payload: dict,
    history: list[dict],
    result: EvalResult,
    digits: list,
) -> str:
    """The card: the layer table, how the model was trained, the test set with each
    digit's check of the verdict (``digits``: ``verdict.Check`` per digit), the data and
    the pictures."""
    config = payload.get("train_config", {})
    metrics = payload.get("metrics", {})
    versions = payload.get("versions", {})
    lines = [
        "# mnist-model: model card",
        "",
        "## The model",
        "",
        "| layer | type | output shape | parameters |",
        "|---|---|---|---|",
    ]
    rows = layer_rows(model)
    lines += [f"| {n} | {t} | {tuple(s[1:])} | {p:,} |" for n, t, s, p in rows]
    total = sum(p.numel() for p in model.parameters())
    lines += ["", f"Trainable parameters: **{total:,}**.", "", "## How it was trained", ""]
    lines += [f"- {key}: `{value}`" for key, value in sorted(config.items())]
    wall = metrics.get("train_seconds")
    lines += [
        f"- epochs run: {len(history)}; training wall time: "
        + (f"{wall:.1f} s" if isinstance(wall, (int, float)) else "unknown"),
        f"- device: {payload.get('device', metrics.get('device', 'unknown'))}",
        f"- arithmetic: {_arithmetic_line(metrics.get('arithmetic'))}",
        "- library versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())),
        "",
        "## Results on the 10,000 test images",
        "",
        f"- accuracy: **{100 * result.accuracy:.2f} %** ({result.correct}/{result.total}; "
        f"95 % interval {_interval(result.correct, result.total)})",
        f"- average loss: {result.loss:.4f}",
        "",
        "| digit | accuracy | 95 % interval | count | threshold | verdict | most confused with |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result.per_class_rows():
        cls, accuracy, confused = row["class"], row["accuracy"], row["most_confused_with"]
        verdict = "pass" if digits[cls].passed else "**FAIL**"
        interval = _interval(round(accuracy * row["count"]), row["count"])
        lines.append(
            f"| {cls} | {100 * accuracy:.2f} % | {interval} | {row['count']} | "
            f"{100 * digits[cls].bound:.2f} % | {verdict} | "
            f"{'-' if confused is None else confused} |"
        )
    lines += [
        "",
        "Most confused pairs (true → predicted: count): "
        + ", ".join(f"{t} → {p}: {n}" for t, p, n in _confused_pairs(result.confusion)),
        "",
        "## Data",
        "",
        "| file | MD5 |",
        "|---|---|",
    ]
    lines += [f"| {name} | `{md5}` |" for name, md5 in sorted(payload.get("data_md5", {}).items())]
    lines += [
        "",
        "## Pictures",
        "",
        "![learning curves](curves.png)",
        "",
        "![misclassified test images](misclassified.png)",
        "",
        "![per-class accuracy](per_class.png)",
        "",
        "![confusion matrix](confusion_matrix.png)",
        "",
    ]
    return "\n".join(lines)


def ood_section(verdict, plain: dict[str, float] | None = None) -> str:
    """The model card's table of the out-of-distribution suite (``mnist-model ood``): each
    condition's check of the ``verdict``, with the plain preprocessing's accuracy beside
    predict's."""
    from mnist_model.gate.ood import CONDITIONS

    lines = [
        "## Digits from outside MNIST",
        "",
        "`mnist-model ood`: held-out digits under the conditions of real captures, through",
        "`predict`'s preprocessing (`mnist_model/gate/ood.py`).",
        "",
        "| condition | accuracy | floor | verdict | plain preprocessing | what |",
        "|---|---|---|---|---|---|",
    ]
    accuracies = []
    for condition in CONDITIONS:
        if f"ood {condition.name}" not in verdict:
            continue
        check = verdict[f"ood {condition.name}"]
        accuracies.append(check.figure)
        outcome = "pass" if check.passed else "**FAIL**"
        other = "-" if not plain else f"{100 * plain[condition.name]:.1f} %"
        lines.append(
            f"| {condition.name} | {100 * check.figure:.1f} % | {100 * check.bound:.1f} % | "
            f"{outcome} | {other} | {condition.description} |"
        )
    mean = sum(accuracies) / max(1, len(accuracies))
    lines += ["", f"Mean over the conditions: **{100 * mean:.2f} %**.", ""]
    return "\n".join(lines)
