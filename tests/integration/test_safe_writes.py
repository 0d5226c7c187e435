"""Outputs are checked before the long work, and a write that fails on the way (a full
disk) is one line saying what was kept and how to go on: the commands' side of
mnist_model/atomic.py's rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from helpers.cli import run_cli, short_train_flags

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def _one_line(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    last = proc.stderr.strip().splitlines()[-1]  # after the run's log lines, if any
    assert last.startswith("mnist-model: error: ") and "Traceback" not in proc.stderr
    return last


def test_train_refuses_an_unwritable_output_before_training(mnist_root, tmp_path) -> None:
    out = tmp_path / "run"
    (out / "model.pt").mkdir(parents=True)
    proc = run_cli("train", *short_train_flags(64, 100), "--out", str(out), data_root=mnist_root)
    assert f"refusing to write {out / 'model.pt'}: it is a folder" in _one_line(proc)
    assert sorted(p.name for p in out.iterdir()) == ["model.pt"]  # not one epoch run


def test_report_writes_no_picture_when_its_card_cannot_be_written(mnist_root, tmp_path) -> None:
    from mnist_model.checkpoint import save_checkpoint
    from mnist_model.model import MnistNet

    model = save_checkpoint(tmp_path / "m.pt", MnistNet(), train_config={}, metrics={}, data_md5={})
    out = tmp_path / "report"
    (out / "report.md").mkdir(parents=True)
    proc = run_cli("report", "--checkpoint", str(model), "--out", str(out), data_root=mnist_root)
    assert "report.md: it is a folder" in _one_line(proc)
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--out", "{}"],
        ["thresholds", "derive", str(REPO / "evidence" / "calibration"), "--out", "{}"],
        ["export", "--checkpoint", "{model}", "--format", "onnx", "--out", "{}"],
        ["baseline", "--checkpoint", "{model}", "--out", "{}"],
    ],
    ids=["bench", "thresholds-derive", "export", "baseline"],
)
def test_an_output_that_is_a_fifo_is_refused_first(mnist_root, tmp_path, argv) -> None:
    from mnist_model.checkpoint import save_checkpoint
    from mnist_model.model import MnistNet

    model = save_checkpoint(tmp_path / "m.pt", MnistNet(), train_config={}, metrics={}, data_md5={})
    fifo = tmp_path / "out"
    os.mkfifo(fifo)
    argv = [a.replace("{}", str(fifo)).replace("{model}", str(model)) for a in argv]
    line = _one_line(run_cli(*argv, data_root=mnist_root))
    assert f"refusing to write {fifo}: it is a FIFO" in line


def test_a_full_disk_in_train_says_what_is_kept_and_resume_goes_on(
    mnist_root, tmp_path, monkeypatch
) -> None:
    import torch

    import mnist_model.checkpoint as checkpoint

    real_save = torch.save

    def full(obj, path, *args, **kwargs):  # the disk fills up as the model file is written
        if Path(path).name.startswith(".model.pt."):
            raise RuntimeError(
                "[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0; "
                "PytorchStreamWriter failed writing file data/0: file write failed"
            )
        return real_save(obj, path, *args, **kwargs)

    out = tmp_path / "run"
    flags = [*short_train_flags(64, 100), "--out", str(out)]
    monkeypatch.setattr(checkpoint.torch, "save", full)
    line = _one_line(run_cli("train", *flags, data_root=mnist_root))
    assert f"could not write {out / 'model.pt'}" in line
    assert "epoch 1 is saved in" in line and "--resume" in line
    assert not (out / "model.pt").exists()
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    monkeypatch.undo()
    proc = run_cli("train", *flags, "--resume", data_root=mnist_root)
    assert proc.returncode == 0, proc.stderr
    assert (out / "model.pt").is_file()
