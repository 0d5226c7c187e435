"""Measure the real training loop's images/s for thread counts x batch sizes x memory formats.

    python scripts/tune_threads_batch.py [--images 15360] [--repeats 3]

The default TrainConfig's threads/batch_size/channels_last come from this table.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics

from mnist_model.config import TrainConfig
from mnist_model.data import load_split, resolve_data_root
from mnist_model.train import train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=15360)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    root = resolve_data_root(None)
    train_x, train_y = (t[: args.images] for t in load_split(root, train=True))
    test_x, test_y = (t[:200] for t in load_split(root, train=False))
    print(f"{'threads':>7} {'batch':>6} {'channels_last':>13} {'images/s':>9}")
    for threads, batch, channels_last in itertools.product((1, 2), (128, 256, 512), (False, True)):
        config = dataclasses.replace(
            TrainConfig(epochs=1), threads=threads, batch_size=batch, channels_last=channels_last
        )
        rates = []
        for _ in range(args.repeats):
            run = train(config, train_x, train_y, test_x, test_y, progress=False)
            rates.append(len(train_x) / run.history[0]["train_seconds"])
        print(
            f"{threads:>7} {batch:>6} {channels_last!s:>13} {statistics.median(rates):9.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
