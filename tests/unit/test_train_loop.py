"""train() on a tiny synthetic set: the contract of its result, callbacks and failures.

Nothing here learns anything (the images are noise); real learning is an integration test.
"""

from __future__ import annotations

import dataclasses

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


@pytest.mark.parametrize("bf16", [False, True], ids=["float32", "bf16_autocast"])
def test_bf16_autocast_sets_the_training_forward_precision_only(
    tiny_dataset, bf16, monkeypatch
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
    run = train(dataclasses.replace(TINY, bf16_autocast=bf16), x, y, x[:4], y[:4])
    assert training_dtypes == {torch.bfloat16 if bf16 else torch.float32}
    weights = [t for t in run.model.state_dict().values() if t.is_floating_point()]
    assert all(t.dtype == torch.float32 for t in weights)


def test_bf16_autocast_training_is_reproducible(tiny_dataset) -> None:
    x, y = tiny_dataset
    config = dataclasses.replace(TINY, bf16_autocast=True)
    first, second = (train(config, x, y, x[:4], y[:4]).model.state_dict() for _ in range(2))
    assert all(torch.equal(first[k], second[k]) for k in first)
