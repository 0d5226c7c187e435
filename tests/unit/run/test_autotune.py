"""autotune.choose: what ``auto`` picks, the per-machine cache and its failure modes.

The cache tests pass a fake measurement (``measure_fn``) so they are instant and exact;
the real measurement is exercised once here and, under a simulated AVX2 CPU, in
tests/integration/test_arithmetic_cpu_classes.py.
"""

from __future__ import annotations

import json
import logging
import os

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.config import Arithmetic
from mnist_model.run import autotune as arithmetic
from mnist_model.run.autotune import candidates, choose, machine_key

CPU = torch.device("cpu")
BATCH = (torch.zeros(8, 1, 28, 28), torch.zeros(8, dtype=torch.long))
ALL = ["bf16/channels_last", "bf16/contiguous", "fp32/channels_last", "fp32/contiguous"]


class FakeMeasure:
    """Counts calls; returns the given rates for whichever candidates it is asked about."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.rates, self.calls = rates, 0

    def __call__(self, choices, inputs, labels):
        self.calls += 1
        return {f"{p}/{lay}": self.rates[f"{p}/{lay}"] for p, lay in choices}


FP32_WINS = {
    "bf16/channels_last": 1100.0,
    "bf16/contiguous": 1500.0,
    "fp32/channels_last": 11000.0,
    "fp32/contiguous": 7400.0,
}  # AVX2-like


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(arithmetic.CACHE_ENV_VAR, str(tmp_path))
    return tmp_path / arithmetic.CACHE_NAME


def _choose(fake, **kwargs):
    return choose("auto", "auto", CPU, *BATCH, measure_fn=fake, **kwargs)


def test_candidates_cover_only_what_was_left_to_auto() -> None:
    assert candidates("auto", "auto") == [tuple(n.split("/")) for n in ALL]
    assert candidates("fp32", "auto") == [("fp32", "channels_last"), ("fp32", "contiguous")]
    assert candidates("auto", "contiguous") == [("bf16", "contiguous"), ("fp32", "contiguous")]


def test_explicit_choices_are_not_measured(cache) -> None:
    def refuse(*args):
        raise AssertionError("measured although both were given")

    chosen = choose("bf16", "contiguous", CPU, *BATCH, measure_fn=refuse)
    assert (chosen.precision, chosen.layout, chosen.source) == ("bf16", "contiguous", "explicit")
    assert not cache.exists()


@pytest.mark.parametrize(("supported", "expected"), [(True, "bf16"), (False, "fp32")])
def test_cuda_uses_bf16_where_the_gpu_supports_it(monkeypatch, cache, supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    chosen = choose("auto", "auto", torch.device("cuda"), *BATCH, measure_fn=None)
    assert (chosen.precision, chosen.layout, chosen.source) == (expected, "channels_last", "cuda")


@given(rates=st.lists(st.integers(1, 10**6), min_size=4, max_size=4, unique=True))
def test_auto_picks_the_fastest_measured_candidate(rates) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        table = dict(zip(ALL, map(float, rates), strict=True))
        chosen = choose(
            "auto",
            "auto",
            CPU,
            *BATCH,
            measure_fn=FakeMeasure(table),
            path=arithmetic.Path(folder) / "a.json",
        )
    assert chosen.name == max(table, key=table.get)
    assert chosen.images_per_second == table and chosen.source == "measured"


def test_a_machine_measures_once_then_reads_its_cache(cache) -> None:
    fake = FakeMeasure(FP32_WINS)
    first, second = _choose(fake), _choose(fake)
    assert fake.calls == 1
    assert (first.source, second.source) == ("measured", "cache")
    assert first.name == second.name == "fp32/channels_last"
    assert second.images_per_second == FP32_WINS
    assert json.loads(cache.read_text())["schema"] == arithmetic.CACHE_SCHEMA


def test_refresh_measures_again_and_replaces_the_entry(cache) -> None:
    _choose(FakeMeasure(FP32_WINS))
    flipped = {**FP32_WINS, "bf16/channels_last": 99999.0}
    again = _choose(FakeMeasure(flipped), refresh=True)
    assert again.source == "measured" and again.name == "bf16/channels_last"
    assert _choose(FakeMeasure(FP32_WINS)).name == "bf16/channels_last"  # from the cache
    assert len(json.loads(cache.read_text())["entries"]) == 1


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"{not json", "unreadable"),
        (b"\xff\xfe\x00garbage", "unreadable"),
        (b"[1, 2, 3]", "not an mnist-model cache"),
        (b'{"entries": 5}', "not an mnist-model cache"),
        (b'{"schema": 0, "entries": {}}', "has schema 0"),
    ],
    ids=["corrupt-json", "binary", "foreign-list", "foreign-dict", "stale-schema"],
)
def test_a_damaged_cache_is_remeasured_with_one_log_line(cache, caplog, content, says) -> None:
    cache.write_bytes(content)
    fake = FakeMeasure(FP32_WINS)
    with caplog.at_level(logging.INFO, logger="mnist_model.run.autotune"):
        chosen = _choose(fake)
    assert fake.calls == 1 and chosen.source == "measured"
    complaints = [r.getMessage() for r in caplog.records if "measuring again" in r.getMessage()]
    assert len(complaints) == 1 and says in complaints[0]
    assert _choose(fake).source == "cache"  # rewritten as a valid cache


@pytest.mark.parametrize(
    "entry",
    [
        {"precision": "fp16", "layout": "channels_last"},
        {"precision": "fp32"},
        {"precision": "fp32", "layout": "contiguous", "images_per_second": "fast"},
        "fp32/contiguous",
    ],
    ids=["unknown-precision", "no-layout", "bad-rates", "not-a-dict"],
)
def test_a_bad_entry_for_this_machine_is_remeasured(cache, caplog, entry) -> None:
    key = machine_key(len(BATCH[0]), torch.get_num_threads(), candidates("auto", "auto"))
    cache.write_text(json.dumps({"schema": arithmetic.CACHE_SCHEMA, "entries": {key: entry}}))
    fake = FakeMeasure(FP32_WINS)
    with caplog.at_level(logging.INFO, logger="mnist_model.run.autotune"):
        assert _choose(fake).source == "measured"
    assert fake.calls == 1
    assert sum("measuring again" in r.getMessage() for r in caplog.records) == 1


def test_an_entry_outside_the_allowed_candidates_is_not_used(cache) -> None:
    _choose(FakeMeasure(FP32_WINS))  # caches fp32/channels_last for auto/auto
    only_bf16 = choose("bf16", "auto", CPU, *BATCH, measure_fn=FakeMeasure(FP32_WINS))
    assert only_bf16.precision == "bf16"


def test_another_cpu_class_or_thread_count_is_another_entry(cache, monkeypatch) -> None:
    fake = FakeMeasure(FP32_WINS)
    _choose(fake)
    here = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()  # set when a class is simulated
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE" if here == "AVX2" else "AVX2")
    _choose(fake)
    threads = torch.get_num_threads()
    torch.set_num_threads(threads + 1)  # restored by the autouse fixture
    _choose(fake)
    assert fake.calls == 3
    assert len(json.loads(cache.read_text())["entries"]) == 3


def test_an_unwritable_cache_costs_a_warning_not_the_run(tmp_path, monkeypatch, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(arithmetic.CACHE_ENV_VAR, str(blocker / "sub"))
    with caplog.at_level(logging.WARNING, logger="mnist_model.run.autotune"):
        chosen = _choose(FakeMeasure(FP32_WINS))
    assert chosen.name == "fp32/channels_last"
    assert "could not write the arithmetic cache" in caplog.text


def test_the_cache_keeps_a_bounded_number_of_entries(cache, monkeypatch) -> None:
    monkeypatch.setattr(arithmetic, "MAX_CACHE_ENTRIES", 3)
    for threads in range(1, 6):
        torch.set_num_threads(threads)
        _choose(FakeMeasure(FP32_WINS))
    assert len(json.loads(cache.read_text())["entries"]) == 3


def test_the_cache_location_follows_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv(arithmetic.CACHE_ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert arithmetic.cache_path() == tmp_path / "mnist-model" / arithmetic.CACHE_NAME
    monkeypatch.setenv(arithmetic.CACHE_ENV_VAR, str(tmp_path / "x"))
    assert arithmetic.cache_path() == tmp_path / "x" / arithmetic.CACHE_NAME


def test_without_a_home_folder_the_cache_falls_back_to_the_temp_folder(monkeypatch) -> None:
    import tempfile

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    for name in (arithmetic.CACHE_ENV_VAR, "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(arithmetic.Path, "home", staticmethod(no_home))
    expected = arithmetic.Path(tempfile.gettempdir()) / "mnist-model" / arithmetic.CACHE_NAME
    assert arithmetic.cache_path() == expected


def test_the_real_measurement_times_every_candidate_and_leaves_the_rng_alone() -> None:
    inputs = torch.randn(32, 1, 28, 28)
    labels = torch.randint(0, 10, (32,))
    before = torch.get_rng_state()
    rates = arithmetic.measure(candidates("auto", "auto"), inputs, labels)
    assert torch.equal(torch.get_rng_state(), before)
    assert set(rates) == set(ALL) and all(rate > 0 for rate in rates.values())


@pytest.mark.parametrize(
    "raw",
    [None, [], {"precision": "bf16", "layout": "nchw"}, {"layout": "contiguous"}],
    ids=["none", "list", "bad-layout", "no-precision"],
)
def test_a_recorded_arithmetic_is_validated(raw) -> None:
    with pytest.raises(ValueError):
        Arithmetic.from_dict(raw)


def test_a_recorded_arithmetic_round_trips_and_describes_itself() -> None:
    chosen = Arithmetic("fp32", "channels_last", "measured", dict(FP32_WINS))
    assert Arithmetic.from_dict(json.loads(json.dumps(chosen.to_dict()))) == chosen
    text = chosen.describe()
    assert text.startswith("float32, channels_last (measured")
    assert text.index("fp32/channels_last 11,000") < text.index("bf16/channels_last 1,100")


@pytest.mark.parametrize(
    "content",
    [
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"schema": arithmetic.CACHE_SCHEMA, "entries": {"k": "bf16"}}),
        json.dumps({"schema": arithmetic.CACHE_SCHEMA, "entries": {"k": {"precision": ["bf16"]}}}),
        json.dumps({"schema": arithmetic.CACHE_SCHEMA, "entries": {"k": {"x": 1}}, "y": 2}),
        " " * (arithmetic.CACHE_LIMIT + 1),
    ],
    ids=["nested", "entry-a-string", "precision-a-list", "unknown-fields", "huge"],
)
def test_a_cache_that_breaks_its_structure_is_measured_again(tmp_path, content, caplog) -> None:
    path = tmp_path / "arithmetic.json"
    path.write_text(content)
    with caplog.at_level(logging.INFO):
        assert arithmetic._read_cache(path) == {}
    assert "measuring again" in caplog.text
