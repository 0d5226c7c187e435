"""The command line's flags: one per TrainConfig and Machine field, each with its meaning,
starting from a preset; every flag of every command says what it does."""

from __future__ import annotations

import dataclasses

import pytest

from mnist_model.cli import build_parser
from mnist_model.cli.train import field_docs, train_config
from mnist_model.config import PRESETS, Machine, TrainConfig


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
    assert train_config(build_parser().parse_args(["train"])) == TrainConfig()


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_preset_is_the_starting_config(name) -> None:
    assert train_config(build_parser().parse_args(["train", "--preset", name])) == PRESETS[name]


def test_the_fast_preset_differs_from_the_default() -> None:
    assert PRESETS["default"] == TrainConfig()
    assert PRESETS["fast"].epochs < TrainConfig().epochs


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(TrainConfig)])
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_train_config_field_has_a_cli_flag_that_overrides_the_preset(field, preset) -> None:
    spec = {f.name: f for f in dataclasses.fields(TrainConfig)}[field]
    value = _other_value(getattr(PRESETS[preset], field), spec)
    args = build_parser().parse_args(["train", "--preset", preset, *_flag_args(field, value)])
    config = train_config(args)
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


@pytest.mark.parametrize(
    "given", [[], ["--checkpoint", "m.pt", "--predictions", "p.npz"]], ids=["neither", "both"]
)
def test_gate_takes_a_model_or_predictions_not_both(given, capsys) -> None:
    from mnist_model.cli import main

    assert main(["gate", *given]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "mnist-model: error: gate: give --checkpoint MODEL or --predictions FILE (one)"


def test_every_command_taking_a_model_reads_any_format() -> None:
    parser = build_parser()
    takes = {"gate", "evaluate", "ood", "baseline", "compare", "predict", "export", "report"}
    for name in takes:
        (sub,) = [a for a in parser._subparsers._group_actions if a.dest == "command"]  # noqa: SLF001
        flags = {o for action in sub.choices[name]._actions for o in action.option_strings}  # noqa: SLF001
        assert {"--checkpoint", "--model-class", "--input-scale"} <= flags, name
    for name in ("gate", "ood", "compare", "report", "thresholds"):
        flags = {o for a in sub.choices[name]._actions for o in a.option_strings}  # noqa: SLF001
        assert "--thresholds" in flags, name
