"""`mnist-model thresholds record|derive|check`: the floors are reproducible from the
evidence in the repository, and evidence is judged as the gate judges a model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mnist_model.checkpoint import save_checkpoint
from mnist_model.cli import main
from mnist_model.data.checksums import sha256_file
from mnist_model.gate import evidence, thresholds
from mnist_model.gate.verdict import judge

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_derive_reproduces_the_shipped_file(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(REPO)  # the evidence folder is recorded as given, relative to the repo
    out = tmp_path / "thresholds.json"
    command = ["thresholds", "derive", "evidence/calibration", "--promise", "project"]
    assert main([*command, "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == json.loads(thresholds.PATH.read_text())
    printed = capsys.readouterr().out
    assert "family-wise false-alarm rate 0.01" in printed and f"wrote {out}" in printed


def test_derive_takes_the_users_promises_or_none(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    shipped = json.loads(thresholds.PATH.read_text())
    bare, promised = tmp_path / "bare.json", tmp_path / "promised.json"
    assert main(["thresholds", "derive", "evidence/calibration", "--out", str(bare)]) == 0
    given = ["--promise", "accuracy=0.996", "--promise", "max_params=50000"]
    assert (
        main(["thresholds", "derive", "evidence/calibration", *given, "--out", str(promised)]) == 0
    )
    bare, promised = json.loads(bare.read_text()), json.loads(promised.read_text())
    detail = shipped["derivation"]["checks_detail"]["overall"]
    assert bare["overall_accuracy"] == detail["floor"] < shipped["overall_accuracy"]
    assert bare["parameter_budget"] is None and bare["multiseed_mean_accuracy"] is None
    assert promised["overall_accuracy"] == 0.996 and promised["parameter_budget"] == 50_001
    assert promised["per_class"] == bare["per_class"]  # no digit promise: derived floors
    assert bare["ood"] == shipped["ood"] and bare["compare"] == shipped["compare"]


@pytest.mark.parametrize("promise", ["speed=3", "accuracy=1.5", "accuracy=high"])
def test_a_bad_promise_is_one_line_and_exit_2(promise, tmp_path, capsys) -> None:
    out = tmp_path / "t.json"
    code = main(
        ["thresholds", "derive", "evidence/calibration", "--promise", promise, "--out", str(out)]
    )
    error = capsys.readouterr().err.strip()
    assert code == 2 and error.startswith("mnist-model: error: --promise ") and "\n" not in error
    assert not out.exists()


def test_check_passes_the_held_out_models(capsys) -> None:
    assert main(["thresholds", "check", str(REPO / "evidence/holdout")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    count = len(list((REPO / "evidence/holdout").glob("*.json")))
    assert last == f"{count} of {count} models pass every floor"


def test_check_fails_a_model_below_a_floor_and_names_the_check(tmp_path, capsys) -> None:
    from mnist_model.gate.ood import SUITE_VERSION

    records = [
        json.loads(p.read_text()) for p in sorted((REPO / "evidence/holdout").glob("*.json"))
    ]
    record = next(r for r in records if r["ood"]["version"] == SUITE_VERSION)
    record["ood"]["correct"]["shadow"] = 100
    record["test"]["per_class_correct"][6] -= 40
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(record))
    assert main(["thresholds", "check", str(bad)]) == 1
    line = capsys.readouterr().out.splitlines()[0]
    assert "FAIL" in line and "ood shadow: 10.00 %, needs >= " in line and "digit 6: " in line


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["thresholds", "derive", "no-such-folder", "--out", "x.json"], "no evidence at"),
        (["thresholds", "derive", "evidence/holdout"], "needs --out"),
        (["thresholds", "check", "README.md"], "unreadable"),
    ],
    ids=["missing", "no-out", "not-json"],
)
def test_bad_arguments_are_one_line_errors(argv, needle, capsys, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mnist-model: error:") and needle in err[0]


def test_record_measures_a_checkpoint_as_the_gate_does(small_training, tmp_path, capsys) -> None:
    path = save_checkpoint(
        tmp_path / "model.pt",
        small_training.run.model,
        train_config=dataclasses.asdict(small_training.config),
        metrics={
            "arithmetic": small_training.run.arithmetic.to_dict(),
            "device": "cpu",
            "machine": {"threads": 1},
        },
        data_md5={},
    )
    out = tmp_path / "evidence"
    assert main(["thresholds", "record", str(path), "--out", str(out)]) == 0
    (written,) = out.glob("*.json")
    assert f"wrote {written}" in capsys.readouterr().out
    (record,) = evidence.load_evidence([written])
    model = record["model"]
    assert written.name == f"{model['arithmetic_class']}-seed0.json"
    assert model["threads"] == 1 and model["recipe"]
    assert model["checkpoint_sha256"] == sha256_file(path)
    assert record["test"]["total"] == 10_000 == sum(record["test"]["per_class_total"])
    assert set(record["ood"]["correct"]) == set(thresholds.ood_floors())
    assert set(record["ood"]["plain_correct"]) == set(record["ood"]["correct"])
    # a one-epoch model on 6,000 images is no good model: the gate's judgement says so
    assert judge(record, thresholds.load()).failed
