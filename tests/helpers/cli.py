"""Running ``mnist-model`` the way a user does: a subprocess, its exit code and its output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TIMEOUT_S = 300
"""Generous cap per command so a hung subprocess fails the test instead of the CI job."""


def run_cli(
    *args: str,
    data_root: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """``python -m mnist_model ARGS`` to completion, with ``MNIST_MODEL_DATA`` set to
    ``data_root`` when given."""
    env = {**os.environ, **(env or {})}
    if data_root is not None:
        env["MNIST_MODEL_DATA"] = str(data_root)
    return subprocess.run(
        [sys.executable, "-m", "mnist_model", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=TIMEOUT_S,
    )


def assert_ok(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr


def short_train_flags(
    limit: int, test_limit: int, *, epochs: int = 1, batch_size: int = 64
) -> list[str]:
    """`mnist-model train` flags for a short run on a few real images: seconds, not
    minutes; one thread so it does not fight xdist workers or other jobs for the cores."""
    return [
        "--limit",
        str(limit),
        "--test-limit",
        str(test_limit),
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
        "--threads",
        "1",
        "--no-progress",
    ]
