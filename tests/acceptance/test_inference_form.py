"""The folded inference form that evaluate() and predict() run must be the trained model's
function: the same prediction on every one of the 10,000 test images, logits within
``inference.LOGIT_ATOL`` of the eager model's (issue #5's bar for the optimised path)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.acceptance


def test_inference_form_matches_the_eager_model_on_every_test_image(verdict, gate_record):
    if not verdict["inference form"].applicable:  # not an MnistNet: it has no folded form
        pytest.skip(verdict["inference form"].reason)
    assert gate_record["architecture"]["inference_form"]["images"] == 10_000
    assert verdict["inference form"].passed, verdict["inference form"].reason
