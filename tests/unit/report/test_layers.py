"""The layer table: its parameter column adds up and its output shapes follow the design."""

from __future__ import annotations

import pytest
from torch import nn

from mnist_model.config import ModelConfig
from mnist_model.model import MnistNet, count_parameters
from mnist_model.report.layers import layer_rows, summary_text

CONFIGS = [
    ModelConfig(),
    ModelConfig(stem_channels=4, stage1_channels=(6,), stage2_channels=(8, 8, 8), dropout=0.1),
]


@pytest.fixture(params=CONFIGS, ids=["default", "alt"])
def model(request) -> MnistNet:
    return MnistNet(request.param)


def test_per_layer_parameters_sum_to_the_model_total(model) -> None:
    rows = layer_rows(model)
    assert sum(params for *_, params in rows) == count_parameters(model)


def test_one_row_per_leaf_module_with_its_own_parameter_count(model) -> None:
    leaves = {
        name: sum(p.numel() for p in m.parameters(recurse=False))
        for name, m in model.named_modules()
        if next(m.children(), None) is None
    }
    rows = layer_rows(model)
    assert {name: params for name, _, _, params in rows} == leaves
    assert [kind for _, kind, _, _ in rows] == [
        type(dict(model.named_modules())[name]).__name__ for name, *_ in rows
    ]


def test_output_shapes_follow_the_resolution_plan(model) -> None:
    config = model.config
    modules = dict(model.named_modules())
    rows = layer_rows(model)
    shapes = {name: shape for name, _, shape, _ in rows}
    assert shapes["stem.0"] == (1, config.stem_channels, 28, 28)
    assert shapes["stem.1"] == (1, config.stem_channels, 14, 14)  # pooled before BN
    assert shapes[f"stage1.{len(config.stage1_channels) - 1}.1"] == (
        1,
        config.stage1_channels[-1],
        7,
        7,
    )
    assert shapes["classifier"] == (1, config.num_classes, 7, 7)
    assert rows[-1] == ("gap", "AdaptiveAvgPool2d", (1, config.num_classes, 1, 1), 0)
    for name, _, shape, _ in rows:
        if isinstance(modules[name], nn.Conv2d):
            assert shape[1] == modules[name].out_channels, name


def test_layer_rows_restores_training_mode(model) -> None:
    model.train()
    layer_rows(model)
    assert model.training
    model.eval()
    layer_rows(model)
    assert not model.training


def test_summary_text_reports_the_total(model) -> None:
    text = summary_text(model)
    assert text.splitlines()[-1].split()[-1] == f"{count_parameters(model):,}"
    assert len(text.splitlines()) == len(layer_rows(model)) + 4


def test_hooks_are_removed_so_repeated_calls_agree(model) -> None:
    first = layer_rows(model)
    assert layer_rows(model) == first
    assert not any(m._forward_hooks for m in model.modules())
