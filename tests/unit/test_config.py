"""Configs: defaults are valid, bad values fail early with ValueError, instances are frozen,
and every TrainConfig field can be set from the command line."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mnist_model.config import (
    FLOAT32,
    RUN_SETTINGS,
    Arithmetic,
    Machine,
    ModelConfig,
    TrainConfig,
    recipe_fingerprint,
)
from mnist_model.model import MnistNet


def test_defaults_are_valid_and_build_a_model() -> None:
    # Rebuilding from the plain dict runs __post_init__'s validation on every default.
    train = TrainConfig(**dataclasses.asdict(TrainConfig()))
    model = ModelConfig(**dataclasses.asdict(ModelConfig()))
    assert train == TrainConfig() and model == ModelConfig()
    assert MnistNet(model).config == model


INVALID_TRAIN = [
    ("epochs", 0),
    ("epochs", -1),
    ("batch_size", 0),
    ("lr", 0.0),
    ("lr", -0.1),
    ("weight_decay", -1e-4),
    ("label_smoothing", -0.1),
    ("max_rotation_deg", -1.0),
    ("max_translate", -0.01),
    ("max_scale", -0.01),
    ("momentum", -0.5),
    ("low_res_fraction", -0.1),
    ("low_res_fraction", 1.0),
    ("warmup_fraction", 0.0),
    ("warmup_fraction", 1.0),
    ("warmup_fraction", 1.5),
]


@pytest.mark.parametrize(("field", "value"), INVALID_TRAIN)
def test_invalid_train_values_raise_value_error_naming_the_field(field, value) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


INVALID_MACHINE = [
    ("eval_batch_size", 0),
    ("threads", -1),
    ("threads", 1.5),
    ("precision", "fp16"),
    ("precision", "BF16"),
    ("layout", "nhwc"),
    ("layout", ""),
]


@pytest.mark.parametrize(("field", "value"), INVALID_MACHINE)
def test_invalid_machine_values_raise_value_error_naming_the_field(field, value) -> None:
    with pytest.raises(ValueError, match=field):
        Machine(**{field: value})


def test_the_recipe_holds_no_machine_setting_and_the_fingerprint_ignores_the_seed() -> None:
    recipe = {f.name for f in dataclasses.fields(TrainConfig)}
    machine = {f.name for f in dataclasses.fields(Machine)}
    assert not recipe & machine
    assert set(RUN_SETTINGS) == machine | {"seed"}
    model = dataclasses.asdict(ModelConfig())
    one = recipe_fingerprint(dataclasses.asdict(TrainConfig(seed=1)), model)
    assert one == recipe_fingerprint(dataclasses.asdict(TrainConfig(seed=2)), model)
    assert one != recipe_fingerprint(dataclasses.asdict(TrainConfig(lr=0.3)), model)
    # an older checkpoint's config, which held the machine's fields too, is the same recipe
    old = {**dataclasses.asdict(TrainConfig()), "threads": 2, "precision": "bf16"}
    assert recipe_fingerprint(old, model) == recipe_fingerprint(
        dataclasses.asdict(TrainConfig()), model
    )


def test_arithmetic_records_round_trip_and_bad_ones_are_refused() -> None:
    chosen = Arithmetic("bf16", "channels_last", "measured", {"bf16/channels_last": 10.0})
    assert Arithmetic.from_dict(chosen.to_dict()) == chosen
    assert chosen.memory_format == torch.channels_last and FLOAT32.name == "fp32/contiguous"
    for bad in (None, {"precision": "fp8", "layout": "contiguous"}, {"precision": "fp32"}):
        with pytest.raises(ValueError):
            Arithmetic.from_dict(bad)


@pytest.mark.parametrize(
    ("epochs", "fraction", "low"),
    [(24, 0.4, 10), (20, 0.4, 8), (2, 0.4, 1), (1, 0.4, 0), (24, 0.0, 0)],
)
def test_low_res_epochs_are_the_fraction_rounded_half_up(epochs, fraction, low) -> None:
    assert TrainConfig(epochs=epochs, low_res_fraction=fraction).low_res_epochs == low


INVALID_MODEL = [
    {"stem_channels": 0},
    {"stem_channels": -3},
    {"stage1_channels": ()},
    {"stage2_channels": ()},
    {"stage1_channels": (8, 0)},
    {"stage2_channels": (2.5,)},
    {"dropout": -0.1},
    {"dropout": 1.0},
    # sizes a crafted checkpoint could ask for: refused before a layer is allocated
    {"stem_channels": 10**6},
    {"stage2_channels": (16, 1025)},
    {"stage1_channels": (8,) * 17},
    {"stem_kernel": 29},
    {"stem_kernel": 10**5 + 1},
]


@pytest.mark.parametrize("kwargs", INVALID_MODEL, ids=str)
def test_invalid_model_values_raise_value_error(kwargs) -> None:
    with pytest.raises(ValueError):
        ModelConfig(**kwargs)


@pytest.mark.parametrize("config", [TrainConfig(), ModelConfig()], ids=["train", "model"])
def test_configs_are_frozen(config) -> None:
    name = dataclasses.fields(config)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(config, name, getattr(config, name))
