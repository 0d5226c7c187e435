"""Load a verified split as tensors (the normalisation is the model's: ``model.normalize``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch

from mnist_model.data.checksums import verify
from mnist_model.data.idx import parse_idx
from mnist_model.data.layout import RAW_FILES, raw_dir
from mnist_model.errors import DataError


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
