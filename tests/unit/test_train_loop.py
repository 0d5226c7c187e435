"""train() on a tiny synthetic set: the contract of its result, callbacks and failures.

Nothing here learns anything (the images are noise); real learning is an integration test.
"""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from mnist_model.config import ModelConfig, TrainConfig
from mnist_model.errors import TrainingError
from mnist_model.model import MnistNet
from mnist_model.train import select_device, train

TINY = TrainConfig(epochs=2, batch_size=8, threads=1)


def test_result_has_one_record_per_epoch_and_a_final_evaluation(tiny_dataset) -> None:
    x, y = tiny_dataset
    run = train(TINY, x, y, x[:10], y[:10])
    assert [r["epoch"] for r in run.history] == [1, 2]
    for record in run.history:
        assert {"train_loss", "train_accuracy", "test_loss", "test_accuracy", "lr"} <= set(record)
        assert 0.0 <= record["train_accuracy"] <= 1.0
    assert run.final.total == 10
    assert run.history[-1]["test_accuracy"] == run.final.accuracy


def test_on_epoch_is_called_after_each_epoch_with_the_growing_result(tiny_dataset) -> None:
    x, y = tiny_dataset
    seen = []
    train(
        TINY,
        x,
        y,
        x[:4],
        y[:4],
        on_epoch=lambda epoch, record, run: seen.append((epoch, len(run.history))),
    )
    assert seen == [(1, 1), (2, 2)]


def test_model_config_is_used(tiny_dataset) -> None:
    x, y = tiny_dataset
    config = ModelConfig(stem_channels=4, stage1_channels=(6,), stage2_channels=(6,))
    run = train(TINY, x, y, x[:4], y[:4], model_config=config)
    assert run.model.config == config


def test_inputs_are_not_modified(tiny_dataset) -> None:
    x, y = tiny_dataset
    x_before, y_before = x.clone(), y.clone()
    train(TINY, x, y, x[:4], y[:4])
    assert torch.equal(x, x_before) and torch.equal(y, y_before)


def test_the_first_epochs_train_at_low_resolution(tiny_dataset, monkeypatch) -> None:
    import mnist_model.train as training

    sizes, warp = [], training.random_affine

    def recording_warp(*args, **kwargs):
        out = warp(*args, **kwargs)
        sizes.append(tuple(out.shape[-2:]))
        return out

    monkeypatch.setattr(training, "random_affine", recording_warp)
    x, y = tiny_dataset
    config = dataclasses.replace(TINY, epochs=5, low_res_fraction=0.4)  # 2 of 5 epochs
    run = train(config, x, y, x[:4], y[:4])
    steps = -(-len(x) // config.batch_size)
    assert sizes == [(20, 20)] * (2 * steps) + [(28, 28)] * (3 * steps)
    assert run.final.total == 4  # and evaluation ran at full size after each epoch


def test_diverging_training_stops_with_a_training_error(tiny_dataset) -> None:
    x, y = tiny_dataset
    with pytest.raises(TrainingError, match="non-finite loss"):
        train(TrainConfig(epochs=2, batch_size=8, lr=1e10, threads=1), x, y, x[:4], y[:4])


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected


def test_asking_for_cuda_without_cuda_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # same on GPU machines
    with pytest.raises(TrainingError, match="no CUDA device"):
        select_device("cuda")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_precision_sets_the_training_forward_precision_only(
    tiny_dataset, precision, monkeypatch
) -> None:
    x, y = tiny_dataset
    training_dtypes = set()
    forward = MnistNet.forward

    def spy(self, inputs):
        logits = forward(self, inputs)
        if self.training:
            training_dtypes.add(logits.dtype)
        return logits

    monkeypatch.setattr(MnistNet, "forward", spy)
    run = train(dataclasses.replace(TINY, precision=precision), x, y, x[:4], y[:4])
    assert training_dtypes == {torch.bfloat16 if precision == "bf16" else torch.float32}
    assert run.arithmetic.precision == precision
    weights = [t for t in run.model.state_dict().values() if t.is_floating_point()]
    assert all(t.dtype == torch.float32 for t in weights)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
@pytest.mark.parametrize("layout", ["channels_last", "contiguous"])
def test_each_arithmetic_is_reproducible(tiny_dataset, precision, layout) -> None:
    x, y = tiny_dataset
    config = dataclasses.replace(TINY, precision=precision, layout=layout)
    first, second = (train(config, x, y, x[:4], y[:4]).model.state_dict() for _ in range(2))
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_auto_reproduces_the_arithmetic_it_chose(tiny_dataset, tmp_path, monkeypatch) -> None:
    """The same seed and the same chosen arithmetic give identical weights; measuring (which
    builds and steps models of its own) does not move the run's random numbers."""
    monkeypatch.setenv("MNIST_MODEL_CACHE", str(tmp_path))
    x, y = tiny_dataset
    measured = train(dataclasses.replace(TINY, precision="auto", layout="auto"), x, y, x[:4], y[:4])
    assert measured.arithmetic.source == "measured"
    chosen = measured.arithmetic
    explicit = train(
        dataclasses.replace(TINY, precision=chosen.precision, layout=chosen.layout),
        x,
        y,
        x[:4],
        y[:4],
    )
    assert explicit.arithmetic.source == "explicit"
    first, second = measured.model.state_dict(), explicit.model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


class _Stop(Exception):
    pass


def interrupted_after_epoch_1(config, x, y, state):
    """Train until epoch 1 has saved its training state at ``state``, then stop; return it."""

    def stop_after_first(epoch, record, run):
        if epoch == 1:
            raise _Stop

    with pytest.raises(_Stop):
        train(config, x, y, x[:4], y[:4], state_path=state, on_epoch=stop_after_first)
    return state


def test_resume_keeps_the_recorded_arithmetic_whatever_auto_would_pick_now(
    tiny_dataset, tmp_path, monkeypatch
) -> None:
    """A run interrupted after epoch 1 and resumed after this machine's cached choice
    changed still finishes in the arithmetic it started with, bit for bit."""
    from mnist_model import arithmetic

    monkeypatch.setenv(arithmetic.CACHE_ENV_VAR, str(tmp_path / "cache"))
    x, y = tiny_dataset
    config = dataclasses.replace(TINY, precision="auto", layout="auto")
    whole = train(config, x, y, x[:4], y[:4])
    started = whole.arithmetic
    state = interrupted_after_epoch_1(config, x, y, tmp_path / "state.pt")
    # Now make auto pick something else on this machine.
    other = "fp32" if started.precision == "bf16" else "bf16"
    cache = arithmetic.cache_path()
    entries = json.loads(cache.read_text())["entries"]
    for entry in entries.values():
        entry["precision"] = other
    cache.write_text(json.dumps({"schema": arithmetic.CACHE_SCHEMA, "entries": entries}))
    assert train(config, x, y, x[:4], y[:4]).arithmetic.precision == other

    resumed = train(config, x, y, x[:4], y[:4], state_path=state, resume=True)
    assert resumed.arithmetic.name == started.name and resumed.arithmetic.source == "resumed"
    first, second = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    for key in ("train_loss", "test_loss", "lr"):
        assert [r[key] for r in resumed.history] == [r[key] for r in whole.history]


def test_a_state_without_a_valid_arithmetic_is_refused(tiny_dataset, tmp_path) -> None:
    from mnist_model.checkpoint import CheckpointError

    x, y = tiny_dataset
    state = tmp_path / "state.pt"
    config = dataclasses.replace(TINY, precision="fp32", layout="contiguous")

    def stop(epoch, record, run):
        raise _Stop

    with pytest.raises(_Stop):
        train(config, x, y, x[:4], y[:4], state_path=state, on_epoch=stop)
    saved = torch.load(state, weights_only=True)
    saved["arithmetic"] = {"precision": "fp8", "layout": "contiguous"}
    torch.save(saved, state)
    with pytest.raises(CheckpointError, match="no valid arithmetic"):
        train(config, x, y, x[:4], y[:4], state_path=state, resume=True)


def test_train_leaves_global_state_as_found(tiny_dataset) -> None:
    # The thread count and the global RNG are the caller's: train() seeds a fork of the
    # RNG and sets its own thread count only while it runs.
    from mnist_model.config import TrainConfig
    from mnist_model.train import train

    images, labels = tiny_dataset
    torch.manual_seed(1234)
    before_rng, threads = torch.get_rng_state(), torch.get_num_threads()
    config = TrainConfig(epochs=1, batch_size=16, threads=threads + 1, precision="fp32")
    train(config, images, labels, images[:8], labels[:8], progress=False)
    assert torch.equal(torch.get_rng_state(), before_rng)
    assert torch.get_num_threads() == threads


def test_a_resumed_run_with_a_weight_average_matches_an_uninterrupted_one(
    tiny_dataset, tmp_path
) -> None:
    x, y = tiny_dataset
    config = dataclasses.replace(TINY, ema_decay=0.9, precision="fp32", layout="contiguous")
    whole = train(config, x, y, x[:4], y[:4])
    state = interrupted_after_epoch_1(config, x, y, tmp_path / "state.pt")
    resumed = train(config, x, y, x[:4], y[:4], state_path=state, resume=True)
    pairs = zip(whole.model.state_dict().values(), resumed.model.state_dict().values(), strict=True)
    for a, b in pairs:
        assert torch.equal(a, b)
    assert whole.history[-1]["test_loss"] == resumed.history[-1]["test_loss"]
