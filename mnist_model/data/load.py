"""Load a verified split as tensors, and the normalisation every model input goes through."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from mnist_model.data.checksums import verify
from mnist_model.data.idx import parse_idx
from mnist_model.data.layout import RAW_FILES, raw_dir
from mnist_model.errors import DataError

MNIST_MEAN = 0.1307
"""Mean of the training pixels scaled to [0, 1] (the customary MNIST constant)."""
MNIST_STD = 0.3081
"""Standard deviation of the training pixels scaled to [0, 1]."""


def load_split(
    root: str | os.PathLike[str],
    train: bool,
    *,
    expected: Mapping[str, str] | None = None,
    verified: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(images uint8 (N, 28, 28), labels int64 (N,))`` for the train or test split.

    The split's two files are MD5-verified first, so training never runs on damaged data,
    then read by our IDX reader, which checks every header field and the exact length.
    ``verified=True`` skips the MD5 check for a caller that has just run it (``acquire`` or
    ``verify`` on the same root); the IDX structure is still checked.
    Only the raw files are read (a legacy torchvision ``MNIST/processed`` cache is not).
    ``torchvision.datasets.MNIST(root, download=False)`` reads the same folder to the same
    tensors (tests/unit/test_data_load.py keeps that true); it is not used here because
    importing torchvision costs about a second of every command.
    """
    prefix = "train" if train else "t10k"
    image_name, label_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    table = RAW_FILES if expected is None else expected
    if not verified:
        verify(root, {name: table[name] for name in (image_name, label_name) if name in table})
    folder = raw_dir(root)
    images = parse_idx(folder / image_name, item_shape=(28, 28))
    labels = parse_idx(folder / label_name, ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8 or len(images) != len(labels):
        raise DataError(
            f"{folder}: {prefix} images {images.shape} {images.dtype} and labels "
            f"{labels.shape} {labels.dtype} are not one uint8 split"
        )
    if len(labels) and int(labels.max()) > 9:
        raise DataError(f"{folder / label_name}: label {int(labels.max())} is not a digit")
    # copy: the parsed arrays view immutable bytes, which torch.from_numpy would warn about
    return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` or ``(N, 1, 28, 28)`` -> float32 ``(N, 1, 28, 28)``.

    Computes ``(x / 255 - MNIST_MEAN) / MNIST_STD``. Non-uint8 input is refused because a
    float tensor here almost always means it was already normalised once.
    """
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        kind = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"normalize expects a uint8 tensor, got {kind}")
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(
            f"normalize expects (N, 28, 28) or (N, 1, 28, 28), got {tuple(images.shape)}"
        )
    return (images.to(torch.float32) / 255.0 - MNIST_MEAN) / MNIST_STD
