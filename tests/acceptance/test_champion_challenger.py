"""Champion and challenger: with ``--baseline=FILE`` the judged model must not be worse
than the accepted one, image by image (``mnist_model.gate.paired``): overall by an exact
McNemar test and a net-loss threshold, per digit and per out-of-distribution condition
under Holm's correction. Collected only with ``--baseline`` (never skipped)."""

from __future__ import annotations

import pytest

from mnist_model.gate import ood
from mnist_model.gate.verdict import DIGITS

pytestmark = [pytest.mark.acceptance, pytest.mark.baseline]

BREAKDOWN = [*DIGITS, *(f"ood {name}" for name in ood.NAMES)]


def test_not_significantly_worse_overall(verdict) -> None:
    assert verdict["paired overall"].passed, verdict["paired overall"].reason


def test_net_loss_is_within_what_two_good_models_differ_by(verdict) -> None:
    assert verdict["paired net loss"].passed, verdict["paired net loss"].reason


@pytest.mark.parametrize("check", BREAKDOWN)
def test_no_digit_or_condition_is_worse(verdict, comparison, check) -> None:
    assert check in comparison["breakdown"]
    assert verdict[f"paired {check}"].passed, verdict[f"paired {check}"].reason
