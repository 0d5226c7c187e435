"""load_split verifies first, then returns torchvision's tensors with the documented types."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_model.data import load_split, raw_dir
from mnist_model.data.synthetic import fake_arrays, fake_raw_bytes, write_raw
from mnist_model.errors import DataError


@pytest.mark.parametrize(("train", "n", "seed"), [(True, 9, 4), (False, 6, 5)])
def test_load_split_types_shapes_and_values(tmp_path, train: bool, n: int, seed: int) -> None:
    table = write_raw(tmp_path, fake_raw_bytes(n_train=9, n_test=6, seed=4))
    images, labels = load_split(tmp_path, train, expected=table)
    assert images.dtype == torch.uint8 and images.shape == (n, 28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (n,)
    want_images, want_labels = fake_arrays(n, seed)
    np.testing.assert_array_equal(images.numpy(), want_images)
    np.testing.assert_array_equal(labels.numpy(), want_labels)


def test_load_split_refuses_unverified_files(tmp_path) -> None:
    table = write_raw(tmp_path, fake_raw_bytes())
    path = raw_dir(tmp_path) / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1] + b"\x09")
    with pytest.raises(DataError, match="corrupt"):
        load_split(tmp_path, train=True, expected=table)


def test_load_split_without_data_does_not_download(tmp_path) -> None:
    with pytest.raises(DataError, match="missing"):
        load_split(tmp_path, train=False)
    assert not (tmp_path / "MNIST").exists()


def test_stale_processed_cache_is_detected(tmp_path) -> None:
    # torchvision prefers MNIST/processed/*.pt over the raw files; a stale one must not win.
    table = write_raw(tmp_path, fake_raw_bytes(n_train=4, n_test=3))
    processed = tmp_path / "MNIST" / "processed"
    processed.mkdir()
    # Same shapes as the real files, so only the cache check (not the shape check) catches it.
    stale = (torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64))
    for name in ("training.pt", "test.pt"):
        torch.save(stale, processed / name)
    with pytest.raises(DataError, match="legacy torchvision cache"):
        load_split(tmp_path, train=True, expected=table)
