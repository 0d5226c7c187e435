"""The structure-aware fuzz of the JSON files the gate reads: every field of an evidence
record, a thresholds file and a baseline record, broken in turn by each value its
declared spec refuses (``Record.variants``: another type, out of range, too long, too
deep, not finite, missing), is refused in one line with exit 2 by the command that reads
it. The counts are asserted, so a schema that stops covering its fields fails here."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from mnist_model.cli import main

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOLDOUT = REPO / "evidence" / "holdout"


def _write(path: Path, value, spec) -> bool:
    """``value`` as JSON (NaN and infinity as the bare tokens Python writes); False where
    JSON cannot hold it (an arbitrary object) or its round trip breaks no rule (an integer
    key comes back a string)."""
    from mnist_model.schema import SchemaError

    try:
        path.write_text(json.dumps(value))
    except (TypeError, ValueError):
        return False
    try:
        spec.check(json.loads(path.read_text()), "")
    except (SchemaError, RecursionError):
        return True
    return False


def _refused(argv, capsys) -> str:
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, (argv, err)
    assert lines[0].startswith("mnist-model: error: ") and "Traceback" not in err
    return lines[0]


EVERY = int(os.environ.get("MNIST_MODEL_FUZZ_EXAMPLES", "0") or 0)
"""Set (as the slow tier's size): every variant also through the command; else one in
ten, the rest through the reader the command calls."""


def _through_command(i: int) -> bool:
    return bool(EVERY) or i % 10 == 0


def test_every_broken_evidence_field_is_refused(tmp_path, capsys) -> None:
    from mnist_model.gate.evidence import RECORD, EvidenceError, load_evidence

    good = json.loads(next(HOLDOUT.glob("*.json")).read_text())
    tried = 0
    for i, (where, broken) in enumerate(RECORD.variants(good)):
        path = tmp_path / "broken.json"
        if not _write(path, broken, RECORD):
            continue
        with pytest.raises(EvidenceError) as raised:
            load_evidence([path])
        assert str(path) in str(raised.value) and "\n" not in str(raised.value), where
        if _through_command(i):
            assert str(path) in _refused(["thresholds", "check", str(path)], capsys), where
        tried += 1
    assert tried >= 130, tried


def test_every_broken_thresholds_field_is_refused(tmp_path, capsys) -> None:
    from mnist_model.gate.thresholds import PATH, SPEC, ThresholdsError, load

    good = json.loads(PATH.read_text())
    tried = 0
    for i, (where, broken) in enumerate(SPEC.variants(good)):
        path = tmp_path / "thresholds.json"
        if not _write(path, broken, SPEC):
            continue
        with pytest.raises(ThresholdsError) as raised:
            load(path)
        assert str(path) in str(raised.value) and "\n" not in str(raised.value), where
        if _through_command(i):
            argv = ["thresholds", "check", str(HOLDOUT), "--thresholds", str(path)]
            assert str(path) in _refused(argv, capsys), where
        tried += 1
    assert tried >= 140, tried


def test_every_broken_baseline_field_is_refused_even_resealed(tmp_path) -> None:
    """A record's SHA-256 seal catches an edit; a forger can reseal, so the structure is
    checked on its own."""
    from mnist_model.data.checksums import json_sha256
    from mnist_model.gate.paired import RECORD, BaselineError, read_record

    good = json.loads((REPO / "baselines" / "default.json").read_text())
    tried = 0
    for where, broken in RECORD.variants(good):
        if where != "sha256" and isinstance(broken, dict) and "sha256" in broken:
            try:
                broken = {**broken, "sha256": json_sha256(broken, without="sha256")}
            except (TypeError, ValueError):
                continue
        path = tmp_path / "baseline.json"
        if not _write(path, broken, RECORD):
            continue
        with pytest.raises(BaselineError) as raised:
            read_record(path)
        assert str(path) in str(raised.value) and "\n" not in str(raised.value), where
        tried += 1
    assert tried >= 75, tried


@pytest.mark.parametrize("kind", ["evidence", "thresholds", "baseline"])
def test_json_nested_past_any_limit_is_one_line(tmp_path, capsys, kind) -> None:
    path = tmp_path / f"{kind}.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    evidence = tmp_path / "e"
    shutil.copytree(HOLDOUT, evidence)
    argv = {
        "evidence": ["thresholds", "check", str(path)],
        "thresholds": ["thresholds", "check", str(evidence), "--thresholds", str(path)],
        "baseline": ["compare", "--checkpoint", str(path), "--baseline", str(path)],
    }[kind]
    _refused(argv, capsys)


def test_evidence_whose_counts_and_totals_name_other_conditions_is_refused(
    tmp_path, capsys
) -> None:
    """Found by the fuzz: well-typed, yet the totals lacked the counts' conditions, and
    `thresholds check` died of a KeyError."""
    good = json.loads(next(HOLDOUT.glob("*.json")).read_text())
    good["ood"]["total"] = {"elsewhere": 1000}
    path = tmp_path / "e.json"
    path.write_text(json.dumps(good))
    line = _refused(["thresholds", "check", str(path)], capsys)
    assert "ood counts and totals name other conditions" in line
