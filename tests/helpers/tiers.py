"""The quick tier's rule: what makes a test slow by nature, counted, not timed (the
machine's speed drifts). The root conftest's ``quick_tier_audit`` applies it to every test."""

from __future__ import annotations

QUICK_STEPS = 2_000
"""About eight epochs of MNIST at batch 256: seconds, but no longer quick."""
MAX_E2E = 4
"""Quick-tier tests allowed to start a real process (the console script, `python -m`)."""
QUICK_TIER_EXEMPT = ("slow", "acceptance", "benchmark", "network")


def tier_problems(markers: set[str], spawned: list, steps: int) -> list[str]:
    """Why a test does not belong in the quick tier (empty: it does)."""
    if markers & set(QUICK_TIER_EXEMPT):
        return []
    problems = []
    if spawned and "e2e" not in markers:
        problems.append(f"it starts a process ({spawned[0]!r}): mark it slow, or run it in-process")
    if steps > QUICK_STEPS:
        problems.append(f"it trains {steps:,} steps (more than {QUICK_STEPS:,}): mark it slow")
    return problems
