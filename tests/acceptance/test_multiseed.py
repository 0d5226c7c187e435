"""One acceptance test per seed in multi-seed mode (``--seeds N``; see gate/plugin.py)."""

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
from mnist_model.gate.evidence import test_counts
from mnist_model.gate.measure import architecture
from mnist_model.gate.plugin import dest
from mnist_model.gate.seeds import SeedResult
from mnist_model.gate.verdict import CORE, judge
from mnist_model.run.runner import run_recipe

pytestmark = [pytest.mark.acceptance, pytest.mark.multiseed]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames:
        metafunc.parametrize("seed", range(metafunc.config.getoption(dest("seeds"))))


def test_seed_reaches_the_bar(seed, mnist_splits, thresholds, request):
    """Train one seed, save it, and judge the saved file as a checkpoint is judged (not
    the training loop's own last evaluation): overall, every digit and the budget."""
    # Each xdist worker gets its share of the cores, so -n 2 runs two seeds side by side.
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
    threads = max(1, (os.cpu_count() or 1) // workers)
    config = dataclasses.replace(TrainConfig(), seed=seed)
    run = run_recipe(config, Machine(threads=threads), mnist_splits["train"], mnist_splits["test"])
    folder = Path(request.config.getoption(dest("seeds-out"))).resolve()
    saved = save_checkpoint(
        folder / f"seed{seed}.pt",
        run.model,
        train_config=dataclasses.asdict(config),
        metrics=run.final.to_dict(),
        data_md5={},
    )
    model, _ = load_checkpoint(saved)
    judged = evaluate(model, *mnist_splits["test"])
    result = SeedResult.from_eval(seed, judged, run.seconds)
    atomic_write_json(
        folder / f"seed{seed}.json", json.loads(json.dumps(dataclasses.asdict(result)))
    )
    record = {
        "test": test_counts(judged),
        "architecture": architecture(model, mnist_splits["test"][0]),
    }
    verdict = judge(record, thresholds).only(("test set size", *CORE))
    assert len(verdict.checks) == len(CORE) + 1
    assert verdict.passed, f"seed {seed} ({saved}): " + "; ".join(c.reason for c in verdict.failed)
