"""``mnist-model predict`` on files: the 10,000 test digits written as PNG and read back
through the same code path as the command (``predict_files``: Pillow decoding, then
predict's MNIST-style preprocessing) must score within ``png_points_lost`` of the
in-memory accuracy, with predict's preprocessing and with the plain one. Preprocessing
that mangled a clean MNIST digit would show here first."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.acceptance


@pytest.mark.parametrize("preprocessing", ["default", "plain"])
def test_test_set_as_png_files_scores_like_in_memory(verdict, preprocessing) -> None:
    check = verdict[f"png {preprocessing}"]
    assert check.passed, check.reason
