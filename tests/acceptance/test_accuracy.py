"""The quality bar on all 10,000 MNIST test images: overall, per class, and the loss."""

from __future__ import annotations

import pytest

from mnist_model.gate.verdict import DIGITS

pytestmark = pytest.mark.acceptance


def test_the_whole_test_set_is_judged(verdict) -> None:
    assert verdict["test set size"].passed, verdict["test set size"].reason
    assert verdict["test set size"].figure == 10_000


def test_overall_accuracy(verdict) -> None:
    assert verdict["overall"].passed, verdict["overall"].reason


@pytest.mark.parametrize("digit", DIGITS)
def test_per_class_accuracy(verdict, gate_record, digit) -> None:
    check = verdict[digit]
    assert gate_record["test"]["per_class_total"][int(digit[-1])] > 0
    assert check.passed, check.reason


def test_test_loss_is_below_the_bound(verdict) -> None:
    assert verdict["test loss"].passed, verdict["test loss"].reason


def test_per_class_table_is_complete(per_class_table, test_result) -> None:
    # Builds the table the terminal summary prints, and checks it covers every class.
    rows = per_class_table.splitlines()[3:]
    assert [int(row.split()[0]) for row in rows] == list(range(10))
    assert sum(int(row.split()[2]) for row in rows) == test_result["total"]
