"""The files a training run leaves in its output folder, each written atomically."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mnist_model.atomic import atomic_write_json
from mnist_model.checkpoint import save_checkpoint
from mnist_model.config import TrainConfig
from mnist_model.evaluate import EvalResult
from mnist_model.train import TrainResult

CHECKPOINT_NAME = "model.pt"
METRICS_NAME = "metrics.json"
PER_CLASS_NAME = "per_class.json"


def per_class_table(result: EvalResult) -> list[dict]:
    return [
        {
            "class": cls,
            "accuracy": result.per_class_accuracy[cls],
            "count": result.class_counts[cls],
            "most_confused_with": result.most_confused_with(cls),
        }
        for cls in range(len(result.class_counts))
    ]


def _arithmetic(run: TrainResult) -> dict | None:
    """The precision and layout the run chose, with the throughputs it measured."""
    return run.arithmetic.to_dict() if run.arithmetic is not None else None


def write_metrics(out: Path, config: TrainConfig, run: TrainResult, extra: dict) -> Path:
    """metrics.json: the config, one record per finished epoch, and the final metrics."""
    payload = {
        "config": dataclasses.asdict(config),
        "arithmetic": _arithmetic(run),
        "epochs": run.history,
        "final": run.final.to_dict() if run.final is not None else None,
        **extra,
    }
    path = out / METRICS_NAME
    atomic_write_json(path, payload)
    return path


def write_final_artifacts(
    out: Path, config: TrainConfig, run: TrainResult, data_md5: dict[str, str], extra: dict
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
        # The history travels with the weights so `mnist-model report` can redraw the curves.
        "history": run.history,
        **extra,
    }
    checkpoint = save_checkpoint(
        out / CHECKPOINT_NAME,
        run.model,
        train_config=dataclasses.asdict(config),
        metrics=metrics,
        data_md5=data_md5,
    )
    per_class = out / PER_CLASS_NAME
    atomic_write_json(per_class, per_class_table(run.final))
    return {
        "checkpoint": checkpoint,
        "metrics": write_metrics(out, config, run, extra),
        "per_class": per_class,
    }
