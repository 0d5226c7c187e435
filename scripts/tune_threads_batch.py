"""Measure the real training loop's images/s for thread counts x batch sizes x memory formats.

    python scripts/tune_threads_batch.py [--images 15360] [--repeats 3]
        [--threads 1,2] [--batches 128,256,512] [--channels-last | --no-channels-last]

The default TrainConfig's threads/batch_size come from this table (the layout is now
measured per machine: TrainConfig.layout auto). Each
repeat runs every candidate once, one after another, so the machine's minute-to-minute
drift lands on all of them alike; the table shows each candidate's median.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics

from mnist_model.config import TrainConfig
from mnist_model.data import load_split, resolve_data_root
from mnist_model.train import train


def integers(text: str) -> list[int]:
    return [int(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=15360)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=integers, default=[1, 2])
    parser.add_argument("--batches", type=integers, default=[128, 256, 512])
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="only this memory format (default: both)",
    )
    args = parser.parse_args()
    root = resolve_data_root(None)
    train_x, train_y = (t[: args.images] for t in load_split(root, train=True))
    test_x, test_y = (t[:200] for t in load_split(root, train=False))
    formats = (False, True) if args.channels_last is None else (args.channels_last,)
    candidates = list(itertools.product(args.threads, args.batches, formats))
    rates: dict[tuple, list[float]] = {candidate: [] for candidate in candidates}
    for _ in range(args.repeats):
        for threads, batch, channels_last in candidates:
            config = dataclasses.replace(
                TrainConfig(epochs=1),
                threads=threads,
                batch_size=batch,
                layout="channels_last" if channels_last else "contiguous",
            )
            run = train(config, train_x, train_y, test_x, test_y, progress=False)
            rates[threads, batch, channels_last].append(
                len(train_x) / run.history[0]["train_seconds"]
            )
    print(f"{'threads':>7} {'batch':>6} {'channels_last':>13} {'images/s':>9}")
    for (threads, batch, channels_last), measured in rates.items():
        median = statistics.median(measured)
        print(f"{threads:>7} {batch:>6} {channels_last!s:>13} {median:9.0f}")


if __name__ == "__main__":
    main()
