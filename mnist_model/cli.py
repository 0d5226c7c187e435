"""mnist-model: train a 7,954-parameter MNIST CNN, judge it, and read digits with it.

Every command's flags and their meaning: ``mnist-model COMMAND --help``. Expected
failures (bad paths, corrupt data, unsafe checkpoints, bad flag values) print one line
``mnist-model: error: ...`` and exit 2; ``--debug`` shows the traceback instead.
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
from mnist_model.config import PRESETS, Machine, TrainConfig
from mnist_model.errors import MnistModelError

log = logging.getLogger("mnist_model")


def _integers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2, got {text!r}") from None


ON = {"action": "store_true"}
CHECKPOINT = (
    "--checkpoint",
    {"type": Path, "required": True, "help": "the model.pt to use (required)"},
)
DATA_DIR = (
    "--data-dir",
    {
        "help": "the MNIST root, which holds MNIST/raw (default: $MNIST_MODEL_DATA, else "
        "~/.cache/mnist-model)"
    },
)
RUN_FLAGS = (  # train and sweep
    (
        "--remeasure",
        {**ON, "help": "time the arithmetic candidates again instead of using the cached choice"},
    ),
    (
        "--progress",
        {
            "action": argparse.BooleanOptionalAction,
            "help": "show a progress bar per epoch (default: only on a terminal)",
        },
    ),
)
COMMAND_FLAGS: dict[str, tuple[str, tuple]] = {
    "data": (
        "acquire and verify MNIST, print the four MD5s",
        (
            DATA_DIR,
            ("--verify", {**ON, "help": "only check the files already there, fetch nothing"}),
        ),
    ),
    "summary": ("layer table with output shapes and parameter counts", ()),
    "train": (
        "acquire data, train, evaluate, write artifacts",
        (
            DATA_DIR,
            *RUN_FLAGS,
            (
                "--out",
                {
                    "type": Path,
                    "default": Path("artifacts"),
                    "help": "folder the run's files are written to (default: artifacts)",
                },
            ),
            (
                "--limit",
                {"type": int, "help": "train on the first N training images (default: all)"},
            ),
            (
                "--test-limit",
                {"type": int, "help": "evaluate on the first N test images (default: all)"},
            ),
            (
                "--resume",
                {**ON, "help": "continue a stopped run from OUT/train_state.pt (saved each epoch)"},
            ),
        ),
    ),
    "sweep": (
        "train the recipe once per seed; summarise the spread",
        (
            DATA_DIR,
            *RUN_FLAGS,
            (
                "--seeds",
                {"default": "0-4", "help": "seeds to train, '0-4' or '1,5,9' (default: 0-4)"},
            ),
            (
                "--out",
                {
                    "type": Path,
                    "default": Path("artifacts/sweep"),
                    "help": "folder of the seeds' runs and sweep.json (default: artifacts/sweep)",
                },
            ),
        ),
    ),
    "report": (
        "rebuild the pictures and report.md of a checkpoint",
        (
            DATA_DIR,
            CHECKPOINT,
            ("--out", {"type": Path, "required": True, "help": "the report folder (required)"}),
            ("--ood", {**ON, "help": "add the out-of-distribution suite's table"}),
            (
                "--baseline",
                {
                    "type": Path,
                    "help": "add the comparison with this baseline record or checkpoint",
                },
            ),
        ),
    ),
    "predict": (
        "predict the digit in image files (PNG/JPEG/BMP)",
        (
            (
                "images",
                {"nargs": "+", "type": Path, "metavar": "IMAGE", "help": "image files to read"},
            ),
            CHECKPOINT,
            ("--json", {**ON, "help": "print a JSON list instead of one line per image"}),
            (
                "--preprocess",
                {
                    "choices": ("default", "plain"),
                    "default": "default",
                    "help": "how a picture becomes a 28x28 digit: default (polarity, lighting, "
                    "ink mask, ruling removed) or plain (invert light paper, crop, fit, "
                    "centre) (default: default)",
                },
            ),
        ),
    ),
    "bench": (
        "training and inference throughput vs the reference",
        (
            DATA_DIR,
            (
                "--images",
                {"type": int, "help": "training images per measurement (default: 15360)"},
            ),
            ("--repeats", {"type": int, "default": 3, "help": "repeats per figure (default: 3)"}),
            ("--full", {**ON, "help": "also train both recipes end to end (minutes)"}),
            (
                "--checkpoint",
                {"type": Path, "help": "model for the inference figures (default: untrained)"},
            ),
            ("--cpu-classes", {**ON, "help": "instead: training speeds per simulated CPU class"}),
            (
                "--threads",
                {"type": _integers, "help": "instead: training speed of N,N,... threads"},
            ),
            ("--batches", {"type": _integers, "help": "... and/or batch sizes N,N,..., in turns"}),
            (
                "--out",
                {
                    "type": Path,
                    "default": Path("artifacts/bench.json"),
                    "help": "where the JSON goes (default: artifacts/bench.json)",
                },
            ),
        ),
    ),
    "ood": (
        "accuracy of a checkpoint on the out-of-distribution digit suite, per condition",
        (
            DATA_DIR,
            (
                "--checkpoint",
                {
                    "type": Path,
                    "action": "append",
                    "required": True,
                    "help": "a model.pt to score (required); repeat it to average over models",
                },
            ),
            ("--per-class", {"type": int, "help": "pictures of each digit per condition (100)"}),
            (
                "--seed",
                {"type": int, "default": 0, "help": "the suite's seed (default: 0, the gate's)"},
            ),
            (
                "--ablate",
                {
                    **ON,
                    "help": "also score the default preprocessing with each of its steps "
                    "switched off, one column each (the ablation table)",
                },
            ),
            ("--json", {**ON, "help": "print the accuracies as JSON"}),
        ),
    ),
    "thresholds": (
        "record evidence, derive the floors from it, or check evidence against them",
        (
            DATA_DIR,
            (
                "action",
                {
                    "choices": ("record", "derive", "check"),
                    "help": "record: measure checkpoints into evidence files; derive: compute "
                    "the thresholds file from evidence; check: judge evidence against it",
                },
            ),
            (
                "paths",
                {
                    "nargs": "+",
                    "type": Path,
                    "metavar": "PATH",
                    "help": "checkpoints (record), or evidence files or folders",
                },
            ),
            ("--out", {"type": Path, "help": "record: evidence folder; derive: file to write"}),
            (
                "--arithmetic-class",
                {
                    "help": "record: the class the checkpoints were trained in (default: this "
                    "machine's for their precision)"
                },
            ),
            ("--thresholds", {"type": Path, "help": "check: the file to judge against"}),
        ),
    ),
    "baseline": (
        "write the baseline record of a checkpoint: its prediction for every test image "
        "and suite picture",
        (
            DATA_DIR,
            CHECKPOINT,
            ("--out", {"type": Path, "required": True, "help": "the record to write (required)"}),
        ),
    ),
    "compare": (
        "is a candidate worse than the baseline? a paired, image-by-image test",
        (
            DATA_DIR,
            CHECKPOINT,
            (
                "--baseline",
                {
                    "type": Path,
                    "required": True,
                    "help": "the accepted model: a baseline record (.json) or a checkpoint "
                    "(.pt) (required)",
                },
            ),
            ("--json", {**ON, "help": "print the comparison as JSON"}),
        ),
    ),
    "evaluate": (
        "recompute the metrics of a saved checkpoint",
        (DATA_DIR, CHECKPOINT, ("--json", {**ON, "help": "print the metrics as JSON"})),
    ),
}
"""Every subcommand: its help and its flags (``add_argument`` arguments); train and sweep
also get one flag per TrainConfig field (``_add_train_config_flags``)."""


def field_docs(cls: type) -> dict[str, str]:
    """Each dataclass field's docstring (the string right after it in the source), on one
    line: the meaning its flag's help shows."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr):
            text = getattr(after.value, "value", None)
            if isinstance(text, str):
                docs[node.target.id] = " ".join(text.split())
    return docs


def _add_train_config_flags(parser: argparse.ArgumentParser) -> None:
    """``--preset`` plus one flag per TrainConfig and Machine field, each with its meaning
    and default. A recipe flag left out takes the preset's value (see
    ``commands._train_config``), so the flags default to None here."""
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="the recipe the other flags start from: default (what CI judges) or fast (a "
        "smoke-test recipe that may miss the bar) (default: default)",
    )
    for cls in (TrainConfig, Machine):
        docs, defaults = field_docs(cls), cls()
        for field in dataclasses.fields(cls):
            default = getattr(defaults, field.name)
            flag = "--" + field.name.replace("_", "-")
            which = "default preset" if cls is TrainConfig else "default"
            help_ = f"{docs[field.name]} ({which}: {default})".replace("%", "%%")
            if isinstance(default, bool):
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_)
            elif "choices" in field.metadata:
                parser.add_argument(flag, choices=field.metadata["choices"], help=help_)
            else:
                parser.add_argument(flag, type=type(default), help=help_)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-model", description=__doc__.split("\n\n")[0].split(": ", 1)[1]
    )
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
    except KeyboardInterrupt as exc:
        hint = f"; {exc}" if str(exc) else ""
        print(f"mnist-model: interrupted{hint}", file=sys.stderr)
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
