"""The command line behaves like its neighbours: --version, the global flags on either side
of the command, predict on folders and on standard input, summary of a checkpoint, a flag
with no effect refused, a training state named for what it is."""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import pytest
import torch

from mnist_model import __version__
from mnist_model.checkpoint import save_checkpoint
from mnist_model.cli import build_parser, main
from mnist_model.cli.predict import expand
from mnist_model.model import MnistNet


def test_version(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"mnist-model {__version__}"


@pytest.mark.parametrize(
    ("argv", "debug", "quiet"),
    [
        (["evaluate", "--checkpoint", "m.pt"], False, False),
        (["-q", "evaluate", "--checkpoint", "m.pt"], False, True),
        (["evaluate", "--checkpoint", "m.pt", "-q", "--debug"], True, True),
        (["--debug", "evaluate", "--quiet", "--checkpoint", "m.pt"], True, True),
    ],
)
def test_the_global_flags_work_before_or_after_the_command(argv, debug, quiet) -> None:
    args = build_parser().parse_args(argv)
    assert (args.debug, args.quiet) == (debug, quiet)


def test_predict_reads_a_folders_images_and_paths_from_stdin(tmp_path, monkeypatch) -> None:
    for name in ("b.png", "a.JPG", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    single = tmp_path / "single.bmp"
    single.write_bytes(b"x")
    assert expand([tmp_path]) == [tmp_path / "a.JPG", tmp_path / "b.png", single]
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{single}\n\n{tmp_path / 'b.png'}\n"))
    assert expand([single, Path("-")]) == [single, single, tmp_path / "b.png"]


def test_predict_reports_a_folder_without_images_in_one_line(tmp_path) -> None:
    from mnist_model.predict import predict_files

    (tmp_path / "notes.txt").write_text("no digits")
    assert expand([tmp_path]) == [tmp_path]
    (row,) = predict_files(MnistNet().eval(), expand([tmp_path]))
    assert row["error"] == f"{tmp_path}: a folder with no image files"


def test_summary_shows_a_checkpoints_network(tmp_path, capsys) -> None:
    path = save_checkpoint(tmp_path / "m.pt", MnistNet(), train_config={}, metrics={}, data_md5={})
    assert main(["summary", "--checkpoint", str(path)]) == 0
    assert "total trainable parameters" in capsys.readouterr().out


def test_sweep_refuses_a_seed_it_would_ignore(capsys) -> None:
    assert main(["sweep", "--seed", "3"]) == 2
    assert "--seed has no effect here; give the seeds with --seeds" in capsys.readouterr().err


def test_a_training_state_is_named_for_what_it_is(tmp_path, capsys) -> None:
    state = {"schema_version": 7, "model": MnistNet().state_dict(), "optimizer": {}}
    torch.save(state, tmp_path / "train_state.pt")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "train_state.pt")]) == 2
    error = capsys.readouterr().err
    assert "is a training state" in error and "pass the model.pt" in error


def _flags() -> dict[str, list[tuple[str, argparse.Action]]]:
    """Every long flag of every command, with the command and its action."""
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: dict[str, list] = {}
    for name, sub in commands.choices.items():
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--"):
                    found.setdefault(flag, []).append((name, action))
    return found


def _kind(action: argparse.Action) -> str:
    """A value (given once, or repeatable for several models), or what else it is."""
    values = isinstance(action, argparse._StoreAction | argparse._AppendAction)
    return "value" if values else type(action).__name__


def test_a_flag_name_means_one_thing_in_every_command() -> None:
    """The same kind of value everywhere, and a flag named after a recipe or machine
    setting (--seed, --threads, --device, ...) is that setting wherever it appears."""
    from mnist_model.cli.train import field_docs
    from mnist_model.config import Machine, TrainConfig

    settings = {}
    for cls in (TrainConfig, Machine):
        settings.update({"--" + k.replace("_", "-"): v for k, v in field_docs(cls).items()})
    for flag, uses in _flags().items():
        kinds = {(_kind(a), a.type, a.nargs) for _, a in uses}
        assert len(kinds) == 1, (flag, kinds)
        if flag in settings:
            for command, action in uses:
                meant = action.help.startswith(settings[flag].replace("%", "%%"))
                assert meant or "no effect" in action.help, (flag, command, action.help)
    assert "--suite-seed" in _flags() and "--thread-grid" in _flags()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["thresholds", "check", "e.json", "--promise", "accuracy=0.9"], "--promise has no effect"),
        (["thresholds", "derive", "e/", "--thresholds", "t.json"], "--thresholds has no effect"),
        (["thresholds", "check", "e/", "--out", "x.json"], "--out has no effect"),
        (["thresholds", "derive", "e/", "--model-class", "m:N"], "--model-class has no effect"),
        (["thresholds", "check", "e/", "--input-scale", "unit"], "--input-scale has no effect"),
        (["thresholds", "derive", "e/", "--data-dir", "d"], "--data-dir has no effect"),
    ],
)
def test_a_flag_for_another_action_is_refused(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ood", "--checkpoint", "m.pt", "--suite-seed", "-1"], "--suite-seed must be in"),
        (["bench", "--thread-grid", "0"], "--thread-grid must be a positive integer"),
    ],
)
def test_out_of_range_values_are_refused_before_anything_runs(argv, message, capsys) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_mps_is_a_device_where_torch_has_it(monkeypatch) -> None:
    from mnist_model.errors import TrainingError
    from mnist_model.run import runner

    monkeypatch.setattr(runner, "_mps_available", lambda: False)
    with pytest.raises(TrainingError, match="asked for Apple's MPS, but torch has none here"):
        runner.select_device("mps")
    assert runner.select_device("auto").type in ("cpu", "cuda")
    monkeypatch.setattr(runner, "_mps_available", lambda: True)
    assert runner.select_device("mps") == torch.device("mps")
    if not torch.cuda.is_available():
        assert runner.select_device("auto") == torch.device("mps")
    with pytest.raises(TrainingError, match="auto, cpu, cuda, cuda:N or mps"):
        runner.select_device("xla")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--remeasure", "--precision", "fp32", "--layout", "contiguous"], "nothing is"),
        (["train", "--remeasure", "--resume"], "a resumed run keeps its arithmetic"),
        (["sweep", "--remeasure", "--precision", "bf16", "--layout", "channels_last"], "nothing"),
        (["gate", "--predictions", "p.npz", "--model-class", "m:Net"], "--model-class has no"),
        (["gate", "--predictions", "p.npz", "--input-scale", "unit"], "--input-scale has no"),
    ],
)
def test_a_flag_with_no_effect_is_refused(argv, message, capsys) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "no effect" in err and err.count("\n") == 1


def test_model_class_is_refused_for_a_file_that_carries_its_graph(tmp_path) -> None:
    from mnist_model.errors import CheckpointError
    from mnist_model.formats import load_any
    from mnist_model.formats.export import export_model

    scripted = tmp_path / "net.pt"
    export_model(MnistNet().eval(), "torchscript", scripted)
    with pytest.raises(CheckpointError, match="--model-class has no effect on a TorchScript"):
        load_any(scripted, model_class="somewhere:Net")


@pytest.mark.parametrize(
    ("seeds", "says"),
    [("0-99999999999", "more than 1000 seeds"), ("0-999,1000", "more than 1000 seeds")],
)
def test_a_sweep_of_absurdly_many_seeds_is_refused_before_any_memory_goes(
    seeds, says, capsys
) -> None:
    assert main(["sweep", "--seeds", seeds]) == 2
    assert says in capsys.readouterr().err


def test_any_file_name_prints_under_an_ascii_only_output(tmp_path, monkeypatch) -> None:
    from PIL import Image

    model = save_checkpoint(tmp_path / "m.pt", MnistNet(), train_config={}, metrics={}, data_md5={})
    image = tmp_path / "zïffer.png"
    Image.new("L", (28, 28)).save(image)
    out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", out)
    code = main(["predict", str(image), "--checkpoint", str(model)])
    out.flush()
    shown = out.buffer.getvalue().decode("ascii")
    assert "z\\xefffer.png" in shown and code == 3  # a blank picture: no single digit
