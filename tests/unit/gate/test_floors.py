"""The floors' derivation: the shipped thresholds file is exactly what the rule computes
from the evidence in the repository, the rule keeps its false-alarm promise on data drawn
from a known distribution, and the evidence's models pass the floors."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_model.cli.thresholds import promises
from mnist_model.config import ModelConfig, TrainConfig, recipe_fingerprint
from mnist_model.gate import evidence, ood, thresholds
from mnist_model.gate import floors as calibration
from mnist_model.gate.verdict import judge

REPO = Path(__file__).resolve().parents[3]
CALIBRATION = "evidence/calibration"
HOLDOUT = "evidence/holdout"
SUITE = {"version": ood.SUITE_VERSION, "per_class": ood.PER_CLASS, "seed": 0}


def recorded(folder: str) -> list[dict]:
    return evidence.load_evidence([REPO / folder])


def failures(record: dict, bars: dict) -> list[str]:
    """What the verdict engine finds wrong with an evidence record."""
    return [check.reason for check in judge(record, bars).failed]


def test_the_shipped_floors_are_what_the_derivation_computes() -> None:
    # Run from the repository root, as `mnist-model thresholds derive` is documented.
    derived = calibration.rounded(
        calibration.derive(
            recorded(CALIBRATION),
            suite=SUITE,
            evidence_folder=CALIBRATION,
            earlier=ood.EARLIER,
            promises=promises(["project"]),
        )
    )
    shipped = json.loads(thresholds.PATH.read_text())
    edited = {
        key: (shipped.get(key), derived.get(key))
        for key in set(shipped) | set(derived)
        if shipped.get(key) != derived.get(key)
    }
    assert not edited, (
        "thresholds.json is not what `mnist-model thresholds derive evidence/calibration "
        "--promise project --out mnist_model/gate/thresholds.json` computes; differing keys: "
        f"{sorted(edited)}"
    )


def test_the_evidence_is_of_the_default_recipe_and_spans_arithmetic_classes() -> None:
    default = recipe_fingerprint(
        dataclasses.asdict(TrainConfig()), dataclasses.asdict(ModelConfig())
    )
    records = recorded(CALIBRATION)
    assert {r["model"]["recipe"] for r in records} == {default}
    assert len(records) >= 20
    assert len({r["model"]["arithmetic_class"] for r in records}) >= 2


def test_the_held_out_models_are_of_seeds_the_derivation_never_saw() -> None:
    seen = {r["model"]["seed"] for r in recorded(CALIBRATION)}
    held_out = recorded(HOLDOUT)
    assert len(held_out) >= 5
    assert not seen & {r["model"]["seed"] for r in held_out}


@pytest.mark.parametrize("folder", [CALIBRATION, HOLDOUT])
def test_every_recorded_model_clears_every_floor(folder) -> None:
    bars = thresholds.load()
    failing = {r["file"]: failures(r, bars) for r in recorded(folder)}
    assert not {k: v for k, v in failing.items() if v}


# --- the rule on synthetic evidence -----------------------------------------------------
def synthetic(correct_overall: list[int], **changes) -> list[dict]:
    """Records whose every count moves with the overall count: enough to exercise derive."""
    records = []
    for i, correct in enumerate(correct_overall):
        per_class_total = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
        wrong = 10_000 - correct
        per_class_correct = [n - wrong // 10 for n in per_class_total]
        per_class_correct[0] -= wrong - 10 * (wrong // 10)
        rec = {
            "schema": evidence.SCHEMA,
            "file": f"m{i}.json",
            "model": {"seed": i, "arithmetic_class": "fp32-avx2", "recipe": "r", "torch": "t"},
            "test": {
                "correct": correct,
                "total": 10_000,
                "loss": 0.015 + 0.0001 * (i % 3),
                "per_class_correct": per_class_correct,
                "per_class_total": per_class_total,
            },
            "shift_agreement": {"up": 9950 + i % 5, "down": 9960 - i % 4},
            "baseline_correct": 9200,
            "ood": {**SUITE, "correct": {"a": 900 + i % 7}, "total": {"a": 1000}},
        }
        records.append(rec | changes)
    return records


def test_derive_refuses_too_little_or_mixed_evidence() -> None:
    with pytest.raises(evidence.EvidenceError, match="at least"):
        calibration.derive(synthetic([9950] * 4), suite=SUITE, evidence_folder="x")
    mixed = synthetic([9950, 9951, 9952, 9953, 9954])
    mixed[0]["model"] = {**mixed[0]["model"], "recipe": "other"}
    with pytest.raises(evidence.EvidenceError, match="recipe"):
        calibration.derive(mixed, suite=SUITE, evidence_folder="x")
    other_suite = synthetic([9950, 9951, 9952, 9953, 9954])
    other_suite[2]["ood"] = {**other_suite[2]["ood"], "version": 1}
    with pytest.raises(evidence.EvidenceError, match="suite"):
        calibration.derive(other_suite, suite=SUITE, evidence_folder="x")


def test_derived_floors_sit_below_the_evidence_and_promises_bind_from_below() -> None:
    records = synthetic([9950, 9948, 9955, 9951, 9949, 9953, 9946, 9952])
    data = calibration.derive(records, suite=SUITE, evidence_folder="x")
    detail = data["derivation"]["checks_detail"]
    assert data["overall_accuracy"] == max(0.994, detail["overall"]["floor"])
    assert detail["overall"]["floor"] < 0.9946
    assert data["ood"]["floors"]["a"] < 0.900
    assert data["max_test_loss"] > 0.0152
    assert data["derivation"]["checks"] == len(detail)
    assert data["derivation"]["per_check_false_alarm"] == pytest.approx(0.01 / len(detail))
    for record in records:
        assert failures(record, data) == []


def _of_versions(new: int, old: int) -> list[dict]:
    """``new`` records of this suite that measured conditions a and b, then ``old`` of
    version 2, which had only a."""
    records = synthetic([9950, 9948, 9955, 9951, 9949, 9953, 9946, 9952, 9950, 9947][: new + old])
    for i, rec in enumerate(records):
        if i < new:
            rec["ood"] = {**SUITE, "correct": {"a": 900 + i % 7, "b": 700 + i}, "total": {}}
            rec["ood"]["total"] = {"a": 1000, "b": 1000}
        else:
            rec["ood"] = {**rec["ood"], "version": 2}
    return records


def test_an_earlier_suites_records_count_for_the_conditions_it_shares() -> None:
    records = _of_versions(5, 5)
    data = calibration.derive(records, suite=SUITE, evidence_folder="x", earlier={2: ["a"]})
    detail = data["derivation"]["checks_detail"]
    assert (detail["ood/a"]["models"], detail["ood/b"]["models"]) == (10, 5)
    assert data["ood"]["earlier"] == {"2": ["a"]}
    assert set(data["compare"]["max_net_loss"]) >= {"ood a", "ood b"}
    # version 2 is judged on a alone; this version's record must have measured b too
    assert failures(records[-1], data) == []
    missing = copy.deepcopy(records[0])
    del missing["ood"]["correct"]["b"], missing["ood"]["total"]["b"]
    assert failures(missing, data) == ["ood suite: 0, needs >= 1 (not measured: b)"]
    # without the statement that version 2's a is this suite's a, they are not evidence
    with pytest.raises(evidence.EvidenceError, match="suite"):
        calibration.derive(records, suite=SUITE, evidence_folder="x")
    with pytest.raises(evidence.EvidenceError, match="ood/b: 4 evidence models"):
        calibration.derive(_of_versions(4, 5), suite=SUITE, evidence_folder="x", earlier={2: ["a"]})


def test_judge_names_each_failed_check() -> None:
    records = synthetic([9950, 9948, 9955, 9951, 9949, 9953, 9946, 9952])
    data = calibration.derive(records, suite=SUITE, evidence_folder="x")
    bad = copy.deepcopy(records[0])
    bad["ood"]["correct"]["a"] = 500
    bad["test"]["loss"] = 0.5
    failed = failures(bad, data)
    assert any(f.startswith("ood a: 50.00 %, needs >= ") for f in failed)
    assert any(f.startswith("test loss: 0.5, needs <= ") for f in failed)
    assert len(failed) == 2


@settings(max_examples=20, deadline=None)
@given(
    spread=st.floats(0.0, 0.02),
    noise=st.floats(0.0, 0.02),
    n=st.sampled_from([500, 1000, 5000]),
)
def test_more_spread_never_raises_a_floor(spread, noise, n) -> None:
    base = [int(0.95 * n) + d for d in (-2, -1, 0, 1, 2, 0)]
    wider = [int(0.95 * n + (c - 0.95 * n) * (1 + spread * 100)) for c in base]
    alpha = 0.01 / 30
    assert (
        calibration.count_floor(wider, n, alpha)["floor_count"]
        <= (calibration.count_floor(base, n, alpha)["floor_count"])
    )
    assert calibration.count_floor(base, n, alpha)["floor_count"] <= min(base)
    # a stricter level never gives a higher floor
    looser = calibration.count_floor(base, n, alpha * 10)["floor_count"]
    assert calibration.count_floor(base, n, alpha)["floor_count"] <= looser


@pytest.mark.parametrize(
    ("p", "sd", "n"),
    [(0.995, 0.0004, 10_000), (0.99, 0.003, 958), (0.85, 0.03, 1000), (0.997, 0.0, 1000)],
    ids=["overall", "a-digit", "a-noisy-condition", "a-near-perfect-condition"],
)
def test_the_rule_keeps_its_false_alarm_rate_on_a_known_distribution(p, sd, n) -> None:
    """The oracle: models whose counts are drawn from a known beta-binomial (the recipe's
    seed spread, binomial noise on top). Over many sets of 25 such evidence models, the
    expected chance that one more good model misses the derived floor stays at or below
    the level the rule was asked for (exactly computed with scipy for each derived floor)."""
    import scipy.stats as scipy_stats

    alpha = 0.01 / 36
    rng = np.random.default_rng(0)
    # the true distribution: a beta of mean p and sd ``sd``, then binomial(n)
    if sd > 0:
        total = p * (1 - p) / sd**2 - 1
        a, b = p * total, (1 - p) * total
    misses = []
    for _ in range(200):
        rates = rng.beta(a, b, 25) if sd > 0 else np.full(25, p)
        counts = [int(c) for c in rng.binomial(n, rates)]
        floor = calibration.count_floor(counts, n, alpha)["floor_count"]
        if sd > 0:
            misses.append(scipy_stats.betabinom.cdf(floor - 1, n, a, b))
        else:
            misses.append(scipy_stats.binom.cdf(floor - 1, n, p))
    assert float(np.mean(misses)) <= alpha


def _refusing(sure_at_095: int, *, old: int = 0) -> list[dict]:
    """Ten records of this suite with refusal counts (a grid of three confidences), and
    ``old`` of an earlier suite without them."""
    records = synthetic([9950 + i % 5 for i in range(10 + old)])
    for i, rec in enumerate(records[:10]):
        rec["refusal"] = {
            "grid": [0.5, 0.9, 0.95],
            "test_sure": [10_000, 9_950 - i % 3, sure_at_095 - i % 3],
            "test_total": 10_000,
            "digits_sure": [990, 980 - i % 4, 950],
            "digits_total": 1_000,
            "not_a_digit_refused": [400, 600 + i % 5, 700],
            "not_a_digit_total": 1_000,
        }
    for rec in records[10:]:
        rec["ood"] = {**rec["ood"], "version": SUITE["version"] - 1}
    return records


def test_the_refusal_confidence_is_the_highest_that_keeps_false_refusals_rare() -> None:
    # at 0.95 the models refuse 2 % of the test digits, at 0.9 half a percent: the 1 %
    # promise holds at 0.9, not at 0.95
    derived = calibration.derive(_refusing(9_800), suite=SUITE, evidence_folder="x")
    refusal = derived["refusal"]
    assert refusal["min_confidence"] == 0.9
    assert refusal["max_false_refusal"] == calibration.MAX_FALSE_REFUSAL == 0.01
    floors = refusal["floors"]
    assert 0.99 <= floors["test"] < 0.9948 and 0.9 < floors["digits"] < 0.977
    assert 0.5 < floors["not_a_digit"] < 0.6
    # a model that answers fewer test digits at that confidence fails, one that refuses
    # the pictures of no single digit as often as the evidence passes
    bars = {**json.loads(thresholds.PATH.read_text()), **derived}
    good = _refusing(9_800)[0]
    assert judge(good, bars)["refusal not_a_digit"].passed
    bad = copy.deepcopy(good)
    bad["refusal"]["test_sure"][1] = 9_800
    assert not judge(bad, bars)["refusal test"].passed
    # a record without refusal counts is not judged on them
    assert "refusal test" not in judge(synthetic([9950])[0], bars)
    # thresholds that derive no refusal leave the checks not applicable, saying why
    unsure = judge(good, {**bars, "refusal": {**bars["refusal"], "min_confidence": None}})
    assert not unsure["refusal test"].applicable and "no confidence" in unsure["refusal test"].note


def test_no_refusal_is_derived_where_even_the_lowest_confidence_refuses_too_many() -> None:
    records = _refusing(9_800)
    for rec in records[:10]:
        rec["refusal"]["test_sure"] = [9_700, 9_600, 9_500]
    assert calibration.derive(records, suite=SUITE, evidence_folder="x")["refusal"] == {
        "min_confidence": None,
        "max_false_refusal": 0.01,
        "floors": {},
        "rule": calibration.REFUSAL_RULE,
    }


def test_records_of_an_earlier_suite_count_for_no_refusal() -> None:
    records = _refusing(9_800, old=3)
    derived = calibration.derive(
        records, suite=SUITE, evidence_folder="x", earlier={SUITE["version"] - 1: ["a"]}
    )
    assert derived["derivation"]["checks_detail"]["refusal/test"]["models"] == 10
    assert derived["derivation"]["checks_detail"]["overall"]["models"] == 13
