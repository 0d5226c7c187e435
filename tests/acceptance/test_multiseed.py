"""One acceptance test per seed in multi-seed mode (``--seeds N``; see multiseed.py)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from mnist_model.atomic import atomic_write_json
from mnist_model.config import TrainConfig
from mnist_model.sweep import SeedResult
from mnist_model.train import train

pytestmark = [pytest.mark.acceptance, pytest.mark.multiseed]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames:
        metafunc.parametrize("seed", range(metafunc.config.getoption("--seeds")))


def test_seed_reaches_the_bar(seed, mnist_splits, thresholds, request):
    # Each xdist worker gets its share of the cores, so -n 2 runs two seeds side by side.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    threads = max(1, (os.cpu_count() or 1) // workers)
    config = dataclasses.replace(TrainConfig(), seed=seed, threads=threads)
    run = train(config, *mnist_splits["train"], *mnist_splits["test"], progress=False)
    assert run.final.total == thresholds["test_set_size"]
    result = SeedResult.from_eval(seed, run.final, run.seconds)
    folder = Path(request.config.getoption("--seeds-out")).resolve()
    atomic_write_json(
        folder / f"seed{seed}.json", json.loads(json.dumps(dataclasses.asdict(result)))
    )
    assert run.final.accuracy >= thresholds["overall_accuracy"], (
        f"seed {seed}: {100 * run.final.accuracy:.2f}% < {100 * thresholds['overall_accuracy']}%"
    )
