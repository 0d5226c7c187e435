"""Champion and challenger (mnist_model.gate.paired): the baseline record refuses tampering
and other data in one line, the paired comparison counts right, and the verdict follows
its rule."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from mnist_model.data.checksums import json_sha256
from mnist_model.data.layout import RAW_FILES
from mnist_model.gate import paired as compare
from mnist_model.gate.verdict import judge

SUITE = {"version": 2, "per_class": 1, "seed": 0}
RNG = np.random.default_rng(0)
LABELS = RNG.integers(0, 10, 200)
OOD_LABELS = RNG.integers(0, 10, 36)
OOD_CONDITION = np.repeat(np.arange(2), 18)


def predictions(labels: np.ndarray, wrong: int, seed: int) -> np.ndarray:
    out = labels.copy()
    flip = np.random.default_rng(seed).choice(len(labels), wrong, replace=False)
    out[flip] = (out[flip] + 1) % 10
    return out


def record(test=None, ood=None) -> dict:
    return compare.make_record(
        test_predicted=predictions(LABELS, 5, 1) if test is None else test,
        test_labels=LABELS,
        test_md5=RAW_FILES,
        ood_predicted=predictions(OOD_LABELS, 3, 2) if ood is None else ood,
        ood_suite=SUITE,
        ood_labels=OOD_LABELS,
        checkpoint={"sha256": "x"},
        environment={"torch": "t"},
    )


def load(path):
    return compare.load_record(path, test_labels=LABELS, ood_labels=OOD_LABELS, ood_suite=SUITE)


def test_a_record_reads_back_what_was_written(tmp_path) -> None:
    made = record()
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(made))
    loaded, test, ood = load(path)
    assert np.array_equal(test, predictions(LABELS, 5, 1))
    assert np.array_equal(ood, predictions(OOD_LABELS, 3, 2))
    assert loaded["summary"]["test_correct"] == 195 and len(path.read_bytes()) < 100_000


def tampered(change) -> dict:
    data = copy.deepcopy(record())
    change(data)
    return data


def relabel(data: dict) -> None:
    text = data["test"]["predicted"]
    data["test"]["predicted"] = str((int(text[0]) + 1) % 10) + text[1:]


def resealed(change):
    def both(data):
        change(data)
        data["sha256"] = json_sha256(data, without="sha256")

    return both


CASES = {
    "one label changed, seal kept": (tampered(relabel), "does not match its own SHA-256"),
    "one label changed, resealed": (tampered(resealed(relabel)), "does not agree"),
    "other test data": (
        tampered(resealed(lambda d: d["test"]["md5"].update({"t10k-labels-idx1-ubyte": "0" * 32}))),
        "other test data",
    ),
    "another suite": (tampered(resealed(lambda d: d["ood"].update(version=1))), "suite"),
    "a future schema": (tampered(resealed(lambda d: d.update(schema=9))), "schema 9"),
    "not a record": ({"hello": 1}, "is not a baseline record"),
    "too few predictions": (
        tampered(resealed(lambda d: d["test"].update(predicted="1" * 10))),
        "not 200 predicted digits",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_a_tampered_or_foreign_record_is_refused_in_one_line(tmp_path, case) -> None:
    content, needle = CASES[case]
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps(content))
    with pytest.raises(compare.BaselineError, match=needle) as info:
        load(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b""])
def test_a_corrupt_file_is_refused(tmp_path, content) -> None:
    path = tmp_path / "baseline.json"
    path.write_bytes(content)
    with pytest.raises(compare.BaselineError, match="not readable JSON"):
        load(path)
    with pytest.raises(compare.BaselineError, match="no such file"):
        load(tmp_path / "missing.json")


def test_the_paired_table_adds_up_and_identical_models_tie() -> None:
    base, cand = predictions(LABELS, 10, 1), predictions(LABELS, 14, 2)
    result = compare.paired(base, cand, LABELS)
    assert result["both"] + result["baseline_only"] + result["candidate_only"] + result[
        "neither"
    ] == len(LABELS)
    assert result["net"] == int((cand == LABELS).sum() - (base == LABELS).sum())
    assert len(result["lost"]) == result["baseline_only"]
    same = compare.paired(base, base, LABELS)
    assert same["p_worse"] == same["p_two_sided"] == 1.0 and same["net"] == 0


def run_compare(base_test, cand_test, base_ood=None, cand_ood=None) -> dict:
    base_ood = OOD_LABELS.copy() if base_ood is None else base_ood
    cand_ood = OOD_LABELS.copy() if cand_ood is None else cand_ood
    return compare.compare(
        (base_test, base_ood),
        (cand_test, cand_ood),
        test_labels=LABELS,
        ood_labels=OOD_LABELS,
        ood_condition=OOD_CONDITION,
        ood_names=("a", "b"),
    )


def test_the_breakdown_names_digits_and_conditions_and_test_set_images() -> None:
    base = LABELS.copy()
    cand = LABELS.copy()
    cand[LABELS == 3] = 4  # every 3 lost
    result = run_compare(base, cand)
    assert list(result["breakdown"]) == [f"digit {d}" for d in range(10)] + ["ood a", "ood b"]
    assert result["breakdown"]["digit 3"]["lost"] == np.flatnonzero(LABELS == 3).tolist()
    assert all(0 <= v["p_holm"] <= 1 for v in result["breakdown"].values())


BARS = {
    "compare": {
        "alpha": 0.01,
        "alpha_breakdown": 0.01,
        "max_net_loss": {
            "overall": 5,
            **{f"digit {d}": 3 for d in range(10)},
            "ood a": 2,
            "ood b": 2,
        },
    }
}


def paired_failures(comparison: dict, bars: dict) -> list[str]:
    """What the verdict engine finds worse in a comparison."""
    return [check.reason for check in judge({}, bars, comparison=comparison).failed]


def test_the_verdict_follows_the_rule() -> None:
    good = run_compare(LABELS, LABELS)
    assert paired_failures(good, BARS) == []
    lost_threes = LABELS.copy()
    lost_threes[LABELS == 3] = 4
    bad = paired_failures(run_compare(LABELS, lost_threes), BARS)
    assert any(r.startswith("paired overall: ") for r in bad)
    assert any(r.startswith("paired digit 3:") for r in bad)
    # a breakdown loss that is significant but within what good models differ by passes
    wide = copy.deepcopy(BARS)
    wide["compare"]["max_net_loss"] = {k: 10_000 for k in wide["compare"]["max_net_loss"]}
    wide["compare"]["alpha"] = 0.0
    assert paired_failures(run_compare(LABELS, lost_threes), wide) == []
    text = compare.comparison_text(run_compare(LABELS, lost_threes), bad)
    assert "exact McNemar" in text and text.splitlines()[-1].startswith("verdict: WORSE")
    summary = compare.summary_json(run_compare(LABELS, lost_threes), bad)
    assert {"baseline_only", "candidate_only", "p_worse", "verdict"} <= set(summary)
    assert summary["verdict"] == "worse"
    json.dumps(summary)  # plain data
