"""The CNN must beat a multinomial logistic regression on the same pixels by a wide margin:
a model that merely matches a linear classifier has learned nothing spatial."""

from __future__ import annotations

import pytest

from mnist_model.gate import linear_baseline_correct

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="module")
def baseline_accuracy(mnist_splits) -> float:
    test = mnist_splits["test"]
    return linear_baseline_correct(mnist_splits["train"], test) / len(test[1])


def test_baseline_is_a_fair_opponent(baseline_accuracy, thresholds) -> None:
    # A broken baseline would make any margin meaningless.
    assert baseline_accuracy >= thresholds["min_baseline_accuracy"]


def test_model_beats_the_linear_baseline_by_the_margin(
    test_result, baseline_accuracy, thresholds, note
) -> None:
    margin = test_result.accuracy - baseline_accuracy
    note(
        f"logistic-regression baseline: {100 * baseline_accuracy:.2f}% "
        f"(margin {100 * margin:.2f} points, need {100 * thresholds['baseline_margin']:.2f})"
    )
    assert margin >= thresholds["baseline_margin"], (
        f"model {100 * test_result.accuracy:.2f}% vs logistic regression "
        f"{100 * baseline_accuracy:.2f}%"
    )
