"""Atomic writes: the destination holds the old content or the new, never a partial file,
and no temporary file is left behind either way."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.atomic import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path) -> None:
    dest = tmp_path / "model.pt"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(dest) as tmp:
        tmp.write_bytes(b"half of the ne")
        raise RuntimeError("disk full")
    assert dest.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_the_temporary_is_hidden_next_to_the_destination(tmp_path) -> None:
    dest = tmp_path / "deep" / "er" / "metrics.json"  # missing folders are created
    with atomic_path(dest) as tmp:
        assert tmp.parent == dest.parent and tmp.name.startswith(".metrics.json.")
        assert not dest.exists()
        tmp.write_text("{}")
    assert dest.read_text() == "{}"
    assert [p.name for p in dest.parent.iterdir()] == ["metrics.json"]


def test_the_file_gets_the_mode_a_plain_open_would_give(tmp_path) -> None:
    umask = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.md", "# card")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "report.md").stat().st_mode) == 0o644


@given(data=st.binary(max_size=2048))
def test_bytes_round_trip_and_replace(tmp_path_factory, data) -> None:
    dest = tmp_path_factory.mktemp("atomic") / "blob"
    dest.write_bytes(b"previous")
    atomic_write_bytes(dest, data)
    assert dest.read_bytes() == data


def test_json_is_sorted_indented_and_ends_with_a_newline(tmp_path) -> None:
    atomic_write_json(tmp_path / "x.json", {"b": 1, "a": [1, 2]})
    text = (tmp_path / "x.json").read_text()
    assert text.endswith("\n") and text.index('"a"') < text.index('"b"')
    assert json.loads(text) == {"a": [1, 2], "b": 1}
