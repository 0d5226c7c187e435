"""IDX parsing must reject every malformed header instead of returning wrong-shaped data."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnist_model.data import encode_idx, parse_idx, read_idx_header
from mnist_model.errors import DataError


def _images(n: int = 3) -> np.ndarray:
    return np.arange(n * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(n, 28, 28)


def test_canonical_headers_match_mnist_magic_numbers() -> None:
    images = encode_idx(_images(3))
    labels = encode_idx(np.array([1, 2, 3], dtype=np.uint8))
    assert struct.unpack(">IIII", images[:16]) == (2051, 3, 28, 28)
    assert struct.unpack(">II", labels[:8]) == (2049, 3)
    assert len(images) == 16 + 3 * 784 and len(labels) == 8 + 3


def test_parse_good_images_and_labels(tmp_path) -> None:
    path = tmp_path / "imgs"
    path.write_bytes(encode_idx(_images(4)))
    parsed = parse_idx(path, item_shape=(28, 28))
    assert parsed.dtype == np.uint8 and parsed.shape == (4, 28, 28)
    np.testing.assert_array_equal(parsed, _images(4))
    labels = parse_idx(encode_idx(np.array([9, 0, 7], dtype=np.uint8)), ndim=1)
    assert labels.tolist() == [9, 0, 7]
    header = read_idx_header(path)
    assert header.shape == (4, 28, 28) and header.file_size == path.stat().st_size


@pytest.mark.parametrize(
    "magic",
    [
        b"\x00\x00\x08\x00",  # zero dims
        b"\x00\x00\x07\x03",  # unknown type code
        b"\x01\x00\x08\x03",  # non-zero leading bytes
        b"\x03\x08\x00\x00",  # little-endian written magic
    ],
)
def test_bad_magic_is_refused(magic: bytes) -> None:
    good = encode_idx(_images(1))
    with pytest.raises(DataError, match="bad IDX magic"):
        parse_idx(magic + good[4:])


def test_truncated_data_is_refused() -> None:
    data = encode_idx(_images(2))
    with pytest.raises(DataError, match=r"truncated: 1583 bytes.*needs 1584"):
        parse_idx(data[:-1])


def test_truncated_header_and_empty_input_are_refused() -> None:
    with pytest.raises(DataError, match="truncated IDX header"):
        parse_idx(encode_idx(_images(2))[:10])
    with pytest.raises(DataError, match="too short"):
        parse_idx(b"")


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(DataError, match="trailing bytes"):
        parse_idx(encode_idx(_images(1)) + b"\x00")


def test_wrong_dims_are_refused() -> None:
    labels = encode_idx(np.zeros(5, dtype=np.uint8))
    with pytest.raises(DataError, match="1 dims"):
        parse_idx(labels, ndim=3)
    small = encode_idx(np.zeros((2, 27, 28), dtype=np.uint8))
    with pytest.raises(DataError, match=r"do not match \(N, 28, 28\)"):
        parse_idx(small, item_shape=(28, 28))


def test_error_names_the_file(tmp_path) -> None:
    path = tmp_path / "broken-idx"
    path.write_bytes(encode_idx(_images(1))[:-5])
    with pytest.raises(DataError, match=str(path)):
        parse_idx(path)


def test_encode_refuses_unrepresentable_arrays() -> None:
    with pytest.raises(ValueError, match="dtype"):
        encode_idx(np.zeros(3, dtype=np.uint16))
    with pytest.raises(ValueError, match="dims"):
        encode_idx(np.array(5, dtype=np.uint8))


_dtypes = st.sampled_from([np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(dtype=_dtypes, shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=5)))
def test_round_trip_preserves_values_shape_and_dtype(array: np.ndarray) -> None:
    parsed = parse_idx(encode_idx(array))
    assert parsed.dtype == array.dtype and parsed.shape == array.shape
    np.testing.assert_array_equal(parsed, array)
