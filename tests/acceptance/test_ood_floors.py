"""Digits from outside MNIST (``mnist_model.ood``): the judged model, through predict's
preprocessing, must clear each condition's floor in the thresholds file. Conditions that
should not matter (the paper's colour, a shadow, ruled lines) must not cost accuracy."""

from __future__ import annotations

import pytest

from mnist_model import ood

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="session")
def ood_counts(accepted_model, ood_suite) -> dict[str, tuple[int, int]]:
    model, _ = accepted_model
    return ood.counts(ood_suite, ood.predictions(model, ood_suite))


def test_the_floors_are_for_this_suite(thresholds, ood_suite) -> None:
    suite = thresholds["ood"]
    assert set(suite["floors"]) == set(ood.NAMES) == set(ood_suite.names)
    assert suite["version"] == ood.SUITE_VERSION
    assert set(ood_suite.totals().values()) == {10 * suite["per_class"]}


@pytest.mark.parametrize("condition", ood.NAMES)
def test_condition_clears_its_floor(ood_counts, thresholds, note, condition) -> None:
    correct, total = ood_counts[condition]
    accuracy, floor = correct / total, thresholds["ood"]["floors"][condition]
    note(f"ood {condition}: {100 * accuracy:.1f} % (floor {100 * floor:.1f} %)")
    assert accuracy >= floor, f"{condition}: {100 * accuracy:.1f} % < {100 * floor:.1f} %"
