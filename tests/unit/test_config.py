"""Configs: defaults are valid, bad values fail early with ValueError, instances are frozen,
and every TrainConfig field can be set from the command line."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mnist_model.cli import build_parser, field_docs
from mnist_model.commands import _train_config
from mnist_model.config import (
    FLOAT32,
    PRESETS,
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


def _other_value(value, field: dataclasses.Field | None = None):
    """A valid non-default value of the same type, to prove the flag is wired through."""
    if field is not None and "choices" in field.metadata:
        return next(choice for choice in field.metadata["choices"] if choice != value)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 3
    return value * 0.5 if value else 0.25


def _flag_args(name: str, value) -> list[str]:
    flag = "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return [flag] if value else ["--no-" + name.replace("_", "-")]
    return [flag, str(value)]


def test_train_flags_default_to_the_config_defaults() -> None:
    assert _train_config(build_parser().parse_args(["train"])) == TrainConfig()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_is_the_starting_config(name) -> None:
    assert _train_config(build_parser().parse_args(["train", "--preset", name])) == PRESETS[name]


def test_the_fast_preset_differs_from_the_default() -> None:
    assert PRESETS["default"] == TrainConfig()
    assert PRESETS["fast"].epochs < TrainConfig().epochs


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(TrainConfig)])
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_train_config_field_has_a_cli_flag_that_overrides_the_preset(field, preset) -> None:
    spec = {f.name: f for f in dataclasses.fields(TrainConfig)}[field]
    value = _other_value(getattr(PRESETS[preset], field), spec)
    args = build_parser().parse_args(["train", "--preset", preset, *_flag_args(field, value)])
    config = _train_config(args)
    assert getattr(config, field) == value
    assert type(getattr(config, field)) is type(value)
    others = {f.name for f in dataclasses.fields(TrainConfig)} - {field}
    assert all(getattr(config, name) == getattr(PRESETS[preset], name) for name in others)


@pytest.mark.parametrize("flag", ["--precision", "--layout"])
def test_an_unknown_arithmetic_is_a_usage_error_listing_the_choices(flag, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", flag, "fp16"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fp16'" in capsys.readouterr().err


def test_the_arithmetic_is_chosen_per_machine_by_default() -> None:
    assert Machine().precision == "auto" and Machine().layout == "auto"


def test_an_unknown_preset_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["train", "--preset", "turbo"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'turbo'" in capsys.readouterr().err


@pytest.mark.parametrize("cls", [TrainConfig, Machine])
def test_every_field_says_what_it_does_and_train_help_shows_it(cls, capsys) -> None:
    docs = field_docs(cls)
    assert set(docs) == {f.name for f in dataclasses.fields(cls)}
    assert all(len(text.split()) >= 3 for text in docs.values()), docs
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    for name, text in docs.items():
        assert " ".join(text.split()[:3]) in shown, name
        assert f"--{name.replace('_', '-')}" in shown


def test_every_flag_of_every_command_has_a_meaning() -> None:
    import argparse

    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    silent = {
        f"{name} {', '.join(action.option_strings) or action.dest}"
        for name, command in commands.choices.items()
        for action in command._actions
        if not isinstance(action, argparse._HelpAction) and len((action.help or "").split()) < 3
    }
    assert not silent, sorted(silent)
