"""The output folder of a run: the one list of its files, and the functions that write them.

``train_and_write`` (train, then write every file) and ``rebuild_report`` (the pictures
and report.md of a checkpoint) are what ``mnist-model train``/``sweep``/``report``, the
notebook and the tests call. Every file is written atomically.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from mnist_model import distributed
from mnist_model.atomic import atomic_write_json
from mnist_model.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from mnist_model.config import TrainConfig
from mnist_model.evaluate import evaluate
from mnist_model.train import TrainResult, train

FILES = {
    "checkpoint": "model.pt",
    "metrics": "metrics.json",
    "per_class": "per_class.json",
    "state": "train_state.pt",
    "curves": "curves.png",
    "misclassified": "misclassified.png",
    "per_class_plot": "per_class.png",
    "confusion_matrix": "confusion_matrix.png",
    "report": "report.md",
}
"""Every file a finished run leaves in its folder, by the name the write functions return
it under. ``state`` is the training state ``--resume`` continues from."""
REPORT_KEYS = ("curves", "misclassified", "per_class_plot", "confusion_matrix", "report")
"""The files ``rebuild_report`` writes (the report folder of ``mnist-model report``)."""


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
    path = out / FILES["metrics"]
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
        "metrics": write_metrics(out, config, run, extra),
        "per_class": per_class,
    }


def train_and_write(
    config: TrainConfig,
    out: Path,
    train_xy: tuple[torch.Tensor, torch.Tensor],
    test_xy: tuple[torch.Tensor, torch.Tensor],
    *,
    checksums: dict[str, str],
    device: torch.device | str = "cpu",
    progress: bool | None = None,
    resume: bool = False,
    remeasure: bool = False,
) -> tuple[TrainResult, dict[str, Path]]:
    """Train ``config`` and write every file of ``FILES`` into ``out``: metrics.json and the
    training state after each epoch, then the checkpoint, per_class.json and the report.
    Returns the run and the written paths by name (none on a torchrun rank other than 0,
    which writes nothing)."""
    from mnist_model.report import build_report

    lead = distributed.rank() == 0
    if lead:
        out.mkdir(parents=True, exist_ok=True)
    extra = {
        "device": str(device),
        "train_size": len(train_xy[0]),
        "test_size": len(test_xy[0]),
        "world_size": distributed.world_size(),
    }

    def on_epoch(epoch, record, run):  # metrics.json grows as epochs finish
        if lead:
            write_metrics(out, config, run, extra)

    start = time.perf_counter()
    run = train(
        config,
        *train_xy,
        *test_xy,
        device=device,
        progress=progress,
        on_epoch=on_epoch,
        state_path=out / FILES["state"] if lead else None,
        resume=resume,
        remeasure=remeasure,
    )
    extra["wall_seconds"] = time.perf_counter() - start
    if not lead:
        return run, {}
    paths = write_final_artifacts(out, config, run, checksums, extra)
    # The report describes what the checkpoint holds, with the run's final evaluation (the
    # same weights): evaluating the test set again would only repeat it.
    payload = read_checkpoint(paths["checkpoint"])
    paths.update(build_report(out, run.model, payload, run.history, run.final, *test_xy))
    return run, paths


def rebuild_report(out: Path, checkpoint: Path, test_xy, *, ood: bool = False) -> dict[str, Path]:
    """The report files of ``REPORT_KEYS`` for a saved checkpoint, evaluated afresh; with
    ``ood``, the model card also gets the out-of-distribution suite's table."""
    from mnist_model.report import build_report

    model, payload = load_checkpoint(checkpoint)
    result = evaluate(model, *test_xy)
    history = payload.get("metrics", {}).get("history", [])
    suite = None
    if ood:
        from mnist_model.ood import run_suite

        suite = run_suite(model, *test_xy)
    return build_report(out, model, payload, history, result, *test_xy, ood=suite)
