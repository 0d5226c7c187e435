"""The ``mnist-model`` command line: parses it and dispatches to ``mnist_model.commands``.

Expected failures (bad paths, corrupt data, unsafe checkpoints, bad flag values) print
one line ``mnist-model: error: ...`` and exit 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_model import commands
from mnist_model.commands import EXIT_ERROR
from mnist_model.config import PRESETS, TrainConfig
from mnist_model.errors import MnistModelError

log = logging.getLogger("mnist_model")


def _integers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2, got {text!r}") from None


ON = {"action": "store_true"}
CHECKPOINT = ("--checkpoint", {"type": Path, "required": True})
DATA_DIR = ("--data-dir", {"help": "MNIST root (holds MNIST/raw); default $MNIST_MODEL_DATA"})
RUN_FLAGS = (  # train and sweep
    ("--device", {"default": "auto", "help": "auto (CUDA if present), cpu, cuda"}),
    ("--remeasure", {**ON, "help": "time the arithmetic candidates again (precision auto)"}),
    ("--progress", {"action": argparse.BooleanOptionalAction, "help": "tqdm bars (on a tty)"}),
)
COMMAND_FLAGS: dict[str, tuple[str, tuple]] = {
    "data": (
        "acquire and verify MNIST, print the four MD5s",
        (DATA_DIR, ("--verify", {**ON, "help": "only check the files already there"})),
    ),
    "summary": ("layer table with output shapes and parameter counts", ()),
    "train": (
        "acquire data, train, evaluate, write artifacts",
        (
            DATA_DIR,
            *RUN_FLAGS,
            ("--out", {"type": Path, "default": Path("artifacts"), "help": "artifacts folder"}),
            ("--limit", {"type": int, "help": "train on the first N training images only"}),
            ("--test-limit", {"type": int, "help": "evaluate on the first N test images only"}),
            ("--resume", {**ON, "help": "continue from OUT/train_state.pt (saved every epoch)"}),
        ),
    ),
    "sweep": (
        "train the recipe once per seed; summarise the spread",
        (
            DATA_DIR,
            *RUN_FLAGS,
            ("--seeds", {"default": "0-4", "help": "'0-4' or '1,5,9' (replaces --seed)"}),
            ("--out", {"type": Path, "default": Path("artifacts/sweep"), "help": "sweep folder"}),
        ),
    ),
    "report": (
        "rebuild the pictures and report.md of a checkpoint",
        (
            DATA_DIR,
            CHECKPOINT,
            ("--out", {"type": Path, "required": True}),
            ("--ood", {**ON, "help": "add the out-of-distribution suite's table (1 min)"}),
        ),
    ),
    "predict": (
        "predict the digit in image files (PNG/JPEG/BMP)",
        (
            ("images", {"nargs": "+", "type": Path, "metavar": "IMAGE"}),
            CHECKPOINT,
            ("--json", {**ON, "help": "print a JSON list"}),
        ),
    ),
    "bench": (
        "training and inference throughput vs the reference",
        (
            DATA_DIR,
            ("--images", {"type": int, "help": "training images a measurement (15360)"}),
            ("--repeats", {"type": int, "default": 3}),
            ("--full", {**ON, "help": "also train both recipes end to end (minutes)"}),
            ("--checkpoint", {"type": Path, "help": "model for the inference figures"}),
            ("--cpu-classes", {**ON, "help": "instead: training speeds per simulated CPU class"}),
            (
                "--threads",
                {"type": _integers, "help": "instead: training speed of N,N,... threads"},
            ),
            ("--batches", {"type": _integers, "help": "... and/or batch sizes N,N,..., in turns"}),
            ("--out", {"type": Path, "default": Path("artifacts/bench.json")}),
        ),
    ),
    "ood": (
        "accuracy of a checkpoint on the out-of-distribution digit suite, per condition",
        (
            DATA_DIR,
            CHECKPOINT,
            ("--per-class", {"type": int, "help": "pictures of each digit per condition (50)"}),
            ("--seed", {"type": int, "default": 0, "help": "the suite's seed (0: the gate's)"}),
            ("--json", {**ON, "help": "print the accuracies as JSON"}),
        ),
    ),
    "evaluate": (
        "recompute the metrics of a saved checkpoint",
        (DATA_DIR, CHECKPOINT, ("--json", {**ON, "help": "print the metrics as JSON"})),
    ),
}
"""Every subcommand: its help and its flags (``add_argument`` arguments); train and sweep
also get one flag per TrainConfig field (``_add_train_config_flags``)."""


def _add_train_config_flags(parser: argparse.ArgumentParser) -> None:
    """``--preset`` plus one flag per TrainConfig field. A flag left out takes the preset's
    value (see ``_train_config``), so the flags default to None here."""
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="the recipe the other flags start from (default: default; fast: fewer epochs)",
    )
    defaults = TrainConfig()
    for field in dataclasses.fields(TrainConfig):
        default = getattr(defaults, field.name)
        flag, help_ = "--" + field.name.replace("_", "-"), f"{default} in the default preset"
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_)
        elif "choices" in field.metadata:
            parser.add_argument(flag, choices=field.metadata["choices"], help=help_)
        else:
            parser.add_argument(flag, type=type(default), help=help_)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-model", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, flags) in COMMAND_FLAGS.items():
        command = sub.add_parser(name, help=help_)
        if name in ("train", "sweep"):
            _add_train_config_flags(command)
        for flag, options in flags:
            command.add_argument(flag, **options)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # The package's logger only, and as it was afterwards: main() also runs in-process
    # (tests, notebooks), where the root logger is not ours to change.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    log.propagate = False
    try:
        return getattr(commands, f"cmd_{args.command}")(args)
    except KeyboardInterrupt:
        print("mnist-model: interrupted", file=sys.stderr)
        return 130
    except (MnistModelError, OSError) as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"mnist-model: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
