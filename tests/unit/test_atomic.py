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


# --- safe writes: nothing but a regular file is replaced -----------------------------------
def _fifo(path):
    os.mkfifo(path)
    return path


def _socket(path):
    import socket

    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()
    return path


def _folder(path):
    path.mkdir()
    return path


def _device(path):
    if os.geteuid() != 0:  # only root may make one: the rule is the FIFO's then
        return _fifo(path)
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # what /dev/null is
    return path


@pytest.mark.parametrize(
    ("make", "kind"),
    [(_fifo, "a FIFO"), (_socket, "a socket"), (_folder, "a folder"), (_device, "")],
    ids=["fifo", "socket", "folder", "device-node"],
)
def test_only_a_regular_file_is_ever_replaced(tmp_path, make, kind) -> None:
    from mnist_model.atomic import check_writable
    from mnist_model.errors import WriteError

    dest = make(tmp_path / "out.json")
    before = os.lstat(dest)
    with pytest.raises(WriteError, match=f"refusing to write {dest}: it is {kind}"):
        atomic_write_json(dest, {"a": 1})
    with pytest.raises(WriteError, match="not a file"):
        check_writable([dest])
    after = os.lstat(dest)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_symlink_is_written_through_and_stays_a_link(tmp_path) -> None:
    real = tmp_path / "store" / "model.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "model.json"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == "new"
    dangling = tmp_path / "later.json"
    dangling.symlink_to(tmp_path / "store" / "later.json")
    atomic_write_text(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "store" / "later.json").read_text() == "made"


def test_a_link_to_something_not_a_file_is_refused(tmp_path) -> None:
    from mnist_model.errors import WriteError

    link = tmp_path / "out.json"
    link.symlink_to(_fifo(tmp_path / "pipe"))
    with pytest.raises(WriteError, match=r"out.json \(-> .*pipe\): it is a FIFO"):
        atomic_write_text(link, "x")


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_a_replaced_file_keeps_its_mode(tmp_path, mode) -> None:
    dest = tmp_path / "private.json"
    dest.write_text("old")
    dest.chmod(mode)
    atomic_write_text(dest, "new")
    assert stat.S_IMODE(dest.stat().st_mode) == mode and dest.read_text() == "new"


@pytest.mark.parametrize(
    "failure",
    [
        OSError(28, "No space left on device"),
        RuntimeError(
            "[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0; "
            "PytorchStreamWriter failed writing file data/0: file write failed"
        ),
    ],
    ids=["os-enospc", "torch-save"],
)
def test_a_full_disk_is_one_write_error_and_the_old_file_stays(tmp_path, failure) -> None:
    from mnist_model.errors import WriteError

    dest = tmp_path / "model.pt"
    dest.write_bytes(b"old")
    with pytest.raises(WriteError) as raised, atomic_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise failure
    message = str(raised.value)
    assert message.startswith(f"could not write {dest}: ") and "\n" not in message
    assert "the file there before, if any, is unchanged" in message
    assert ("No space left on device" if isinstance(failure, OSError) else "disk full") in message
    assert dest.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.pt"
    ]


def test_other_errors_pass_through_unchanged(tmp_path) -> None:
    with pytest.raises(ValueError, match="a bug"), atomic_path(tmp_path / "x.json"):
        raise ValueError("a bug")


def test_json_with_nan_is_refused_and_nothing_is_written(tmp_path) -> None:
    from mnist_model.errors import WriteError

    dest = tmp_path / "record.json"
    for bad in (float("nan"), float("inf")):
        with pytest.raises(WriteError, match="NaN or infinite, which JSON cannot hold"):
            atomic_write_json(dest, {"train_config": {"lr": bad}})
    assert list(tmp_path.iterdir()) == []
