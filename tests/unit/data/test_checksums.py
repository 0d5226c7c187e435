"""MD5 verification: good files pass, and every kind of damage gives one actionable line."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from helpers.synthetic import fake_raw_bytes, write_raw
from mnist_model.data import RAW_FILES, md5_file, raw_dir, verify, verify_report
from mnist_model.errors import DataError

NAME = "train-images-idx3-ubyte"


def _inside_the_data(name: str, size: int) -> int:
    """An offset past the IDX header (16 bytes for images, 8 for labels), mid-payload."""
    header = 16 if "images" in name else 8
    return header + (size - header) // 2


@pytest.fixture
def data_root(tmp_path):
    """A root with four small valid IDX files, plus their md5 table."""
    return tmp_path, write_raw(tmp_path, fake_raw_bytes(n_train=8, n_test=4))


def test_md5_file_matches_hashlib_across_chunks(tmp_path) -> None:
    path = tmp_path / "blob"
    data = bytes(range(256)) * 9000  # > 1 MiB chunk, not a multiple of it
    path.write_bytes(data)
    assert md5_file(path) == hashlib.md5(data).hexdigest()


def test_raw_files_pins_the_canonical_md5s() -> None:
    assert RAW_FILES == {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    }


def test_good_files_verify(data_root) -> None:
    root, table = data_root
    assert verify(root, table) == table
    assert all(status.ok for status in verify_report(root, table).values())


def test_default_table_is_the_canonical_one(data_root) -> None:
    root, _ = data_root
    with pytest.raises(DataError, match=RAW_FILES[NAME]):
        verify(root)  # fake files can never match the real md5s


@pytest.mark.parametrize("name", sorted(RAW_FILES))
def test_one_flipped_byte_is_reported(data_root, name) -> None:
    root, table = data_root
    path = raw_dir(root) / name
    data = bytearray(path.read_bytes())
    data[_inside_the_data(name, len(data))] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as info:
        verify(root, table)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message and "corrupt" in message
    assert table[name] in message and hashlib.md5(data).hexdigest() in message
    assert "delete it" in message and "mnist-model data" in message
    assert verify_report(root, table)[name].status == "corrupt"


@pytest.mark.parametrize("name", sorted(RAW_FILES))
def test_truncated_file_reports_sizes(data_root, name) -> None:
    root, table = data_root
    path = raw_dir(root) / name
    full = path.stat().st_size
    cut = _inside_the_data(name, full)
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(DataError) as info:
        verify(root, table)
    message = str(info.value)
    assert "\n" not in message and str(path) in message and "truncated" in message
    assert f"{cut} bytes, its IDX header says {full}" in message
    assert table[name] in message and md5_file(path) in message


def test_missing_files_are_listed_with_a_remedy(data_root) -> None:
    root, table = data_root
    (raw_dir(root) / NAME).unlink()
    (raw_dir(root) / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError) as info:
        verify(root, table)
    message = str(info.value)
    assert "\n" not in message and str(raw_dir(root)) in message
    assert NAME in message and "t10k-labels-idx1-ubyte" in message
    assert "train-labels-idx1-ubyte" not in message
    assert "mnist-model data" in message and "MNIST_MODEL_DATA" in message
    assert verify_report(root, table)[NAME].status == "missing"


@pytest.mark.parametrize("make", [Path.mkdir, os.mkfifo], ids=["folder", "fifo"])
def test_anything_but_a_regular_file_is_unreadable_and_never_read(data_root, make) -> None:
    """A FIFO in place of a file once made the MD5 check wait forever for a writer."""
    root, table = data_root
    path = raw_dir(root) / NAME
    path.unlink()
    make(path)
    assert verify_report(root, table)[NAME].status == "unreadable"
    with pytest.raises(DataError, match="is not a regular file"):
        verify(root, table)


def test_nothing_is_created_for_a_missing_root(tmp_path) -> None:
    root = tmp_path / "absent"
    with pytest.raises(DataError, match="missing"):
        verify(root)
    assert not root.exists()
