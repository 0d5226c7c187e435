"""One way to compare speeds on a machine whose speed drifts: candidates take turns.

Each round runs every candidate once, in order, so a machine that slows down mid-run
slows all of them alike; each candidate's figure is the median of its rounds. Used by the
arithmetic choice (``mnist_model.run.autotune``) and by every ``mnist-model bench`` figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable


def interleaved_medians(
    candidates: dict[str, Callable[[], float]],
    rounds: int,
    *,
    prune_factor: float | None = None,
) -> dict[str, float]:
    """Median of ``rounds`` samples of each candidate (a callable returning a rate, higher
    is better), the candidates taking turns in every round. With ``prune_factor``, a
    candidate whose first sample is more than that many times below the best first sample
    is not sampled again (its median is of that one sample)."""
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    alive = list(candidates)
    for round_ in range(rounds):
        for name in alive:
            samples[name].append(candidates[name]())
        if round_ == 0 and prune_factor is not None:
            best = max(samples[name][0] for name in alive)
            alive = [name for name in alive if samples[name][0] * prune_factor >= best]
    return {name: statistics.median(values) for name, values in samples.items()}
