"""The quality bar: one versioned file, ``thresholds.json``, shipped with the package.

The acceptance suite enforces it; the report, the plots, the bench's time-to-accuracy and
the multi-seed gate read their bars from it too. Its floors are derived from recorded
evidence by ``mnist-model thresholds derive`` (``mnist_model.gate.floors``), never edited
by hand.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from mnist_model.errors import MnistModelError
from mnist_model.formats.kinds import it_is, refusal
from mnist_model.schema import (
    Either,
    Int,
    ListOf,
    MapOf,
    Nothing,
    Num,
    Plain,
    Record,
    SchemaError,
    Str,
)

PATH = Path(str(resources.files("mnist_model.gate").joinpath("thresholds.json")))
SCHEMA = 7
"""3: ``ood``, the out-of-distribution suite's floor per condition; 4: every floor derived
from evidence (``derivation``), ``png_points_lost``, the suite's ``version``, and the
champion/challenger gate's numbers (``compare``); 5: ``plain_points_lost`` and
``ood.earlier`` (the conditions an earlier suite version's evidence counts for); 6: the
margin over the pixel regression is ``pixel_margin``, and the regression's own floor
``min_pixel_regression_accuracy`` ("baseline" means only the accepted model); 7:
``refusal``, the confidence below which ``predict`` answers "no single digit" and the
floors of what it answers and refuses (optional: evidence without refusal counts derives
none)."""
REQUIRED_KEYS = frozenset(
    {
        "schema",
        "test_set_size",
        "parameter_budget",
        "multiseed_mean_accuracy",
        "overall_accuracy",
        "per_class",
        "max_test_loss",
        "pixel_margin",
        "min_pixel_regression_accuracy",
        "shift_agreement",
        "png_points_lost",
        "plain_points_lost",
        "ood",
        "derivation",
        "compare",
    }
)


class ThresholdsError(MnistModelError):
    """The thresholds file is missing or malformed: no bar can be judged against."""


FRACTION = Num(0, 1)
SPEC = Record(
    {
        "schema": Int(),
        "description": Str(10_000),
        "test_set_size": Int(1, 10**8),
        "parameter_budget": Either((Nothing(), Int(1))),
        "multiseed_mean_accuracy": Either((Nothing(), FRACTION)),
        "overall_accuracy": FRACTION,
        "per_class": MapOf(FRACTION, 10),
        "max_test_loss": Num(0),
        "pixel_margin": Num(-1, 1),
        "min_pixel_regression_accuracy": FRACTION,
        "shift_agreement": FRACTION,
        "png_points_lost": Num(0, 100),
        "plain_points_lost": Num(0, 100),
        "ood": Record(
            {
                "floors": MapOf(FRACTION, 1000),
                "per_class": Int(1, 10**6),
                "seed": Int(0),
                "version": Int(0, 10**6),
                "earlier": MapOf(ListOf(Str(200), 1000), 100),
            },
            required=frozenset({"floors", "per_class", "seed", "version"}),
        ),
        "compare": Record(
            {
                "alpha": FRACTION,
                "alpha_breakdown": FRACTION,
                "max_net_loss": MapOf(Num(0), 1000),
                "rule": Str(10_000),
            },
            required=frozenset({"alpha", "alpha_breakdown", "max_net_loss"}),
        ),
        "refusal": Record(
            {
                "min_confidence": Either((Nothing(), FRACTION)),
                "max_false_refusal": FRACTION,
                "floors": MapOf(FRACTION, 10),
                "rule": Str(10_000),
            },
            required=frozenset({"min_confidence", "floors"}),
        ),
        "derivation": Plain(8),
    },
    required=REQUIRED_KEYS,
)
"""The thresholds file's declared structure (``schema.Record``), checked on load."""


def load(path: Path | None = None) -> dict:
    """The thresholds file (``PATH`` by default), checked for its schema and keys."""
    path = PATH if path is None else Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:
        reason = f"unreadable: {type(exc).__name__}"
        raise ThresholdsError(refusal(path, "a thresholds file", reason)) from None
    if not isinstance(data, dict):
        raise ThresholdsError(refusal(path, "a thresholds file"))
    if data.get("schema") != SCHEMA:
        schema, found = data.get("schema"), it_is(path)
        raise ThresholdsError(f"{path}: schema {schema!r}, this version reads {SCHEMA}{found}")
    try:
        SPEC.check(data, "thresholds")
    except SchemaError as exc:
        raise ThresholdsError(f"{path}: {exc}") from None
    classes = set(data["per_class"])
    if classes != {str(c) for c in range(10)}:
        raise ThresholdsError(f"{path}: per_class has {sorted(classes)} instead of 0..9")
    return data


def ood_floors(data: dict | None = None) -> dict[str, float]:
    """The out-of-distribution suite's floor per condition (``mnist_model.gate.ood``)."""
    data = load() if data is None else data
    return {name: float(floor) for name, floor in data["ood"]["floors"].items()}


def per_class(data: dict | None = None) -> list[float]:
    """The ten per-digit bars, in digit order."""
    data = load() if data is None else data
    return [float(data["per_class"][str(c)]) for c in range(10)]


def overall_accuracy(data: dict | None = None) -> float:
    return float((load() if data is None else data)["overall_accuracy"])


def floors_text(data: dict) -> str:
    """The floors of a thresholds file, one line each, with what bound them."""
    detail = data["derivation"]["checks_detail"]
    lines = [
        f"{'check':<24}{'mean':>9}{'sd':>8}{'floor':>9}  bound by",
    ]
    for name, check in detail.items():
        floor = check.get("floor", check.get("bound"))
        binding = check.get("binding", "evidence")
        shown = max(floor, check.get("promise", floor))
        scale = 1 if name == "test_loss" else 100
        lines.append(
            f"{name:<24}{scale * check['mean']:9.3f}{scale * check['sd']:8.3f}"
            f"{scale * shown:9.3f}  {binding}"
        )
    derivation = data["derivation"]
    lines.append(
        f"{derivation['checks']} checks, family-wise false-alarm rate "
        f"{derivation['family_false_alarm']} ({derivation['per_check_false_alarm']:.2e} each); "
        f"{derivation['evidence']['models']} evidence models"
    )
    return "\n".join(lines)
