"""The gate's figures: the one-pixel shift, the agreement count and the linear baseline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_model import gate
from mnist_model.gate import SHIFTS, linear_baseline_correct, shift_agreement, shift_with_zero_fill
from mnist_model.model import MnistNet


def test_shift_helper_moves_pixels_and_fills_with_black() -> None:
    image = torch.zeros(1, 28, 28, dtype=torch.uint8)
    image[0, 0, 5] = 255  # top row: shifting up must drop it, not wrap it to the bottom
    image[0, 10, 27] = 200  # right edge
    assert shift_with_zero_fill(image, -1, 1).sum() == 200
    assert shift_with_zero_fill(image, -1, 1)[0, 9, 27] == 200
    assert shift_with_zero_fill(image, 1, 2)[0, 0, 6] == 255
    assert shift_with_zero_fill(image, 1, 2).sum() == 255


def test_shift_agreement_counts_unchanged_predictions(tiny_dataset) -> None:
    images, _ = tiny_dataset
    torch.manual_seed(0)
    agree = shift_agreement(MnistNet().eval(), images)
    assert set(agree) == set(SHIFTS)
    assert all(0 <= count <= len(images) for count in agree.values())
    # blank images look the same shifted: every prediction is kept
    blank = torch.zeros_like(images)
    assert set(shift_agreement(MnistNet().eval(), blank).values()) == {len(images)}


def test_the_linear_baseline_learns_a_separable_toy_problem() -> None:
    # Two classes that differ in one bright pixel: a linear model gets them all right.
    images = torch.zeros(200, 28, 28, dtype=torch.uint8)
    labels = torch.arange(200) % 2
    images[labels == 1, 14, 14] = 255
    assert linear_baseline_correct((images, labels), (images, labels)) == 200


def _paired(plain_only: int, default_only: int, both: int, n: int):
    """Which of n pictures each preprocessing got right, with the given overlaps."""
    plain = np.zeros(n, dtype=bool)
    default = np.zeros(n, dtype=bool)
    plain[:both] = default[:both] = True
    plain[both : both + plain_only] = True
    default[both + plain_only : both + plain_only + default_only] = True
    return default, plain


@settings(max_examples=60, deadline=None)
@given(
    plain_only=st.integers(0, 80),
    default_only=st.integers(0, 80),
    both=st.integers(600, 840),
)
def test_against_plain_fails_exactly_where_the_default_is_surely_worse(
    plain_only, default_only, both
) -> None:
    scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is the test-only oracle")
    n, alpha, tolerance = 1000, 0.01, 0.005
    default, plain = _paired(plain_only, default_only, both, n)
    names = ("a", "b")  # two conditions with the same pictures: alpha is shared by two
    condition = np.r_[np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)]
    verdicts = gate.against_plain(
        np.r_[default, default],
        np.r_[plain, plain],
        condition,
        names,
        tolerance=tolerance,
        alpha=alpha,
    )
    discordant = plain_only + default_only
    # the oracle: scipy's exact (Clopper-Pearson) bound on the share favouring the default
    if discordant:
        ci = scipy_stats.binomtest(default_only, discordant).proportion_ci(1 - alpha)
        high = (2 * ci.high - 1) * discordant / n
    else:
        high = 0.0
    assert verdicts["a"]["high"] == pytest.approx(high, abs=1e-9)
    assert (verdicts["a"]["failed"] is not None) == (high < -tolerance)
    assert verdicts["a"]["difference"] == (default_only - plain_only) / n


def test_against_plain_wants_a_win_where_a_step_exists() -> None:
    default, plain = _paired(3, 3, 900, 1000)
    condition = np.zeros(1000, dtype=np.int64)
    tie = gate.against_plain(
        default, plain, condition, ("shadow",), tolerance=0.005, alpha=0.01, purposes=("shadow",)
    )
    assert "should win" in tie["shadow"]["failed"]
    default, plain = _paired(3, 40, 900, 1000)
    win = gate.against_plain(
        default, plain, condition, ("shadow",), tolerance=0.005, alpha=0.01, purposes=("shadow",)
    )
    assert win["shadow"]["failed"] is None
    default, plain = _paired(60, 5, 900, 1000)
    loss = gate.against_plain(default, plain, condition, ("clean",), tolerance=0.005, alpha=0.01)
    assert "surely below -0.5" in loss["clean"]["failed"]
