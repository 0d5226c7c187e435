"""The verdict engine: every check's figure against its bound, with a reason that names
both; each section of a record is judged when it is there and only then."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_model.gate import thresholds
from mnist_model.gate.verdict import CORE, DIGITS, judge, seeds_check

BARS = thresholds.load()


def _plain_record(pairs: dict) -> dict:
    return {"plain_pairs": {name: {"n": 1000, **pair} for name, pair in pairs.items()}}


def _exact_upper(k: int, n: int, tail: float) -> float:
    """The p at which P(X <= k) = ``tail`` for X ~ Binomial(n, p), by bisection on the sum
    of math.comb terms (1 when k = n)."""
    if k == n:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(200):
        p = (low + high) / 2
        below = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))
        low, high = (p, high) if below > tail else (low, p)
    return (low + high) / 2


@settings(max_examples=60, deadline=None)
@given(plain_only=st.integers(0, 80), default_only=st.integers(0, 80))
def test_against_plain_fails_exactly_where_the_default_is_surely_worse(
    plain_only, default_only
) -> None:
    n, alpha, tolerance = 1000, 0.01, BARS["plain_points_lost"] / 100
    pair = {"plain_only": plain_only, "default_only": default_only}
    # two conditions with the same pictures: alpha is shared by two
    verdict = judge(_plain_record({"a": pair, "b": pair}), BARS)
    discordant = plain_only + default_only
    # the oracle: the exact (Clopper-Pearson) upper bound on the share favouring the
    # default, solved here from the binomial sum itself
    if discordant:
        high = (2 * _exact_upper(default_only, discordant, alpha / 2) - 1) * discordant / n
    else:
        high = 0.0
    check = verdict["plain a"]
    assert check.figure == pytest.approx(high, abs=1e-9)
    assert check.passed == (high >= -tolerance)
    assert f"difference {100 * (default_only - plain_only) / n:+.1f}" in check.note


def test_against_plain_wants_a_win_where_a_step_exists() -> None:
    tie = judge(_plain_record({"shadow": {"plain_only": 3, "default_only": 3}}), BARS)
    assert not tie["plain shadow"].passed
    win = judge(_plain_record({"shadow": {"plain_only": 3, "default_only": 40}}), BARS)
    assert win["plain shadow"].passed
    loss = judge(_plain_record({"clean": {"plain_only": 60, "default_only": 5}}), BARS)
    assert not loss["plain clean"].passed
    assert loss["plain clean"].reason.startswith("plain clean: ")
    assert "needs >= -0.50 points" in loss["plain clean"].reason


def test_another_architecture_gets_the_promise_alone_where_a_step_exists() -> None:
    record = _plain_record({"shadow": {"plain_only": 3, "default_only": 3}})
    record["architecture"] = {"parameters": 5_000, "class": "Net", "mnistnet": False}
    assert judge(record, BARS)["plain shadow"].passed  # a tie: not surely worse
    record["plain_pairs"]["shadow"].update(plain_only=90, default_only=3)
    assert not judge(record, BARS)["plain shadow"].passed


def _test_section(per_class_correct: list[int]) -> dict:
    totals = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    return {
        "correct": sum(per_class_correct),
        "total": sum(totals),
        "loss": 0.015,
        "per_class_correct": per_class_correct,
        "per_class_total": totals,
    }


def test_the_test_set_checks_compare_each_digit_with_its_floor() -> None:
    totals = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    good = [t - 3 for t in totals]
    verdict = judge({"test": _test_section(good)}, BARS)
    assert [c.name for c in verdict.checks] == ["test set size", "overall", *DIGITS, "test loss"]
    assert verdict.passed, verdict.text()
    weak = copy.copy(good)
    weak[6] = int(0.98 * totals[6])  # below every derived digit floor and the promise
    failed = judge({"test": _test_section(weak)}, BARS).failed
    assert [c.name for c in failed] == ["digit 6"]
    assert failed[0].reason.startswith("digit 6: 97.91 %, needs >= ")


def test_a_check_at_its_floor_passes_and_one_image_below_fails() -> None:
    totals = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    floor = BARS["per_class"]["0"]
    at = [t - 3 for t in totals]
    at[0] = -int(-floor * totals[0] // 1)  # the fewest images right that reach the floor
    assert judge({"test": _test_section(at)}, BARS)["digit 0"].passed
    at[0] -= 1
    assert not judge({"test": _test_section(at)}, BARS)["digit 0"].passed


def test_the_architecture_checks_say_when_a_model_is_not_an_mnistnet() -> None:
    found = {
        "parameters": 5_258,
        "class": "Net",
        "mnistnet": False,
        "layers": ["Conv2d", "Linear"],
        "strangers": ["fc"],
    }
    verdict = judge({"architecture": found}, BARS)
    assert verdict["parameters"].passed
    for name in ("family", "inference form"):
        check = verdict[name]
        assert not check.applicable and not check.passed and check.status == "n/a"
        assert check.reason == f"{name}: not applicable: not an MnistNet (Net, module)"
    assert verdict.passed and verdict.failed == []  # neither passed nor failed
    assert "2 not applicable" in verdict.summary() and "n/a   family" in verdict.text()
    assert verdict.to_json()["not_applicable"] == ["family", "inference form"]


def test_an_mnistnet_with_a_stranger_layer_fails_the_family_check() -> None:
    found = {"parameters": 7_000, "class": "MnistNet", "mnistnet": True, "strangers": ["fc"]}
    verdict = judge({"architecture": found}, BARS)
    assert verdict["family"].applicable and not verdict["family"].passed
    assert not verdict.passed


def test_no_promised_budget_leaves_the_parameter_count_unjudged() -> None:
    found = {"parameters": 90_000, "class": "Big", "mnistnet": False}
    verdict = judge({"architecture": found}, {**BARS, "parameter_budget": None})
    assert not verdict["parameters"].applicable and "90,000" in verdict["parameters"].reason
    assert judge({"architecture": found}, BARS)["parameters"].passed is False


def test_only_what_was_measured_is_judged_and_the_core_is_a_subset() -> None:
    assert judge({}, BARS).checks == ()
    assert set(CORE) == {"overall", *DIGITS, "parameters"}


def test_the_verdict_names_whose_evidence_the_floors_come_from() -> None:
    found = BARS["derivation"]["evidence"]
    own = judge({"model": {"recipe": found["recipe"]}}, BARS).floors
    assert f"{found['models']} recorded models of recipe {found['recipe']}" in own
    assert own.endswith("the judged model is of that recipe") and "WARNING" not in own
    for recipe in ("foreign-0123", None):
        other = judge({"model": {"recipe": recipe}}, BARS).floors
        assert f"{found['models']} recorded models" in other
        assert "WARNING: the judged model is of" in other and "derive your own" in other


def test_the_seeds_mean_is_judged_against_its_bar() -> None:
    bar = BARS["multiseed_mean_accuracy"]
    assert seeds_check(bar, BARS).passed
    assert not seeds_check(bar - 1e-4, BARS).passed


def test_the_json_lists_every_check_and_the_failed_ones() -> None:
    totals = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    weak = [t - 3 for t in totals]
    weak[6] = 930
    data = judge({"test": _test_section(weak)}, BARS).to_json()
    assert data["passed"] is False and data["failed"] == ["digit 6"]
    assert {c["name"] for c in data["checks"]} == {"test set size", "overall", *DIGITS, "test loss"}
