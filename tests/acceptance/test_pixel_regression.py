"""The CNN must beat a multinomial logistic regression on the same pixels by a wide margin:
a model that merely matches a linear classifier has learned nothing spatial."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.acceptance


def test_the_pixel_regression_is_a_fair_opponent(verdict) -> None:
    # A broken opponent would make any margin meaningless.
    assert verdict["pixel regression"].passed, verdict["pixel regression"].reason


def test_model_beats_the_pixel_regression_by_the_margin(verdict) -> None:
    assert verdict["pixel margin"].passed, verdict["pixel margin"].reason
