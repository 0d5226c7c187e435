"""The model card and the report folder: every bar in them comes from the thresholds file,
so raising a bar there changes the report with no other edit."""

from __future__ import annotations

import json

import pytest
import torch

from mnist_model.evaluate import evaluate
from mnist_model.gate import thresholds
from mnist_model.gate.verdict import Check, Verdict
from mnist_model.model import MnistNet
from mnist_model.report import plots
from mnist_model.report.card import build_report, model_card
from mnist_model.run.outputs import FILES, REPORT_KEYS


@pytest.fixture
def evaluated(tiny_dataset):
    images, labels = tiny_dataset
    torch.manual_seed(0)
    model = MnistNet().eval()
    return model, evaluate(model, images, labels), images, labels


def test_the_folder_holds_the_report_files(evaluated, tmp_path) -> None:
    model, result, images, labels = evaluated
    paths = build_report(tmp_path, model, {}, [], result, images, labels)
    assert set(paths) == set(REPORT_KEYS)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES[k] for k in REPORT_KEYS)


def test_a_bar_changed_in_the_thresholds_file_reaches_the_report(
    evaluated, tmp_path, monkeypatch
) -> None:
    data = thresholds.load()
    data["overall_accuracy"], data["per_class"]["3"] = 0.9977, 0.9966
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps(data))
    monkeypatch.setattr(thresholds, "PATH", path)
    drawn = []
    real = plots.plot_curves
    monkeypatch.setattr(
        "mnist_model.report.card.plot_curves",
        lambda history, target, out: drawn.append(target) or real(history, target, out),
    )
    model, result, images, labels = evaluated
    build_report(tmp_path / "report", model, {}, [], result, images, labels)
    card = (tmp_path / "report" / "report.md").read_text()
    row = next(line for line in card.splitlines() if line.startswith("| 3 |"))
    assert "| 99.66 % |" in row  # digit 3's bar, as the file now says
    assert drawn == [0.9977]


def _digit_check(digit: int, figure: float, bound: float) -> Check:
    return Check(f"digit {digit}", figure, bound, ">=", "evidence", figure >= bound)


def test_the_card_has_a_row_and_verdict_per_class(evaluated) -> None:
    model, result, *_ = evaluated
    accuracy = result.per_class_accuracy
    checks = [_digit_check(d, accuracy[d], 0.0 if d < 5 else 1.01) for d in range(10)]
    card = model_card(model, {}, [], result, checks)
    rows = [line for line in card.splitlines() if line[:4] in {f"| {c} " for c in range(10)}]
    assert [row.split("|")[6].strip() for row in rows] == ["pass"] * 5 + ["**FAIL**"] * 5
    assert all(row.split("|")[3].strip().endswith(" %") for row in rows)  # the interval


def test_the_cards_out_of_distribution_table_has_both_preprocessings() -> None:
    from mnist_model.report.card import ood_section

    clean = Check("ood clean", 0.99, 0.9, ">=", "evidence", True)
    text = ood_section(Verdict((clean,), "x"), {"clean": 0.97})
    row = next(line for line in text.splitlines() if line.startswith("| clean |"))
    assert row.split("|")[2:6] == [" 99.0 % ", " 90.0 % ", " pass ", " 97.0 % "]
    assert "plain preprocessing" in text


def test_the_card_opens_with_the_verdict_and_its_failing_checks(evaluated, tmp_path) -> None:
    model, result, images, labels = evaluated
    build_report(tmp_path, model, {}, [], result, images, labels)
    lines = (tmp_path / "report.md").read_text().splitlines()
    assert lines[0] == "# mnist-model: model card"
    assert lines[2].startswith("**verdict: FAIL (")  # 32 noise images: not the test set
    assert "- test set size: 32, needs == 10,000" in lines


def test_every_setting_is_shown_once_in_its_group(evaluated) -> None:
    import dataclasses

    from mnist_model.config import Machine, ModelConfig, TrainConfig

    model, result, *_ = evaluated
    payload = {
        "model_config": dataclasses.asdict(ModelConfig()),
        "train_config": dataclasses.asdict(TrainConfig()),
        "metrics": {"machine": dataclasses.asdict(Machine())},
    }
    card = model_card(model, payload, [], result, [_digit_check(d, 1.0, 0.0) for d in range(10)])
    groups = {
        line.split(":")[0][2:]: line
        for line in card.splitlines()
        if line.split(":")[0] in {"- model", "- schedule", "- augmentation", "- machine"}
    }
    assert list(groups) == ["model", "schedule", "augmentation", "machine"]
    for cls in (ModelConfig, TrainConfig, Machine):
        for field in dataclasses.fields(cls):
            shown = [g for g, line in groups.items() if f" {field.name} `" in line]
            assert len(shown) == 1, (field.name, shown)
    assert " max_rotation_deg `" in groups["augmentation"] and " lr `" in groups["schedule"]
