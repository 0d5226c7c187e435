"""One writer per output folder: ``train`` and ``sweep`` hold a lock on ``--out``.

The lock is an advisory ``flock`` on ``<folder>/.mnist-model.lock``, which also records
who holds it (pid, host, start time, command line). The kernel releases a ``flock`` when
its process dies, however it dies, so a folder whose writer was killed (``kill -9``) is
free again: its lock file is stale, and the next run takes it over (and logs that). Where
``fcntl`` does not exist (Windows) runs are not locked.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from mnist_model.errors import MnistModelError

log = logging.getLogger(__name__)

NAME = ".mnist-model.lock"


class FolderBusy(MnistModelError):
    """Another live run writes the folder."""


def _holder(text: str) -> str:
    try:
        info = json.loads(text)
        return f"pid {info['pid']} on {info['host']}, started {info['started']}: {info['command']}"
    except (ValueError, KeyError, TypeError):
        return "another process"


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[Path]:
    """Hold the folder's lock for the ``with`` block; FolderBusy if a live run holds it."""
    try:
        import fcntl
    except ImportError:  # no flock here: nothing to hold
        yield Path(folder) / NAME
        return
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / NAME
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise FolderBusy(
                f"{folder} is being written by another run ({_holder(handle.read())}); wait "
                "for it to finish or write elsewhere"
            ) from None
        handle.seek(0)
        stale = handle.read()
        if stale.strip():
            log.info("taking over %s: its run (%s) is gone", path, _holder(stale))
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_me()))
        handle.flush()
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
    finally:
        handle.close()  # releases the flock


def _me() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["mnist-model", *sys.argv[1:]])[:300],
    }
