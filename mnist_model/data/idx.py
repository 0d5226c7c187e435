"""Read and write IDX files (the MNIST container format), validating every header field.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order. We parse it
ourselves, rather than only trusting torchvision's reader, so that a corrupt or truncated
file yields a one-line ``DataError`` instead of an assertion or a silently short tensor.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_model.errors import DataError

IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
"""IDX type code -> big-endian numpy dtype."""

_CODES = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}


@dataclass(frozen=True)
class IdxHeader:
    """What an IDX header declares; ``file_size`` is the exact size a valid file has."""

    dtype: np.dtype
    shape: tuple[int, ...]

    @property
    def header_size(self) -> int:
        return 4 + 4 * len(self.shape)

    @property
    def file_size(self) -> int:
        return self.header_size + math.prod(self.shape) * self.dtype.itemsize


def parse_idx_header(data: bytes, what: str = "IDX data") -> IdxHeader:
    """Decode the header at the start of ``data``; ``what`` names the source in errors."""
    if len(data) < 4:
        raise DataError(f"{what}: too short for an IDX header ({len(data)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or code not in IDX_DTYPES or ndim == 0:
        raise DataError(f"{what}: bad IDX magic number 0x{data[:4].hex()}")
    end = 4 + 4 * ndim
    if len(data) < end:
        raise DataError(f"{what}: truncated IDX header ({len(data)} bytes, needs {end})")
    shape = struct.unpack(f">{ndim}I", data[4:end])
    return IdxHeader(dtype=IDX_DTYPES[code], shape=tuple(shape))


def read_idx_header(path: str | os.PathLike[str]) -> IdxHeader:
    """Read only the header of an IDX file, e.g. to tell truncation from corruption."""
    with open(path, "rb") as fh:
        head = fh.read(4)
        ndim = head[3] if len(head) == 4 else 0
        head += fh.read(4 * ndim)
    return parse_idx_header(head, str(path))


def _check_shape(
    header: IdxHeader, what: str, ndim: int | None, item_shape: tuple[int, ...] | None
) -> None:
    if item_shape is not None:
        if header.shape[1:] != tuple(item_shape):
            want = ", ".join(map(str, ("N", *item_shape)))
            raise DataError(f"{what}: IDX dims {header.shape} do not match ({want})")
    elif ndim is not None and len(header.shape) != ndim:
        raise DataError(f"{what}: IDX has {len(header.shape)} dims {header.shape}, expected {ndim}")


def parse_idx(
    source: bytes | str | os.PathLike[str],
    *,
    ndim: int | None = None,
    item_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Parse IDX bytes (or a file) into a native-endian array of the declared shape.

    ``ndim`` / ``item_shape`` (the dims after the first) let callers insist on e.g. images
    of shape (N, 28, 28). The data must be exactly as long as the header says: a shorter
    file is truncated and a longer one is not what we wrote, so both are refused.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        data, what = bytes(source), "IDX data"
    else:
        data, what = Path(source).read_bytes(), str(source)
    header = parse_idx_header(data, what)
    _check_shape(header, what, ndim, item_shape)
    if len(data) != header.file_size:
        state = "truncated" if len(data) < header.file_size else "has trailing bytes"
        need = header.file_size
        raise DataError(
            f"{what}: IDX {state}: {len(data)} bytes, header {header.shape} needs {need}"
        )
    array = np.frombuffer(data, dtype=header.dtype, offset=header.header_size)
    return array.reshape(header.shape).astype(header.dtype.newbyteorder("="), copy=False)


def encode_idx(array: np.ndarray) -> bytes:
    """Serialise ``array`` as IDX (uint8 images give magic 2051, uint8 labels 2049)."""
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot hold dtype {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dims, got {array.ndim}")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    body = np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    return header + body
