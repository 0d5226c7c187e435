"""The gate's figures: the one-pixel shift, the agreement count, the pixel regression and the
paired counts of the two preprocessings."""

from __future__ import annotations

import numpy as np
import torch

from mnist_model.gate.measure import (
    SHIFTS,
    pixel_regression_correct,
    plain_pairs,
    shift_agreement,
    shift_with_zero_fill,
)
from mnist_model.model import MnistNet


def test_shift_helper_moves_pixels_and_fills_with_black() -> None:
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    image[0, 0, 5] = 255  # top row: shifting up must drop it, not wrap it to the bottom
    image[0, 10, 27] = 200  # right edge
    assert shift_with_zero_fill(image, -1, 1).sum() == 200
    assert shift_with_zero_fill(image, -1, 1)[0, 9, 27] == 200
    assert shift_with_zero_fill(image, 1, 2)[0, 0, 6] == 255
    assert shift_with_zero_fill(image, 1, 2).sum() == 255


def _shift_logits(model, images) -> dict:
    from mnist_model.evaluate import predict_logits
    from mnist_model.model import normalize

    sets = {"test": images}
    sets.update(
        {f"shift_{d}": shift_with_zero_fill(images, s, dim) for d, (s, dim) in SHIFTS.items()}
    )
    return {name: predict_logits(model, normalize(x)) for name, x in sets.items()}


def test_shift_agreement_counts_unchanged_predictions(tiny_dataset) -> None:
    images, _ = tiny_dataset
    torch.manual_seed(0)
    agree = shift_agreement(_shift_logits(MnistNet().eval(), images))
    assert set(agree) == set(SHIFTS)
    assert all(0 <= count <= len(images) for count in agree.values())
    # blank images look the same shifted: every prediction is kept
    blank = torch.zeros_like(images)
    assert set(shift_agreement(_shift_logits(MnistNet().eval(), blank)).values()) == {len(images)}


def test_the_pixel_regression_learns_a_separable_toy_problem() -> None:
    # Two classes that differ in one bright pixel: a linear model gets them all right.
    images = torch.zeros(200, 28, 28, dtype=torch.uint8)
    labels = torch.arange(200) % 2
    images[labels == 1, 14, 14] = 255
    assert pixel_regression_correct((images, labels), (images, labels)) == 200


def _paired(plain_only: int, default_only: int, both: int, n: int):
    """Which of n pictures each preprocessing got right, with the given overlaps."""
    plain = np.zeros(n, dtype=bool)
    default = np.zeros(n, dtype=bool)
    plain[:both] = default[:both] = True
    plain[both : both + plain_only] = True
    default[both + plain_only : both + plain_only + default_only] = True
    return default, plain


def test_plain_pairs_counts_the_pictures_only_one_preprocessing_got_right() -> None:
    default, plain = _paired(plain_only=7, default_only=3, both=900, n=1000)
    condition = np.r_[np.zeros(500, dtype=np.int64), np.ones(500, dtype=np.int64)]
    pairs = plain_pairs(default, plain, condition, ("a", "b"))
    assert pairs == {
        "a": {"n": 500, "plain_only": 0, "default_only": 0},
        "b": {"n": 500, "plain_only": 7, "default_only": 3},
    }
