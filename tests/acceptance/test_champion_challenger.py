"""Champion and challenger: with ``--baseline=FILE`` the judged model must not be worse
than the accepted one, image by image (``mnist_model.compare``): overall by an exact
McNemar test and a net-loss threshold, per digit and per out-of-distribution condition
under Holm's correction. Collected only with ``--baseline`` (never skipped)."""

from __future__ import annotations

import pytest

from mnist_model import ood

pytestmark = [pytest.mark.acceptance, pytest.mark.baseline]

BREAKDOWN = [f"digit {d}" for d in range(10)] + [f"ood {name}" for name in ood.NAMES]


def test_not_significantly_worse_overall(comparison, thresholds, note) -> None:
    result, _ = comparison
    overall, alpha = result["overall"], thresholds["compare"]["alpha"]
    note(
        f"compared with the baseline: {overall['baseline_only']} images lost, "
        f"{overall['candidate_only']} gained, p(worse) = {overall['p_worse']:.3g}"
    )
    assert overall["p_worse"] >= alpha, (
        f"significantly worse than the baseline: p = {overall['p_worse']:.3g} < {alpha}; "
        f"{overall['baseline_only']} images lost, {overall['candidate_only']} gained"
    )


def test_net_loss_is_within_what_two_good_models_differ_by(comparison, thresholds) -> None:
    result, _ = comparison
    loss, limit = -result["overall"]["net"], thresholds["compare"]["max_net_loss"]["overall"]
    assert loss <= limit, (
        f"{loss} images lost net (at most {limit}); lost: {result['overall']['lost'][:20]}"
    )


@pytest.mark.parametrize("check", BREAKDOWN)
def test_no_digit_or_condition_is_worse(comparison, thresholds, check) -> None:
    result, failed = comparison
    mine = [reason for reason in failed if reason.startswith(f"{check}:")]
    assert not mine, "; ".join(mine)
    assert check in result["breakdown"]
