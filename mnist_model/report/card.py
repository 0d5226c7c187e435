"""The report folder of a run: four pictures and ``report.md``, a model card linking them.

``build_report`` needs only a checkpoint's payload, the model and the test split, so
``mnist-model train`` and ``mnist-model report --checkpoint`` write the same files.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path

import torch

from mnist_model.atomic import atomic_write_text
from mnist_model.config import (
    Arithmetic,
    Machine,
    ModelConfig,
    TrainConfig,
    recipe_fingerprint,
    setting_group,
)
from mnist_model.evaluate import EvalResult, predict_logits
from mnist_model.gate import thresholds
from mnist_model.gate.evidence import test_counts
from mnist_model.gate.inputs import suite_description
from mnist_model.gate.measure import SHIFTS, architecture, shift_agreement, shift_with_zero_fill
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
    checkpoint: Path | None = None,
    ood: dict[str, dict[str, tuple[int, int]]] | None = None,
    comparison: str | None = None,
    bars: dict | None = None,
) -> dict[str, Path]:
    """Write the pictures and report.md into ``out``; return their paths by name.
    ``checkpoint``: the file the card describes (its SHA-256 and date); ``ood``: the
    out-of-distribution suite's counts by preprocessing (``default``, ``plain``:
    ``ood.counts`` on the gate's suite); ``comparison``: the paired comparison with a
    baseline (``paired.comparison_text``). Every pass or fail on the card is the gate's
    verdict (``verdict.judge``) on what the card measured (``card_record``)."""
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
    record = card_record(model, result, test_images, logits, ood)
    train_config, model_config = payload.get("train_config"), payload.get("model_config")
    if isinstance(train_config, dict) and isinstance(model_config, dict):
        record["model"] = {"recipe": recipe_fingerprint(train_config, model_config)}
    verdict = judge(record, bars)
    card = verdict_section(verdict, checkpoint, payload, ood is not None)
    card += model_card(model, payload, history, result, [verdict[d] for d in DIGITS])
    if ood is not None:
        card += ood_section(verdict, _accuracies(ood.get("plain")))
    if comparison is not None:
        card += "\n## Compared with the baseline\n\n```\n" + comparison + "\n```\n"
    atomic_write_text(path["report"], card)
    paths["report"] = path["report"]
    return paths


def card_record(
    model: torch.nn.Module,
    result: EvalResult,
    test_images: torch.Tensor,
    test_logits: torch.Tensor,
    ood: dict | None,
) -> dict:
    """What the card judges, as a record for the verdict: the test set (``result``, whose
    ``test_logits`` the shifted images' predictions are compared with), its one-pixel
    shifts, the architecture and, when measured, the out-of-distribution suite."""
    logits = {"test": test_logits}
    for direction, (shift, dim) in SHIFTS.items():
        shifted = shift_with_zero_fill(test_images, shift, dim)
        logits[f"shift_{direction}"] = predict_logits(model, normalize(shifted))
    record = {
        "test": test_counts(result),
        "shift_agreement": shift_agreement(logits),
        # the folded form's agreement is the gate's to check: it costs two passes more
        "architecture": architecture(model, test_images, inference_form=False),
    }
    if ood is not None:
        counts = ood["default"]
        record["ood"] = {
            **suite_description(),
            "correct": {name: c for name, (c, _) in counts.items()},
            "total": {name: n for name, (_, n) in counts.items()},
        }
    return record


NOT_ON_THE_CARD = (
    "the pixel regression margin (it trains on the training set)",
    "predict's preprocessing against the plain one",
    "the test set as PNG files",
    "the folded inference form",
)
"""The gate's sections the card does not measure, named on it."""


def verdict_section(verdict, checkpoint: Path | None, payload: dict, ood: bool) -> str:
    """The card's opening: the gate's verdict on what the card measured, every failing
    check, what the full gate adds, and which file this is (SHA-256, date)."""
    judged = "the test set, one-pixel shifts, the parameter budget and the layer family"
    judged += ", the out-of-distribution suite" if ood else ""
    missing = [*NOT_ON_THE_CARD, *([] if ood else ["the out-of-distribution suite"])]
    missing = ", ".join(missing[:-1]) + " and " + missing[-1]
    lines = ["# mnist-model: model card", "", f"**{verdict.summary()}**", ""]
    if verdict.failed:
        lines += ["Failing checks:", ""] + [f"- {c.reason}" for c in verdict.failed] + [""]
    lines += [
        f"Judged here by the gate's engine ({judged}); floors: {verdict.floors}.",
        f"`mnist-model gate --checkpoint FILE` judges everything, adding {missing}.",
        "",
        f"- checkpoint: {_file_line(checkpoint)}",
        f"- trained: {_finished(payload, checkpoint)}",
        "",
    ]
    return "\n".join(lines) + USE_AND_LIMITS + _weakest(verdict) + "\n"


NOT_A_DIGIT = "not_a_digit"
"""The suite's condition of pictures with no single digit: its figure is a refusal rate."""


def _weakest(verdict, count: int = 5) -> str:
    """The out-of-distribution conditions this model read worst, when the card measured
    the suite."""
    ood = sorted(
        (c.figure, c.name[4:])
        for c in verdict.checks
        if c.name.startswith("ood ") and c.unit == "%" and c.name != f"ood {NOT_A_DIGIT}"
    )
    if not ood:
        return ""
    shown = ", ".join(f"{name} {100 * figure:.1f} %" for figure, name in ood[:count])
    return f"- Measured for this model, its weakest conditions: {shown}.\n"


USE_AND_LIMITS = """
## Intended use

Reading one handwritten digit, 0-9, from a picture that holds that digit alone: a
28x28 MNIST-style image (white on black, centred by mass), or a crop or photo of one
digit through `mnist-model predict`, which centres and normalises it first. A teaching
model and a template for gating models, not a component for decisions about people.

## Limitations

- The model always answers one of 0-9. `mnist-model predict` says "no single digit"
  where the picture holds several marks of comparable size, none like a digit, or one
  the model reads with less than the derived confidence; it still answers many letters
  and shapes with a digit (the suite's `not_a_digit` condition measures how many it
  refuses).
- It learned from MNIST alone (American census staff and students, scanned in the
  1990s): other scripts' digits (a crossed 7, an open 4, a 1 with a long flag) and
  pictures unlike a scanned crop are outside what it was shown.
- How it does on 30 conditions of real captures is measured by the out-of-distribution
  suite (`mnist-model report --ood`, below when measured); its weakest conditions are
  where it should not be trusted.
"""


def _file_line(checkpoint: Path | None) -> str:
    if checkpoint is None:
        return "not saved to a file"
    from mnist_model.data.checksums import sha256_file

    return f"`{checkpoint.name}`, SHA-256 `{sha256_file(checkpoint)}`"


def _finished(payload: dict, checkpoint: Path | None) -> str:
    """When the run finished (its metrics say so), else when the file was written."""
    finished = (payload.get("metrics") or {}).get("finished")
    if isinstance(finished, str):
        return f"{finished} (the run's end)"
    if checkpoint is None:
        return "not recorded"
    written = datetime.fromtimestamp(checkpoint.stat().st_mtime, timezone.utc)
    return f"{written:%Y-%m-%d %H:%M} UTC (the file's time: the run recorded none)"


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
        "## The model",
        "",
        "| layer | type | output shape | parameters |",
        "|---|---|---|---|",
    ]
    rows = layer_rows(model)
    lines += [f"| {n} | {t} | {tuple(s[1:])} | {p:,} |" for n, t, s, p in rows]
    total = sum(p.numel() for p in model.parameters())
    lines += ["", f"Trainable parameters: **{total:,}**.", "", "## How it was trained", ""]
    lines += _settings(payload, config, metrics)
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


SETTINGS = (("model", ModelConfig), ("schedule", TrainConfig), ("augmentation", TrainConfig))


def _settings(payload: dict, config: dict, metrics: dict) -> list[str]:
    """The recorded settings grouped as ``config.setting_group`` groups them: the model,
    the schedule, the augmentation, then the machine; each group in its fields' order."""
    recorded = {
        ModelConfig: payload.get("model_config") or {},
        TrainConfig: config,
        Machine: metrics.get("machine") or {},
    }
    lines = []
    for group, cls in (*SETTINGS, ("machine", Machine)):
        values = recorded[cls] if isinstance(recorded[cls], dict) else {}
        names = [f.name for f in fields(cls) if setting_group(cls, f.name) == group]
        shown = [f"{name} `{values[name]}`" for name in names if name in values]
        lines.append(f"- {group}: " + (", ".join(shown) if shown else "not recorded"))
    return lines


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
