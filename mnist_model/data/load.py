"""Load a verified split as tensors, and the normalisation every model input goes through."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from mnist_model.data.checksums import verify
from mnist_model.data.idx import read_idx_header
from mnist_model.data.layout import raw_dir
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
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(images uint8 (N, 28, 28), labels int64 (N,))`` for the train or test split.

    Files are MD5-verified first so training never runs on damaged data. torchvision does
    the reading (one reader for the whole project). torchvision prefers a legacy
    ``MNIST/processed/*.pt`` cache over the raw files, so such a cache is refused, and the
    returned shapes are checked against the IDX headers.
    """
    verify(root, expected)
    processed = raw_dir(root).parent / "processed"
    if all((processed / name).is_file() for name in ("training.pt", "test.pt")):
        raise DataError(
            f"{processed} holds a legacy torchvision cache that torchvision would read instead "
            f"of the verified IDX files; delete that folder"
        )
    from torchvision.datasets import MNIST  # heavy import, only when loading

    dataset = MNIST(os.fspath(root), train=train, download=False)
    images, labels = dataset.data, dataset.targets
    prefix = "train" if train else "t10k"
    count = read_idx_header(raw_dir(root) / f"{prefix}-labels-idx1-ubyte").shape[0]
    if (
        images.dtype != torch.uint8
        or tuple(images.shape) != (count, 28, 28)
        or labels.dtype != torch.int64
        or tuple(labels.shape) != (count,)
    ):
        raise DataError(
            f"torchvision returned {tuple(images.shape)} {images.dtype} images / "
            f"{tuple(labels.shape)} {labels.dtype} labels for {raw_dir(root)}, expected {count} "
            f"examples"
        )
    return images, labels


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
