""" "No single digit" instead of a confident wrong answer (``predict``'s refusal): at the
confidence the thresholds derive, the judged model must answer the MNIST test digits and
the suite's digit pictures, and refuse the suite's pictures of no single digit (letters,
numbers, shapes, empty pages, a screenshot's UI alone), each at least as often as its
floor says."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.acceptance


@pytest.mark.parametrize("check", ["test", "digits", "not_a_digit"])
def test_what_predict_answers_and_refuses(verdict, check) -> None:
    found = verdict[f"refusal {check}"]
    if not found.applicable:  # a user's thresholds whose evidence derives no refusal
        pytest.skip(found.reason)
    assert found.passed, found.reason
