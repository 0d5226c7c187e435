"""The ``mnist-model`` command line: a thin layer that builds configs and calls the package.

Expected failures (bad paths, corrupt data, unsafe checkpoints, bad flag values) print
one line ``mnist-model: error: ...`` and exit 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_model.config import PRESETS, TrainConfig
from mnist_model.errors import MnistModelError

log = logging.getLogger("mnist_model")

EXIT_ERROR = 2


DATA_DIR_HELP = "MNIST root (holds MNIST/raw); default $MNIST_MODEL_DATA, else ~/.cache/mnist-model"
REMEASURE_HELP = (
    "with --precision/--layout auto: time the candidates again instead of using this "
    "machine's cached choice"
)


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

    def command(name: str, help_: str, *, data: bool = True) -> argparse.ArgumentParser:
        one = sub.add_parser(name, help=help_)
        if data:
            one.add_argument("--data-dir", default=None, help=DATA_DIR_HELP)
        return one

    data = command("data", "acquire and verify MNIST, print the four MD5s")
    data.add_argument("--verify", action="store_true", help="only check the files already there")
    command("summary", "layer table with output shapes and parameter counts", data=False)

    train = command("train", "acquire data, train, evaluate, write artifacts")
    sweep = command("sweep", "train the recipe once per seed; summarise the spread")
    for one in (train, sweep):
        _add_train_config_flags(one)
        one.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")
        one.add_argument("--remeasure", action="store_true", help=REMEASURE_HELP)
        one.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            help="tqdm bars (default: only on a terminal)",
        )
    train.add_argument("--out", type=Path, default=Path("artifacts"), help="artifacts folder")
    for flag, split in (
        ("--limit", "train on the first N training"),
        ("--test-limit", "evaluate on the first N test"),
    ):
        train.add_argument(flag, type=int, help=f"{split} images only (quick runs, tests)")
    train.add_argument(
        "--resume",
        action="store_true",
        help="continue from the training state OUT/train_state.pt, written after every epoch",
    )
    sweep.add_argument("--seeds", default="0-4", help="'0-4' or '1,5,9' (replaces --seed)")
    sweep.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts/sweep"),
        help="folder for sweep.json and one artifacts folder per seed",
    )

    report = command("report", "rebuild the pictures and report.md of a checkpoint")
    report.add_argument("--checkpoint", type=Path, required=True)
    report.add_argument("--out", type=Path, required=True, help="folder for the report files")

    predict = command("predict", "predict the digit in image files (PNG/JPEG/BMP)", data=False)
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--checkpoint", type=Path, required=True)
    predict.add_argument("--json", action="store_true", help="print a JSON list")

    bench = command("bench", "training and inference throughput vs the reference")
    bench.add_argument(
        "--images",
        type=int,
        help="training images per throughput measurement (15360; 5120 with --cpu-classes)",
    )
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument(
        "--full", action="store_true", help="also train both recipes end to end (several minutes)"
    )
    bench.add_argument(
        "--checkpoint", type=Path, help="model for the inference figures (default: a fresh one)"
    )
    bench.add_argument(
        "--cpu-classes",
        action="store_true",
        help="instead: training images/s of bf16, float32, auto and the reference under "
        "each simulated CPU class (native, AVX-512 without BF16, AVX2), in subprocesses",
    )
    for name, what in (("threads", "thread counts"), ("batches", "batch sizes")):
        bench.add_argument(
            f"--{name}",
            type=_integers,
            metavar="N,N,...",
            help=f"instead: the default recipe's training images/s for these {what} (with "
            "the other list, every pair), taking turns",
        )
    bench.add_argument("--out", type=Path, default=Path("artifacts/bench.json"))

    evaluate = command("evaluate", "recompute the metrics of a saved checkpoint")
    evaluate.add_argument("--checkpoint", type=Path, required=True)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


def _integers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 1,2, got {text!r}") from None


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise MnistModelError(f"{name} must be a positive integer, got {value}")
    return value


def cmd_data(args: argparse.Namespace) -> int:
    from mnist_model.data import acquire, raw_dir, resolve_data_root, verify

    root = resolve_data_root(args.data_dir)
    checksums = verify(root) if args.verify else acquire(root)
    for name, md5 in sorted(checksums.items()):
        print(f"{md5}  {raw_dir(root) / name}")
    print(f"OK: {len(checksums)} files verified under {raw_dir(root)}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from mnist_model.model import MnistNet
    from mnist_model.summary import summary_text

    print(summary_text(MnistNet()))
    return 0


def _load_data(data_dir: str | None, *, acquire_missing: bool):
    from mnist_model.data import acquire, load_split, resolve_data_root, verify

    root = resolve_data_root(data_dir)
    checksums = acquire(root) if acquire_missing else verify(root)
    train_x, train_y = load_split(root, train=True, verified=True)
    test_x, test_y = load_split(root, train=False, verified=True)
    return checksums, (train_x, train_y), (test_x, test_y)


def _train_config(args: argparse.Namespace, **overrides: object) -> TrainConfig:
    """The preset's TrainConfig with every flag the user gave (and ``overrides``) applied."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    given = {name: value for name, value in given.items() if value is not None}
    try:
        return dataclasses.replace(PRESETS[args.preset], **{**given, **overrides})
    except ValueError as exc:
        raise MnistModelError(str(exc)) from None


def cmd_train(args: argparse.Namespace) -> int:
    from mnist_model.artifacts import train_and_write
    from mnist_model.distributed import join_torchrun
    from mnist_model.train import select_device

    config = _train_config(args)
    limit = _positive("--limit", args.limit)
    test_limit = _positive("--test-limit", args.test_limit)
    device, config = join_torchrun(select_device(args.device), config)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise MnistModelError(f"--out {out} exists and is not a folder")

    checksums, (train_x, train_y), (test_x, test_y) = _load_data(
        args.data_dir, acquire_missing=True
    )
    train_x, train_y, test_x, test_y = (
        train_x[:limit],
        train_y[:limit],
        test_x[:test_limit],
        test_y[:test_limit],
    )
    log.info(
        "training on %d images, testing on %d, device %s, %s",
        len(train_x),
        len(test_x),
        device,
        config,
    )
    run, paths = train_and_write(
        config,
        out,
        (train_x, train_y),
        (test_x, test_y),
        checksums=checksums,
        device=device,
        progress=args.progress,
        resume=args.resume,
        remeasure=args.remeasure,
    )
    if not paths:  # a torchrun rank other than 0: rank 0 reports and writes
        return 0
    final = run.final
    print(final.reference_line())
    worst = final.worst_class
    print(
        f"final accuracy {100 * final.accuracy:.2f}% (worst class {worst}: "
        f"{100 * final.per_class_accuracy[worst]:.2f}%) after {len(run.history)} epochs "
        f"in {run.seconds:.1f}s"
    )
    for name, path in paths.items():
        print(f"wrote {name}: {path}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from mnist_model import distributed
    from mnist_model.sweep import parse_seeds, run_sweep, summary_table
    from mnist_model.train import select_device

    if distributed.launched_by_torchrun():
        raise MnistModelError("sweep runs seeds one after another; start it without torchrun")
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        raise MnistModelError(str(exc)) from None
    configs = {seed: _train_config(args, seed=seed) for seed in seeds}
    device = select_device(args.device)
    checksums, train_xy, test_xy = _load_data(args.data_dir, acquire_missing=True)
    summary = run_sweep(
        configs,
        args.out,
        train_xy,
        test_xy,
        checksums=checksums,
        device=device,
        progress=args.progress,
        remeasure=args.remeasure,
    )
    print(summary_table(summary))
    print(f"wrote {args.out / 'sweep.json'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mnist_model.artifacts import rebuild_report
    from mnist_model.data import load_split, resolve_data_root

    if args.out.exists() and not args.out.is_dir():
        raise MnistModelError(f"--out {args.out} exists and is not a folder")

    test_xy = load_split(resolve_data_root(args.data_dir), train=False)
    for name, path in rebuild_report(args.out, args.checkpoint, test_xy).items():
        print(f"wrote {name}: {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Every readable image is reported; unreadable ones get a one-line error each."""
    from mnist_model.predict import load_model, predict_files

    rows = predict_files(load_model(args.checkpoint), args.images)
    for row in rows:
        if "error" in row:
            print(f"mnist-model: error: {row['error']}", file=sys.stderr)
        elif not args.json:
            top3 = ", ".join(f"{t['digit']}: {100 * t['probability']:.1f}%" for t in row["top3"])
            print(
                f"{row['image']}: {row['digit']} ({100 * row['probability']:.1f}%)  top 3: {top3}"
            )
    if args.json:
        print(json.dumps(rows, indent=2))
    return EXIT_ERROR if any("error" in row for row in rows) else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from mnist_model.atomic import atomic_write_json
    from mnist_model.bench.run import run_command
    from mnist_model.data import resolve_data_root, verify

    _positive("--images", args.images)
    _positive("--repeats", args.repeats)
    for name in ("threads", "batches"):
        for value in getattr(args, name) or []:
            _positive(f"--{name}", value)
    root = resolve_data_root(args.data_dir)
    verify(root)
    result, table = run_command(
        root,
        images=args.images,
        repeats=args.repeats,
        full=args.full,
        checkpoint=args.checkpoint,
        cpu_classes=args.cpu_classes,
        threads=args.threads,
        batches=args.batches,
    )
    atomic_write_json(args.out, result)
    print(table)
    print(f"wrote {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.data import load_split, resolve_data_root
    from mnist_model.evaluate import evaluate

    model, payload = load_checkpoint(args.checkpoint)
    test_x, test_y = load_split(resolve_data_root(args.data_dir), train=False)
    result = evaluate(model, test_x, test_y)
    if args.json:
        print(json.dumps({**result.to_dict(), "per_class": result.per_class_rows()}))
        return 0
    print(result.reference_line())
    print(result.per_class_text())
    return 0


COMMANDS = {
    "data": cmd_data,
    "summary": cmd_summary,
    "train": cmd_train,
    "sweep": cmd_sweep,
    "evaluate": cmd_evaluate,
    "report": cmd_report,
    "predict": cmd_predict,
    "bench": cmd_bench,
}


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
        return COMMANDS[args.command](args)
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
