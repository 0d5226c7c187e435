"""The package's exceptions: every expected failure is a MnistModelError, which the
command line turns into one line and exit 2 (tests/integration/test_cli.py holds the
command line to that)."""

from __future__ import annotations

import pytest

from mnist_model import errors
from mnist_model.gate.evidence import EvidenceError
from mnist_model.gate.paired import BaselineError
from mnist_model.gate.thresholds import ThresholdsError
from mnist_model.predict.preprocess import ImageError
from mnist_model.run.lock import FolderBusy


@pytest.mark.parametrize(
    "kind",
    [
        errors.DataError,
        errors.CheckpointError,
        errors.TrainingError,
        EvidenceError,
        BaselineError,
        FolderBusy,
        ImageError,
        ThresholdsError,
    ],
)
def test_every_expected_failure_is_a_mnist_model_error(kind) -> None:
    assert issubclass(kind, errors.MnistModelError)
    assert not issubclass(kind, (ValueError, OSError))  # never mistaken for a bug's error
