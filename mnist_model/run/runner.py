"""Running the recipe the way ``mnist-model train``, ``sweep`` and the notebook do: pick
the device and the arithmetic, resume from a saved state, train, and write the run's
folder (``mnist_model.run.outputs``) and report.

``train()`` itself (``mnist_model.train``) does none of this: it takes the resolved
settings, and this module's ``RunFolder`` hooks write what each epoch leaves behind.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch
from tqdm import tqdm

from mnist_model.atomic import atomic_path
from mnist_model.checkpoint import load_plain, read_checkpoint
from mnist_model.config import Arithmetic, Machine, ModelConfig, TrainConfig
from mnist_model.errors import CheckpointError, TrainingError
from mnist_model.evaluate import evaluate
from mnist_model.formats import project_checkpoint
from mnist_model.model import IMAGE_SHAPE, LOW_RES_SIZE, normalize
from mnist_model.run import autotune, distributed
from mnist_model.run.outputs import FILES, write_final_artifacts, write_metrics
from mnist_model.train import STATE_SCHEMA, Hooks, TrainResult, check_state, train, train_side

log = logging.getLogger(__name__)


DEVICES = "auto, cpu, cuda, cuda:N or mps"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else Apple's MPS when present, else the CPU;
    nothing requires either."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise TrainingError(f"device {name!r} is not a device (use {DEVICES})") from None
    if device.type not in ("cpu", "cuda", "mps"):
        raise TrainingError(f"device {name!r}: this project trains on {DEVICES} only")
    if device.type == "mps" and not _mps_available():
        raise TrainingError(f"device {name} asked for Apple's MPS, but torch has none here")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise TrainingError(f"device {name} asked for CUDA but no CUDA device is available")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        raise TrainingError(
            f"device {name}: there are only {torch.cuda.device_count()} CUDA devices"
        )
    return device


def resolve_arithmetic(
    machine: Machine, device: torch.device, train_xy, batch_size: int, *, refresh: bool = False
) -> Arithmetic:
    """``machine``'s precision and layout with ``auto`` resolved (``autotune.choose``),
    measured at the run's batch size and thread count, the same on every torchrun rank."""
    saved = torch.get_num_threads()
    try:
        if machine.threads > 0:
            torch.set_num_threads(machine.threads)
        inputs = normalize(train_xy[0][:batch_size]).to(device)
        chosen = autotune.choose(
            machine.precision,
            machine.layout,
            device,
            inputs,
            train_xy[1][:batch_size].to(device),
            refresh=refresh,
        )
    finally:
        torch.set_num_threads(saved)
    return distributed.same_on_every_rank(chosen)


def run_recipe(
    config: TrainConfig,
    machine: Machine,
    train_xy,
    test_xy,
    *,
    hooks: Hooks | None = None,
    device: torch.device | str = "cpu",
) -> TrainResult:
    """``train()`` as ``mnist-model train`` runs it, writing nothing: ``machine``'s
    arithmetic resolved, its threads and evaluation batch used."""
    device = torch.device(device)
    arithmetic = resolve_arithmetic(machine, device, train_xy, config.batch_size)
    return train(
        config,
        *train_xy,
        *test_xy,
        arithmetic=arithmetic,
        device=device,
        threads=machine.threads,
        eval_batch_size=machine.eval_batch_size,
        hooks=hooks,
    )


def read_training_state(path: Path, config: TrainConfig, model_config: ModelConfig) -> dict:
    """A saved training state, checked against this run's recipe; its ``arithmetic`` is
    parsed (a resumed run keeps the arithmetic it started with)."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"no training state at {path} to resume from")
    state = load_plain(path, "training state")
    if not isinstance(state, dict) or state.get("schema_version") != STATE_SCHEMA:
        raise CheckpointError(f"{path} is not a training state this version reads")
    try:
        check_state(state, config, model_config)
    except TrainingError as exc:
        raise TrainingError(f"{path}: {exc}") from None
    try:
        state["arithmetic"] = Arithmetic.from_dict(state.get("arithmetic"))
    except ValueError as exc:
        raise CheckpointError(f"{path} has no valid arithmetic ({exc})") from None
    return state


def data_selection(train_xy, test_xy, checksums: dict[str, str]) -> dict:
    """What a run trains and is judged on: how many images of each split it takes, and the
    data files' MD5s. A training state records it; ``--resume`` must see the same."""
    return {
        "train_size": len(train_xy[0]),
        "test_size": len(test_xy[0]),
        "md5": dict(sorted(checksums.items())),
    }


def check_same_data(state: dict, selection: dict) -> None:
    """Refuse to continue ``state`` on data other than it started with (``selection``):
    the run's record would claim data it did not train on."""
    recorded = state.get("data")
    if not isinstance(recorded, dict):
        raise TrainingError(
            "cannot resume: the training state records no data selection (an older version "
            "wrote it): train without --resume to start over"
        )
    changed = [
        "the data files' MD5s differ"
        if key == "md5"
        else f"{key} {recorded.get(key)} saved, {value} now"
        for key, value in selection.items()
        if recorded.get(key) != value
    ]
    if changed:
        raise TrainingError(
            f"cannot resume: the run would continue on other data ({'; '.join(changed)}): "
            "give the same --limit, --test-limit and data folder, or train without --resume"
        )


class RunFolder(Hooks):
    """Writes the training state and metrics.json after every epoch (on the first rank
    only), and shows a tqdm bar per epoch when ``show``."""

    def __init__(
        self,
        out: Path,
        config: TrainConfig,
        machine: Machine,
        extra: dict,
        show: bool,
        selection: dict | None = None,
    ):
        self.out, self.config, self.machine, self.extra, self.show = (
            out,
            config,
            machine,
            extra,
            show,
        )
        self.selection = selection or {}
        self.lead = distributed.rank() == 0
        self.bar = None

    def step_done(self, epoch, step, steps, loss_sum, correct, seen) -> None:
        if not self.show:
            return
        if step == 0:
            self.bar = tqdm(total=steps, desc=f"epoch {epoch}/{self.config.epochs}", leave=False)
        self.bar.update(1)
        if step % 20 == 0:
            accuracy = 100 * correct.item() / seen
            self.bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{accuracy:.2f}%")
        if step == steps - 1:
            self.bar.close()

    def epoch_done(self, epoch, record, result, state) -> None:
        if not self.lead:
            return
        with atomic_path(self.out / FILES["state"]) as tmp:
            torch.save({**state(), "data": self.selection}, tmp)
        write_metrics(self.out, self.config, self.machine, result, self.extra)


def train_and_write(
    config: TrainConfig,
    out: Path,
    train_xy: tuple[torch.Tensor, torch.Tensor],
    test_xy: tuple[torch.Tensor, torch.Tensor],
    *,
    checksums: dict[str, str],
    machine: Machine | None = None,
    device: torch.device | str | None = None,
    progress: bool | None = None,
    state: dict | None = None,
    remeasure: bool = False,
) -> tuple[TrainResult, dict[str, Path]]:
    """Train ``config`` and write every file of ``FILES`` into ``out``: metrics.json and the
    training state after each epoch, then the checkpoint, per_class.json and the report.
    ``machine`` defaults to ``Machine()``, ``device`` to ``machine.device``; ``state``
    (``read_training_state``) is a run to continue, in the arithmetic it started with.
    Returns the run and the written paths by name (none on a torchrun rank other than the
    first, which writes nothing)."""
    from mnist_model.report.card import build_report

    machine = machine or Machine()
    device = select_device(machine.device) if device is None else torch.device(device)
    lead = distributed.rank() == 0
    if lead:
        out.mkdir(parents=True, exist_ok=True)
    selection = data_selection(train_xy, test_xy, checksums)
    if state is not None:
        check_same_data(state, selection)
        arithmetic = dataclasses.replace(state["arithmetic"], source="resumed")
    else:
        arithmetic = resolve_arithmetic(
            machine, device, train_xy, config.batch_size, refresh=remeasure
        )
    extra = {
        "device": str(device),
        "train_size": len(train_xy[0]),
        "test_size": len(test_xy[0]),
        "world_size": distributed.world_size(),
    }
    show = sys.stderr.isatty() if progress is None else progress
    start = time.perf_counter()
    run = train(
        config,
        *train_xy,
        *test_xy,
        arithmetic=arithmetic,
        device=device,
        threads=machine.threads,
        eval_batch_size=machine.eval_batch_size,
        hooks=RunFolder(out, config, machine, extra, show, selection),
        replicas=distributed.replicas(),
        state=state,
    )
    extra["wall_seconds"] = time.perf_counter() - start
    extra["finished"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if not lead:
        return run, {}
    paths = write_final_artifacts(out, config, machine, run, checksums, extra)
    # The report describes what the checkpoint holds, with the run's final evaluation (the
    # same weights): evaluating the test set again would only repeat it.
    payload = read_checkpoint(paths["checkpoint"])
    paths.update(
        build_report(
            out,
            run.model,
            payload,
            run.history,
            run.final,
            *test_xy,
            checkpoint=paths["checkpoint"],
        )
    )
    return run, paths


CURVE_KEYS = ("epoch", "train_loss", "test_loss", "train_accuracy", "test_accuracy", "lr")


def _drawable(history: object, train_config: object = None) -> list[dict]:
    """The epochs of a checkpoint's recorded history that the curves can draw: records
    with every curve's figure, finite (a checkpoint's metrics are not trusted). A record
    without a valid ``train_side`` (20 or 28; one written before the history kept it) gets the side
    its recipe trained that epoch at (``train.train_side``), when ``train_config`` is a
    recipe this version reads; otherwise none, and the curves shade no epoch for it."""
    if not isinstance(history, list):
        return []
    recipe = _recorded_recipe(train_config)
    drawable = []
    for record in history:
        if not isinstance(record, dict) or not all(
            isinstance(record.get(k), int | float) and math.isfinite(record[k]) for k in CURVE_KEYS
        ):
            continue
        side = record.get("train_side")
        if not (type(side) is int and side in (LOW_RES_SIZE, IMAGE_SHAPE[-1])):
            record = {k: v for k, v in record.items() if k != "train_side"}
            if recipe is not None:
                record["train_side"] = train_side(recipe, record["epoch"])
        drawable.append(record)
    return drawable


def _recorded_recipe(train_config: object) -> TrainConfig | None:
    """A checkpoint's recorded ``train_config`` as the recipe, or None where it is not one
    that says how many epochs trained at 20x20 (older checkpoints also recorded the
    machine's settings, ignored here; one without ``low_res_fraction`` predates it)."""
    if not isinstance(train_config, dict) or not {"epochs", "low_res_fraction"} <= set(
        train_config
    ):
        return None
    names = {spec.name for spec in dataclasses.fields(TrainConfig)}
    try:
        return TrainConfig(**{k: v for k, v in train_config.items() if k in names})
    except (TypeError, ValueError):
        return None


def rebuild_report(
    out: Path,
    checkpoint: Path,
    test_xy,
    *,
    ood: bool = False,
    ood_cache: Path | None = None,
    comparison: str | None = None,
    bars: dict | None = None,
) -> dict[str, Path]:
    """The report files (``outputs.REPORT_KEYS``) for a saved checkpoint, evaluated afresh;
    with ``ood``, the model card also gets the out-of-distribution suite's table (its
    prepared pictures kept in ``ood_cache``), and with ``comparison`` the comparison with
    a baseline."""
    from mnist_model.gate.ood import run_suite
    from mnist_model.report.card import build_report

    why = "report reads (the card draws its training history)"
    model, payload = project_checkpoint(checkpoint, why)
    result = evaluate(model, *test_xy)
    metrics = payload.get("metrics")
    history = _drawable(
        metrics.get("history", []) if isinstance(metrics, dict) else [],
        payload.get("train_config"),
    )
    suite = None
    if ood:  # both preprocessings, side by side
        suite = {
            name: run_suite(model, *test_xy, cache_dir=ood_cache, preprocessing=name)
            for name in ("default", "plain")
        }
    return build_report(
        out,
        model,
        payload,
        history,
        result,
        *test_xy,
        checkpoint=checkpoint,
        ood=suite,
        comparison=comparison,
        bars=bars,
    )
