"""Architecture rules: Conv -> BatchNorm everywhere but the 1x1 classifier (a 2x2 max-pool
may sit between them), a global average pooling head, and no single layer hoarding the
parameter budget."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mnist_model.config import ModelConfig
from mnist_model.model import MnistNet

MAX_LAYER_PARAMETERS = 2_500
"""No single module may own more than this many parameters (about a third of the budget):
a big dense layer is exactly what the all-convolutional design is meant to avoid."""


def execution_order(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Leaf modules in the order a forward pass calls them (not declaration order)."""
    order: list[tuple[str, nn.Module]] = []
    handles = [
        module.register_forward_hook(lambda mod, _i, _o, name=name: order.append((name, mod)))
        for name, module in model.named_modules()
        if next(module.children(), None) is None
    ]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(2, 1, 28, 28))
    for handle in handles:
        handle.remove()
    return order


ALT_CONFIG = ModelConfig(stem_channels=4, stage1_channels=(6,), stage2_channels=(8, 8, 8))
"""A second layout, so the rules are checked as properties of MnistNet, not of one config."""


@pytest.fixture(params=[ModelConfig(), ALT_CONFIG], ids=["default", "alt"])
def model(request) -> MnistNet:
    return MnistNet(request.param)


def after_pool(order: list[tuple[str, nn.Module]], i: int) -> nn.Module:
    """The layer after ``order[i]``, looking past one 2x2 max-pool."""
    following = order[i + 1][1]
    if isinstance(following, nn.MaxPool2d):
        assert following.kernel_size == 2, f"{order[i + 1][0]} is not a 2x2 pool"
        following = order[i + 2][1]
    return following


def test_every_conv_but_the_classifier_is_followed_by_batchnorm(model) -> None:
    order = execution_order(model)
    convs = [i for i, (_, m) in enumerate(order) if isinstance(m, nn.Conv2d)]
    assert convs, "the model has no convolutions"
    *hidden, last = convs
    for i in hidden:
        name, conv = order[i]
        following = after_pool(order, i)
        assert isinstance(following, nn.BatchNorm2d), f"{name} is followed by {following}"
        assert following.num_features == conv.out_channels
    _, classifier = order[last]
    assert classifier is model.classifier
    assert classifier.kernel_size == (1, 1)
    assert classifier.out_channels == model.config.num_classes


def test_pooling_happens_before_normalisation(model) -> None:
    # The CPU-speed rule of the design: BatchNorm and ReLU never run at a resolution that
    # a max-pool right after them would throw away.
    order = execution_order(model)
    pools = [i for i, (_, m) in enumerate(order) if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 2, "the resolution plan is 28 -> 14 -> 7"
    for i in pools:
        assert isinstance(order[i - 1][1], nn.Conv2d), f"{order[i][0]} does not follow a conv"
        assert isinstance(order[i + 1][1], nn.BatchNorm2d), f"{order[i][0]} precedes no BN"


def test_head_is_global_average_pooling_without_dense_layers(model) -> None:
    order = execution_order(model)
    name, head = order[-1]
    assert isinstance(head, nn.AdaptiveAvgPool2d), f"last layer {name} is {head}"
    assert head.output_size in (1, (1, 1))
    assert not any(isinstance(m, nn.Linear) for m in model.modules())


def oversized_modules(model: nn.Module) -> dict[str, int]:
    """Leaf modules (Linear included) that own more than MAX_LAYER_PARAMETERS parameters."""
    sizes = {
        name: sum(p.numel() for p in module.parameters(recurse=False))
        for name, module in model.named_modules()
        if next(module.children(), None) is None
    }
    return {name: n for name, n in sizes.items() if n > MAX_LAYER_PARAMETERS}


def test_no_module_exceeds_the_per_layer_parameter_limit() -> None:
    assert oversized_modules(MnistNet()) == {}


def test_the_limit_catches_a_dense_layer_bolted_on() -> None:
    # Guards the guard: a modest Linear(10, 300) head (3,300 parameters) must be flagged.
    model = nn.Sequential(MnistNet(), nn.Linear(10, 300))
    assert oversized_modules(model) == {"1": 3_300}


def test_every_batchnorm_conv_has_no_redundant_bias(model) -> None:
    # BatchNorm subtracts the mean, so a bias before it is a wasted parameter per channel.
    order = execution_order(model)
    for i, (name, module) in enumerate(order[:-1]):
        if isinstance(module, nn.Conv2d) and isinstance(after_pool(order, i), nn.BatchNorm2d):
            assert module.bias is None, f"{name} has a bias before BatchNorm"
