"""One acceptance test per seed in multi-seed mode (``--seeds N``; see multiseed.py)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from mnist_model.atomic import atomic_write_json
from mnist_model.checkpoint import load_checkpoint, save_checkpoint
from mnist_model.config import Machine, TrainConfig
from mnist_model.evaluate import evaluate
from mnist_model.gate import core_failures
from mnist_model.model import count_parameters
from mnist_model.runner import run_recipe
from mnist_model.sweep import SeedResult

pytestmark = [pytest.mark.acceptance, pytest.mark.multiseed]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames:
        metafunc.parametrize("seed", range(metafunc.config.getoption("--seeds")))


def test_seed_reaches_the_bar(seed, mnist_splits, thresholds, request):
    """Train one seed, save it, and judge the saved file as a checkpoint is judged (not
    the training loop's own last evaluation): overall, every digit and the budget."""
    # Each xdist worker gets its share of the cores, so -n 2 runs two seeds side by side.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    threads = max(1, (os.cpu_count() or 1) // workers)
    config = dataclasses.replace(TrainConfig(), seed=seed)
    run = run_recipe(config, Machine(threads=threads), mnist_splits["train"], mnist_splits["test"])
    folder = Path(request.config.getoption("--seeds-out")).resolve()
    saved = save_checkpoint(
        folder / f"seed{seed}.pt",
        run.model,
        train_config=dataclasses.asdict(config),
        metrics=run.final.to_dict(),
        data_md5={},
    )
    model, _ = load_checkpoint(saved)
    judged = evaluate(model, *mnist_splits["test"])
    assert judged.total == thresholds["test_set_size"]
    result = SeedResult.from_eval(seed, judged, run.seconds)
    atomic_write_json(
        folder / f"seed{seed}.json", json.loads(json.dumps(dataclasses.asdict(result)))
    )
    failures = core_failures(
        judged.confusion.diagonal().tolist(),
        judged.class_counts,
        thresholds,
        parameters=count_parameters(model),
    )
    assert not failures, f"seed {seed} ({saved}): " + "; ".join(failures)
