"""Digits from outside MNIST (``mnist_model.ood``): the judged model, through predict's
preprocessing, must clear each condition's floor in the thresholds file. Conditions that
should not matter (the paper's colour, a shadow, ruled lines) must not cost accuracy."""

from __future__ import annotations

import pytest

from mnist_model import ood

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="session")
def ood_accuracy(accepted_model, test_set, thresholds) -> dict[str, float]:
    model, _ = accepted_model
    suite = thresholds["ood"]
    return ood.run_suite(model, *test_set, per_class=suite["per_class"], seed=suite["seed"])


def test_every_condition_has_a_floor(thresholds) -> None:
    assert set(thresholds["ood"]["floors"]) == {c.name for c in ood.CONDITIONS}


@pytest.mark.parametrize("condition", [c.name for c in ood.CONDITIONS])
def test_condition_clears_its_floor(ood_accuracy, thresholds, note, condition) -> None:
    accuracy, floor = ood_accuracy[condition], thresholds["ood"]["floors"][condition]
    note(f"ood {condition}: {100 * accuracy:.1f} % (floor {100 * floor:.1f} %)")
    assert accuracy >= floor, f"{condition}: {100 * accuracy:.1f} % < {100 * floor:.1f} %"
