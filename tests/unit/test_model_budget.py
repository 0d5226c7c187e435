"""The parameter budget: fewer than 8,000 trainable parameters, and the exact count pinned."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mnist_model.config import ModelConfig
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


def parameters_by_hand(config: ModelConfig) -> int:
    """The architecture's count from its widths, not from the module tree: each bias-free
    k x k convolution has k*k*in*out weights and its BatchNorm a scale and a shift per
    channel; the 1x1 classifier has a weight per (input, class) and a bias per class."""
    total, width = 0, 1
    layers = [(config.stem_kernel, config.stem_channels)]
    layers += [(3, c) for c in (*config.stage1_channels, *config.stage2_channels)]
    for kernel, out in layers:
        total += kernel * kernel * width * out + 2 * out
        width = out
    return total + width * config.num_classes + config.num_classes


def test_the_default_count_is_the_architectures_arithmetic() -> None:
    assert parameters_by_hand(ModelConfig()) == EXPECTED_PARAMETERS


@given(
    stem=st.integers(1, 12),
    kernel=st.sampled_from([1, 3, 5, 7]),
    stage1=st.lists(st.integers(1, 24), min_size=1, max_size=3).map(tuple),
    stage2=st.lists(st.integers(1, 24), min_size=1, max_size=3).map(tuple),
)
def test_count_parameters_matches_the_arithmetic_for_any_widths(stem, kernel, stage1, stage2):
    config = ModelConfig(stem, kernel, stage1, stage2)
    model = MnistNet(config)
    assert count_parameters(model) == parameters_by_hand(config)
    # BatchNorm's running statistics are buffers, not parameters: they must not count.
    assert count_parameters(model, trainable_only=False) == parameters_by_hand(config)


def test_frozen_parameters_are_excluded_from_the_trainable_count() -> None:
    model = MnistNet()
    total = sum(p.numel() for p in model.parameters())
    frozen = model.classifier.weight
    frozen.requires_grad_(False)
    assert count_parameters(model) == total - frozen.numel()
    assert count_parameters(model, trainable_only=False) == total
