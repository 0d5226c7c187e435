"""Export a model to TorchScript, a ``torch.export`` program or ONNX, any batch size.

An MnistNet is exported in its inference form (``inference.fold_for_inference``: BatchNorm
folded into the convolutions), the function ``predict`` and the gate run, so the file
gives the same predictions as the checkpoint. It therefore has fewer parameters than the
trained network (no BatchNorm scale and shift). Any other module is exported as loaded,
with its input scale, so every exported file takes the gate's normalised input.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import torch
from torch import nn

from mnist_model.atomic import atomic_path
from mnist_model.errors import CheckpointError
from mnist_model.inference import fold_for_inference
from mnist_model.model import MnistNet

EXPORTS = ("torchscript", "export", "onnx")


def exportable(model: nn.Module) -> nn.Module:
    """What is written: an MnistNet's folded form, any other module itself."""
    return fold_for_inference(model) if isinstance(model, MnistNet) else model.eval()


def export_model(model: nn.Module, kind: str, out: Path) -> Path:
    """Write ``model`` as ``kind`` (``EXPORTS``) to ``out`` atomically; return ``out``."""
    if kind not in EXPORTS:
        raise CheckpointError(f"export format {kind!r}: choose one of {list(EXPORTS)}")
    net = exportable(model)
    example = torch.zeros(2, 1, 28, 28)
    out = Path(out)
    try:
        with atomic_path(out) as tmp, _quiet():
            if kind == "torchscript":
                torch.jit.save(torch.jit.trace(net, example), str(tmp))
            elif kind == "export":
                buffer = io.BytesIO()  # torch.export.save wants a name ending in .pt2
                torch.export.save(
                    torch.export.export(net, (example,), dynamic_shapes=_batch()), buffer
                )
                tmp.write_bytes(buffer.getvalue())
            else:
                _onnx(net, example, tmp)
    except CheckpointError:
        raise
    except Exception as exc:  # noqa: BLE001 - the exporters raise many kinds
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise CheckpointError(f"cannot export to {kind}: {first}") from None
    return out


def _batch():
    return ({0: torch.export.Dim("batch", min=1, max=65_536)},)


def _onnx(net: nn.Module, example: torch.Tensor, tmp: Path) -> None:
    try:
        import onnxscript  # noqa: F401 - torch.onnx's exporter needs it
    except ImportError:
        raise CheckpointError(
            "exporting ONNX needs the extra: pip install 'mnist-model[onnx]'"
        ) from None
    torch.onnx.export(
        net, (example,), str(tmp), dynamo=True, dynamic_shapes=_batch(), verbose=False
    )


@contextlib.contextmanager
def _quiet():
    """The exporters' deprecation warnings and progress lines stay off the terminal."""
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        yield
