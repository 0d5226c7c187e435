"""A training killed with SIGKILL leaves only loadable files, and --resume finishes it
with exactly the metrics and weights of an uninterrupted run (CPU, same seed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers.cli import short_train_flags
from mnist_model.checkpoint import load_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # real processes: the slow tier

ARGS = ["train", *short_train_flags(1200, 200, epochs=3)]
KILL_POINTS = ("during_startup", "after_epoch_1")
"""Before any epoch finished (nothing to resume), and right after the training state of
epoch 1 appeared: while epoch 2, metrics.json or the report is being written."""


def wait_for_epoch(out: Path, epoch: int, proc: subprocess.Popen) -> None:
    state = out / "train_state.pt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if state.exists() and torch.load(state, weights_only=True)["epoch"] >= epoch:
            return
        time.sleep(0.02)
    raise AssertionError(f"epoch {epoch} never finished (exit code {proc.poll()})")


def cli(out: Path, root: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "MNIST_MODEL_DATA": str(root)}
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_model", *ARGS, "--out", str(out), *extra],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen) -> str:
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    return stderr


def assert_only_loadable_files(out: Path) -> None:
    for path in out.iterdir():
        if path.name == ".mnist-model.lock":  # the killed writer's lock: taken over on resume
            text = path.read_text()
            assert not text or json.loads(text)["pid"]
        elif path.name.startswith("."):  # a writer's temp file: never read, never renamed
            assert path.name.endswith(".tmp")
        elif path.suffix == ".pt":
            torch.load(path, weights_only=True)
        elif path.suffix == ".json":
            json.loads(path.read_text())


@pytest.fixture(scope="module")
def uninterrupted(mnist_root, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted")
    finish(cli(out, mnist_root))
    return out


@pytest.mark.parametrize("kill_point", KILL_POINTS)
def test_kill_then_resume_matches_uninterrupted(uninterrupted, mnist_root, tmp_path, kill_point):
    out = tmp_path / "run"
    proc = cli(out, mnist_root)
    if kill_point == "during_startup":
        time.sleep(0.5)
    else:
        wait_for_epoch(out, int(kill_point[-1]), proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    state = out / "train_state.pt"
    if kill_point == "during_startup":  # no epoch finished: nothing to resume, start over
        assert not state.exists()
        if out.exists():  # the folder appears only once the data is loaded
            assert_only_loadable_files(out)
        finish(cli(out, mnist_root))
    else:  # resume must skip the finished epochs
        assert_only_loadable_files(out)
        done = torch.load(state, weights_only=True)["epoch"]
        log = finish(cli(out, mnist_root, "--resume"))
        assert f"resuming after epoch {done}" in log
        assert f"Epoch {done}/" not in log and f"Epoch {done + 1}/" in log
    assert_only_loadable_files(out)
    expected = json.loads((uninterrupted / "metrics.json").read_text())
    actual = json.loads((out / "metrics.json").read_text())
    strip = ("seconds", "train_seconds")
    assert [{k: v for k, v in e.items() if k not in strip} for e in actual["epochs"]] == [
        {k: v for k, v in e.items() if k not in strip} for e in expected["epochs"]
    ]
    assert actual["final"] == expected["final"]
    model_a, _ = load_checkpoint(out / "model.pt")
    model_b, _ = load_checkpoint(uninterrupted / "model.pt")
    for (name, a), (_, b) in zip(
        model_a.state_dict().items(), model_b.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_resume_refuses_a_different_config(uninterrupted, mnist_root):
    env = {**os.environ, "MNIST_MODEL_DATA": str(mnist_root)}
    args = [a if a != "3" else "4" for a in ARGS]  # --epochs 4
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_model", *args, "--out", str(uninterrupted), "--resume"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "another recipe" in proc.stderr and "without --resume" in proc.stderr
