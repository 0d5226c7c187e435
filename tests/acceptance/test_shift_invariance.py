"""One-pixel shifts must not change what the model sees: a digit moved by a pixel is the
same digit, and MNIST's centring is not exact, so this is robustness that matters."""

from __future__ import annotations

import pytest
import torch

from mnist_model.data import normalize
from mnist_model.evaluate import predict_logits

pytestmark = pytest.mark.acceptance

SHIFTS = {"up": (-1, 1), "down": (1, 1), "left": (-1, 2), "right": (1, 2)}
"""direction -> (shift, dim) for images of shape (N, H, W)."""


def shift_with_zero_fill(images: torch.Tensor, shift: int, dim: int) -> torch.Tensor:
    """torch.roll, then blank the row/column that wrapped around (black, uint8 0)."""
    out = torch.roll(images, shifts=shift, dims=dim)
    edge = 0 if shift > 0 else -1
    out.select(dim, edge).zero_()
    return out


def test_shift_helper_moves_pixels_and_fills_with_black() -> None:
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    image[0, 0, 5] = 255  # top row: shifting up must drop it, not wrap it to the bottom
    image[0, 10, 27] = 200  # right edge
    assert shift_with_zero_fill(image, -1, 1).sum() == 200
    assert shift_with_zero_fill(image, -1, 1)[0, 9, 27] == 200
    assert shift_with_zero_fill(image, 1, 2)[0, 0, 6] == 255
    assert shift_with_zero_fill(image, 1, 2).sum() == 255


@pytest.fixture(scope="module")
def base_predictions(accepted_model, test_set):
    model, _ = accepted_model
    return predict_logits(model, normalize(test_set[0])).argmax(1)


@pytest.mark.parametrize("direction", SHIFTS)
def test_one_pixel_shift_keeps_predictions(
    accepted_model, test_set, base_predictions, thresholds, direction, note
) -> None:
    model, _ = accepted_model
    shift, dim = SHIFTS[direction]
    shifted = shift_with_zero_fill(test_set[0], shift, dim)
    predictions = predict_logits(model, normalize(shifted)).argmax(1)
    agreement = (predictions == base_predictions).double().mean().item()
    note(f"1-pixel shift {direction:<5}: {100 * agreement:.2f}% of predictions unchanged")
    assert agreement >= thresholds["shift_agreement"], f"{direction}: {agreement:.4f}"
