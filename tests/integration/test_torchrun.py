"""Distributed training: 2 CPU processes under torchrun (gloo) on a small subset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.cli import short_train_flags
from mnist_model.bench.targets import TORCHRUN_ACCURACY_TOLERANCE
from mnist_model.run.outputs import FILES

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # real processes: the slow tier

ARGS = ["train", *short_train_flags(3000, 1000, epochs=2, batch_size=32), "--lr", "0.1"]


def torchrun(nproc: int, out: Path, root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MNIST_MODEL_DATA": str(root), "OMP_NUM_THREADS": "1"}
    # --standalone: a local rendezvous on a free loopback port
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        str(nproc),
        "-m",
        "mnist_model",
        *ARGS,
        "--out",
        str(out),
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def test_two_process_training_matches_one_process(mnist_root, mnist_splits, tmp_path):
    from mnist_model.config import Machine, TrainConfig
    from mnist_model.run.runner import run_recipe

    double = torchrun(2, tmp_path / "ddp", mnist_root)
    assert double.returncode == 0, double.stderr[-2000:]
    assert "Traceback" not in double.stderr
    # rank 0 alone reports and writes: one set of lines, one set of files
    assert double.stdout.count("wrote checkpoint") == 1
    assert double.stdout.count("Test set:") == 1
    written = sorted(p.name for p in (tmp_path / "ddp").iterdir())
    assert written == sorted(FILES.values()), written
    two = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert two["world_size"] == 2
    assert two["final"]["total"] == 1000  # test shards were summed back to the full set
    assert sum(map(sum, two["final"]["confusion"])) == 1000
    # the same recipe on one process, in this process (same global batch and lr)
    config = TrainConfig(epochs=2, batch_size=32, lr=0.1)
    (train_x, train_y), (test_x, test_y) = mnist_splits["train"], mnist_splits["test"]
    train_xy, test_xy = (train_x[:3000], train_y[:3000]), (test_x[:1000], test_y[:1000])
    one = run_recipe(config, Machine(threads=1), train_xy, test_xy)
    assert abs(two["final"]["accuracy"] - one.final.accuracy) <= TORCHRUN_ACCURACY_TOLERANCE
    assert two["final"]["accuracy"] > 0.9
