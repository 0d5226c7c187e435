"""Checkpoints: a versioned, pickle-free format loaded with ``torch.load(weights_only=True)``.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts:
``schema_version``, ``model_config``, ``train_config``, ``state_dict``, ``metrics``,
``data_md5`` and ``versions``. ``weights_only=True`` refuses anything else, so loading a
stranger's file cannot run code; the schema version and the model config are checked
before a model is built from it.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import platform
from pathlib import Path
from typing import Any

import torch

from mnist_model import __version__
from mnist_model.atomic import atomic_path
from mnist_model.config import ModelConfig
from mnist_model.errors import CheckpointError
from mnist_model.model import MnistNet
from mnist_model.schema import (
    SCALAR,
    Either,
    Int,
    ListOf,
    MapOf,
    Nothing,
    Num,
    Plain,
    Record,
    SchemaError,
    Str,
    Tensor,
)

SCHEMA_VERSION = 2
"""2: blocks that halve the resolution pool before their BatchNorm (state_dict keys moved)."""
OLDEST_READABLE_SCHEMA = 2


ARITHMETIC = Record(
    {
        "precision": Str(50),
        "layout": Str(50),
        "source": Str(50),
        "images_per_second": MapOf(Num(0), 100),
    },
    extra=Plain(4, 1000),
)
CHECKPOINT = Record(
    {
        "schema_version": Int(1, 10**6),
        "model_config": Record(
            {
                "stem_channels": Int(),
                "stem_kernel": Int(),
                "stage1_channels": ListOf(Int(), 64),
                "stage2_channels": ListOf(Int(), 64),
                "num_classes": Int(),
                "dropout": Num(),
            },
            extra=Plain(4, 1000),  # another model's config: refused by name afterwards
        ),
        "train_config": MapOf(SCALAR, 200),
        "state_dict": MapOf(Tensor(), 10_000, key=Str(500)),
        "metrics": Record(
            {
                "history": ListOf(MapOf(SCALAR, 100), 100_000),
                "arithmetic": Either((Nothing(), ARITHMETIC)),
                "machine": MapOf(SCALAR, 100),
                "per_class_accuracy": ListOf(Num(0, 1), 1000),
            },
            extra=Plain(),
        ),
        "data_md5": MapOf(Str(64), 100),
        "versions": MapOf(Str(200), 100),
    },
    required=frozenset({"schema_version", "model_config", "state_dict"}),
    extra=Plain(),
)
"""A checkpoint's declared structure (``schema.Record``), checked before any field is
used: the keys ``save_checkpoint`` writes, each with its type, range and size."""


def library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:  # from its metadata: importing torchvision would cost about a second
        torchvision = version("torchvision")
    except PackageNotFoundError:
        torchvision = "not installed"
    return {
        # str(): torch.__version__ is a TorchVersion object, which weights_only refuses.
        "mnist_model": str(__version__),
        "torch": str(torch.__version__),
        "torchvision": torchvision,
        "python": platform.python_version(),
    }


def save_checkpoint(
    path: str | os.PathLike[str],
    model: MnistNet,
    *,
    train_config: dict[str, Any],
    metrics: dict[str, Any],
    data_md5: dict[str, str],
) -> Path:
    """Write ``model`` and its provenance to ``path`` atomically; return the path."""
    payload = {
        "schema_version": SCHEMA_VERSION,
        "model_config": dataclasses.asdict(model.config),
        "train_config": train_config,
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "metrics": metrics,
        "data_md5": dict(data_md5),
        "versions": library_versions(),
    }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def load_plain(path: Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain data only, so loading a
    stranger's file cannot run code. Any failure is one CheckpointError naming ``what``
    (a checkpoint, a training state) and the file; the caller checks the schema."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(
            f"refusing to load {what} {path}: it holds pickled Python objects (a whole module "
            "saved with torch.save(model)?), and loading them would run their code; save "
            "model.state_dict() and give --model-class MODULE:NAME, or export TorchScript, "
            "torch.export or ONNX"
        ) from None
    except Exception as exc:  # noqa: BLE001 - untrusted bytes make torch.load raise anything
        # (IndexError, KeyError, struct.error... found by tests/unit/test_fuzz_loaders.py)
        raise CheckpointError(
            f"cannot read {what} {path}: not a complete torch file ({type(exc).__name__})"
        ) from None


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load and validate the checkpoint dict (no model built). Raises CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    payload = load_plain(path, "checkpoint")
    if not isinstance(payload, dict) or "schema_version" not in payload:
        raise CheckpointError(f"{path} is not an mnist-model checkpoint (no schema_version)")
    version = payload["schema_version"]
    if "optimizer" in payload and "state_dict" not in payload:
        raise CheckpointError(
            f"{path} is a training state (what --resume continues), not a model: pass the "
            "model.pt written beside it"
        )
    if not isinstance(version, int) or version > SCHEMA_VERSION or version < 1:
        raise CheckpointError(
            f"{path} has checkpoint schema {version!r}; this mnist-model reads schema "
            f"{SCHEMA_VERSION} or older: upgrade mnist-model"
        )
    if version < OLDEST_READABLE_SCHEMA:
        raise CheckpointError(
            f"{path} has checkpoint schema {version}, written for an older network layout "
            f"that this mnist-model no longer builds: retrain with `mnist-model train`"
        )
    try:
        CHECKPOINT.check(payload, "checkpoint")
    except SchemaError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return payload


def model_config_from(payload: dict[str, Any], path: str | os.PathLike[str]) -> ModelConfig:
    raw = dict(payload["model_config"])
    raw.setdefault("test_time_views", 1)  # saved before the field: a single view
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    if set(raw) != known:
        raise CheckpointError(
            f"{path} was saved for another model than MnistNet (config fields "
            f"{sorted(raw)[:4]}): give --model-class MODULE:NAME to build yours"
        )
    for key in ("stage1_channels", "stage2_channels"):
        raw[key] = tuple(raw[key])
    try:
        return ModelConfig(**raw)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path} has an invalid model config: {exc}") from None


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[MnistNet, dict[str, Any]]:
    """Build the model a checkpoint describes and load its weights; eval mode, on CPU.

    Every tensor is checked before it is used (``check_weights``), and the loaded model
    must give finite logits: a checkpoint that loads but holds NaN, the wrong dtype or
    weights so large that the output overflows is refused, not run."""
    payload = read_checkpoint(path)
    model = MnistNet(model_config_from(payload, path))
    check_weights(payload["state_dict"], model, path)
    try:
        model.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise CheckpointError(
            f"{path} does not match the model its config describes: {first[:200]}"
        ) from None
    model.eval()
    _check_output(model, path)
    return model, payload


def check_weights(state_dict: dict, model: MnistNet, path) -> None:
    """A CheckpointError naming the first tensor that is missing, extra, of another shape
    or dtype than ``model`` has, or not finite."""
    expected = model.state_dict()
    missing, extra = (
        sorted(set(expected) - set(state_dict)),
        sorted(set(state_dict) - set(expected)),
    )
    if missing or extra:
        raise CheckpointError(
            f"{path} does not match the model its config describes: "
            + (f"missing {missing[:3]}" if missing else f"unexpected {extra[:3]}")
        )
    for name, want in expected.items():
        tensor = state_dict[name]
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(f"{path}: {name} is a {type(tensor).__name__}, not a tensor")
        if tensor.dtype != want.dtype or tuple(tensor.shape) != tuple(want.shape):
            raise CheckpointError(
                f"{path} does not match the model its config describes: {name} is "
                f"{tensor.dtype} {tuple(tensor.shape)}, the model needs {want.dtype} "
                f"{tuple(want.shape)}"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path}: {name} holds NaN or infinite values")
        if name.endswith("running_var") and bool((tensor < 0).any()):
            raise CheckpointError(f"{path}: {name} holds a negative variance")


def _check_output(model: MnistNet, path) -> None:
    """The model's logits on a fixed probe batch (blank and random pictures) are finite."""
    from mnist_model.evaluate import predict_logits
    from mnist_model.model import normalize

    probe = torch.randint(
        0, 256, (8, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    probe[0] = 0
    logits = predict_logits(model, normalize(probe))
    if not bool(torch.isfinite(logits).all()):
        raise CheckpointError(f"{path}: the model's output is not finite (its weights overflow)")
