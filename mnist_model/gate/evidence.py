"""Evidence: one small JSON file per recorded model, every figure the gate judges as counts.

``record`` assembles one (``mnist-model thresholds record`` measures a model into it),
``load_evidence`` reads a folder of them, ``figures`` and ``table`` list the checks a
record measured, and ``class_table`` summarises records by arithmetic class. The floors
are derived from evidence in ``floors``; a record is judged in ``verdict``.

The schema is frozen with the records in ``evidence/``: ``baseline_correct`` is the test
images the pixel regression (``measure.pixel_regression_correct``) gets right, a name
kept from before "baseline" came to mean only the accepted model.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from mnist_model.errors import MnistModelError
from mnist_model.formats.kinds import refusal
from mnist_model.schema import Int, ListOf, MapOf, Num, Plain, Record, SchemaError

SCHEMA = 1
SECTIONS = frozenset({"schema", "model", "test", "shift_agreement", "baseline_correct", "ood"})
"""What every evidence record holds (``record``)."""
REFUSAL_KEYS = (
    "grid",
    "test_sure",
    "test_total",
    "digits_sure",
    "digits_total",
    "not_a_digit_refused",
    "not_a_digit_total",
)
"""A record's ``refusal`` section (suite version 4 on): at each confidence of ``grid``, the
test images the model is at least that sure of, the suite's digit pictures predict would
answer (not refused by the preprocessing, and that sure), and the pictures of no single
digit it would refuse (by the preprocessing, or less sure)."""
COUNT = Int(0, 10**8)
TOTAL = Int(1, 10**8)
TEST = Record(
    {
        "correct": COUNT,
        "total": TOTAL,
        "loss": Num(0),
        "per_class_correct": ListOf(COUNT, 100),
        "per_class_total": ListOf(TOTAL, 100),
    },
    required=frozenset({"correct", "total", "loss", "per_class_correct", "per_class_total"}),
)
RECORD = Record(
    {
        "schema": Int(),
        "model": Plain(4, 1000),
        "test": TEST,
        "shift_agreement": Record(
            dict.fromkeys(("up", "down", "left", "right"), COUNT),
            required=frozenset({"up", "down", "left", "right"}),
        ),
        "baseline_correct": COUNT,
        "ood": Record(
            {
                "version": Int(0, 10**6),
                "per_class": Int(1, 10**6),
                "seed": Int(0),
                "correct": MapOf(COUNT, 1000),
                "total": MapOf(TOTAL, 1000),
                "plain_correct": MapOf(COUNT, 1000),
            },
            required=frozenset({"version", "per_class", "seed", "correct", "total"}),
        ),
        "refusal": Record(
            {
                "grid": ListOf(Num(0, 1), 100),
                "test_sure": ListOf(COUNT, 100),
                "test_total": TOTAL,
                "digits_sure": ListOf(COUNT, 100),
                "digits_total": TOTAL,
                "not_a_digit_refused": ListOf(COUNT, 100),
                "not_a_digit_total": TOTAL,
            },
            required=frozenset(REFUSAL_KEYS),
        ),
    },
    required=SECTIONS,
    extra=Plain(4, 1000),
)
"""An evidence record's declared structure (``schema.Record``): every count an integer in
range, every total at least 1, before any figure is divided."""


class EvidenceError(MnistModelError):
    """Evidence that cannot be used: unreadable, of another schema, recipe or suite."""


def record(
    *,
    provenance: dict,
    test,
    shift: dict[str, int],
    pixel_regression_correct: int,
    ood: dict[str, tuple[int, int]],
    ood_suite: dict,
    plain: dict[str, tuple[int, int]] | None = None,
    refusal: dict | None = None,
) -> dict:
    """One model's evidence: its provenance and every figure the gate judges, as counts.

    ``test`` is the model's ``EvalResult`` on the full test set, ``shift`` its
    ``measure.shift_agreement``, ``ood`` its ``ood.counts`` on the suite ``ood_suite``
    describes (version, per_class, seed), and ``plain`` the same through the plain
    preprocessing (kept beside the floors' figures, not one of them)."""
    extra = {} if plain is None else {"plain_correct": {k: c for k, (c, _) in plain.items()}}
    sections = {} if refusal is None else {"refusal": refusal}
    return {
        **sections,
        "schema": SCHEMA,
        "model": provenance,
        "test": test_counts(test),
        "shift_agreement": dict(shift),
        "baseline_correct": int(pixel_regression_correct),
        "ood": {
            **ood_suite,
            "correct": {name: c for name, (c, _) in ood.items()},
            "total": {name: n for name, (_, n) in ood.items()},
            **extra,
        },
    }


def test_counts(result) -> dict:
    """An ``EvalResult`` on the test set as a record's ``test`` section."""
    return {
        "correct": result.correct,
        "total": result.total,
        "loss": result.loss,
        "per_class_correct": [int(v) for v in result.confusion.diagonal().tolist()],
        "per_class_total": [int(v) for v in result.class_counts],
    }


def load_evidence(paths: list[Path]) -> list[dict]:
    """Every record in ``paths`` (JSON files, or folders of them), in name order."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(path.glob("*.json"))
        elif path.is_file():
            files.append(path)
        else:
            raise EvidenceError(f"no evidence at {path}")
    if not files:
        raise EvidenceError(f"no evidence files in {', '.join(map(str, paths))}")
    records = []
    for file in files:
        try:
            data = json.loads(file.read_text())
        except (OSError, ValueError, RecursionError) as exc:
            reason = f"unreadable: {type(exc).__name__}"
            raise EvidenceError(refusal(file, "an evidence record", reason)) from None
        if not isinstance(data, dict) or not SECTIONS <= set(data):
            raise EvidenceError(refusal(file, "an evidence record"))
        if data.get("schema") != SCHEMA:
            schema = data.get("schema")
            raise EvidenceError(f"{file}: schema {schema!r}, this version reads {SCHEMA}")
        try:
            RECORD.check(data, "evidence")
        except SchemaError as exc:
            raise EvidenceError(f"{file}: {exc}") from None
        ood = data["ood"]
        lengths = {len(v) for k, v in data.get("refusal", {}).items() if k in REFUSAL_LISTS}
        if len(lengths) > 1:
            raise EvidenceError(f"{file}: evidence.refusal lists of different lengths")
        if set(ood["correct"]) != set(ood["total"]) or not set(ood.get("plain_correct", {})) <= set(
            ood["total"]
        ):
            raise EvidenceError(f"{file}: evidence.ood counts and totals name other conditions")
        data["file"] = file.name
        records.append(data)
    return records


REFUSAL_LISTS = ("grid", "test_sure", "digits_sure", "not_a_digit_refused")
REFUSAL_CHECKS = {
    "test": ("test_sure", "test_total"),
    "digits": ("digits_sure", "digits_total"),
    "not_a_digit": ("not_a_digit_refused", "not_a_digit_total"),
}
"""The refusal checks: the MNIST test digits answered, the suite's digit pictures answered,
and the suite's pictures of no single digit refused, each at the derived confidence."""


def refusal_figures(rec: dict, confidence: float | None) -> dict[str, tuple[int, int]]:
    """``{refusal/NAME: (count, n)}`` at ``confidence`` (one of the record's grid), or
    nothing for a record without that confidence or without a refusal section."""
    section = rec.get("refusal")
    if confidence is None or section is None or confidence not in section["grid"]:
        return {}
    k = section["grid"].index(confidence)
    return {
        f"refusal/{name}": (section[counts][k], section[total])
        for name, (counts, total) in REFUSAL_CHECKS.items()
    }


def figures(rec: dict, confidence: float | None = None) -> dict[str, tuple[float, int | None]]:
    """``{check: (value, n)}``: a count of correct pictures out of n, or a value with
    n None (the test loss, the margin over the pixel regression); with ``confidence``,
    the refusal counts at it too (``refusal_figures``)."""
    test = rec["test"]
    out: dict[str, tuple[float, int | None]] = {"overall": (test["correct"], test["total"])}
    for digit, (c, n) in enumerate(
        zip(test["per_class_correct"], test["per_class_total"], strict=True)
    ):
        out[f"per_class/{digit}"] = (c, n)
    out["test_loss"] = (test["loss"], None)
    margin = (test["correct"] - rec["baseline_correct"]) / test["total"]
    out["pixel_margin"] = (margin, None)
    for direction, agree in rec["shift_agreement"].items():
        out[f"shift/{direction}"] = (agree, test["total"])
    for name, correct in rec["ood"]["correct"].items():
        out[f"ood/{name}"] = (correct, rec["ood"]["total"][name])
    return {**out, **refusal_figures(rec, confidence)}


def counted_conditions(rec: dict, suite: dict, earlier: dict) -> set[str] | None:
    """The out-of-distribution conditions of ``rec`` that count for ``suite``: all of
    them for a record of that suite; for a record of an earlier version listed in
    ``earlier`` (``{version: conditions unchanged since}``), those conditions; None for
    a record of any other suite."""
    described = {k: rec["ood"].get(k) for k in suite}
    if described == suite:
        return set(rec["ood"]["correct"])
    if {**described, "version": suite["version"]} != suite:
        return None
    shared = earlier.get(str(described["version"]))
    return None if shared is None else set(shared) & set(rec["ood"]["correct"])


def table(
    records: list[dict], suite: dict, earlier: dict, confidence: float | None = None
) -> list[dict]:
    """Each record's figures (with the refusal counts at ``confidence``), an earlier
    suite's conditions limited to those that count."""
    table = []
    for rec in records:
        counted = counted_conditions(rec, suite, earlier)
        if counted is None:
            described = {k: rec["ood"].get(k) for k in suite}
            raise EvidenceError(
                f"{rec['file']} scored the out-of-distribution suite {described}, not {suite}"
            )
        found = figures(rec, confidence if counted == set(rec["ood"]["correct"]) else None)
        table.append(
            {k: v for k, v in found.items() if not k.startswith("ood/") or k[4:] in counted}
        )
    return table


def _ranges(seeds: list[int]) -> str:
    """[0, 1, 2, 3, 4, 10] -> '0-4,10'."""
    runs: list[list[int]] = []
    for seed in seeds:
        if runs and seed == runs[-1][-1] + 1:
            runs[-1].append(seed)
        else:
            runs.append([seed])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def class_table(records: list[dict]) -> str:
    """Each arithmetic class's seeds, their test accuracies, mean +- sd and lowest digit."""
    by_class: dict[str, list[dict]] = {}
    for rec in records:
        by_class.setdefault(rec["model"]["arithmetic_class"], []).append(rec)
    lines = [f"{'arithmetic class':<18}{'seeds':<9}{'mean':>8}{'sd':>7}{'min':>8}  lowest digit"]
    every = []
    for name, group in sorted(by_class.items()):
        accuracies = [100 * r["test"]["correct"] / r["test"]["total"] for r in group]
        every += accuracies
        seeds = sorted(r["model"]["seed"] for r in group)
        lowest = min(
            (100 * c / n, d)
            for r in group
            for d, (c, n) in enumerate(
                zip(r["test"]["per_class_correct"], r["test"]["per_class_total"], strict=True)
            )
        )
        spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        shown = _ranges(seeds)
        lines.append(
            f"{name:<18}{shown:<9}{statistics.fmean(accuracies):8.3f}{spread:7.3f}"
            f"{min(accuracies):8.2f}  {lowest[1]}: {lowest[0]:.2f}"
        )
    spread = statistics.stdev(every) if len(every) > 1 else 0.0
    lines.append(
        f"{'all':<18}{len(every):<9}{statistics.fmean(every):8.3f}{spread:7.3f}{min(every):8.2f}"
    )
    return "\n".join(lines)
