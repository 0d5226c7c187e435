"""The library API on degenerate and arbitrary inputs: a clear ValueError/TrainingError
or a correct result, never an error from deep inside torch."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist_model.config import (
    LAYOUT_CHOICES,
    PRECISION_CHOICES,
    Machine,
    ModelConfig,
    TrainConfig,
)
from mnist_model.errors import TrainingError
from mnist_model.train import train

TINY = TrainConfig(epochs=1, batch_size=8)

numbers = st.one_of(
    st.integers(-3, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 0.5, 1.0, 2**63, -(2**63)]),
)


def field_values(cls) -> dict:
    return {
        f.name: (
            st.one_of(st.sampled_from(f.metadata["choices"]), st.text(max_size=6))
            if "choices" in f.metadata
            else numbers
        )
        for f in dataclasses.fields(cls)
    }


values = field_values(TrainConfig)


@settings(max_examples=200)
@given(changes=st.fixed_dictionaries({}, optional=values))
def test_train_config_is_valid_or_names_the_bad_field(changes) -> None:
    try:
        config = TrainConfig(**changes)
    except ValueError as exc:
        assert any(name in str(exc) for name in changes), (changes, exc)
        return
    # What was accepted is usable: the schedule and the arithmetic choices are defined.
    assert config.epochs >= 1 and config.batch_size >= 1 and config.lr > 0
    assert config.initial_lr_divisor > 0 and config.final_lr_divisor > 0
    assert 0 <= config.label_smoothing <= 1 and 0 <= config.max_scale < 1


@settings(max_examples=100)
@given(changes=st.fixed_dictionaries({}, optional=field_values(Machine)))
def test_machine_is_valid_or_names_the_bad_field(changes) -> None:
    try:
        machine = Machine(**changes)
    except ValueError as exc:
        assert any(name in str(exc) for name in changes), (changes, exc)
        return
    assert machine.precision in PRECISION_CHOICES and machine.layout in LAYOUT_CHOICES
    assert machine.threads >= 0 and machine.eval_batch_size >= 1


widths = st.one_of(st.integers(-2, 40), st.floats(0.5, 3.5), st.sampled_from([2.0, True]))


@settings(max_examples=100)
@given(
    stem=widths,
    kernel=st.integers(-1, 9),
    stage1=st.lists(widths, max_size=3).map(tuple),
    stage2=st.lists(widths, max_size=3).map(tuple),
    classes=st.sampled_from([-1, 0, 1, 2, 10, 10.0]),
    dropout=st.floats(-0.5, 1.5),
)
def test_model_config_is_valid_or_a_value_error(
    stem, kernel, stage1, stage2, classes, dropout
) -> None:
    from mnist_model.model import MnistNet

    try:
        config = ModelConfig(stem, kernel, stage1, stage2, classes, dropout)
    except ValueError:
        return
    model = MnistNet(config).eval()
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, config.num_classes)


def _digits(count: int, labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(count)
    images = torch.randint(0, 256, (count, 28, 28), dtype=torch.uint8, generator=generator)
    return images, torch.tensor(labels, dtype=torch.int64)


@pytest.mark.parametrize(
    ("count", "labels", "batch_size"),
    [
        (1, [3], 8),  # one image
        (5, [7] * 5, 2),  # one class present
        (3, [0, 1, 2], 1000),  # batch larger than the data
        (9, list(range(9)), 1),  # batch of one
    ],
    ids=["one-image", "one-class", "batch-larger-than-data", "batch-of-one"],
)
def test_degenerate_training_sets_train_and_evaluate(count, labels, batch_size) -> None:
    images, targets = _digits(count, labels)
    config = dataclasses.replace(TINY, batch_size=batch_size, epochs=2)
    run = train(config, images, targets, images, targets)
    assert run.final.total == count and len(run.history) == 2
    assert all(torch.isfinite(p).all() for p in run.model.parameters())


BAD_INPUTS = [
    ("float images", lambda x, y: (x.float(), y), "uint8"),
    ("wrong size", lambda x, y: (x[:, :20, :20], y), "uint8 \\(N, 28, 28\\)"),
    ("more labels", lambda x, y: (x, torch.cat([y, y[:1]])), "as many labels"),
    ("no images", lambda x, y: (x[:0], y[:0]), "as many labels"),
    ("label 10", lambda x, y: (x, torch.full_like(y, 10)), "labels must be in 0..9"),
    ("negative label", lambda x, y: (x, -y - 1), "labels must be in 0..9"),
    ("float labels", lambda x, y: (x, y.float()), "1-D integer"),
    ("2-D labels", lambda x, y: (x, y[:, None]), "1-D integer"),
    ("not tensors", lambda x, y: (x.numpy(), y), "must be tensors"),
]


@pytest.mark.parametrize(("what", "spoil", "message"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
@pytest.mark.parametrize("split", ["training", "test"])
def test_bad_inputs_are_a_value_error_naming_the_split(what, spoil, message, split) -> None:
    x, y = _digits(6, [0, 1, 2, 3, 4, 5])
    bad = spoil(x, y)
    args = (*bad, x, y) if split == "training" else (x, y, *bad)
    with pytest.raises(ValueError, match=f"{split}.*{message}|{message}"):
        train(TINY, *args)


def test_a_device_torch_does_not_know_is_a_training_error() -> None:
    from mnist_model.run.runner import select_device

    for name in ("nonsense", "meta", "cuda:99" if torch.cuda.is_available() else "cuda"):
        with pytest.raises(TrainingError, match=f"device {name!r}|device {name}"):
            select_device(name)
