"""A real (short) training: it learns, it is reproducible, and its checkpoint is exact.

The run itself is the session fixture ``small_training`` (root conftest.py): one epoch on
a few thousand real MNIST images, shared by these tests so it is paid for once.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mnist_model.bench.targets import SHORT_RUN_MIN_ACCURACY
from mnist_model.checkpoint import load_checkpoint, save_checkpoint
from mnist_model.evaluate import evaluate, predict_logits
from mnist_model.model import MnistNet, normalize
from mnist_model.train import train

pytestmark = pytest.mark.integration


TIMING_KEYS = {"train_seconds", "seconds"}
"""History fields that measure wall-clock time and so legitimately differ between runs."""


def without_timings(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in record.items() if k not in TIMING_KEYS} for record in history]


def test_one_epoch_lowers_the_loss_and_beats_90_percent(small_training) -> None:
    s = small_training
    # The untrained model train() starts from: same seed, same construction order.
    torch.manual_seed(s.config.seed)
    before = evaluate(MnistNet(), s.test_x, s.test_y)
    (record,) = s.run.history
    assert s.run.final.total == len(s.test_y)
    assert record["train_loss"] < before.loss
    assert record["test_loss"] < 0.5 * before.loss, (before.loss, record)
    assert record["test_accuracy"] >= SHORT_RUN_MIN_ACCURACY, record
    assert record["test_accuracy"] == s.run.final.accuracy


def test_same_seed_twice_gives_identical_history_and_weights(small_training) -> None:
    s = small_training
    second = train(
        s.config, s.train_x, s.train_y, s.test_x, s.test_y, arithmetic=s.run.arithmetic, threads=1
    )
    assert without_timings(second.history) == without_timings(s.run.history)
    assert torch.equal(second.final.confusion, s.run.final.confusion)
    for key, value in s.run.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[key], value), key


def test_a_different_seed_gives_a_different_run(small_training) -> None:
    # The counterpart of the reproducibility test: the seed must actually matter.
    s = small_training
    args = (s.train_x[:512], s.train_y[:512], s.test_x[:256], s.test_y[:256])
    a = train(s.config, *args, threads=1)
    b = train(dataclasses.replace(s.config, seed=s.config.seed + 1), *args, threads=1)
    assert without_timings(a.history) != without_timings(b.history)


@pytest.fixture
def reloaded(small_training, tmp_path):
    s = small_training
    path = save_checkpoint(
        tmp_path / "model.pt",
        s.run.model,
        train_config=dataclasses.asdict(s.config),
        metrics=s.run.final.to_dict(),
        data_md5={},
    )
    return load_checkpoint(path)


def test_checkpoint_reload_gives_bit_identical_logits(small_training, reloaded) -> None:
    # The model as training left it vs the same model saved and loaded: what `mnist-model
    # evaluate` computes must be exactly what the run recorded in metrics.json.
    s = small_training
    loaded, payload = reloaded
    x = normalize(s.test_x)
    after, before = predict_logits(loaded, x), predict_logits(s.run.model, x)
    weight = s.run.model.stem[0].weight
    assert torch.equal(after, before), (
        f"reloaded logits differ by up to {(after - before).abs().max().item():.3g}; trained "
        f"weights channels_last={weight.is_contiguous(memory_format=torch.channels_last)}, "
        f"reloaded contiguous={loaded.stem[0].weight.is_contiguous()}"
    )
    assert payload["metrics"]["correct"] == s.run.final.correct


def test_checkpoint_reload_keeps_every_weight_and_the_recorded_metrics(
    small_training, reloaded
) -> None:
    s = small_training
    loaded, payload = reloaded
    original = s.run.model.state_dict()
    assert loaded.state_dict().keys() == original.keys()
    for key, value in loaded.state_dict().items():
        assert torch.equal(value, original[key]), key
    # train() hands the model back in the standard layout, the one load_checkpoint builds
    # (conv kernels differ per layout in the last bits), so the logits are the very same.
    x = normalize(s.test_x)
    assert s.run.model.stem[0].weight.is_contiguous()
    assert torch.equal(predict_logits(loaded, x), predict_logits(s.run.model, x))
    assert evaluate(loaded, s.test_x, s.test_y).correct == s.run.final.correct
    assert payload["metrics"]["correct"] == s.run.final.correct
