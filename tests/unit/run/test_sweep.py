"""Seed-list parsing and the multi-seed summary statistics."""

import statistics

import pytest

from mnist_model.gate.seeds import SeedResult, summarise, summary_table
from mnist_model.run.sweep import parse_seeds


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("0-4", [0, 1, 2, 3, 4]), ("3", [3]), ("1,5,9", [1, 5, 9]), ("0-1,7", [0, 1, 7])],
)
def test_parse_seeds(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "4-2", "1,1", "-3", "1-"])
def test_parse_seeds_rejects_bad_lists(text):
    with pytest.raises(ValueError, match="seeds"):
        parse_seeds(text)


def test_summary_matches_statistics_module():
    accs = [0.9941, 0.9950, 0.9947]
    results = [SeedResult(i, a, 0.02, 9, 0.99, 60.0 + i) for i, a in enumerate(accs)]
    summary = summarise(results)
    assert summary["mean_accuracy"] == pytest.approx(statistics.fmean(accs), abs=1e-12)
    assert summary["std_accuracy"] == pytest.approx(statistics.stdev(accs), abs=1e-12)
    assert (summary["min_accuracy"], summary["max_accuracy"]) == (0.9941, 0.9950)
    table = summary_table(summary)
    assert "99.41%" in table and "mean 99.460%" in table
