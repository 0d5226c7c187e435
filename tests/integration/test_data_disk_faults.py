"""A full disk or a folder that refuses writes while MNIST is installed: one clear line
naming the folder and the cause, no partial file, and files already there untouched.

This machine runs tests as root, for whom permission bits do not apply, so the faults
are injected where the operating system would raise them (ENOSPC, EROFS, EACCES)."""

from __future__ import annotations

import errno
import os

import pytest

from helpers.synthetic import fake_raw_bytes, md5_table, write_raw
from mnist_model.data import acquire, raw_dir
from mnist_model.data import acquisition as acquire_module
from mnist_model.errors import DataError

pytestmark = pytest.mark.integration

FILES = fake_raw_bytes(n_train=10, n_test=4, seed=5)
TABLE = md5_table(FILES)


class GoodSource:
    name = "good"

    def fetch(self, dest) -> None:
        for name, data in FILES.items():
            (dest / name).write_bytes(data)


@pytest.mark.parametrize(
    ("code", "words"),
    [(errno.ENOSPC, "No space left"), (errno.EROFS, "Read-only"), (errno.EACCES, "Permission")],
)
def test_failing_install_is_one_line_and_leaves_nothing_partial(tmp_path, monkeypatch, code, words):
    keep = "train-images-idx3-ubyte"
    write_raw(tmp_path, {keep: FILES[keep]})  # one verified file is already there
    before = (raw_dir(tmp_path) / keep).read_bytes()

    def refuse(src, dst, *args, **kwargs):
        raise OSError(code, os.strerror(code), str(dst))

    monkeypatch.setattr(acquire_module.shutil, "copyfile", refuse)
    with pytest.raises(DataError) as info:
        acquire(tmp_path, sources=[GoodSource()], expected=TABLE)
    message = str(info.value)
    assert "\n" not in message and words in message and str(raw_dir(tmp_path)) in message
    names = sorted(p.name for p in raw_dir(tmp_path).iterdir())
    assert names == [keep]  # no partial or temporary file was left behind
    assert (raw_dir(tmp_path) / keep).read_bytes() == before
