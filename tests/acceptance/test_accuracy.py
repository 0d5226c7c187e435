"""The quality bar on all 10,000 MNIST test images: overall, per class, and the loss."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.acceptance


def test_the_whole_test_set_is_judged(test_result, thresholds) -> None:
    assert test_result.total == thresholds["test_set_size"] == 10_000


def test_overall_accuracy(test_result, thresholds) -> None:
    assert test_result.accuracy >= thresholds["overall_accuracy"], (
        f"{test_result.correct}/{test_result.total}"
    )


@pytest.mark.parametrize("cls", range(10))
def test_per_class_accuracy(test_result, thresholds, cls) -> None:
    accuracy = test_result.per_class_accuracy[cls]
    assert test_result.class_counts[cls] > 0
    assert accuracy >= thresholds["per_class"][str(cls)], (
        f"class {cls}: {100 * accuracy:.2f}%, most often taken for "
        f"{test_result.most_confused_with(cls)}"
    )


def test_test_loss_is_below_the_bound(test_result, thresholds) -> None:
    assert test_result.loss <= thresholds["max_test_loss"]


def test_per_class_table_is_complete(per_class_table, test_result) -> None:
    # Builds the table the terminal summary prints, and checks it covers every class.
    rows = per_class_table.splitlines()[3:]
    assert [int(row.split()[0]) for row in rows] == list(range(10))
    assert sum(int(row.split()[2]) for row in rows) == test_result.total
