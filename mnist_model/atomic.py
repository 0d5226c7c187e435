"""Atomic, safe file writes: a reader sees the old file or the new one, never a partial one,
and nothing but a regular file is ever replaced.

Each writer goes to a temporary file in the destination folder (same filesystem, so
``os.replace`` is atomic), flushes and fsyncs it, then renames it into place. On any
error the temporary file is removed and the destination is left untouched. The rules for
the destination (``target``):

- a symlink is written *through*: the file it points to is replaced and the link stays;
- an existing file keeps its permission bits (and, where allowed, its owner);
- anything that is not a regular file (a folder, a device node such as /dev/null, a FIFO,
  a socket) is refused with ``WriteError``, and so is a folder that cannot be written;
- a write that fails for lack of space (or any other OS error, or torch's ``RuntimeError``
  for a failed write) is one ``WriteError`` saying the file before is unchanged.

``check_writable`` applies the same rules up front, so that a command can refuse an
output before its long work rather than after.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mnist_model.errors import WriteError

KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
    stat.S_ISFIFO: "a FIFO",
    stat.S_ISSOCK: "a socket",
}


def target(dest: str | os.PathLike[str]) -> Path:
    """The file a write to ``dest`` replaces: ``dest``, or what its symlinks point to.
    Raises WriteError if that is not a regular file (or absent), or its folder cannot be
    written."""
    dest = Path(dest)
    real = Path(os.path.realpath(dest)) if dest.is_symlink() else dest
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise WriteError(f"cannot write {dest}: {exc.strerror or exc}") from None
    if mode is not None and not stat.S_ISREG(mode):
        kind = next((name for test, name in KINDS.items() if test(mode)), "not a regular file")
        shown = dest if real == dest else f"{dest} (-> {real})"
        raise WriteError(f"refusing to write {shown}: it is {kind}, not a file")
    folder = real.parent
    if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise WriteError(f"cannot write {dest}: the folder {folder} is not writable")
    return real


def check_writable(paths: Iterable[str | os.PathLike[str]]) -> None:
    """Refuse, before any work, outputs that ``atomic_path`` would refuse afterwards."""
    for path in paths:
        target(path)


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``dest``'s target; rename it onto the target on
    success (see the module's rules)."""
    shown, dest = Path(dest), target(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise WriteError(f"cannot write {shown}: {exc.strerror or exc}") from None
    os.close(fd)
    tmp = Path(tmp_name)
    _take_mode(tmp, dest)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(exc, OSError) or _failed_torch_write(exc):
            raise WriteError(_failure(shown, exc)) from None
        raise


def _take_mode(tmp: Path, dest: Path) -> None:
    """The mode (and, where allowed, owner) the written file keeps: the replaced file's,
    or what a plain open() gives a new one (0666 & ~umask; mkstemp's is 0600)."""
    try:
        before = dest.stat()
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        return
    os.chmod(tmp, stat.S_IMODE(before.st_mode))
    with contextlib.suppress(OSError, AttributeError):
        os.chown(tmp, before.st_uid, before.st_gid)


def _failed_torch_write(exc: BaseException) -> bool:
    """torch.save reports a failed write (a full disk among them) as a RuntimeError."""
    return isinstance(exc, RuntimeError) and any(
        word in str(exc) for word in ("PytorchStreamWriter", "file write failed", "unexpected pos")
    )


def _failure(dest: Path, exc: BaseException) -> str:
    if isinstance(exc, OSError):
        why = exc.strerror or str(exc)  # "No space left on device", "Read-only file system"
    else:
        why = "torch could not write the file (is the disk full?)"
    why = " ".join(str(why).split())[:200]
    return f"could not write {dest}: {why}; the file there before, if any, is unchanged"


def atomic_write_bytes(dest: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(dest: str | os.PathLike[str], text: str) -> None:
    atomic_write_bytes(dest, text.encode("utf-8"))


def atomic_write_json(dest: str | os.PathLike[str], obj: Any) -> None:
    """``obj`` as JSON, which has no NaN or infinity: a value that holds one is refused
    rather than written as the bare ``NaN`` no JSON reader accepts."""
    try:
        text = json.dumps(obj, indent=2, sort_keys=True, allow_nan=False)
    except ValueError:
        raise WriteError(
            f"refusing to write {dest}: a value in it is NaN or infinite, which JSON cannot hold"
        ) from None
    atomic_write_text(dest, text + "\n")
