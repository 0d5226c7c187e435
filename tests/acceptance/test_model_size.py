"""The judged model is the kind of model the project promises: an all-convolutional
MnistNet with fewer trainable parameters than the budget in the thresholds file. Without
this a big network could pass a gate whose promise is "< 8,000 parameters and >= 99.4 %"."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.acceptance


def test_the_judged_model_is_within_the_parameter_budget(verdict):
    if not verdict["parameters"].applicable:  # floors derived with no budget promised
        pytest.skip(verdict["parameters"].reason)
    assert verdict["parameters"].passed, verdict["parameters"].reason


def test_the_judged_model_is_of_the_promised_family(verdict):
    if not verdict["family"].applicable:  # another architecture: shown, not judged
        pytest.skip(verdict["family"].reason)
    assert verdict["family"].passed, verdict["family"].reason
