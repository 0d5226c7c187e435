"""The folded inference form that evaluate() and predict() run must be the trained model's
function: the same prediction on every one of the 10,000 test images, logits within 1e-4
of the eager model's (issue #5's bar for the optimised path)."""

from __future__ import annotations

import pytest
import torch

from mnist_model.bars import LOGIT_ATOL
from mnist_model.data.load import normalize
from mnist_model.evaluate import predict_logits

pytestmark = pytest.mark.acceptance


def test_inference_form_matches_the_eager_model_on_every_test_image(accepted_model, test_set):
    model, _ = accepted_model
    inputs = normalize(test_set[0])
    model.eval()
    with torch.inference_mode():
        eager = torch.cat([model(inputs[i : i + 1000]) for i in range(0, len(inputs), 1000)])
    fast = predict_logits(model, inputs)
    assert len(fast) == len(test_set[0]) == 10_000
    assert torch.equal(fast.argmax(1), eager.argmax(1))
    torch.testing.assert_close(fast, eager, atol=LOGIT_ATOL, rtol=0)
