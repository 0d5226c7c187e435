"""Running ``mnist-model`` as a user does, in this process or in a real one.

``run_cli`` calls ``mnist_model.cli.main`` in-process with the command's environment,
folder, and standard streams, and returns what a subprocess would (exit code, stdout,
stderr): a spawn costs about 2.5 s, most of it importing torch, and is not the point of
most CLI tests. ``spawn=True`` runs ``python -m mnist_model`` for the few tests
whose point is the real process (the console script, a clean environment, signals).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from pathlib import Path

TIMEOUT_S = 300
"""Generous cap per command so a hung subprocess fails the test instead of the CI job."""


def run_cli(
    *args: str,
    data_root: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    spawn: bool = False,
) -> subprocess.CompletedProcess:
    """``mnist-model ARGS`` to completion, with ``MNIST_MODEL_DATA`` set to ``data_root``
    when given; in this process unless ``spawn``."""
    extra = dict(env or {})
    if data_root is not None:
        extra["MNIST_MODEL_DATA"] = str(data_root)
    if spawn:
        return _spawn(args, {**os.environ, **extra}, cwd)
    return _in_process(list(args), extra, cwd)


def _spawn(args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mnist_model", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=TIMEOUT_S,
    )


def _in_process(args: list[str], env: dict[str, str], cwd: Path | None):
    from mnist_model.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {name: os.environ.get(name) for name in env}
    here = os.getcwd()
    try:
        os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
            except Exception:  # what a real process would print, and exit 1
                traceback.print_exc()
                code = 1
    finally:
        os.chdir(here)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return subprocess.CompletedProcess(["mnist-model", *args], code, out.getvalue(), err.getvalue())


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
