"""MNIST data: locate, acquire, verify and load the four canonical IDX files.

Reading (``mnist_model.data.load``: IDX files to tensors) is what training
needs; acquisition (torchvision's downloader, the PyPI fallback and its restricted
unpickler) is not, so this package imports none of its modules until a name is asked
for: ``from mnist_model.data import load_split`` loads the reader only. Importing it does
nothing else: no folders are created, no downloads start.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "acquire": "acquisition",
    "default_sources": "acquisition",
    "FileStatus": "checksums",
    "md5_file": "checksums",
    "verify": "checksums",
    "verify_report": "checksums",
    "encode_idx": "idx",
    "parse_idx": "idx",
    "read_idx_header": "idx",
    "ENV_VAR": "layout",
    "RAW_FILES": "layout",
    "raw_dir": "layout",
    "resolve_data_root": "layout",
    "load_split": "load",
    "PypiWheelSource": "pypi_source",
    "Source": "source",
    "TorchvisionSource": "torchvision_source",
    "restricted_loads": "unpickle",
}
"""Each public name and the module of this package it lives in."""

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
