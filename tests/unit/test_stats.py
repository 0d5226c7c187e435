"""mnist_model.stats against independent oracles: scipy (a test-only dependency) and exact
enumeration with fractions."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mnist_model import stats

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
