"""Any model in: this project's checkpoint, a ``state_dict`` with its class, TorchScript,
``torch.export`` or ONNX, each behind one contract.

**The contract.** The gate gives every model normalised images, float32 ``(N, 1, 28, 28)``
computed as ``(x / 255 - MNIST_MEAN) / MNIST_STD`` from uint8 pixels, white digits on
black, and takes ``(N, 10)`` logits (or log-probabilities) back. A model trained on other
pixels says so with ``input_scale`` (``INPUT_SCALES``): the wrapper turns the gate's
input into them. ``load_any`` checks the contract on a probe batch before the model is
judged.

**The format comes from the file's content**, not its name (``detect``): a zip holding
``code/`` is TorchScript, one holding ``archive_format`` a ``torch.export`` program, one
holding ``data.pkl`` a ``torch.save`` file (read with ``weights_only=True``: a checkpoint
or a state_dict; a pickled whole module is refused, since loading it would run its
code), and a protobuf whose first field is ONNX's ``ir_version`` an ONNX model (run by
onnxruntime, the ``[onnx]`` extra). Every refusal is one line naming what is accepted.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import sys
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mnist_model.config import INPUT_SCALES
from mnist_model.errors import CheckpointError
from mnist_model.model import MNIST_MEAN, MNIST_STD, MnistNet

ACCEPTED = (
    "accepted: an mnist-model checkpoint, a state_dict (torch.save(model.state_dict())) "
    "with --model-class MODULE:NAME, TorchScript (torch.jit.save), a torch.export program "
    "(torch.export.save, .pt2) or ONNX"
)
PROBE = 3
"""Images in the probe batch the contract is checked on."""
FLOAT_ONNX = {1, 10, 11, 16}
"""ONNX initializer types counted as parameters (float, float16, double, bfloat16), those
of one dimension or more."""


@dataclass(frozen=True)
class Loaded:
    """A model ready to judge, and what it is."""

    model: nn.Module
    """Normalised ``(N, 1, 28, 28)`` in, ``(N, 10)`` out (``Foreign`` unless an MnistNet)."""
    format: str
    """``checkpoint``, ``state_dict``, ``torchscript``, ``export`` or ``onnx``."""
    name: str
    """The model's class (or graph) name."""
    parameters: int
    """Trainable parameters (a module's), or the exported file's float weights."""
    payload: dict = field(default_factory=dict)
    """A project checkpoint's contents (provenance, metrics); empty for other formats."""
    input_scale: str = "mnist"

    @property
    def mnistnet(self) -> bool:
        return isinstance(self.model, MnistNet)

    @property
    def description(self) -> str:
        return f"{self.name} ({FORMAT_NAMES[self.format]}, {self.parameters:,} parameters)"


FORMAT_NAMES = {
    "module": "module in memory",
    "checkpoint": "mnist-model checkpoint",
    "state_dict": "state_dict",
    "torchscript": "TorchScript",
    "export": "torch.export program",
    "onnx": "ONNX",
}


class Foreign(nn.Module):
    """A loaded model behind the gate's contract: rescales the gate's input to what the
    model was trained on, feeds a fixed-batch model in batches of its size (padding the
    last), and returns float32 logits. It is judged as it was saved: ``train()`` and
    ``eval()`` change nothing inside (an exported program cannot switch modes)."""

    def __init__(self, run, *, inner: nn.Module | None, batch: int | None, scale: str) -> None:
        super().__init__()
        self.inner = inner
        object.__setattr__(self, "run", run)  # not registered twice when it is ``inner``
        self.batch = batch
        self.scale = scale

    def train(self, mode: bool = True) -> Foreign:
        self.training = mode
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = rescale(x, self.scale)
        if self.batch is None:
            return _logits(self.run(x))
        out = []
        for start in range(0, len(x), self.batch):
            part = x[start : start + self.batch]
            short = self.batch - len(part)
            if short:
                part = torch.cat([part, part.new_zeros((short, *part.shape[1:]))])
            out.append(_logits(self.run(part))[: self.batch - short])
        return torch.cat(out)


def rescale(x: torch.Tensor, scale: str) -> torch.Tensor:
    """The gate's normalised images as the pixels ``scale`` names (``INPUT_SCALES``)."""
    if scale == "mnist":
        return x
    unit = x * MNIST_STD + MNIST_MEAN
    return unit if scale == "unit" else unit * 255.0


def _logits(out: Any) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise CheckpointError(
            f"the model returned a {type(out).__name__}, not one (N, 10) tensor of logits"
        )
    return out.float()


def as_loaded(model: nn.Module | Loaded) -> Loaded:
    """A module in memory (the model trained in this process) as a ``Loaded``."""
    if isinstance(model, Loaded):
        return model
    return Loaded(model, "module", type(model).__name__, _trainable(model))


def foreign_recipe(loaded: Loaded) -> str:
    """A model without this project's recipe is named by its architecture: its class and
    its parameter count (models of one architecture, whatever their seed, share it)."""
    from hashlib import sha256

    return "foreign-" + sha256(f"{loaded.name}:{loaded.parameters}".encode()).hexdigest()[:12]


# --- what the file is -----------------------------------------------------------------------
def detect(path: Path) -> str:
    """``torch`` (a torch.save file), ``torchscript``, ``export`` or ``onnx``, from the
    file's first bytes and, for a zip, its entries."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError):
            raise CheckpointError(f"{path}: a damaged zip archive; {ACCEPTED}") from None
        inner = {name.split("/", 1)[-1] for name in names}
        if any(name.startswith("code/") for name in inner) or "constants.pkl" in inner:
            return "torchscript"
        if "archive_format" in inner:
            return "export"
        if "data.pkl" in inner:
            return "torch"
    elif head[:2] in (b"\x80\x02", b"\x80\x04", b"\x80\x05"):
        return "torch"  # the legacy torch.save format: a pickle
    elif head[:1] == b"\x08":  # protobuf field 1 (varint): ModelProto.ir_version
        return "onnx"
    from mnist_model.formats.kinds import it_is

    raise CheckpointError(f"{path}: not a model file this tool reads{it_is(path)}; {ACCEPTED}")


def load_any(
    path: str | os.PathLike[str],
    *,
    model_class: str | None = None,
    input_scale: str = "mnist",
) -> Loaded:
    """The model at ``path`` in any accepted format, checked on a probe batch. A state_dict
    needs ``model_class`` (``MODULE:NAME``); ``input_scale`` says what the model was
    trained on (``INPUT_SCALES``). Raises CheckpointError with one line."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    if input_scale not in INPUT_SCALES:
        raise CheckpointError(f"input scale {input_scale!r}: choose one of {list(INPUT_SCALES)}")
    kind = detect(path)
    if model_class is not None and kind != "torch":
        raise CheckpointError(
            f"{path}: --model-class has no effect on a {FORMAT_NAMES[kind]} model, which "
            "carries its own graph; leave it out"
        )
    if kind == "torch":
        loaded = _from_torch_file(path, model_class, input_scale)
    else:
        loaded = {"torchscript": _torchscript, "export": _exported, "onnx": _onnx}[kind](
            path, input_scale
        )
    probe(loaded.model, path)
    return loaded


def probe(model: nn.Module, path: Path) -> None:
    """The contract on a probe batch: ``(N, 10)`` finite logits for ``PROBE`` images."""
    from mnist_model.evaluate import predict_logits

    images = torch.rand((PROBE, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    try:
        logits = predict_logits(model, (images - MNIST_MEAN) / MNIST_STD)
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a stranger's model can raise anything
        raise CheckpointError(
            f"{path}: the model fails on a probe batch of shape (N, 1, 28, 28): "
            f"{type(exc).__name__}: {_first_line(exc)}"
        ) from None
    if tuple(logits.shape) != (PROBE, 10):
        raise CheckpointError(
            f"{path}: the model gives shape {tuple(logits.shape)} for {PROBE} images; the "
            "gate needs (N, 10) logits"
        )
    if not bool(torch.isfinite(logits).all()):
        raise CheckpointError(f"{path}: the model's output is not finite")


def _first_line(exc: BaseException) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:200]


def project_checkpoint(path: str | os.PathLike[str], why: str) -> tuple[MnistNet, dict]:
    """This project's checkpoint at ``path``: its MnistNet and payload. Any other file is
    refused in one line that says what it is and ``why`` only a checkpoint will do."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    kind = detect(path)
    if kind == "torch":
        from mnist_model.checkpoint import load_checkpoint, load_plain

        payload = load_plain(path, "model file")
        if isinstance(payload, dict) and "schema_version" in payload:
            return load_checkpoint(path)
        kind = "state_dict"
    article = "an" if FORMAT_NAMES[kind][0] in "aeiouAEIOU" else "a"
    raise CheckpointError(
        f"{path} is {article} {FORMAT_NAMES[kind]} model, not an mnist-model checkpoint, which "
        f"{why}"
    )


# --- torch.save files: a checkpoint or a state_dict -------------------------------------------
def _from_torch_file(path: Path, model_class: str | None, scale: str) -> Loaded:
    from mnist_model.checkpoint import load_checkpoint, load_plain

    payload = load_plain(path, "model file")
    if isinstance(payload, dict) and "schema_version" in payload and model_class is None:
        model, payload = load_checkpoint(path)
        if scale == "mnist":
            return Loaded(model, "checkpoint", "MnistNet", _trainable(model), payload)
        return _wrapped(model, "checkpoint", scale, payload)
    state = _state_dict_of(payload, path)
    if model_class is None:
        raise CheckpointError(
            f"{path} holds a state_dict: give --model-class MODULE:NAME, the class (or "
            "factory) it was saved from"
        )
    module = build(model_class)
    _load_state(module, state, path)
    kind = "checkpoint" if "schema_version" in payload else "state_dict"
    extra = payload if kind == "checkpoint" else {}
    if isinstance(module, MnistNet) and scale == "mnist":
        return Loaded(module.eval(), kind, "MnistNet", _trainable(module), extra)
    return _wrapped(module, kind, scale, extra)


def _state_dict_of(payload: Any, path: Path) -> dict:
    """The tensors of a state_dict, bare or under ``state_dict`` / ``model_state_dict``."""
    if isinstance(payload, dict):
        for key in ("state_dict", "model_state_dict"):
            if isinstance(payload.get(key), dict):
                payload = payload[key]
                break
    if (
        isinstance(payload, dict)
        and payload
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in payload.items())
    ):
        return payload
    raise CheckpointError(f"{path} is neither a model nor a state_dict; {ACCEPTED}")


def build(spec: str) -> nn.Module:
    """The module ``MODULE:NAME`` names: an ``nn.Module`` class or a factory taking no
    arguments, imported from the current folder or ``PYTHONPATH``."""
    module_name, _, name = spec.partition(":")
    if not module_name or not name:
        raise CheckpointError(f"--model-class {spec!r}: write MODULE:NAME, e.g. mynet:Net")
    here = os.getcwd()
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        made = getattr(importlib.import_module(module_name), name)()
    except Exception as exc:  # noqa: BLE001 - the user's code can raise anything
        raise CheckpointError(
            f"--model-class {spec}: cannot build it ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    finally:
        if added:
            sys.path.remove(here)
    if not isinstance(made, nn.Module):
        raise CheckpointError(
            f"--model-class {spec}: gives a {type(made).__name__}, not a torch.nn.Module"
        )
    return made


def _load_state(module: nn.Module, state: dict, path: Path) -> None:
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path}: {name} holds NaN or infinite values")
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, ValueError) as exc:
        raise CheckpointError(
            f"{path} does not fit {type(module).__name__}: {_first_line(exc)}"
        ) from None
    module.eval()


def _trainable(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _wrapped(module: nn.Module, kind: str, scale: str, payload: dict) -> Loaded:
    module.eval()
    model = Foreign(module, inner=module, batch=None, scale=scale)
    return Loaded(model, kind, type(module).__name__, _trainable(module), payload, scale)


# --- exported programs ------------------------------------------------------------------------
def _quietly(load, path: Path, what: str):
    """``load(path)`` with torch's deprecation warnings silenced; any failure one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load(path)
    except Exception as exc:  # noqa: BLE001 - untrusted bytes make loaders raise anything
        raise CheckpointError(f"cannot read {what} {path}: {_first_line(exc)}") from None


def _torchscript(path: Path, scale: str) -> Loaded:
    module = _quietly(lambda p: torch.jit.load(str(p), map_location="cpu"), path, "TorchScript")
    module.eval()
    name = getattr(module, "original_name", "ScriptModule")
    model = Foreign(module, inner=module, batch=None, scale=scale)
    parameters = sum(p.numel() for p in module.parameters())  # frozen or not: its weights
    return Loaded(model, "torchscript", name, parameters, {}, scale)


def _exported(path: Path, scale: str) -> Loaded:
    program = _quietly(  # from bytes: torch.export.load warns of a name not ending .pt2
        lambda p: torch.export.load(io.BytesIO(p.read_bytes())), path, "torch.export program"
    )
    signature = program.graph_signature
    if len(signature.user_inputs) != 1:
        raise CheckpointError(
            f"{path}: the exported program takes {len(signature.user_inputs)} inputs; the "
            "gate gives one batch of images"
        )
    node = next(n for n in program.graph.nodes if n.name == signature.user_inputs[0])
    first = node.meta["val"].shape[0] if "val" in node.meta else None
    batch = first if isinstance(first, int) else None  # a symbol when exported with Dim
    module = program.module()
    parameters = sum(program.state_dict[name].numel() for name in signature.parameters)
    model = Foreign(module, inner=module, batch=batch, scale=scale)
    return Loaded(model, "export", "exported program", parameters, {}, scale)


def _onnx(path: Path, scale: str) -> Loaded:
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise CheckpointError(
            f"{path} is an ONNX model: install the extra to run it: pip install 'mnist-model[onnx]'"
        ) from None
    graph = _quietly(lambda p: onnx.load(str(p), load_external_data=False), path, "ONNX").graph
    session = _quietly(
        lambda p: onnxruntime.InferenceSession(str(p), providers=["CPUExecutionProvider"]),
        path,
        "ONNX",
    )
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].type != "tensor(float)":
        raise CheckpointError(
            f"{path}: the ONNX model takes {[i.type for i in inputs]}; the gate gives one "
            "float tensor (N, 1, 28, 28)"
        )
    name, first = inputs[0].name, inputs[0].shape[0]

    def run(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {name: x.contiguous().numpy()})[0])

    parameters = sum(  # scalars are constants (a rescaling), not weights
        int(torch.Size(t.dims).numel())
        for t in graph.initializer
        if t.data_type in FLOAT_ONNX and len(t.dims) > 0
    )
    batch = first if isinstance(first, int) else None
    model = Foreign(run, inner=None, batch=batch, scale=scale)
    return Loaded(model, "onnx", graph.name or "ONNX graph", parameters, {}, scale)
