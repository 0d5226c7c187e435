"""One-pixel shifts must not change what the model sees: a digit moved by a pixel is the
same digit, and MNIST's centring is not exact, so this is robustness that matters."""

from __future__ import annotations

import pytest

from mnist_model.gate.measure import SHIFTS

pytestmark = pytest.mark.acceptance


@pytest.mark.parametrize("direction", SHIFTS)
def test_one_pixel_shift_keeps_predictions(verdict, direction) -> None:
    assert verdict[f"shift {direction}"].passed, verdict[f"shift {direction}"].reason
