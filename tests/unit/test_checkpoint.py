"""Checkpoints round-trip bit for bit, load with weights_only=True, and every kind of bad
file (truncated, random, code-running pickle, newer schema, other model) is a
CheckpointError rather than a crash, a wrong model or an executed payload."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from mnist_model.checkpoint import (
    SCHEMA_VERSION,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)
from mnist_model.config import ModelConfig, TrainConfig
from mnist_model.errors import CheckpointError, WriteError
from mnist_model.model import MnistNet


def save(path: Path, model: MnistNet) -> Path:
    return save_checkpoint(
        path,
        model,
        train_config=dataclasses.asdict(TrainConfig()),
        metrics={"test_accuracy": 0.5},
        data_md5={"t10k-labels-idx1-ubyte": "0" * 32},
    )


@pytest.fixture
def model() -> MnistNet:
    torch.manual_seed(3)
    net = MnistNet()
    # Non-default BatchNorm buffers, so a round trip that dropped them would show.
    net.train()
    with torch.no_grad():
        net(torch.randn(16, 1, 28, 28))
    return net.eval()


@pytest.fixture
def saved(tmp_path, model) -> Path:
    return save(tmp_path / "model.pt", model)


def payload_of(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def test_round_trip_gives_bit_identical_logits(saved, model) -> None:
    x = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    loaded, payload = load_checkpoint(saved)
    assert not loaded.training
    assert loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    assert payload["metrics"] == {"test_accuracy": 0.5}


def test_round_trip_keeps_a_non_default_model_config(tmp_path) -> None:
    config = ModelConfig(stem_channels=4, stage1_channels=(6,), stage2_channels=(8, 8))
    path = save(tmp_path / "small.pt", MnistNet(config).eval())
    loaded, _ = load_checkpoint(path)
    assert loaded.config == config


def test_file_is_plain_data_loadable_with_weights_only(saved) -> None:
    payload = payload_of(saved)
    assert payload["schema_version"] == SCHEMA_VERSION
    assert set(payload) >= {
        "model_config",
        "train_config",
        "state_dict",
        "metrics",
        "data_md5",
        "versions",
    }
    assert all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values())


def test_missing_file(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "absent.pt")


@pytest.mark.parametrize("keep", [0, 10, 0.5, -1], ids=["empty", "10B", "half", "-1B"])
def test_truncated_file(saved, keep) -> None:
    data = saved.read_bytes()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep
    saved.write_bytes(data[:cut])
    with pytest.raises(CheckpointError):
        load_checkpoint(saved)


GARBAGE = {
    "random bytes": random.Random(0).randbytes(4096),
    "text lines": b"this is not a checkpoint\n" * 40,
    "short text": b"hello",
    "json": b'{"schema_version": 1}',
    "html error page": b"<html><body>404 Not Found</body></html>\n",
}


@pytest.mark.parametrize("data", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_files(tmp_path, data) -> None:
    path = tmp_path / "garbage.pt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "fuzz.pt"


@given(data=st.binary(max_size=256))
def test_any_bytes_give_checkpoint_error_or_nothing_else(scratch, data) -> None:
    # Whatever a file holds, the only failure a caller (the CLI) must handle is
    # CheckpointError; anything else escapes as a traceback.
    scratch.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(scratch)


class Exploit:
    """Unpickling this calls open(marker, "w"): a stand-in for arbitrary code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def exploit_checkpoint(path: Path, marker: Path, model: MnistNet) -> Path:
    payload = {
        "schema_version": SCHEMA_VERSION,
        "model_config": dataclasses.asdict(model.config),
        "state_dict": model.state_dict(),
        "metrics": {"note": Exploit(marker)},
    }
    torch.save(payload, path)
    return path


def test_the_exploit_really_runs_code_when_loaded_unsafely(tmp_path, model) -> None:
    # Control for the next test: proves the marker file is a valid detector.
    marker = tmp_path / "pwned-control"
    path = exploit_checkpoint(tmp_path / "evil.pt", marker, model)
    loaded = torch.load(path, weights_only=False)
    loaded["metrics"]["note"].close()  # the file object the "exploit" opened
    assert marker.exists()


def test_code_running_pickle_is_refused_without_running(tmp_path, model) -> None:
    marker = tmp_path / "pwned"
    path = exploit_checkpoint(tmp_path / "evil.pt", marker, model)
    with pytest.raises(CheckpointError, match="refusing"):
        load_checkpoint(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "version", [SCHEMA_VERSION + 1, 1, 0, "1", None], ids=["newer", "1", "0", "str-1", "None"]
)
def test_unsupported_schema_version(saved, version) -> None:
    payload = payload_of(saved)
    payload["schema_version"] = version
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match="schema"):
        load_checkpoint(saved)


def test_not_a_checkpoint_dict(tmp_path) -> None:
    path = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), path)
    with pytest.raises(CheckpointError, match="schema_version"):
        load_checkpoint(path)


def test_model_config_that_does_not_match_the_weights(saved) -> None:
    payload = payload_of(saved)
    payload["model_config"]["stem_channels"] = 4  # valid config, but not these weights
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(saved)


def test_model_config_of_another_model(saved) -> None:
    payload = payload_of(saved)
    payload["model_config"]["hidden_units"] = 128
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match="another model"):
        load_checkpoint(saved)


def test_invalid_model_config_values(saved) -> None:
    payload = payload_of(saved)
    payload["model_config"]["dropout"] = 2.0
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match="invalid model config"):
        load_checkpoint(saved)


@pytest.mark.parametrize("key", ["model_config", "state_dict"])
def test_missing_sections(saved, key) -> None:
    payload = payload_of(saved)
    del payload[key]
    torch.save(payload, saved)
    with pytest.raises(CheckpointError, match=key):
        read_checkpoint(saved)


def test_failed_save_leaves_the_old_file(saved, model, monkeypatch) -> None:
    # Atomic write: an error mid-save must not leave a truncated model.pt behind.
    before = saved.read_bytes()

    def boom(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(WriteError, match="could not write .*: disk full; the file there before"):
        save(saved, model)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]


def test_a_checkpoint_saved_before_test_time_views_loads_as_one_view(saved, model) -> None:
    payload = payload_of(saved)
    del payload["model_config"]["test_time_views"]
    torch.save(payload, saved)
    loaded, _ = load_checkpoint(saved)
    assert loaded.config.test_time_views == 1
    x = torch.randn(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(loaded(x), model.one_view(x))
