"""The output folder of a run: the one list of its files, and the functions that write
the metrics and the final artifacts (each file atomically)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mnist_model.atomic import atomic_write_json
from mnist_model.checkpoint import save_checkpoint
from mnist_model.config import Machine, TrainConfig
from mnist_model.report.card import REPORT_FILES
from mnist_model.train import TrainResult

FILES = {
    "checkpoint": "model.pt",
    "metrics": "metrics.json",
    "per_class": "per_class.json",
    "state": "train_state.pt",
    **REPORT_FILES,
}
"""Every file a finished run leaves in its folder, by the name the write functions return
it under. ``state`` is the training state ``--resume`` continues from."""
REPORT_KEYS = tuple(REPORT_FILES)
"""The files ``report.card.build_report`` writes (the report folder of ``mnist-model report``)."""


def _arithmetic(run: TrainResult) -> dict | None:
    """The precision and layout the run chose, with the throughputs it measured."""
    return run.arithmetic.to_dict() if run.arithmetic is not None else None


def write_metrics(
    out: Path, config: TrainConfig, machine: Machine, run: TrainResult, extra: dict
) -> Path:
    """metrics.json: the configs, one record per finished epoch, and the final metrics."""
    payload = {
        "config": dataclasses.asdict(config),
        "machine": dataclasses.asdict(machine),
        "arithmetic": _arithmetic(run),
        "epochs": run.history,
        "final": run.final.to_dict() if run.final is not None else None,
        **extra,
    }
    path = out / FILES["metrics"]
    atomic_write_json(path, payload)
    return path


def write_final_artifacts(
    out: Path,
    config: TrainConfig,
    machine: Machine,
    run: TrainResult,
    data_md5: dict[str, str],
    extra: dict,
) -> dict[str, Path]:
    """Checkpoint, metrics.json and per_class.json for a finished run."""
    if run.final is None:
        raise ValueError("the run has no final evaluation")
    metrics = {
        "test_loss": run.final.loss,
        "test_accuracy": run.final.accuracy,
        "correct": run.final.correct,
        "total": run.final.total,
        "per_class_accuracy": run.final.per_class_accuracy,
        "train_seconds": run.seconds,
        "epochs": len(run.history),
        "arithmetic": _arithmetic(run),
        "machine": dataclasses.asdict(machine),
        # The history travels with the weights so `mnist-model report` can redraw the curves.
        "history": run.history,
        **extra,
    }
    checkpoint = save_checkpoint(
        out / FILES["checkpoint"],
        run.model,
        train_config=dataclasses.asdict(config),
        metrics=metrics,
        data_md5=data_md5,
    )
    per_class = out / FILES["per_class"]
    atomic_write_json(per_class, run.final.per_class_rows())
    return {
        "checkpoint": checkpoint,
        "metrics": write_metrics(out, config, machine, run, extra),
        "per_class": per_class,
    }
