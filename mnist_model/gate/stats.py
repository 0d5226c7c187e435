"""The statistics the gate needs, in plain Python: exact binomial and beta-binomial tails,
the incomplete beta and gamma functions, and intervals for a proportion.

No scipy at run time; tests/unit/test_stats.py checks every function here against scipy
(a test-only oracle) and against exact enumeration.
"""

from __future__ import annotations

import math
from statistics import NormalDist


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed exactly term by term."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = sum(math.exp(_log_choose(n, i) + i * lp + (n - i) * lq) for i in range(k + 1))
    return min(1.0, total)


def binomial_at_least(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed over whichever tail is the smaller, so
    that neither a tiny upper tail nor one close to 1 loses its digits."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if k - 1 < n * p:
        return max(0.0, 1.0 - binomial_cdf(k - 1, n, p))
    lp, lq = math.log(p), math.log1p(-p)
    total = sum(math.exp(_log_choose(n, i) + i * lp + (n - i) * lq) for i in range(k, n + 1))
    return min(1.0, total)


def beta_binomial_cdf(k: int, n: int, a: float, b: float) -> float:
    """P(X <= k) for X ~ BetaBinomial(n, a, b): a binomial whose p is Beta(a, b)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    base = _log_beta(a, b)
    total = sum(
        math.exp(_log_choose(n, i) + _log_beta(i + a, n - i + b) - base) for i in range(k + 1)
    )
    return min(1.0, total)


def beta_binomial_quantile(q: float, n: int, a: float, b: float) -> int:
    """The smallest k with P(X <= k) > q for X ~ BetaBinomial(n, a, b), so that
    P(X < k) <= q. The sum starts where the lower tail is negligible (below q * 1e-18):
    with a >= 1 the probabilities only fall below the mean, so nothing is lost there."""
    base = _log_beta(a, b)

    def pmf(k: int) -> float:
        return math.exp(_log_choose(n, k) + _log_beta(k + a, n - k + b) - base)

    start = 0
    if a >= 1:
        start = min(n, int(n * a / (a + b)))
        while start > 0 and pmf(start) > q * 1e-18:
            start -= 1
    total = 0.0
    for k in range(start, n + 1):
        total += pmf(k)
        if total > q:
            return k
    return n


def _beta_continued_fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def incomplete_beta(x: float, a: float, b: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - _log_beta(a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_continued_fraction(x, a, b) / a
    return 1.0 - front * _beta_continued_fraction(1.0 - x, b, a) / b


def _bisect(f, target: float, low: float, high: float) -> float:
    """x in [low, high] with f(x) = target, for an increasing f."""
    for _ in range(200):
        middle = (low + high) / 2
        if f(middle) < target:
            low = middle
        else:
            high = middle
        if high - low < 1e-12 * max(1.0, abs(middle)):
            break
    return (low + high) / 2


def beta_quantile(q: float, a: float, b: float) -> float:
    """x with I_x(a, b) = q."""
    return _bisect(lambda x: incomplete_beta(x, a, b), q, 0.0, 1.0)


def incomplete_gamma(a: float, x: float) -> float:
    """The regularised lower incomplete gamma function P(a, x)."""
    if x <= 0.0:
        return 0.0
    front = math.exp(a * math.log(x) - x - math.lgamma(a))
    if x < a + 1.0:  # the series
        term = total = 1.0 / a
        k = a
        while abs(term) > 1e-16 * abs(total):
            k += 1.0
            term *= x / k
            total += term
        return min(1.0, front * total)
    tiny = 1e-300  # the continued fraction of the upper function (modified Lentz)
    b, c, d = x + 1.0 - a, 1.0 / tiny, 1.0 / (x + 1.0 - a)
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return max(0.0, 1.0 - front * h)


def chi2_quantile(q: float, df: float) -> float:
    """x with P(X <= x) = q for a chi-square with ``df`` degrees of freedom."""
    high = max(1.0, 2.0 * df)
    while incomplete_gamma(df / 2, high / 2) < q:
        high *= 2
    return _bisect(lambda x: incomplete_gamma(df / 2, x / 2), q, 0.0, high)


def normal_quantile(q: float) -> float:
    return NormalDist().inv_cdf(q)


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval for a proportion."""
    if n <= 0:
        raise ValueError("an interval needs at least one trial")
    z = normal_quantile(0.5 + level / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    # At 0 or n successes the bound is exactly 0 or 1 (not a rounding error away from it).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def clopper_pearson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval for a proportion."""
    if n <= 0:
        raise ValueError("an interval needs at least one trial")
    alpha = 1 - level
    low = 0.0 if successes == 0 else beta_quantile(alpha / 2, successes, n - successes + 1)
    high = 1.0 if successes == n else beta_quantile(1 - alpha / 2, successes + 1, n - successes)
    return low, high


def mcnemar_worse(baseline_only: int, candidate_only: int) -> float:
    """The exact one-sided McNemar p-value that the candidate is worse: the chance, if
    each discordant image were equally likely to favour either model, that at least
    ``baseline_only`` of the ``baseline_only + candidate_only`` favour the baseline."""
    discordant = baseline_only + candidate_only
    if discordant == 0:
        return 1.0
    return binomial_at_least(baseline_only, discordant, 0.5)


def mcnemar_two_sided(baseline_only: int, candidate_only: int) -> float:
    """The exact two-sided McNemar p-value (twice the smaller tail, at most 1)."""
    smaller = min(baseline_only, candidate_only)
    discordant = baseline_only + candidate_only
    if discordant == 0:
        return 1.0
    return min(1.0, 2.0 * binomial_cdf(smaller, discordant, 0.5))


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
