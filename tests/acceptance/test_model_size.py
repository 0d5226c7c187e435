"""The judged model is the kind of model the project promises: an all-convolutional
MnistNet with fewer trainable parameters than the budget in the thresholds file. Without
this a big network could pass a gate whose promise is "< 8,000 parameters and >= 99.4 %"."""

from __future__ import annotations

import pytest
from torch import nn

from mnist_model.model import MnistNet, count_parameters

pytestmark = pytest.mark.acceptance

FAMILY = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.ReLU, nn.AdaptiveAvgPool2d, nn.Dropout)
"""The layer types of the family: convolutions, BatchNorm, max-pooling, ReLU, global
average pooling (and dropout, off by default). No fully connected layer."""


def test_the_judged_model_is_within_the_parameter_budget(accepted_model, thresholds, note):
    model, origin = accepted_model
    count, budget = count_parameters(model), thresholds["parameter_budget"]
    verdict = "pass" if count < budget else "FAIL"
    note(f"parameters: {count:,} trainable, budget fewer than {budget:,}: {verdict}")
    assert count < budget, (
        f"{origin} has {count:,} trainable parameters; the budget is fewer than {budget:,}"
    )


def test_the_judged_model_is_of_the_promised_family(accepted_model, note):
    model, origin = accepted_model
    config = model.config
    layers = sorted({type(m).__name__ for m in model.modules() if not list(m.children())})
    note(
        f"architecture: {type(model).__name__}, stem {config.stem_channels}x"
        f"{config.stem_kernel}x{config.stem_kernel}, stages {config.stage1_channels} "
        f"{config.stage2_channels}; layers {', '.join(layers)}"
    )
    assert isinstance(model, MnistNet), f"{origin} is a {type(model).__name__}"
    strangers = [
        name
        for name, m in model.named_modules()
        if not list(m.children()) and not isinstance(m, FAMILY)
    ]
    assert not strangers, f"{origin} has layers outside the family: {strangers}"
