"""Champion and challenger: is a new model worse than the one we accepted, image by image?

A *baseline record* (``make_record``, ``mnist-model baseline``) keeps what the accepted
model predicted for each of the 10,000 test images and each picture of the
out-of-distribution suite, with the test files' MD5s, the checkpoint's SHA-256, its
metrics and where it was computed; about 30 KB of JSON, committed like a snapshot.

``compare`` pairs a candidate's predictions with the record's. Two models of similar
accuracy disagree on few images, so the paired (McNemar) test sees a loss that comparing
two accuracies, each with its own binomial noise, cannot: it asks only whether the images
that exactly one of the two gets right favour the baseline more than chance would. Per
class and per out-of-distribution condition the same test runs under Holm's correction.
The verdict's numbers (the levels, and the net loss in images two good models of the
recipe exceed only by chance) are in thresholds.json under ``compare``, derived with the
floors (``mnist_model.gate.floors``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mnist_model.data.checksums import json_sha256
from mnist_model.errors import MnistModelError
from mnist_model.formats.kinds import refusal
from mnist_model.gate import stats
from mnist_model.schema import Int, MapOf, Plain, Record, SchemaError, Str

RECORD_SCHEMA = 1
WHAT = "mnist-model baseline record"
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class BaselineError(MnistModelError):
    """A baseline record that cannot be compared with: unreadable, tampered, other data."""


# --- the record ---------------------------------------------------------------------------
def _digits(predicted: np.ndarray) -> str:
    """Predictions as one string, a character an image ('-': refused by preprocessing)."""
    return "".join("-" if d < 0 else str(int(d)) for d in predicted)


def _parse(text: object, length: int, where: str) -> np.ndarray:
    if not isinstance(text, str) or len(text) != length or set(text) - set("-0123456789"):
        raise BaselineError(f"{where} are not {length} predicted digits")
    return np.array([-1 if c == "-" else int(c) for c in text], dtype=np.int64)


def make_record(
    *,
    test_predicted: np.ndarray,
    test_labels: np.ndarray,
    test_md5: dict[str, str],
    ood_predicted: np.ndarray,
    ood_suite: dict,
    ood_labels: np.ndarray,
    checkpoint: dict,
    environment: dict,
) -> dict:
    """The baseline record of one model's predictions (see the module's docstring)."""
    record = {
        "what": WHAT,
        "schema": RECORD_SCHEMA,
        "summary": {
            "test_correct": int((test_predicted == test_labels).sum()),
            "test_total": len(test_labels),
            "ood_correct": int((ood_predicted == ood_labels).sum()),
            "ood_total": len(ood_labels),
        },
        "checkpoint": checkpoint,
        "environment": environment,
        "test": {"md5": {k: test_md5[k] for k in TEST_FILES}, "predicted": _digits(test_predicted)},
        "ood": {**ood_suite, "predicted": _digits(ood_predicted)},
    }
    record["sha256"] = json_sha256(record, without="sha256")
    return record


DIGITS = Str(10**7, chars="0123456789")
PICTURES = Str(10**7, chars="-0123456789")
"""A suite picture's prediction may be ``-``: the preprocessing found no single digit."""
COUNT = Int(0, 10**8)
RECORD = Record(
    {
        "what": Str(100),
        "schema": Int(),
        "sha256": Str(64),
        "checkpoint": Plain(6, 1000),
        "environment": Plain(4, 1000),
        "test": Record(
            {"md5": MapOf(Str(64), 10), "predicted": DIGITS},
            required=frozenset({"md5", "predicted"}),
        ),
        "ood": Record(
            {
                "per_class": Int(1, 10**6),
                "seed": Int(0),
                "version": Int(0, 10**6),
                "predicted": PICTURES,
            },
            required=frozenset({"per_class", "seed", "version", "predicted"}),
        ),
        "summary": MapOf(COUNT, 100),
    },
    required=frozenset({"what", "schema", "sha256", "test", "ood"}),
)
"""A baseline record's declared structure (``schema.Record``): one digit a picture."""


def read_record(path: Path) -> dict:
    """A baseline record as read from ``path``, checked for what needs no data: that it
    is one, of this schema, sealed by its own SHA-256 and made on the canonical test files."""
    from mnist_model.data.layout import RAW_FILES

    path = Path(path)
    if not path.is_file():
        raise BaselineError(f"baseline {path}: no such file")
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = f"not readable JSON: {type(exc).__name__}"
        raise BaselineError(refusal(path, "a baseline record", reason)) from None
    if not isinstance(record, dict) or record.get("what") != WHAT:
        raise BaselineError(refusal(path, "a baseline record"))
    if record.get("schema") != RECORD_SCHEMA:
        raise BaselineError(
            f"{path} has record schema {record.get('schema')!r}, not {RECORD_SCHEMA}"
        )
    try:
        RECORD.check(record, "baseline")
    except SchemaError as exc:
        raise BaselineError(f"{path}: {exc}") from None
    if record.get("sha256") != json_sha256(record, without="sha256"):
        raise BaselineError(
            f"{path} does not match its own SHA-256: it was edited after it was made"
        )
    md5 = record.get("test", {}).get("md5") if isinstance(record.get("test"), dict) else None
    if md5 != {name: RAW_FILES[name] for name in TEST_FILES}:
        raise BaselineError(f"{path} was made on other test data (MD5s {md5})")
    return record


def load_record(path: Path, *, test_labels: np.ndarray, ood_labels: np.ndarray, ood_suite: dict):
    """A baseline record, checked (``read_record``, then that it is for this suite and
    that its summary agrees with its predictions). Returns ``(record, test predictions,
    ood predictions)``; a BaselineError names what is wrong."""
    record = read_record(path)
    try:
        test = _parse(record["test"]["predicted"], len(test_labels), f"{path}: test predictions")
        ood = _parse(record["ood"]["predicted"], len(ood_labels), f"{path}: suite predictions")
        summary = record["summary"]
        suite = {k: record["ood"].get(k) for k in ood_suite}
    except (KeyError, TypeError, AttributeError):
        raise BaselineError(f"{path} lacks the fields of a baseline record") from None
    if suite != ood_suite:
        raise BaselineError(
            f"{path} was made on out-of-distribution suite {suite}, not {ood_suite}"
        )
    if summary.get("test_correct") != int((test == test_labels).sum()) or summary.get(
        "ood_correct"
    ) != int((ood == ood_labels).sum()):
        raise BaselineError(f"{path}: its summary does not agree with its predictions")
    return record, test, ood


# --- the comparison -----------------------------------------------------------------------
def paired(baseline: np.ndarray, candidate: np.ndarray, truth: np.ndarray) -> dict:
    """The paired outcome of two models on the same items, with its statistics."""
    b, c = baseline == truth, candidate == truth
    n = len(truth)
    baseline_only, candidate_only = int((b & ~c).sum()), int((~b & c).sum())
    both, neither = int((b & c).sum()), int((~b & ~c).sum())
    baseline_correct, candidate_correct = both + baseline_only, both + candidate_only
    return {
        "n": n,
        "both": both,
        "baseline_only": baseline_only,
        "candidate_only": candidate_only,
        "neither": neither,
        "net": candidate_only - baseline_only,
        "baseline_accuracy": baseline_correct / n,
        "candidate_accuracy": candidate_correct / n,
        "baseline_interval": stats.wilson_interval(baseline_correct, n),
        "candidate_interval": stats.wilson_interval(candidate_correct, n),
        "difference_interval": stats.paired_difference_interval(baseline_only, candidate_only, n),
        "p_worse": stats.mcnemar_worse(baseline_only, candidate_only),
        "p_two_sided": stats.mcnemar_two_sided(baseline_only, candidate_only),
        "lost": np.flatnonzero(b & ~c).tolist(),
        "gained": np.flatnonzero(~b & c).tolist(),
    }


def compare(
    baseline: tuple[np.ndarray, np.ndarray],
    candidate: tuple[np.ndarray, np.ndarray],
    *,
    test_labels: np.ndarray,
    ood_labels: np.ndarray,
    ood_condition: np.ndarray,
    ood_names: tuple[str, ...],
) -> dict:
    """Overall (the test set), per digit and per out-of-distribution condition; each
    ``paired``. ``baseline`` and ``candidate`` are (test predictions, suite predictions);
    the breakdown's one-sided p-values are also given Holm-adjusted (``p_holm``)."""
    (base_test, base_ood), (cand_test, cand_ood) = baseline, candidate
    breakdown = {}
    for digit in range(10):
        mine = test_labels == digit
        breakdown[f"digit {digit}"] = paired(base_test[mine], cand_test[mine], test_labels[mine])
        for key in ("lost", "gained"):  # as test-set indices, not indices within the digit
            breakdown[f"digit {digit}"][key] = np.flatnonzero(mine)[
                breakdown[f"digit {digit}"][key]
            ].tolist()
    for i, name in enumerate(ood_names):
        mine = ood_condition == i
        breakdown[f"ood {name}"] = paired(base_ood[mine], cand_ood[mine], ood_labels[mine])
    adjusted = stats.holm({k: v["p_worse"] for k, v in breakdown.items()})
    for key, value in breakdown.items():
        value["p_holm"] = adjusted[key]
    return {"overall": paired(base_test, cand_test, test_labels), "breakdown": breakdown}


def comparison_text(comparison: dict, failed: list[str]) -> str:
    """The 2x2 table, the p-values, the intervals, the breakdown and the verdict."""
    o = comparison["overall"]
    lines = [
        "paired outcome on the 10,000 test images (rows: baseline, columns: candidate)",
        f"{'':>16}{'right':>10}{'wrong':>10}",
        f"{'baseline right':>16}{o['both']:>10}{o['baseline_only']:>10}",
        f"{'baseline wrong':>16}{o['candidate_only']:>10}{o['neither']:>10}",
        f"baseline  {100 * o['baseline_accuracy']:.2f} % (95 % {_pct(o['baseline_interval'])})",
        f"candidate {100 * o['candidate_accuracy']:.2f} % (95 % {_pct(o['candidate_interval'])})",
        f"difference {100 * (o['candidate_accuracy'] - o['baseline_accuracy']):+.2f} points "
        f"(95 % {_pct(o['difference_interval'], signed=True)}), net {o['net']:+d} images",
        f"exact McNemar: p(candidate worse) = {o['p_worse']:.3g}, two-sided p = "
        f"{o['p_two_sided']:.3g}",
        f"{'':<24}{'net':>6}{'lost':>6}{'gained':>7}{'p worse':>10}{'Holm':>8}  flipped images",
    ]
    for key, v in comparison["breakdown"].items():
        flipped = ""
        if key.startswith("digit") and (v["lost"] or v["gained"]):
            flipped = f"lost {_few(v['lost'])}; gained {_few(v['gained'])}"
        lines.append(
            f"{key:<24}{v['net']:>+6d}{v['baseline_only']:>6}{v['candidate_only']:>7}"
            f"{v['p_worse']:>10.3g}{v['p_holm']:>8.3g}  {flipped}"
        )
    verdict = "NOT WORSE" if not failed else "WORSE: " + "; ".join(failed)
    lines.append(f"verdict: {verdict}")
    return "\n".join(lines)


def _pct(interval: tuple[float, float], signed: bool = False) -> str:
    fmt = "{:+.2f}" if signed else "{:.2f}"
    return f"{fmt.format(100 * interval[0])} to {fmt.format(100 * interval[1])}"


def _few(indices: list[int], limit: int = 8) -> str:
    shown = ",".join(map(str, indices[:limit]))
    return (shown + ",...") if len(indices) > limit else (shown or "none")


def summary_json(comparison: dict, failed: list[str]) -> dict:
    """What ``mnist-model compare --json`` prints: the overall figures, the breakdown
    without the image lists, the verdict and its reasons."""
    overall = {k: v for k, v in comparison["overall"].items()}
    breakdown = {
        key: {k: v for k, v in value.items() if k not in ("lost", "gained")}
        for key, value in comparison["breakdown"].items()
    }
    return {
        **overall,
        "breakdown": breakdown,
        "verdict": "worse" if failed else "not worse",
        "reasons": failed,
    }


# --- from checkpoints ----------------------------------------------------------------------
def predictions_of(model, test_images, suite) -> tuple[np.ndarray, np.ndarray]:
    """What ``model`` reads in each test image and in each picture of the prepared suite
    (its folded form, as the gate and ``predict`` run it)."""
    from mnist_model.evaluate import predict_logits
    from mnist_model.gate import ood
    from mnist_model.model import normalize

    test = predict_logits(model, normalize(test_images)).argmax(1).numpy()
    return test, ood.predictions(model, suite)


def is_record(path: Path) -> bool:
    """Whether ``path`` holds JSON (a baseline record) rather than a model file."""
    with open(path, "rb") as fh:
        return fh.read(64).lstrip()[:1] == b"{"


def accepted_predictions(
    path: Path, inputs, *, model_class: str | None = None, input_scale: str = "mnist"
) -> tuple[np.ndarray, np.ndarray]:
    """The accepted model's (test, suite) predictions: from its baseline record, or
    computed here from a model file of any format (``formats.load_any``)."""
    from mnist_model.formats import load_any

    path = Path(path)
    if path.is_file() and not is_record(path):
        model = load_any(path, model_class=model_class, input_scale=input_scale).model
        return predictions_of(model, inputs.test_xy[0], inputs.suite)
    _, test, suite = load_record(
        path,
        test_labels=inputs.test_xy[1].numpy(),
        ood_labels=inputs.suite.labels,
        ood_suite=inputs.description,
    )
    return test, suite


def compare_models(baseline: tuple[np.ndarray, np.ndarray], model, inputs) -> dict:
    """``compare`` of the accepted model's (test, suite) predictions with ``model``'s on
    ``inputs`` (``inputs.GateInputs``)."""
    return compare_predictions(
        baseline, predictions_of(model, inputs.test_xy[0], inputs.suite), inputs
    )


def compare_predictions(baseline, candidate, inputs) -> dict:
    """``compare`` of two (test, suite) predictions on ``inputs``."""
    suite = inputs.suite
    return compare(
        baseline,
        candidate,
        test_labels=inputs.test_xy[1].numpy(),
        ood_labels=suite.labels,
        ood_condition=suite.condition,
        ood_names=suite.names,
    )


def _finite(value: object) -> bool:
    """A number or a list of numbers, all finite (a checkpoint's metrics are not trusted:
    a record must be plain, valid JSON)."""
    import math

    values = value if isinstance(value, list) else [value]
    return bool(values) and all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
    )


def record_of_model(path: Path, loaded, inputs) -> dict:
    """The baseline record of the model loaded from ``path`` (``formats.Loaded``),
    computed here on ``inputs`` (``inputs.GateInputs``)."""
    import torch

    from mnist_model.data.layout import RAW_FILES
    from mnist_model.gate.inputs import provenance

    payload = loaded.payload
    test_predicted, ood_predicted = predictions_of(loaded.model, inputs.test_xy[0], inputs.suite)
    metrics = payload.get("metrics", {})
    origin = provenance(path, loaded)
    kept = ("test_accuracy", "test_loss", "correct", "total", "per_class_accuracy", "epochs")
    return make_record(
        test_predicted=test_predicted,
        test_labels=inputs.test_xy[1].numpy(),
        test_md5=RAW_FILES,
        ood_predicted=ood_predicted,
        ood_suite=inputs.description,
        ood_labels=inputs.suite.labels,
        checkpoint={
            "sha256": origin["checkpoint_sha256"],
            "format": loaded.format,
            "model": loaded.description,
            "train_config": payload.get("train_config"),
            "metrics": {k: metrics[k] for k in kept if _finite(metrics.get(k))},
            "trained_with": {
                "arithmetic": metrics.get("arithmetic") or {},
                "arithmetic_class": origin["arithmetic_class"],
                "versions": payload.get("versions"),
            },
        },
        environment={"torch": str(torch.__version__), "cpu": origin["cpu"]},
    )
