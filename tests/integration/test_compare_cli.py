"""`mnist-model baseline` and `compare` on real checkpoints: a model compared with its own
record ties, a worse one is named worse with its p-value and lost images, and a tampered
record is refused in one line."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from mnist_model.checkpoint import save_checkpoint
from mnist_model.cli import main
from mnist_model.model import MnistNet

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def models(small_training, tmp_path_factory):
    """(the short run's checkpoint, an untrained one, the short run's baseline record)."""
    folder = tmp_path_factory.mktemp("compare")
    config = dataclasses.asdict(small_training.config)
    trained = save_checkpoint(
        folder / "trained.pt",
        small_training.run.model,
        train_config=config,
        metrics={},
        data_md5={},
    )
    torch.manual_seed(0)
    untrained = save_checkpoint(
        folder / "untrained.pt", MnistNet(), train_config=config, metrics={}, data_md5={}
    )
    record = folder / "baseline.json"
    assert main(["baseline", "--checkpoint", str(trained), "--out", str(record)]) == 0
    return trained, untrained, record


def test_a_model_against_its_own_record_ties(models, capsys) -> None:
    trained, _, record = models
    assert main(["compare", "--checkpoint", str(trained), "--baseline", str(record), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["baseline_only"] == result["candidate_only"] == 0
    assert result["p_worse"] == 1.0 and result["verdict"] == "not worse"


def test_a_worse_model_is_named_worse_with_its_p_value(models, capsys) -> None:
    trained, untrained, record = models
    assert main(["compare", "--checkpoint", str(untrained), "--baseline", str(record)]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("verdict: WORSE: paired overall: ")
    assert "needs >= 0.01 (" in last and " lost, " in last
    # a checkpoint works as the baseline too
    assert main(["compare", "--checkpoint", str(untrained), "--baseline", str(trained)]) == 1


def test_a_tampered_record_is_refused_in_one_line(models, tmp_path, capsys) -> None:
    trained, _, record = models
    data = json.loads(record.read_text())
    predicted = data["test"]["predicted"]
    data["test"]["predicted"] = ("1" if predicted[0] != "1" else "2") + predicted[1:]
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(data))
    capsys.readouterr()
    assert main(["compare", "--checkpoint", str(trained), "--baseline", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not match its own SHA-256" in err[0]
