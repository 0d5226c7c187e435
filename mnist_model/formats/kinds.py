"""What a file is, so that refusing a file of the wrong kind says what it is and where it
goes instead: ``describe(path)`` reads a few bytes (and, for JSON, the top-level keys) and
names every kind of file this tool writes or reads. Nothing here trusts the file: an
unknown or damaged one is simply not described.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

JSON_LIMIT = 64 * 2**20
"""Larger JSON files are not parsed to be described."""

IMAGE = "an image (give it to `mnist-model predict`)"
MODEL = "a model file (give it to --checkpoint)"
STATE = "a training state (what `train --resume` continues; the model is the model.pt beside it)"
JSON_KINDS = (
    (
        lambda d: d.get("what") == "mnist-model baseline record",
        "a baseline record (give it to --baseline)",
    ),
    (
        lambda d: {"schema", "model", "test", "shift_agreement"} <= set(d),
        "an evidence record (give it to `thresholds derive` or `thresholds check`)",
    ),
    (
        lambda d: {"overall_accuracy", "per_class", "derivation"} <= set(d),
        "a thresholds file (give it to --thresholds)",
    ),
    (
        lambda d: {"config", "epochs", "final"} <= set(d),
        "a run's metrics.json (the model is the model.pt beside it)",
    ),
    (
        lambda d: {"sets", "suite", "how"} <= set(d),
        "the description of export-inputs' pictures (inputs.json)",
    ),
    (lambda d: {"seeds", "mean_accuracy"} <= set(d), "a sweep's sweep.json"),
)


def describe(path: str | Path) -> str | None:
    """What ``path`` holds, with where it goes (``"a baseline record (give it to
    --baseline)"``), or None when it is none of the files this tool knows."""
    path = Path(path)
    try:
        if path.is_dir():
            return "a folder"
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"BM")) or head[8:12] == b"WEBP":
        return IMAGE
    if head.startswith(b"PK\x03\x04"):
        return _zip(path)
    if head.lstrip()[:1] in (b"{", b"["):
        return _json(path)
    if head[:2] in (b"\x80\x02", b"\x80\x04", b"\x80\x05") or head[:1] == b"\x08":
        return MODEL  # a legacy torch.save pickle, or ONNX's protobuf
    return None


def _zip(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if names and all(name.endswith(".npy") for name in names):
        return "a NumPy archive (export-inputs' pictures, or logits for `gate --predictions`)"
    inner = {name.split("/", 1)[-1] for name in names}
    if "data.pkl" not in inner:
        return MODEL if "archive_format" in inner or "constants.pkl" in inner else None
    from mnist_model.checkpoint import load_plain

    try:
        data = load_plain(path, "a file")
    except Exception:  # noqa: BLE001 - describing must never fail: not described, then
        return None
    if isinstance(data, dict) and "optimizer" in data and "state_dict" not in data:
        return STATE
    return MODEL


def _json(path: Path) -> str | None:
    try:
        if path.stat().st_size > JSON_LIMIT:
            return None
        data = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):
        return None
    if isinstance(data, list):
        rows = all(isinstance(r, dict) and {"class", "accuracy"} <= set(r) for r in data)
        return "a run's per_class.json" if data and rows else None
    if not isinstance(data, dict):
        return None
    return next((kind for test, kind in JSON_KINDS if test(data)), None)


def refusal(path: str | Path, expected: str, reason: str = "") -> str:
    """One line refusing ``path``: it is not ``expected`` (``reason``), and what it is
    instead when it is a file this tool knows."""
    line = f"{path} is not {expected}" + (f" ({reason})" if reason else "")
    return line + it_is(path)


def it_is(path: str | Path) -> str:
    """``"; it is <what it is>"`` for a file this tool knows, else ``""``."""
    found = describe(path)
    return f"; it is {found}" if found else ""
