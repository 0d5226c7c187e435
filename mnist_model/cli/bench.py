"""``mnist-model bench``: training and inference speed, as ratios taken in one run."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_model.cli.common import ON, data_dir_flag, integers, positive, writable
from mnist_model.errors import MnistModelError


def bench_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    parser.add_argument(
        "--images", type=int, help="training images per measurement (default: 15360)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats per figure (default: 3)")
    parser.add_argument("--full", **ON, help="also train both recipes end to end (minutes)")
    parser.add_argument(
        "--checkpoint", type=Path, help="model for the inference figures (default: untrained)"
    )
    parser.add_argument(
        "--cpu-classes", **ON, help="instead: training speeds per simulated CPU class"
    )
    parser.add_argument(
        "--thread-grid",
        type=integers,
        metavar="N,N,...",
        help="instead: training speed with each of these intra-op thread counts",
    )
    parser.add_argument(
        "--batch-grid",
        type=integers,
        metavar="N,N,...",
        help="... and/or with each of these batch sizes, taken in turns",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts/bench.json"),
        help="where the JSON goes (default: artifacts/bench.json)",
    )


GRID_FLAGS = {"threads": "thread-grid", "batches": "batch-grid"}


def bench(args: argparse.Namespace) -> int:
    from mnist_model.atomic import atomic_write_json
    from mnist_model.bench.run import run_command
    from mnist_model.data import resolve_data_root, verify

    names = ("images", "repeats", "full", "checkpoint", "cpu_classes")
    flags = {name: getattr(args, name) for name in names}
    flags |= {"threads": args.thread_grid, "batches": args.batch_grid}
    grid = args.thread_grid is not None or args.batch_grid is not None
    if (args.cpu_classes or grid) and (args.full or args.checkpoint):
        raise MnistModelError("--cpu-classes and --thread-grid/--batch-grid measure training only")
    if args.cpu_classes and grid:
        raise MnistModelError("--cpu-classes and --thread-grid/--batch-grid are separate benches")
    for name in ("images", "repeats", "threads", "batches"):
        for value in flags[name] if isinstance(flags[name], list) else [flags[name]]:
            positive(f"--{GRID_FLAGS.get(name, name)}", value)
    writable(args.out)
    root = resolve_data_root(args.data_dir)
    verify(root)
    result, table = run_command(root, **flags)
    atomic_write_json(args.out, result)
    print(table)
    print(f"wrote {args.out}")
    return 0


COMMANDS = {"bench": ("training and inference throughput vs the reference", bench_flags, bench)}
