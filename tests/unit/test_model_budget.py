"""The parameter budget: fewer than 8,000 trainable parameters, and the exact count pinned."""

from __future__ import annotations

from mnist_model.model import MnistNet, count_parameters

PARAMETER_BUDGET = 8_000
"""The project's hard limit on trainable parameters (strictly below)."""

EXPECTED_PARAMETERS = 7_954
"""Trainable parameters of the default MnistNet. Update this one number, deliberately,
when ModelConfig's default widths change: a silent change of architecture shows up here."""


def test_trainable_parameters_are_under_budget() -> None:
    assert count_parameters(MnistNet()) < PARAMETER_BUDGET


def test_exact_parameter_count_is_pinned() -> None:
    assert count_parameters(MnistNet()) == EXPECTED_PARAMETERS


def test_count_parameters_matches_an_independent_count() -> None:
    model = MnistNet()
    by_hand = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert count_parameters(model) == by_hand
    # BatchNorm's running statistics are buffers, not parameters: they must not count.
    assert count_parameters(model, trainable_only=False) == by_hand


def test_frozen_parameters_are_excluded_from_the_trainable_count() -> None:
    model = MnistNet()
    total = sum(p.numel() for p in model.parameters())
    frozen = model.classifier.weight
    frozen.requires_grad_(False)
    assert count_parameters(model) == total - frozen.numel()
    assert count_parameters(model, trainable_only=False) == total
