"""interleaved_medians: every candidate sampled in turns, medians returned, and a far
slower candidate dropped after its first sample when asked."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.run.timing import interleaved_medians


def recorder(order: list[str], name: str, values: list[float]):
    samples = iter(values)

    def sample() -> float:
        order.append(name)
        return next(samples)

    return sample


@given(
    rates=st.dictionaries(
        st.sampled_from("abcd"),
        st.lists(st.integers(1, 1000), min_size=5, max_size=5),
        min_size=1,
    ),
    rounds=st.integers(1, 5),
)
def test_candidates_take_turns_and_the_median_is_returned(rates, rounds) -> None:
    order: list[str] = []
    candidates = {name: recorder(order, name, values) for name, values in rates.items()}
    medians = interleaved_medians(candidates, rounds)
    assert order == list(rates) * rounds  # one sample of each, in order, every round
    assert medians == {name: statistics.median(v[:rounds]) for name, v in rates.items()}


def test_a_candidate_far_behind_after_its_first_sample_is_dropped() -> None:
    order: list[str] = []
    candidates = {
        "fast": recorder(order, "fast", [100.0, 110.0, 90.0]),
        "close": recorder(order, "close", [60.0, 70.0, 50.0]),
        "slow": recorder(order, "slow", [40.0, 1000.0, 1000.0]),
    }
    medians = interleaved_medians(candidates, 3, prune_factor=2.0)
    assert order.count("slow") == 1 and order.count("close") == 3
    assert medians == {"fast": 100.0, "close": 60.0, "slow": 40.0}


def test_rounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rounds"):
        interleaved_medians({"a": lambda: 1.0}, 0)
