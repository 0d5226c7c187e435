"""Faults a user or a machine can cause: each gives exit 2, one line, no traceback, and
never costs the files a previous good run left behind."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from helpers.cli import run_cli, short_train_flags

pytestmark = pytest.mark.integration

LIMITS = (1000, 200)  # training / test images of each short run


def cli(*args: str, root: Path | None = None) -> subprocess.CompletedProcess:
    return run_cli("-q", *args, data_root=root)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-model: error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0]


def digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def good_run(mnist_root, tmp_path_factory) -> Path:
    """The artifacts folder of one short, successful training."""
    out = tmp_path_factory.mktemp("good") / "artifacts"
    good = cli("train", *short_train_flags(*LIMITS), "--out", str(out), root=mnist_root)
    assert good.returncode == 0, good.stderr
    return out


def test_non_finite_loss_stops_and_keeps_the_last_good_artifacts(mnist_root, good_run):
    out = good_run
    before = digests(out)
    diverging = cli(
        "train", *short_train_flags(*LIMITS), "--lr", "1e30", "--out", str(out), root=mnist_root
    )
    assert_one_line_error(diverging, "non-finite loss", "epoch 1, step")
    assert digests(out) == before


def test_data_root_that_is_a_file(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    proc = cli("data", "--data-dir", str(blocker / "inside"))
    assert_one_line_error(proc, str(blocker / "inside"))


def test_out_that_is_a_file(mnist_root, tmp_path):
    target = tmp_path / "artifacts"
    target.write_text("precious")
    proc = cli("train", *short_train_flags(*LIMITS), "--out", str(target), root=mnist_root)
    assert_one_line_error(proc, str(target))
    assert target.read_text() == "precious"


def test_checkpoint_that_is_a_folder_or_empty(mnist_root, tmp_path):
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    for path in (tmp_path, empty):
        assert_one_line_error(
            cli("evaluate", "--checkpoint", str(path), root=mnist_root), str(path)
        )


def test_huge_image_is_refused_without_decoding(tmp_path, good_run):
    huge = tmp_path / "huge.png"
    Image.new("L", (7000, 7000), 255).save(huge)  # 49 M pixels > the 40 M limit
    proc = cli("predict", str(huge), "--checkpoint", str(good_run / "model.pt"))
    assert_one_line_error(proc, str(huge), "pixel limit")
