"""The package's exceptions: every expected failure is a MnistModelError, which the
command line turns into one line and exit 2 (tests/integration/test_cli.py holds the
command line to that)."""

from __future__ import annotations

import pytest

from mnist_model import errors
from mnist_model.calibration import CalibrationError
from mnist_model.compare import BaselineError
from mnist_model.lock import FolderBusy
from mnist_model.preprocess import ImageError
from mnist_model.thresholds import ThresholdsError


@pytest.mark.parametrize(
    "kind",
    [
        errors.DataError,
        errors.CheckpointError,
        errors.TrainingError,
        CalibrationError,
        BaselineError,
        FolderBusy,
        ImageError,
        ThresholdsError,
    ],
)
def test_every_expected_failure_is_a_mnist_model_error(kind) -> None:
    assert issubclass(kind, errors.MnistModelError)
    assert not issubclass(kind, (ValueError, OSError))  # never mistaken for a bug's error
