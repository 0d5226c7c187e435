"""One-pixel shifts must not change what the model sees: a digit moved by a pixel is the
same digit, and MNIST's centring is not exact, so this is robustness that matters."""

from __future__ import annotations

import pytest

from mnist_model.gate import SHIFTS, shift_agreement

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="module")
def agreement(accepted_model, test_set) -> dict[str, int]:
    model, _ = accepted_model
    return shift_agreement(model, test_set[0])


@pytest.mark.parametrize("direction", SHIFTS)
def test_one_pixel_shift_keeps_predictions(
    agreement, test_set, thresholds, direction, note
) -> None:
    fraction = agreement[direction] / len(test_set[0])
    note(f"1-pixel shift {direction:<5}: {100 * fraction:.2f}% of predictions unchanged")
    assert fraction >= thresholds["shift_agreement"], f"{direction}: {fraction:.4f}"
