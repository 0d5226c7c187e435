"""Multi-seed evidence: train the same recipe once per seed and summarise the spread.

One seed proves little (0.1 % is ten test images); the sweep reports every seed's final
accuracy, worst class and wall time, and the mean, standard deviation, min and max.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from mnist_model.config import Machine, TrainConfig
from mnist_model.gate.seeds import SeedResult, summarise

log = logging.getLogger(__name__)


MAX_SEEDS = 1000
"""A sweep trains one model per seed: more than this is a typo, not a plan."""


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '1,5,9' -> [1, 5, 9]; '3' -> [3]; at most ``MAX_SEEDS``."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                if int(hi) < int(lo):
                    raise ValueError
                if int(hi) - int(lo) + 1 + len(seeds) > MAX_SEEDS:
                    raise OverflowError
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise ValueError(f"seeds are given as '0-4' or '1,5,9', got {text!r}") from None
    except OverflowError:
        raise ValueError(f"{text!r} is more than {MAX_SEEDS} seeds") from None
    if len(seeds) > MAX_SEEDS:
        raise ValueError(f"{text!r} is more than {MAX_SEEDS} seeds")
    if len(set(seeds)) != len(seeds) or any(not 0 <= s < 2**63 for s in seeds):
        raise ValueError(f"seeds must be distinct integers in [0, 2**63), got {text!r}")
    return seeds


def run_sweep(
    configs: dict[int, TrainConfig],
    out: Path,
    train_xy,
    test_xy,
    *,
    checksums: dict[str, str],
    machine: Machine,
    device,
    progress: bool | None = None,
    remeasure: bool = False,
) -> dict:
    """Train each seed's config into ``out/seed<N>``, one after another; write and return
    the summary (``out/sweep.json``). ``remeasure`` applies to the first seed only."""
    from mnist_model.atomic import atomic_write_json
    from mnist_model.run.runner import train_and_write

    results = []
    for i, (seed, config) in enumerate(configs.items()):
        log.info("seed %d: %s", seed, config)
        run, _ = train_and_write(
            config,
            out / f"seed{seed}",
            train_xy,
            test_xy,
            checksums=checksums,
            machine=machine,
            device=device,
            progress=progress,
            remeasure=remeasure and i == 0,
        )
        results.append(SeedResult.from_eval(seed, run.final, run.seconds))
        print(f"seed {seed}: {run.final.reference_line()}", flush=True)
    summary = {
        **summarise(results),
        "config": dataclasses.asdict(next(iter(configs.values()))),
        "machine": dataclasses.asdict(machine),
        "device": str(device),
    }
    atomic_write_json(out / "sweep.json", summary)
    return summary
