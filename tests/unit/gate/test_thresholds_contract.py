"""The promise, pinned outside the file that carries it.

``mnist_model/gate/thresholds.json`` is what the acceptance suite and the report read. A
commit that lowered a number there would turn every gate green; these floors are the
project's promise (README), so such a commit fails here instead. Raising a threshold in
the file stays a one-file change."""

from __future__ import annotations

from mnist_model.gate.thresholds import load as acceptance_thresholds

PROMISE = {
    "test_set_size": 10_000,  # the full MNIST test set, exactly
    "overall_accuracy": 0.994,  # at least
    "per_class": 0.985,  # at least, every digit
    "parameter_budget": 8_000,  # fewer than this, at most
    "multiseed_mean_accuracy": 0.9945,  # at least
    "min_pixel_regression_accuracy": 0.88,  # at least: the pixel regression is a fair opponent
    "png_points_lost": 0.1,  # at most: the test set as PNG files through predict
    "plain_points_lost": 0.5,  # at most: predict's preprocessing below plain, a condition
}


def test_the_whole_test_set_is_judged() -> None:
    assert acceptance_thresholds()["test_set_size"] == PROMISE["test_set_size"]


def test_the_overall_bar_is_not_below_the_promise() -> None:
    assert acceptance_thresholds()["overall_accuracy"] >= PROMISE["overall_accuracy"]


def test_every_digit_has_a_bar_not_below_the_promise() -> None:
    per_class = acceptance_thresholds()["per_class"]
    assert sorted(per_class) == [str(digit) for digit in range(10)]
    low = {digit: bar for digit, bar in per_class.items() if not bar >= PROMISE["per_class"]}
    assert not low, f"per-class bars below {PROMISE['per_class']}: {low}"


def test_the_parameter_budget_is_not_above_the_promise() -> None:
    assert acceptance_thresholds()["parameter_budget"] <= PROMISE["parameter_budget"]


def test_the_multiseed_mean_bar_is_not_below_the_promise() -> None:
    bar = acceptance_thresholds()["multiseed_mean_accuracy"]
    assert bar >= PROMISE["multiseed_mean_accuracy"]


def test_the_baseline_and_file_path_bars_keep_their_promise() -> None:
    data = acceptance_thresholds()
    assert data["min_pixel_regression_accuracy"] >= PROMISE["min_pixel_regression_accuracy"]
    assert data["png_points_lost"] <= PROMISE["png_points_lost"]
    assert data["plain_points_lost"] <= PROMISE["plain_points_lost"]


def test_every_out_of_distribution_condition_is_gated() -> None:
    # A condition cannot drop out of the gate by losing its floor, and the suite the gate
    # generates is not smaller than the one the floors were derived on.
    from mnist_model.gate.ood import CONDITIONS, PER_CLASS

    ood = acceptance_thresholds()["ood"]
    assert set(ood["floors"]) == {c.name for c in CONDITIONS}
    assert ood["per_class"] >= PER_CLASS


def test_the_project_derives_a_refusal() -> None:
    from mnist_model.gate import thresholds

    refusal = thresholds.load()["refusal"]
    assert refusal["min_confidence"] is not None and refusal["max_false_refusal"] == 0.01
    assert set(refusal["floors"]) == {"test", "digits", "not_a_digit"}
