"""The thresholds file loader: the shipped file loads, a broken one is one clear error."""

from __future__ import annotations

import json

import pytest

from mnist_model.gate import thresholds


def test_the_shipped_file_loads_with_ten_per_class_bars() -> None:
    data = thresholds.load()
    assert data["schema"] == thresholds.SCHEMA
    assert len(thresholds.per_class(data)) == 10
    assert thresholds.overall_accuracy(data) == data["overall_accuracy"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "unreadable"),
        ("{not json", "unreadable"),
        ("[1, 2]", "is not a thresholds file"),
        ('{"schema": 3}', "schema 3"),
        (f'{{"schema": {thresholds.SCHEMA}}}', "thresholds: missing "),
    ],
    ids=["missing", "not-json", "a-list", "old-schema", "no-keys"],
)
def test_a_broken_file_is_one_thresholds_error(tmp_path, content, needle) -> None:
    path = tmp_path / "thresholds.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(thresholds.ThresholdsError, match=needle):
        thresholds.load(path)


def test_a_digit_missing_from_per_class_is_refused(tmp_path) -> None:
    data = thresholds.load()
    del data["per_class"]["7"]
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps(data))
    with pytest.raises(thresholds.ThresholdsError, match="instead of 0..9"):
        thresholds.load(path)


def test_ood_floors_must_be_accuracies(tmp_path) -> None:
    data = thresholds.load()
    data["ood"]["floors"]["shadow"] = 97  # a percentage where a fraction belongs
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps(data))
    with pytest.raises(thresholds.ThresholdsError, match="ood.floors"):
        thresholds.load(path)
