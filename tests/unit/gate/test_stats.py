"""mnist_model.gate.stats (scipy, named for the gate) against independent oracles: exact
enumeration with integers and fractions, and closed forms; and the edges the module keeps
where scipy would give nan or refuse."""

from __future__ import annotations

import math
from fractions import Fraction
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.gate import stats


# --- the oracles: exact enumeration ---------------------------------------------------------
def exact_binomial_pmf(n: int, p: Fraction) -> list[Fraction]:
    return [math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(n + 1)]


def rising(x: Fraction, k: int) -> Fraction:
    """x (x + 1) ... (x + k - 1)."""
    return math.prod((x + i for i in range(k)), start=Fraction(1))


def exact_beta_binomial_pmf(n: int, a: float, b: float) -> list[Fraction]:
    """C(n, k) B(k + a, n - k + b) / B(a, b) = C(n, k) a^(k) b^(n-k) / (a + b)^(n), with
    rising factorials: exact for the floats a and b (each an exact fraction)."""
    fa, fb = Fraction(a), Fraction(b)
    total = rising(fa + fb, n)
    return [math.comb(n, k) * rising(fa, k) * rising(fb, n - k) / total for k in range(n + 1)]


def exact_half_tails(b: int, c: int) -> tuple[Fraction, Fraction]:
    """McNemar by counting: P(X >= b) and min(1, 2 P(X <= min(b, c))) for X ~ Bin(b + c, 1/2)."""
    d = b + c
    at_least = Fraction(sum(math.comb(d, i) for i in range(b, d + 1)), 2**d)
    smaller = Fraction(sum(math.comb(d, i) for i in range(min(b, c) + 1)), 2**d)
    return at_least, min(Fraction(1), 2 * smaller)


# --- beta-binomial ---------------------------------------------------------------------------
@given(
    n=st.integers(1, 60),
    a=st.floats(0.5, 500),
    b=st.floats(0.5, 50),
    q=st.floats(1e-6, 0.5),
)
def test_beta_binomial_quantile_is_the_lowest_count_reaching_q(n, a, b, q) -> None:
    k = stats.beta_binomial_quantile(q, n, a, b)
    assert isinstance(k, int) and 0 <= k <= n
    pmf = exact_beta_binomial_pmf(n, a, b)
    assert float(sum(pmf[: k + 1])) >= q * (1 - 1e-9)
    assert float(sum(pmf[:k])) <= q * (1 + 1e-9)  # P(X < k): 0 at k = 0


def test_beta_binomial_quantile_on_a_floor_sized_case() -> None:
    """The size of the overall floor (10,000 pictures, a good model near 99.3 %, alpha / K),
    against the pmf summed in floats from log-gamma functions."""
    n, a, b, q = 10_000, 9930.0, 70.0, 0.01 / 41

    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    def cdf(k: int) -> float:
        return math.fsum(
            math.exp(
                math.lgamma(n + 1)
                - math.lgamma(i + 1)
                - math.lgamma(n - i + 1)
                + log_beta(i + a, n - i + b)
                - log_beta(a, b)
            )
            for i in range(k + 1)
        )

    k = stats.beta_binomial_quantile(q, n, a, b)
    assert cdf(k) >= q > cdf(k - 1)
    assert 9_800 < k < 9_930


def test_beta_binomial_quantile_edges() -> None:
    assert stats.beta_binomial_quantile(0.0, 10, 2.0, 3.0) == 0
    assert stats.beta_binomial_quantile(-0.1, 10, 2.0, 3.0) == 0
    assert stats.beta_binomial_quantile(1.0, 10, 2.0, 3.0) == 10
    assert stats.beta_binomial_quantile(0.3, 0, 2.0, 3.0) == 0


# --- chi-square and normal quantiles ---------------------------------------------------------
@given(df=st.integers(1, 150).map(lambda half: 2 * half), q=st.floats(1e-6, 1 - 1e-6))
def test_chi2_quantile_inverts_the_poisson_sum(df, q) -> None:
    """For even df, P(chi2_df <= x) = P(Poisson(x / 2) >= df / 2)."""
    x = stats.chi2_quantile(q, df)
    half = x / 2
    below = sum(math.exp(-half + j * math.log(half) - math.lgamma(j + 1)) for j in range(df // 2))
    assert 1 - below == pytest.approx(q, rel=1e-7, abs=1e-12)


@given(q=st.floats(1e-6, 1 - 1e-6))
def test_chi2_quantile_closed_forms(q) -> None:
    assert stats.chi2_quantile(q, 2) == pytest.approx(-2 * math.log1p(-q), rel=1e-9)
    # one degree of freedom: the square of a normal, P(X <= x) = erf(sqrt(x / 2))
    assert math.erf(math.sqrt(stats.chi2_quantile(q, 1) / 2)) == pytest.approx(q, abs=1e-12)


@given(q=st.floats(1e-12, 1 - 1e-12))
def test_normal_quantile_matches_the_standard_library(q) -> None:
    assert stats.normal_quantile(q) == pytest.approx(NormalDist().inv_cdf(q), rel=1e-9, abs=1e-12)


def test_normal_quantile_refuses_a_probability_of_zero_or_one() -> None:
    for q in (0.0, 1.0, -0.1, 1.1):
        with pytest.raises(ValueError):
            stats.normal_quantile(q)


# --- intervals -------------------------------------------------------------------------------
@given(n=st.integers(1, 20_000), fraction=st.floats(0, 1))
def test_intervals_contain_the_estimate_and_meet_their_definitions(n, fraction) -> None:
    k = int(fraction * n)
    for low, high in (stats.wilson_interval(k, n), stats.clopper_pearson_interval(k, n)):
        assert 0 <= low <= k / n <= high <= 1
    # Wilson's bounds are the p whose score statistic |k/n - p| / sqrt(p (1 - p) / n) is z
    z = NormalDist().inv_cdf(0.975)
    for bound, edge in zip(stats.wilson_interval(k, n), (0, n), strict=True):
        if k == edge:
            assert bound == edge / n  # exactly 0 or 1
        else:
            score = abs(k / n - bound) / math.sqrt(bound * (1 - bound) / n)
            assert score == pytest.approx(z, rel=1e-7)


@given(n=st.integers(1, 150), fraction=st.floats(0, 1))
def test_clopper_pearson_bounds_leave_alpha_over_two_in_each_tail(n, fraction) -> None:
    """At the lower bound P(X >= k) = 0.025, at the upper one P(X <= k) = 0.025: by
    enumeration with the bound as an exact fraction."""
    k = int(fraction * n)
    low, high = stats.clopper_pearson_interval(k, n)
    if k == 0:
        assert low == 0.0
    else:
        assert float(sum(exact_binomial_pmf(n, Fraction(low))[k:])) == pytest.approx(0.025)
    if k == n:
        assert high == 1.0
    else:
        assert float(sum(exact_binomial_pmf(n, Fraction(high))[: k + 1])) == pytest.approx(0.025)


def test_intervals_need_a_trial() -> None:
    for interval in (stats.wilson_interval, stats.clopper_pearson_interval):
        with pytest.raises(ValueError, match="at least one trial"):
            interval(0, 0)


def test_results_are_plain_python_numbers() -> None:
    """Not numpy scalars: they go into JSON records and messages as they are."""
    floats = [
        stats.chi2_quantile(0.3, 4),
        stats.normal_quantile(0.3),
        *stats.wilson_interval(3, 10),
        *stats.clopper_pearson_interval(3, 10),
        *stats.paired_difference_interval(3, 5, 20),
        stats.mcnemar_worse(3, 5),
        stats.mcnemar_two_sided(3, 5),
    ]
    assert all(type(x) is float for x in floats)
    assert type(stats.beta_binomial_quantile(0.3, 10, 2.0, 3.0)) is int


# --- McNemar, the paired difference, Holm -------------------------------------------------------
@given(b=st.integers(0, 300), c=st.integers(0, 300))
def test_mcnemar_matches_exact_enumeration(b, c) -> None:
    if b + c == 0:
        assert stats.mcnemar_worse(0, 0) == 1.0 == stats.mcnemar_two_sided(0, 0)
        return
    worse, two = exact_half_tails(b, c)
    assert stats.mcnemar_worse(b, c) == pytest.approx(float(worse), rel=1e-9, abs=1e-300)
    assert stats.mcnemar_two_sided(b, c) == pytest.approx(float(two), rel=1e-9, abs=1e-300)


@given(b=st.integers(0, 200), c=st.integers(0, 200))
def test_mcnemar_properties(b, c) -> None:
    # identical predictions (no discordant pair) give p = 1
    assert stats.mcnemar_worse(0, 0) == 1.0
    # more images only the baseline gets right: never a larger p that the candidate is worse
    assert stats.mcnemar_worse(b + 1, c) <= stats.mcnemar_worse(b, c)
    # more images only the candidate gets right: never a smaller one
    assert stats.mcnemar_worse(b, c + 1) >= stats.mcnemar_worse(b, c)
    # two-sided: the same whichever model is called the baseline
    assert stats.mcnemar_two_sided(b, c) == stats.mcnemar_two_sided(c, b)
    assert 0.0 <= stats.mcnemar_worse(b, c) <= 1.0


@given(b=st.integers(0, 200), c=st.integers(0, 200), both=st.integers(0, 10_000))
def test_the_paired_difference_interval_contains_the_difference(b, c, both) -> None:
    n = b + c + both
    if n == 0:
        return
    low, high = stats.paired_difference_interval(b, c, n)
    assert low <= (c - b) / n <= high
    # and it is the swapped models' interval, negated
    swapped = stats.paired_difference_interval(c, b, n)
    assert swapped == pytest.approx((-high, -low), abs=1e-12)


def test_the_paired_difference_interval_without_a_discordant_item() -> None:
    assert stats.paired_difference_interval(0, 0, 500) == (0.0, 0.0)


@given(p_values=st.lists(st.floats(0, 1), min_size=1, max_size=12))
def test_holm_against_its_definition(p_values) -> None:
    """Holm by definition: H_(i) is rejected at alpha iff every p_(j) <= alpha / (m - j)
    for j <= i (0-based, sorted); the adjusted p is the smallest alpha that rejects it."""
    named = {f"h{i}": p for i, p in enumerate(p_values)}
    adjusted = stats.holm(named)
    m, order = len(named), sorted(named, key=named.__getitem__)
    for alpha in (0.001, 0.01, 0.05, 0.2):
        rejected, still = set(), True
        for j, name in enumerate(order):
            still = still and named[name] <= alpha / (m - j)
            if still:
                rejected.add(name)
        assert {k for k, v in adjusted.items() if v <= alpha} == rejected
