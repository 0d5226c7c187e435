"""``mnist-model report`` (the model card of a checkpoint) and ``summary`` (the layer
table)."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_model.cli.common import (
    ON,
    checkpoint_flag,
    data_dir_flag,
    folder,
    thresholds_flag,
    writable,
)


def report_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    checkpoint_flag(parser)
    parser.add_argument("--out", type=Path, required=True, help="the report folder (required)")
    parser.add_argument("--ood", **ON, help="add the out-of-distribution suite's table")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="add the comparison with this baseline record or model file",
    )
    thresholds_flag(parser)


def report(args: argparse.Namespace) -> int:
    """The model card of this project's checkpoint (it reads the training history)."""
    from mnist_model.data import load_split, resolve_data_root
    from mnist_model.gate import ood, thresholds
    from mnist_model.report.card import REPORT_FILES
    from mnist_model.run.runner import rebuild_report

    out = folder(args.out)
    writable(*(out / name for name in REPORT_FILES.values()))
    root = resolve_data_root(args.data_dir)
    test_xy = load_split(root, train=False)
    comparison = None
    if args.baseline is not None:
        from mnist_model.cli.judge import comparison_of
        from mnist_model.gate import paired

        comparison = paired.comparison_text(*comparison_of(args, root))
    paths = rebuild_report(
        out,
        args.checkpoint,
        test_xy,
        ood=args.ood,
        ood_cache=ood.cache_dir(root),
        comparison=comparison,
        bars=thresholds.load(args.thresholds),
    )
    for name, path in paths.items():
        print(f"wrote {name}: {path}")
    return 0


def summary_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="the mnist-model checkpoint whose network to show (default: the default "
        "network, untrained)",
    )


def summary(args: argparse.Namespace) -> int:
    """The layer table of the default network, or of a checkpoint's."""
    from mnist_model.formats import project_checkpoint
    from mnist_model.model import MnistNet
    from mnist_model.report.layers import summary_text

    why = "summary reads (it shows an MnistNet's layers)"
    model = MnistNet() if args.checkpoint is None else project_checkpoint(args.checkpoint, why)[0]
    print(summary_text(model))
    return 0


COMMANDS = {
    "summary": ("layer table with output shapes and parameter counts", summary_flags, summary),
    "report": ("rebuild the pictures and report.md of a checkpoint", report_flags, report),
}
