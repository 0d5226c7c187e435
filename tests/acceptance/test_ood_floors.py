"""Digits from outside MNIST (``mnist_model.gate.ood``): the judged model, through
predict's preprocessing, must clear each condition's floor in the thresholds file.
Conditions that should not matter (the paper's colour, a shadow, ruled lines) must not
cost accuracy."""

from __future__ import annotations

import pytest

from mnist_model.gate import ood

pytestmark = pytest.mark.acceptance


def test_the_floors_are_for_this_suite(verdict, thresholds) -> None:
    assert set(thresholds["ood"]["floors"]) == set(ood.NAMES)
    assert verdict["ood suite"].passed, verdict["ood suite"].reason


@pytest.mark.parametrize("condition", ood.NAMES)
def test_condition_clears_its_floor(verdict, condition) -> None:
    check = verdict[f"ood {condition}"]
    assert check.passed, check.reason
