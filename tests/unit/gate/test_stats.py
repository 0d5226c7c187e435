"""mnist_model.gate.stats against independent oracles: scipy (a test-only dependency) and exact
enumeration with fractions."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.gate import stats

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is the test-only oracle")


@given(
    n=st.integers(1, 400),
    p=st.floats(0.01, 0.99),
    fraction=st.floats(0, 1),
)
def test_binomial_cdf_matches_scipy(n, p, fraction) -> None:
    k = int(fraction * n)
    assert stats.binomial_cdf(k, n, p) == pytest.approx(scipy_stats.binom.cdf(k, n, p), abs=1e-10)


@given(
    n=st.integers(1, 2000),
    a=st.floats(0.2, 500),
    b=st.floats(0.2, 50),
    fraction=st.floats(0, 1),
)
def test_beta_binomial_cdf_matches_scipy(n, a, b, fraction) -> None:
    k = int(fraction * n)
    expected = scipy_stats.betabinom.cdf(k, n, a, b)
    assert stats.beta_binomial_cdf(k, n, a, b) == pytest.approx(expected, abs=1e-9)


@given(
    n=st.integers(1, 2000),
    a=st.floats(0.5, 500),
    b=st.floats(0.5, 50),
    q=st.floats(1e-6, 0.5),
)
def test_beta_binomial_quantile_is_the_lowest_count_above_q(n, a, b, q) -> None:
    k = stats.beta_binomial_quantile(q, n, a, b)
    assert scipy_stats.betabinom.cdf(k, n, a, b) > q * (1 - 1e-9)
    if k > 0:
        assert scipy_stats.betabinom.cdf(k - 1, n, a, b) <= q * (1 + 1e-9)


def test_binomial_cdf_is_exact_on_a_small_case() -> None:
    # P(X <= 2) for Binomial(5, 1/3), by enumeration with fractions
    p = Fraction(1, 3)
    exact = sum(math.comb(5, i) * p**i * (1 - p) ** (5 - i) for i in range(3))
    assert stats.binomial_cdf(2, 5, 1 / 3) == pytest.approx(float(exact), abs=1e-15)


@given(x=st.floats(0, 1), a=st.floats(0.1, 200), b=st.floats(0.1, 200))
def test_incomplete_beta_matches_scipy(x, a, b) -> None:
    assert stats.incomplete_beta(x, a, b) == pytest.approx(scipy_stats.beta.cdf(x, a, b), abs=1e-9)


@given(n=st.integers(1, 20_000), fraction=st.floats(0, 1))
def test_intervals_contain_the_estimate_and_match_scipy(n, fraction) -> None:
    k = int(fraction * n)
    for low, high in (stats.wilson_interval(k, n), stats.clopper_pearson_interval(k, n)):
        assert 0 <= low <= k / n <= high <= 1
    ci = scipy_stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    assert stats.clopper_pearson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-9)
    wilson = scipy_stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    assert stats.wilson_interval(k, n) == pytest.approx((wilson.low, wilson.high), abs=1e-9)


@given(a=st.floats(0.1, 300), x=st.floats(0, 2000))
def test_incomplete_gamma_matches_scipy(a, x) -> None:
    assert stats.incomplete_gamma(a, x) == pytest.approx(scipy_stats.gamma.cdf(x, a), abs=1e-9)


@given(df=st.integers(1, 300), q=st.floats(1e-6, 1 - 1e-6))
def test_chi2_quantile_matches_scipy(df, q) -> None:
    expected = scipy_stats.chi2.ppf(q, df)
    assert stats.chi2_quantile(q, df) == pytest.approx(expected, rel=1e-7, abs=1e-9)


@given(b=st.integers(0, 300), c=st.integers(0, 300))
def test_mcnemar_matches_scipys_exact_binomial_test(b, c) -> None:
    if b + c == 0:
        assert stats.mcnemar_worse(0, 0) == 1.0 == stats.mcnemar_two_sided(0, 0)
        return
    worse = scipy_stats.binomtest(b, b + c, 0.5, alternative="greater").pvalue
    assert stats.mcnemar_worse(b, c) == pytest.approx(worse, abs=1e-12)
    two = scipy_stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert stats.mcnemar_two_sided(b, c) == pytest.approx(two, abs=1e-12)


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
