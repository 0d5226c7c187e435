"""``mnist-model export``: a model as TorchScript, a torch.export program or ONNX."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_model.cli.common import checkpoint_flag, load_model, writable


def export_flags(parser: argparse.ArgumentParser) -> None:
    checkpoint_flag(parser)
    parser.add_argument(
        "--format",
        required=True,
        choices=("torchscript", "export", "onnx"),
        help="torchscript (torch.jit), export (a torch.export .pt2 program) or onnx (needs "
        "the [onnx] extra) (required)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the file to write (required)")


def export(args: argparse.Namespace) -> int:
    """Any model file -> the format asked for; an MnistNet in its folded inference form.
    The written file is loaded back and must give the same predictions on a probe batch."""
    import torch

    from mnist_model.errors import CheckpointError
    from mnist_model.formats import load_any
    from mnist_model.formats.export import export_model

    writable(args.out)
    loaded = load_model(args)
    if loaded.format == "onnx":
        raise CheckpointError(f"{args.checkpoint} is ONNX already: nothing to export")
    export_model(loaded.model, args.format, args.out)
    again = load_any(args.out)
    probe = torch.randn(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        same = torch.equal(loaded.model.eval()(probe).argmax(1), again.model(probe).argmax(1))
    if not same:
        args.out.unlink()
        raise CheckpointError(f"the exported {args.format} file predicts otherwise: not kept")
    print(f"wrote {args.out}: {again.description}")
    return 0


COMMANDS = {
    "export": (
        "write a model as TorchScript, a torch.export program or ONNX (any batch size)",
        export_flags,
        export,
    )
}
