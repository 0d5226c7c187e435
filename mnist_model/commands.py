"""The ``mnist-model`` subcommands: each reads its parsed flags, calls the package and
prints. ``mnist_model.cli`` parses the command line and dispatches here by name
(``NAME`` -> ``cmd_NAME``); expected failures raise MnistModelError for it to print.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path

from mnist_model.config import PRESETS, TrainConfig
from mnist_model.errors import MnistModelError

log = logging.getLogger("mnist_model")

EXIT_ERROR = 2


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


def _load_data(data_dir: str | None, *, acquire_missing: bool = True):
    """(checksums, (train images, labels), (test images, labels)) of the verified data."""
    from mnist_model.data import acquire, load_split, resolve_data_root, verify

    root = resolve_data_root(data_dir)
    checksums = acquire(root) if acquire_missing else verify(root)
    splits = (load_split(root, train=train, verified=True) for train in (True, False))
    return checksums, *splits


def _train_config(args: argparse.Namespace, **overrides: object) -> TrainConfig:
    """The preset's TrainConfig with every flag the user gave (and ``overrides``) applied."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    given = {name: value for name, value in given.items() if value is not None}
    try:
        return dataclasses.replace(PRESETS[args.preset], **{**given, **overrides})
    except ValueError as exc:
        raise MnistModelError(str(exc)) from None


def _folder(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise MnistModelError(f"--out {out} exists and is not a folder")
    return out


def _run_options(args: argparse.Namespace, checksums: dict, device) -> dict:
    """The keyword arguments train and sweep pass to every training run."""
    return {
        "checksums": checksums,
        "device": device,
        "progress": args.progress,
        "remeasure": args.remeasure,
    }


def cmd_train(args: argparse.Namespace) -> int:
    from mnist_model.artifacts import train_and_write
    from mnist_model.distributed import join_torchrun, leave
    from mnist_model.train import select_device

    config = _train_config(args)
    limit, test_limit = _positive("--limit", args.limit), _positive("--test-limit", args.test_limit)
    device, config = join_torchrun(select_device(args.device), config)
    checksums, (train_x, train_y), (test_x, test_y) = _load_data(args.data_dir)
    train_xy, test_xy = (
        (train_x[:limit], train_y[:limit]),
        (test_x[:test_limit], test_y[:test_limit]),
    )
    log.info(
        "training on %d, testing on %d images, %s, %s",
        len(train_xy[0]),
        len(test_xy[0]),
        device,
        config,
    )
    options = _run_options(args, checksums, device)
    out = _folder(args.out)
    run, paths = train_and_write(config, out, train_xy, test_xy, resume=args.resume, **options)
    if paths:  # none on a torchrun rank other than 0: rank 0 reports and writes
        print(f"{run.final.reference_line()}\n{run.summary_line()}")
        print("\n".join(f"wrote {name}: {path}" for name, path in paths.items()))
    leave()
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
    checksums, train_xy, test_xy = _load_data(args.data_dir)
    summary = run_sweep(
        configs, args.out, train_xy, test_xy, **_run_options(args, checksums, device)
    )
    print(summary_table(summary))
    print(f"wrote {args.out / 'sweep.json'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mnist_model.artifacts import rebuild_report
    from mnist_model.data import load_split, resolve_data_root

    test_xy = load_split(resolve_data_root(args.data_dir), train=False)
    paths = rebuild_report(_folder(args.out), args.checkpoint, test_xy, ood=args.ood)
    for name, path in paths.items():
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

    names = ("images", "repeats", "full", "checkpoint", "cpu_classes", "threads", "batches")
    flags = {name: getattr(args, name) for name in names}
    for name in ("images", "repeats", "threads", "batches"):
        for value in flags[name] if isinstance(flags[name], list) else [flags[name]]:
            _positive(f"--{name}", value)
    root = resolve_data_root(args.data_dir)
    verify(root)
    result, table = run_command(root, **flags)
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


def cmd_ood(args: argparse.Namespace) -> int:
    from mnist_model import ood, thresholds
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.data import load_split, resolve_data_root

    per_class = _positive("--per-class", args.per_class) or ood.PER_CLASS
    model, _ = load_checkpoint(args.checkpoint)
    test_x, test_y = load_split(resolve_data_root(args.data_dir), train=False)
    accuracies = ood.run_suite(model, test_x, test_y, per_class=per_class, seed=args.seed)
    if args.json:
        print(json.dumps(accuracies))
    else:
        print(ood.table_text(accuracies, thresholds.ood_floors()))
    return 0
