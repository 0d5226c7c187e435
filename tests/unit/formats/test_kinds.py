"""What a file is (formats/kinds.py), and every refusal of a file of the wrong kind says
it: the one line names what the file is and where it goes instead."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_model.checkpoint import save_checkpoint
from mnist_model.cli import main
from mnist_model.formats.kinds import describe
from mnist_model.model import MnistNet

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """One file of every kind this tool writes or reads."""
    folder = tmp_path_factory.mktemp("kinds")
    torch.manual_seed(0)
    model = MnistNet()
    out = {
        "checkpoint": save_checkpoint(
            folder / "model.pt", model, train_config={}, metrics={}, data_md5={}
        ),
        "state_dict": folder / "sd.pt",
        "training state": folder / "train_state.pt",
        "metrics": folder / "metrics.json",
        "per_class": folder / "per_class.json",
        "image": folder / "digit.png",
        "npz": folder / "inputs.npz",
        "baseline": REPO / "baselines" / "default.json",
        "thresholds": REPO / "mnist_model" / "gate" / "thresholds.json",
        "evidence": next((REPO / "evidence" / "calibration").glob("*.json")),
        "text": folder / "notes.txt",
    }
    torch.save(model.state_dict(), out["state_dict"])
    torch.save({"schema_version": 7, "optimizer": {}, "model": {}}, out["training state"])
    out["metrics"].write_text(json.dumps({"config": {}, "epochs": [], "final": {}}))
    out["per_class"].write_text(json.dumps([{"class": 0, "accuracy": 0.9}]))
    Image.new("L", (28, 28)).save(out["image"])
    np.savez(out["npz"], test=np.zeros((2, 28, 28), np.uint8))
    out["text"].write_text("hello")
    return out


EXPECTED = {
    "checkpoint": "a model file",
    "state_dict": "a model file",
    "training state": "a training state",
    "metrics": "a run's metrics.json",
    "per_class": "a run's per_class.json",
    "image": "an image",
    "npz": "a NumPy archive",
    "baseline": "a baseline record",
    "thresholds": "a thresholds file",
    "evidence": "an evidence record",
    "text": None,
}


@pytest.mark.parametrize("kind", EXPECTED)
def test_each_kind_is_named(files, kind) -> None:
    found = describe(files[kind])
    if EXPECTED[kind] is None:
        assert found is None
    else:
        assert found.startswith(EXPECTED[kind]), found


def test_damaged_or_absent_files_are_not_described(tmp_path) -> None:
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    (tmp_path / "bad.json").write_text("{" * 100)
    assert describe(tmp_path / "bad.zip") is None
    assert describe(tmp_path / "bad.json") is None
    assert describe(tmp_path / "missing") is None
    assert describe(tmp_path) == "a folder"


WRONG = [  # (the file given, the command line with {} for it, what must be said)
    (
        "baseline",
        ["evaluate", "--checkpoint", "{}"],
        "it is a baseline record (give it to --baseline)",
    ),
    (
        "metrics",
        ["summary", "--checkpoint", "{}"],
        "it is a run's metrics.json (the model is the model.pt",
    ),
    (
        "image",
        ["export", "--checkpoint", "{}", "--format", "onnx", "--out", "x.onnx"],
        "it is an image",
    ),
    (
        "thresholds",
        ["thresholds", "check", "{}"],
        "it is a thresholds file (give it to --thresholds)",
    ),
    ("baseline", ["thresholds", "derive", "{}", "--out", "t.json"], "it is a baseline record"),
    ("checkpoint", ["thresholds", "check", "{}"], "it is a model file (give it to --checkpoint)"),
    ("evidence", ["thresholds", "check", "e/", "--thresholds", "{}"], "it is an evidence record"),
    ("checkpoint", ["thresholds", "check", "e/", "--thresholds", "{}"], "it is a model file"),
    ("training state", ["evaluate", "--checkpoint", "{}"], "a training state"),
    (
        "checkpoint",
        ["predict", "{}", "--checkpoint", "{}"],
        "it is a model file (give it to --checkpoint)",
    ),
]


@pytest.mark.parametrize(
    ("kind", "argv", "said"), WRONG, ids=[f"{k}-as-{i}" for i, (k, _, _) in enumerate(WRONG)]
)
def test_a_file_of_the_wrong_kind_is_named_in_one_line(
    files, kind, argv, said, capsys, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    evidence = tmp_path / "e"
    evidence.mkdir()
    shutil.copy(files["evidence"], evidence)
    assert main([a.replace("{}", str(files[kind])) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err, err


def test_what_reads_only_this_projects_checkpoints_names_what_it_got(files, capsys) -> None:
    assert main(["summary", "--checkpoint", str(files["state_dict"])]) == 2
    err = capsys.readouterr().err
    assert "is a state_dict model, not an mnist-model checkpoint, which summary reads" in err
