"""The quality bar: one versioned file, ``thresholds.json``, shipped with the package.

The acceptance suite enforces it; the report, the plots, the bench's time-to-accuracy and
the multi-seed gate read their bars from it too, so changing a bar is a one-file change.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from mnist_model.errors import MnistModelError

PATH = Path(str(resources.files("mnist_model").joinpath("thresholds.json")))
SCHEMA = 3
"""3: ``ood``, the out-of-distribution suite's floor per condition."""
REQUIRED_KEYS = frozenset(
    {
        "schema",
        "test_set_size",
        "parameter_budget",
        "multiseed_mean_accuracy",
        "overall_accuracy",
        "per_class",
        "max_test_loss",
        "baseline_margin",
        "min_baseline_accuracy",
        "shift_agreement",
        "ood",
    }
)


class ThresholdsError(MnistModelError):
    """The thresholds file is missing or malformed: no bar can be judged against."""


def load(path: Path | None = None) -> dict:
    """The thresholds file (``PATH`` by default), checked for its schema and keys."""
    path = PATH if path is None else Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ThresholdsError(f"thresholds file {path} is unreadable ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        schema = data.get("schema") if isinstance(data, dict) else None
        raise ThresholdsError(f"{path}: schema {schema!r}, this version reads {SCHEMA}")
    missing = REQUIRED_KEYS - set(data)
    classes = set(data.get("per_class", {}))
    if missing or classes != {str(c) for c in range(10)}:
        raise ThresholdsError(
            f"{path}: missing keys {sorted(missing)} or per_class has {sorted(classes)} "
            "instead of 0..9"
        )
    floors = data["ood"].get("floors") if isinstance(data["ood"], dict) else None
    if not isinstance(floors, dict) or not all(
        isinstance(v, int | float) and 0 <= v <= 1 for v in floors.values()
    ):
        raise ThresholdsError(f"{path}: ood.floors must map condition names to accuracies")
    return data


def ood_floors(data: dict | None = None) -> dict[str, float]:
    """The out-of-distribution suite's floor per condition (``mnist_model.ood``)."""
    data = load() if data is None else data
    return {name: float(floor) for name, floor in data["ood"]["floors"].items()}


def per_class(data: dict | None = None) -> list[float]:
    """The ten per-digit bars, in digit order."""
    data = load() if data is None else data
    return [float(data["per_class"][str(c)]) for c in range(10)]


def overall_accuracy(data: dict | None = None) -> float:
    return float((load() if data is None else data)["overall_accuracy"])
