"""Check the raw MNIST files against their pinned MD5s.

MD5 is used as a corruption/identity check (it is what torchvision and the MNIST
publishers use), not as a defence against tampering; the PyPI fallback pins SHA-256.
Messages are one line each so the CLI can print them as-is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mnist_model.data.idx import read_idx_header
from mnist_model.data.layout import RAW_FILES, raw_dir
from mnist_model.errors import DataError

REMEDY = "delete it and run `mnist-model data` to fetch a fresh copy"

_CHUNK = 1 << 20


def md5_bytes(data: bytes) -> str:
    """MD5 hex digest of in-memory data (lets sources verify before writing)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_file(path: str | os.PathLike[str]) -> str:
    """MD5 hex digest of a file, read in 1 MiB chunks so memory stays flat."""
    return _file_digest(path, hashlib.md5(usedforsecurity=False))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file (a checkpoint's identity, the PyPI wheel's pin)."""
    return _file_digest(path, hashlib.sha256())


def _file_digest(path: str | os.PathLike[str], digest):
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def json_sha256(obj: object, *, without: str | None = None) -> str:
    """SHA-256 of a JSON object's canonical text (sorted keys), leaving out the key
    ``without`` (where a record keeps its own seal): what seals a record against edits."""
    if without is not None:
        obj = {k: v for k, v in obj.items() if k != without}
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class FileStatus:
    """The state of one expected file; ``problem`` is a one-line description or None."""

    name: str
    path: Path
    expected: str
    status: str  # "ok", "missing", "truncated", "corrupt" or "unreadable"
    actual: str | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def _truncation(path: Path, size: int) -> str | None:
    # A header that declares more bytes than the file holds means the copy was cut short.
    try:
        declared = read_idx_header(path).file_size
    except (DataError, OSError):
        return None
    return f"{size} bytes, its IDX header says {declared}" if size < declared else None


def check_file(name: str, path: Path, expected: str) -> FileStatus:
    """Classify one file without raising, so callers can decide what is fatal."""
    if not path.exists():
        return FileStatus(name, path, expected, "missing", problem=f"{path} is missing")
    if not path.is_file():  # a FIFO would block the read forever; a folder cannot be read
        problem = f"{path} is not a regular file; {REMEDY}"
        return FileStatus(name, path, expected, "unreadable", problem=problem)
    try:
        actual = md5_file(path)
    except OSError as exc:
        problem = f"{path} cannot be read ({exc.strerror or exc}); {REMEDY}"
        return FileStatus(name, path, expected, "unreadable", problem=problem)
    if actual == expected:
        return FileStatus(name, path, expected, "ok", actual)
    detail = _truncation(path, path.stat().st_size)
    status = "truncated" if detail else "corrupt"
    extra = f"{detail}; " if detail else ""
    problem = f"{path} is {status} ({extra}md5 {actual}, expected {expected}); {REMEDY}"
    return FileStatus(name, path, expected, status, actual, problem)


def verify_report(
    root: str | os.PathLike[str], expected: Mapping[str, str] | None = None
) -> dict[str, FileStatus]:
    """Return name -> FileStatus for every expected file under ``root``; never raises."""
    table = RAW_FILES if expected is None else expected
    folder = raw_dir(root)
    return {name: check_file(name, folder / name, md5) for name, md5 in table.items()}


def describe_problems(report: Mapping[str, FileStatus], root: str | os.PathLike[str]) -> str:
    """One line covering every bad file: missing ones grouped, damaged ones listed."""
    missing = [s.name for s in report.values() if s.status == "missing"]
    damaged = [s.problem for s in report.values() if s.status not in ("ok", "missing")]
    parts = [p for p in damaged if p]
    if missing:
        parts.append(
            f"missing from {raw_dir(root)}: {', '.join(missing)}; run `mnist-model data` to "
            f"fetch them, or point the data folder (MNIST_MODEL_DATA) at one that has them"
        )
    return "; ".join(parts)


def verify(
    root: str | os.PathLike[str], expected: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Return name -> md5 when every expected file matches, else raise a one-line DataError.

    ``expected`` defaults to the canonical ``RAW_FILES``; tests pass small tables.
    """
    report = verify_report(root, expected)
    if all(status.ok for status in report.values()):
        return {name: status.actual for name, status in report.items() if status.actual}
    raise DataError("MNIST data not usable: " + describe_problems(report, root))
