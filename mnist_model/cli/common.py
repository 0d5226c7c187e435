"""What the commands share: the flags several take, reading the data, and the checks of a
flag's value that argparse cannot make."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_model.errors import MnistModelError

EXIT_ERROR = 2
"""A failure the user can cause: one line ``mnist-model: error: ...`` and this status."""
EXIT_FAILED = 1
"""The model was judged and failed (``gate``, ``ood``, ``compare``, ``thresholds check``)."""
ON = {"action": "store_true"}


def data_dir_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="the MNIST root, which holds MNIST/raw (default: $MNIST_MODEL_DATA, else "
        "~/.cache/mnist-model)",
    )


def checkpoint_flag(
    parser: argparse.ArgumentParser, *, many: bool = False, required: bool = True
) -> None:
    """``--checkpoint`` (any model format: ``formats.load_any``) with the flags that say
    how to read it, ``--model-class`` and ``--input-scale``."""
    from mnist_model.config import INPUT_SCALES

    parser.add_argument(
        "--checkpoint",
        type=Path,
        required=required,
        action="append" if many else "store",
        help="the model to use"
        + (" (required)" if required else "")
        + ": an mnist-model checkpoint, a state_dict (with --model-class), TorchScript, a "
        "torch.export program (.pt2) or ONNX; the format is read from the file"
        + ("; repeat it to average over models" if many else ""),
    )
    parser.add_argument(
        "--model-class",
        metavar="MODULE:NAME",
        help="for a state_dict: the nn.Module class (or factory taking no arguments) to load "
        "it into, importable from the current folder or PYTHONPATH",
    )
    parser.add_argument(
        "--input-scale",
        choices=tuple(INPUT_SCALES),
        default="mnist",
        help="the pixels the model was trained on: "
        + "; ".join(f"{k}: {v}" for k, v in INPUT_SCALES.items())
        + " (default: mnist)",
    )


def thresholds_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--thresholds",
        type=Path,
        help="the floors to judge against: a file from `mnist-model thresholds derive` "
        "(default: the shipped floors, derived from this project's recipe)",
    )


def load_model(args: argparse.Namespace, path: Path | None = None):
    """The model ``--checkpoint`` (or ``path``) names, read as its flags say
    (``formats.Loaded``)."""
    from mnist_model.formats import load_any

    return load_any(
        path or args.checkpoint, model_class=args.model_class, input_scale=args.input_scale
    )


def json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", **ON, help=f"print {what} as JSON")


def integers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2, got {text!r}") from None


def positive(name: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise MnistModelError(f"{name} must be a positive integer, got {value}")
    return value


def writable(*paths: Path) -> None:
    """Refuse, before the long work, outputs that could not be written afterwards: a
    folder, a device, a FIFO or socket where a file goes, or a folder that is not
    writable (``atomic.check_writable``)."""
    from mnist_model.atomic import check_writable

    check_writable(paths)


def folder(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise MnistModelError(f"--out {out} exists and is not a folder")
    return out


def load_data(data_dir: str | None, *, acquire_missing: bool = True):
    """(checksums, (train images, labels), (test images, labels)) of the verified data."""
    from mnist_model.data import acquire, load_split, resolve_data_root, verify

    root = resolve_data_root(data_dir)
    checksums = acquire(root) if acquire_missing else verify(root)
    splits = (load_split(root, train=train, verified=True) for train in (True, False))
    return checksums, *splits


def read_test_split(data_dir: str | None):
    """(the data root, (test images, labels)) of the verified test split."""
    from mnist_model.data import load_split, resolve_data_root

    root = resolve_data_root(data_dir)
    return root, load_split(root, train=False)
