"""Inputs nobody planned for are refused: a checkpoint that loads but holds NaN, the gate's
own inputs missing or wrong (a usage error, exit 4, before any test runs), two runs
writing one folder, and an interrupted run says how to continue."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers.cli import run_cli, short_train_flags
from mnist_model.checkpoint import save_checkpoint

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def nan_checkpoint(small_training, tmp_path_factory) -> Path:
    model = small_training.run.model
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["stage1.0.0.weight"].fill_(float("nan"))
    broken = type(model)(model.config)
    broken.load_state_dict(state)
    return save_checkpoint(
        tmp_path_factory.mktemp("nan") / "nan.pt",
        broken,
        train_config=dataclasses.asdict(small_training.config),
        metrics={},
        data_md5={},
    )


@pytest.mark.parametrize("command", ["evaluate", "predict", "ood", "report", "baseline"])
def test_a_checkpoint_with_nan_weights_is_refused_in_one_line(
    nan_checkpoint, mnist_root, tmp_path, command
) -> None:
    image = tmp_path / "digit.png"
    Image.fromarray(torch.zeros(28, 28, dtype=torch.uint8).numpy()).save(image)
    extra = {
        "predict": [str(image)],
        "report": ["--out", str(tmp_path / "r")],
        "baseline": ["--out", str(tmp_path / "b.json")],
    }.get(command, [])
    proc = run_cli(command, "--checkpoint", str(nan_checkpoint), *extra, data_root=mnist_root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == (
        f"mnist-model: error: {nan_checkpoint}: stage1.0.0.weight holds NaN or infinite values"
    )
    assert "Traceback" not in proc.stderr and "nan" not in proc.stdout.lower()
    assert not (tmp_path / "b.json").exists() and not (tmp_path / "r").exists()


def gate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "acceptance", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow  # a real pytest process each
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--checkpoint=missing.pt"], "--checkpoint missing.pt: no such file"),
        (["--checkpoint=tests"], "--checkpoint tests: a folder, not a file"),
        (["--checkpoint=README.md"], "--checkpoint: README.md: not a model file this tool reads"),
        (["--baseline=missing.json", "--checkpoint=README.md"], "--checkpoint: README.md: not a"),
        (["--seeds", "-1"], "--seeds -1: give 1 or more"),
    ],
    ids=["missing", "a-folder", "not-a-checkpoint", "missing-baseline", "negative-seeds"],
)
def test_the_gates_own_inputs_are_usage_errors(args, message) -> None:
    proc = gate(*args)
    assert proc.returncode == 4, proc.stdout + proc.stderr
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("ERROR")]
    assert errors == [f"ERROR: {message}"] or (errors and message in errors[0]), errors
    assert "passed" not in proc.stdout and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_missing_baseline_is_a_usage_error(nan_checkpoint, small_training, tmp_path) -> None:
    good = save_checkpoint(
        tmp_path / "good.pt", small_training.run.model, train_config={}, metrics={}, data_md5={}
    )
    proc = gate(f"--checkpoint={good}", "--baseline=missing.json")
    assert proc.returncode == 4
    assert "ERROR: --baseline missing.json: no such file" in proc.stdout + proc.stderr


TRAIN = ["train", *short_train_flags(3000, 200, epochs=4)]


def start(out: Path, root: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mnist_model", *TRAIN, "--out", str(out), *extra],
        env={**os.environ, "MNIST_MODEL_DATA": str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            return
        time.sleep(0.02)
    raise AssertionError(f"{path} never appeared (exit {proc.poll()}: {proc.stderr.read()})")


@pytest.mark.slow  # real processes: two writers, a kill -9
def test_one_writer_per_folder_and_a_killed_writers_lock_is_taken_over(mnist_root, tmp_path):
    out = tmp_path / "run"
    first = start(out, mnist_root)
    try:
        wait_for(out / ".mnist-model.lock", first)
        second = start(out, mnist_root)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2, err
        line = err.strip().splitlines()[-1]
        assert line.startswith(f"mnist-model: error: {out} is being written by another run (pid ")
        assert f"pid {first.pid} " in line
        wait_for(out / "train_state.pt", first)  # an epoch saved, then kill -9
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)  # and close its pipes
    resumed = start(out, mnist_root, "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert "taking over" in err and not (out / ".mnist-model.lock").exists()


@pytest.mark.slow  # a real process and a real SIGINT
def test_an_interrupted_run_says_how_to_continue(mnist_root, tmp_path) -> None:
    out = tmp_path / "run"
    proc = start(out, mnist_root)
    wait_for(out / "train_state.pt", proc)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    line = err.strip().splitlines()[-1]
    saved = torch.load(out / "train_state.pt", weights_only=True)["epoch"]
    assert line == (
        f"mnist-model: interrupted; epoch {saved} is saved in {out / 'train_state.pt'}; the "
        f"same command with --resume continues from epoch {saved + 1}"
    )
    assert "Traceback" not in err
