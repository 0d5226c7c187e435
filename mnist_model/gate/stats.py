"""The statistics the gate needs: the beta-binomial quantile, the chi-square and normal
quantiles, intervals for a proportion (Wilson, Clopper-Pearson), the exact McNemar test,
an interval for a paired difference and Holm's correction.

Most are scipy's (scipy.stats); the functions here only name them for the gate, return
plain Python numbers, and settle the edges before scipy sees them (q at or outside 0 and
1, no trials, no discordant pair), where scipy would give nan or refuse some of them.
Hand-written, because scipy has no such function:

- ``paired_difference_interval``: scipy has no interval for a paired difference of two
  proportions; this one maps scipy's exact interval for the discordant share onto it.
- ``holm``: scipy has no Holm correction (``false_discovery_control`` is Benjamini-Hochberg
  or -Yekutieli, which bound the false discovery rate, not the family-wise error rate).

tests/unit/gate/test_stats.py checks every function against exact enumeration (fractions)
or a closed form.
"""

from __future__ import annotations

import importlib


def _scipy(name: str):
    """``scipy.stats.<name>``, imported on first use: scipy.stats takes about a second to
    import, which every command that imports the verdict (``train`` among them) would pay."""
    return getattr(importlib.import_module("scipy.stats"), name)


def beta_binomial_quantile(q: float, n: int, a: float, b: float) -> int:
    """The smallest k with P(X <= k) >= q for X ~ BetaBinomial(n, a, b) (scipy's ppf),
    so that P(X < k) < q; 0 for q <= 0 and n for q >= 1."""
    if q <= 0.0:
        return 0
    if q >= 1.0:
        return n
    return int(_scipy("betabinom").ppf(q, n, a, b))


def chi2_quantile(q: float, df: float) -> float:
    """x with P(X <= x) = q for a chi-square with ``df`` degrees of freedom."""
    return float(_scipy("chi2").ppf(q, df))


def normal_quantile(q: float) -> float:
    """x with P(Z <= x) = q for a standard normal; q must lie strictly between 0 and 1."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"a normal quantile needs 0 < q < 1, not {q}")
    return float(_scipy("norm").ppf(q))


def _interval(successes: int, n: int, level: float, method: str) -> tuple[float, float]:
    if n <= 0:
        raise ValueError("an interval needs at least one trial")
    ci = _scipy("binomtest")(successes, n).proportion_ci(confidence_level=level, method=method)
    return float(ci.low), float(ci.high)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion; exactly 0 or 1 at 0 or n successes."""
    return _interval(successes, n, level, "wilson")


def clopper_pearson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for a proportion."""
    return _interval(successes, n, level, "exact")


def mcnemar_worse(baseline_only: int, candidate_only: int) -> float:
    """The exact one-sided McNemar p-value that the candidate is worse: the chance, if
    each discordant image were equally likely to favour either model, that at least
    ``baseline_only`` of the ``baseline_only + candidate_only`` favour the baseline."""
    discordant = baseline_only + candidate_only
    if discordant == 0:
        return 1.0
    return float(_scipy("binomtest")(baseline_only, discordant, 0.5, alternative="greater").pvalue)


def mcnemar_two_sided(baseline_only: int, candidate_only: int) -> float:
    """The exact two-sided McNemar p-value: for p = 1/2, twice the smaller tail, at most 1.
    The smaller count is the one tested, so swapping the models gives the same number."""
    discordant = baseline_only + candidate_only
    if discordant == 0:
        return 1.0
    smaller = min(baseline_only, candidate_only)
    return float(_scipy("binomtest")(smaller, discordant, 0.5, alternative="two-sided").pvalue)


def paired_difference_interval(
    baseline_only: int, candidate_only: int, n: int, level: float = 0.95
) -> tuple[float, float]:
    """An interval for the paired accuracy difference (candidate - baseline) on n items:
    the exact (Clopper-Pearson) interval of the share of discordant items that favour
    the candidate, mapped to the difference, given the number of discordant items."""
    discordant = baseline_only + candidate_only
    if discordant == 0:
        return 0.0, 0.0
    low, high = clopper_pearson_interval(candidate_only, discordant, level)
    return (2 * low - 1) * discordant / n, (2 * high - 1) * discordant / n


def holm(p_values: dict[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values: rejecting where adjusted < alpha keeps the
    family-wise error rate at alpha whatever the tests' dependence."""
    order = sorted(p_values, key=p_values.__getitem__)
    adjusted, running = {}, 0.0
    for rank, name in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p_values[name]))
        adjusted[name] = running
    return adjusted
