"""load_split verifies first, then returns the documented tensors; torchvision's own reader
sees exactly the same data in our folder."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.synthetic import fake_arrays, fake_raw_bytes, write_raw
from mnist_model.data import load_split, raw_dir
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
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte is corrupt"):
        load_split(tmp_path, train=False, expected=table)


def test_load_split_without_data_does_not_download(tmp_path) -> None:
    with pytest.raises(DataError, match="missing"):
        load_split(tmp_path, train=False)
    assert not (tmp_path / "MNIST").exists()


def _legacy_cache(root) -> None:
    # torchvision prefers MNIST/processed/*.pt over the raw files; ours never reads them.
    processed = root / "MNIST" / "processed"
    processed.mkdir()
    stale = (torch.zeros(4, 28, 28, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64))
    for name in ("training.pt", "test.pt"):
        torch.save(stale, processed / name)


def test_a_legacy_processed_cache_is_not_read(tmp_path) -> None:
    table = write_raw(tmp_path, fake_raw_bytes(n_train=4, n_test=3, seed=4))
    _legacy_cache(tmp_path)
    images, _ = load_split(tmp_path, train=True, expected=table)
    np.testing.assert_array_equal(images.numpy(), fake_arrays(4, 4)[0])


@pytest.mark.parametrize("train", [True, False], ids=["train", "test"])
def test_torchvision_reads_our_folder_to_the_same_tensors(tmp_path, train: bool) -> None:
    """Interoperability: ``torchvision.datasets.MNIST(root, download=False)`` must keep
    reading the folder we write, and see what load_split sees."""
    from torchvision.datasets import MNIST

    table = write_raw(tmp_path, fake_raw_bytes(n_train=9, n_test=6, seed=4))
    ours = load_split(tmp_path, train, expected=table)
    theirs = MNIST(str(tmp_path), train=train, download=False)
    assert torch.equal(theirs.data, ours[0]) and theirs.data.dtype == ours[0].dtype
    assert torch.equal(theirs.targets, ours[1]) and theirs.targets.dtype == ours[1].dtype


def test_labels_outside_0_to_9_are_refused(tmp_path) -> None:
    from mnist_model.data import encode_idx

    files = fake_raw_bytes(n_train=4, n_test=3)
    files["t10k-labels-idx1-ubyte"] = encode_idx(np.array([1, 2, 10], dtype=np.uint8))
    table = write_raw(tmp_path, files)
    with pytest.raises(DataError, match="label 10 is not a digit"):
        load_split(tmp_path, train=False, expected=table)


def test_a_split_whose_files_disagree_in_length_is_refused(tmp_path) -> None:
    from mnist_model.data import encode_idx

    files = fake_raw_bytes(n_train=4, n_test=3)
    files["t10k-labels-idx1-ubyte"] = encode_idx(np.array([1, 2], dtype=np.uint8))
    table = write_raw(tmp_path, files)
    with pytest.raises(DataError, match="not one uint8 split"):
        load_split(tmp_path, train=False, expected=table)
