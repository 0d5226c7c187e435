""" "No single digit" instead of a confident wrong answer (``predict``'s refusal): at the
confidence the thresholds derive, the judged model must answer the MNIST test digits and
the suite's digit pictures, and refuse the suite's pictures of no single digit (letters,
numbers, shapes, empty pages, a screenshot's UI alone), each at least as often as its
floor says."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.acceptance


def test_the_thresholds_derive_a_refusal(thresholds) -> None:
    refusal = thresholds["refusal"]
    assert refusal["min_confidence"] is not None
    assert set(refusal["floors"]) == {"test", "digits", "not_a_digit"}


@pytest.mark.parametrize("check", ["test", "digits", "not_a_digit"])
def test_what_predict_answers_and_refuses(verdict, check) -> None:
    found = verdict[f"refusal {check}"]
    assert found.passed, found.reason
