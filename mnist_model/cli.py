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
import time
from collections.abc import Sequence
from pathlib import Path

from mnist_model.config import PRESETS, TrainConfig
from mnist_model.errors import MnistModelError

log = logging.getLogger("mnist_model")

EXIT_ERROR = 2
STATE_NAME = "train_state.pt"


def _add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        default=None,
        help="MNIST root (holds MNIST/raw); default $MNIST_MODEL_DATA, else ~/.cache/mnist-model",
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
        flag = "--" + field.name.replace("_", "-")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None)
        elif "choices" in field.metadata:
            parser.add_argument(
                flag,
                choices=field.metadata["choices"],
                default=None,
                help=f"{default} in the default preset",
            )
        else:
            parser.add_argument(
                flag, type=type(default), default=None, help=f"{default} in the default preset"
            )


def _add_remeasure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--remeasure",
        action="store_true",
        help="with --precision/--layout auto: time the candidates again instead of using "
        "this machine's cached choice",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mnist-model", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="acquire and verify MNIST, print the four MD5s")
    _add_data_dir(data)
    data.add_argument("--verify", action="store_true", help="only check the files already there")

    sub.add_parser("summary", help="layer table with output shapes and parameter counts")

    train = sub.add_parser("train", help="acquire data, train, evaluate, write artifacts")
    _add_data_dir(train)
    _add_train_config_flags(train)
    train.add_argument("--out", type=Path, default=Path("artifacts"), help="artifacts folder")
    train.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda")
    train.add_argument(
        "--limit",
        type=int,
        default=None,
        help="train on the first N training images only (quick runs, tests)",
    )
    train.add_argument(
        "--test-limit",
        type=int,
        default=None,
        help="evaluate on the first N test images only (quick runs, tests)",
    )
    train.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="tqdm bars (default: only on a terminal)",
    )
    _add_remeasure(train)
    train.add_argument(
        "--resume",
        action="store_true",
        help=f"continue from OUT/{STATE_NAME}, which is written after every epoch",
    )

    sweep = sub.add_parser("sweep", help="train the recipe once per seed; summarise the spread")
    _add_data_dir(sweep)
    _add_train_config_flags(sweep)
    sweep.add_argument("--seeds", default="0-4", help="'0-4' or '1,5,9' (replaces --seed)")
    sweep.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts/sweep"),
        help="folder for sweep.json and one artifacts folder per seed",
    )
    sweep.add_argument("--device", default="auto")
    _add_remeasure(sweep)
    sweep.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)

    report = sub.add_parser("report", help="rebuild the pictures and report.md of a checkpoint")
    _add_data_dir(report)
    report.add_argument("--checkpoint", type=Path, required=True)
    report.add_argument("--out", type=Path, required=True, help="folder for the report files")

    predict = sub.add_parser("predict", help="predict the digit in image files (PNG/JPEG/BMP)")
    predict.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    predict.add_argument("--checkpoint", type=Path, required=True)
    predict.add_argument("--json", action="store_true", help="print a JSON list")

    bench = sub.add_parser("bench", help="training and inference throughput vs the reference")
    _add_data_dir(bench)
    bench.add_argument(
        "--images",
        type=int,
        default=None,
        help="training images per throughput measurement (15360; 5120 with --cpu-classes)",
    )
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument(
        "--full", action="store_true", help="also train both recipes end to end (several minutes)"
    )
    bench.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="model for the inference figures (default: a fresh one)",
    )
    bench.add_argument(
        "--cpu-classes",
        action="store_true",
        help="instead: training images/s of bf16, float32, auto and the reference under "
        "each simulated CPU class (native, AVX-512 without BF16, AVX2), in subprocesses",
    )
    bench.add_argument("--out", type=Path, default=Path("artifacts/bench.json"))

    evaluate = sub.add_parser("evaluate", help="recompute the metrics of a saved checkpoint")
    _add_data_dir(evaluate)
    evaluate.add_argument("--checkpoint", type=Path, required=True)
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    return parser


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


def _train_and_write(
    config,
    out: Path,
    device,
    checksums,
    train_xy,
    test_xy,
    progress,
    resume=False,
    remeasure=False,
):
    """One training run whose artifacts land in ``out``; returns (TrainResult, paths)."""
    from mnist_model import distributed
    from mnist_model.artifacts import write_final_artifacts, write_metrics
    from mnist_model.train import train

    lead = distributed.rank() == 0  # under torchrun only rank 0 writes anything
    if lead:
        out.mkdir(parents=True, exist_ok=True)
    extra = {
        "device": str(device),
        "train_size": len(train_xy[0]),
        "test_size": len(test_xy[0]),
        "world_size": distributed.world_size(),
    }

    def on_epoch(epoch, record, run):  # metrics.json grows as epochs finish
        if lead:
            write_metrics(out, config, run, extra)

    start = time.perf_counter()
    run = train(
        config,
        *train_xy,
        *test_xy,
        device=device,
        progress=progress,
        on_epoch=on_epoch,
        state_path=out / STATE_NAME if lead else None,
        resume=resume,
        remeasure=remeasure,
    )
    extra["wall_seconds"] = time.perf_counter() - start
    if not lead:
        return run, {}
    paths = write_final_artifacts(out, config, run, checksums, extra)
    # The report describes what the checkpoint holds, with the run's final evaluation (the
    # same weights): evaluating the test set again would only repeat it.
    from mnist_model.checkpoint import read_checkpoint
    from mnist_model.report import build_report

    payload = read_checkpoint(paths["checkpoint"])
    paths.update(build_report(out, run.model, payload, run.history, run.final, *test_xy))
    return run, paths


def _write_report(out: Path, checkpoint: Path, test_xy) -> dict[str, Path]:
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.evaluate import evaluate
    from mnist_model.report import build_report

    model, payload = load_checkpoint(checkpoint)
    result = evaluate(model, *test_xy)
    history = payload.get("metrics", {}).get("history", [])
    return build_report(out, model, payload, history, result, *test_xy)


def _join_torchrun(device, config: TrainConfig):
    """Under torchrun: join the process group, one GPU or a share of the cores per rank,
    and let only rank 0 print progress and results."""
    import os

    import torch

    from mnist_model import distributed

    if not distributed.launched_by_torchrun():
        return device, config
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    distributed.init_from_env(device)
    if config.threads == 0:
        per_rank = (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        config = dataclasses.replace(config, threads=max(1, per_rank))
    if distributed.rank() != 0:
        logging.getLogger().setLevel(logging.WARNING)
    return device, config


def cmd_train(args: argparse.Namespace) -> int:
    from mnist_model.train import select_device

    config = _train_config(args)
    limit = _positive("--limit", args.limit)
    test_limit = _positive("--test-limit", args.test_limit)
    device = select_device(args.device)
    device, config = _join_torchrun(device, config)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        raise MnistModelError(f"--out {out} exists and is not a folder")

    checksums, (train_x, train_y), (test_x, test_y) = _load_data(
        args.data_dir, acquire_missing=True
    )
    if limit is not None:
        train_x, train_y = train_x[:limit], train_y[:limit]
    if test_limit is not None:
        test_x, test_y = test_x[:test_limit], test_y[:test_limit]
    log.info(
        "training on %d images, testing on %d, device %s, %s",
        len(train_x),
        len(test_x),
        device,
        config,
    )
    run, paths = _train_and_write(
        config,
        out,
        device,
        checksums,
        (train_x, train_y),
        (test_x, test_y),
        args.progress,
        resume=args.resume,
        remeasure=args.remeasure,
    )
    if not paths:  # a torchrun rank other than 0: rank 0 reports and writes
        return 0
    final = run.final
    print(final.reference_line())
    worst = min(range(10), key=lambda c: final.per_class_accuracy[c])
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
    from mnist_model.atomic import atomic_write_json
    from mnist_model.sweep import SeedResult, parse_seeds, summarise, summary_table
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
    results = []
    for seed, config in configs.items():
        log.info("seed %d: %s", seed, config)
        run, _ = _train_and_write(
            config,
            args.out / f"seed{seed}",
            device,
            checksums,
            train_xy,
            test_xy,
            args.progress,
            remeasure=args.remeasure and seed == seeds[0],
        )
        results.append(SeedResult.from_eval(seed, run.final, run.seconds))
        print(f"seed {seed}: {run.final.reference_line()}", flush=True)
    summary = {
        **summarise(results),
        "config": dataclasses.asdict(configs[seeds[0]]),
        "device": str(device),
    }
    atomic_write_json(args.out / "sweep.json", summary)
    print(summary_table(summary))
    print(f"wrote {args.out / 'sweep.json'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mnist_model.data import load_split, resolve_data_root

    if args.out.exists() and not args.out.is_dir():
        raise MnistModelError(f"--out {args.out} exists and is not a folder")

    test_xy = load_split(resolve_data_root(args.data_dir), train=False)
    for name, path in _write_report(args.out, args.checkpoint, test_xy).items():
        print(f"wrote {name}: {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Every readable image is reported; unreadable ones get a one-line error each."""
    from mnist_model.inference import inference_form
    from mnist_model.predict import ImageError, load_model, predict, read_image

    model = inference_form(load_model(args.checkpoint))  # fold once, not once per image
    rows, failures = [], 0
    for path in args.images:
        try:
            prediction = predict(model, [read_image(path)])[0]
        except ImageError as exc:
            failures += 1
            message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            print(f"mnist-model: error: {message}", file=sys.stderr)
            rows.append({"image": str(path), "error": message})
            continue
        rows.append({"image": str(path), **prediction.to_dict()})
        if not args.json:
            top3 = ", ".join(f"{d}: {100 * p:.1f}%" for d, p in prediction.top3)
            print(
                f"{path}: {prediction.digit} ({100 * prediction.probability:.1f}%)  top 3: {top3}"
            )
    if args.json:
        print(json.dumps(rows, indent=2))
    return EXIT_ERROR if failures else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from mnist_model.atomic import atomic_write_json
    from mnist_model.bench.run import bench_table, run_bench
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.data import resolve_data_root, verify

    _positive("--images", args.images)
    _positive("--repeats", args.repeats)
    root = resolve_data_root(args.data_dir)
    verify(root)
    if args.cpu_classes:
        from mnist_model.bench.cpu_classes import (
            DEFAULT_IMAGES,
            cpu_classes_table,
            run_cpu_classes,
        )

        if args.full or args.checkpoint:
            raise MnistModelError("--cpu-classes measures training only: drop --full/--checkpoint")
        try:
            result = run_cpu_classes(root, args.images or DEFAULT_IMAGES, args.repeats)
        except RuntimeError as exc:
            raise MnistModelError(str(exc)) from None
        atomic_write_json(args.out, result)
        print(cpu_classes_table(result))
        print(f"wrote {args.out}")
        return 0
    model = load_checkpoint(args.checkpoint)[0] if args.checkpoint else None
    images = args.images or 15360
    result = run_bench(root, images=images, repeats=args.repeats, full=args.full, model=model)
    atomic_write_json(args.out, result)
    print(bench_table(result))
    print(f"wrote {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnist_model.artifacts import per_class_table
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.data import load_split, resolve_data_root
    from mnist_model.evaluate import evaluate

    model, payload = load_checkpoint(args.checkpoint)
    test_x, test_y = load_split(resolve_data_root(args.data_dir), train=False)
    result = evaluate(model, test_x, test_y)
    if args.json:
        print(json.dumps({**result.to_dict(), "per_class": per_class_table(result)}))
        return 0
    print(result.reference_line())
    for row in per_class_table(result):
        print(
            f"class {row['class']}: {100 * row['accuracy']:6.2f}% of {row['count']:5d}"
            f"  most confused with {row['most_confused_with']}"
        )
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
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(message)s",
        stream=sys.stderr,
    )
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
