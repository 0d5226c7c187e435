"""The command line behaves like its neighbours: --version, the global flags on either side
of the command, predict on folders and on standard input, summary of a checkpoint, a flag
with no effect refused, a training state named for what it is."""

from __future__ import annotations

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
