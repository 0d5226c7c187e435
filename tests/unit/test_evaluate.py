"""evaluate() against answers worked out by hand and an independent reference.

A lookup "model" returns chosen logits, so the confusion matrix, per-class accuracy and
mean cross-entropy are known exactly; the reference loss is computed in float64 with an
explicit log-sum-exp, not with the F.cross_entropy that evaluate() uses.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from mnist_model.evaluate import evaluate, predict_logits
from mnist_model.model import normalize

NUM_CLASSES = 10  # the width of the stand-in models' logits

LOSS_RTOL = 1e-5
"""evaluate() sums float32 per-sample losses; relative error well under 1e-5 for these sizes."""


class Lookup(nn.Module):
    """Logits = the first 10 pixels of each image (the input encodes the answer)."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))  # predict_logits reads the device here

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :NUM_CLASSES] + self.unused


def encode(logits: torch.Tensor) -> torch.Tensor:
    """Images (N, 1, 28, 28) whose first 10 pixels are ``logits``."""
    images = torch.zeros(len(logits), 1, 28, 28, dtype=torch.float32)
    images.view(len(logits), -1)[:, :NUM_CLASSES] = logits
    return images


def reference_loss(logits: torch.Tensor, labels: torch.Tensor) -> float:
    total = 0.0
    for row, label in zip(logits.double().tolist(), labels.tolist(), strict=True):
        top = max(row)
        total += top + math.log(sum(math.exp(v - top) for v in row)) - row[label]
    return total / len(labels)


def one_hot_logits(predictions: list[int], confidence: float = 4.0) -> torch.Tensor:
    logits = torch.zeros(len(predictions), NUM_CLASSES)
    logits[torch.arange(len(predictions)), torch.tensor(predictions)] = confidence
    return logits


# A hand-made set: class 0 (3 samples) all right; class 1 (2) one mistaken for 7;
# class 7 (2) both mistaken for 1; class 3 (1) right. Classes 2,4,5,6,8,9 absent.
LABELS = [0, 0, 0, 1, 1, 7, 7, 3]
PREDICTIONS = [0, 0, 0, 1, 7, 1, 1, 3]


@pytest.fixture
def result():
    logits = one_hot_logits(PREDICTIONS)
    return evaluate(Lookup(), encode(logits), torch.tensor(LABELS), batch_size=3), logits


def test_counts_and_accuracy(result) -> None:
    res, _ = result
    assert (res.correct, res.total) == (5, 8)
    assert res.accuracy == 5 / 8


def test_confusion_matrix_rows_are_true_classes(result) -> None:
    res, _ = result
    expected = torch.zeros(NUM_CLASSES, NUM_CLASSES, dtype=torch.long)
    for t, p in zip(LABELS, PREDICTIONS, strict=True):
        expected[t, p] += 1
    assert torch.equal(res.confusion, expected)
    assert res.confusion[7, 1] == 2 and res.confusion[1, 7] == 1


def test_per_class_accuracy_counts_and_most_confused(result) -> None:
    res, _ = result
    assert res.class_counts == [3, 2, 0, 1, 0, 0, 0, 2, 0, 0]
    # Only classes that occur: what an absent class should report (0.0 today) is a
    # presentation choice this suite does not pin.
    present = {0: 1.0, 1: 0.5, 3: 1.0, 7: 0.0}
    assert {c: res.per_class_accuracy[c] for c in present} == pytest.approx(present, abs=1e-12)
    assert res.most_confused_with(1) == 7
    assert res.most_confused_with(7) == 1
    assert res.most_confused_with(0) is None


def test_loss_matches_an_independent_reference(result) -> None:
    res, logits = result
    assert res.loss == pytest.approx(reference_loss(logits, torch.tensor(LABELS)), rel=LOSS_RTOL)
    # And the hand value: a right answer at confidence 4 costs log(1 + 9 e^-4),
    # a wrong one 4 + log(1 + 9 e^-4).
    right = math.log(1 + 9 * math.exp(-4))
    assert res.loss == pytest.approx((5 * right + 3 * (4 + right)) / 8, rel=LOSS_RTOL)


def test_reference_line_format(result) -> None:
    res, _ = result
    assert res.reference_line() == (
        f"Test set: Average loss: {res.loss:.4f}, Accuracy: 5/8 (62.50%)"
    )


def test_to_dict_is_consistent(result) -> None:
    res, _ = result
    d = res.to_dict()
    assert d["correct"] == 5 and d["total"] == 8
    assert d["confusion"] == res.confusion.tolist()
    assert sum(map(sum, d["confusion"])) == d["total"]


@given(
    n=st.integers(1, 120),
    batch_size=st.integers(1, 50),
    seed=st.integers(0, 2**31 - 1),
)
def test_matches_reference_on_random_logits(n, batch_size, seed) -> None:
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, NUM_CLASSES, generator=generator) * 3
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    res = evaluate(Lookup(), encode(logits), labels, batch_size=batch_size)
    predictions = logits.argmax(1).tolist()
    expected = [[0] * NUM_CLASSES for _ in range(NUM_CLASSES)]
    for t, p in zip(labels.tolist(), predictions, strict=True):
        expected[t][p] += 1
    assert res.confusion.tolist() == expected
    assert res.correct == sum(expected[c][c] for c in range(NUM_CLASSES))
    assert res.loss == pytest.approx(reference_loss(logits, labels), rel=LOSS_RTOL, abs=1e-6)


def test_uint8_images_are_normalised_first() -> None:
    raw = torch.zeros(4, 28, 28, dtype=torch.uint8)
    raw[:, 0, :NUM_CLASSES] = torch.arange(NUM_CLASSES, dtype=torch.uint8) * 20
    res = evaluate(Lookup(), raw, torch.full((4,), 9))
    assert res.correct == 4
    expected_logits = normalize(raw).flatten(1)[:, :NUM_CLASSES]
    assert res.loss == pytest.approx(
        reference_loss(expected_logits, torch.full((4,), 9)), rel=LOSS_RTOL
    )


@pytest.mark.parametrize(("n_images", "n_labels"), [(3, 2), (0, 0)])
def test_bad_lengths_raise(n_images, n_labels) -> None:
    with pytest.raises(ValueError, match="labels"):
        evaluate(Lookup(), torch.zeros(n_images, 1, 28, 28), torch.zeros(n_labels).long())


def test_predict_logits_restores_the_training_flag_and_batches_exactly() -> None:
    model = Lookup().train()
    logits = torch.randn(7, NUM_CLASSES, generator=torch.Generator().manual_seed(1))
    out = predict_logits(model, encode(logits), batch_size=2)
    assert model.training
    assert torch.equal(out, logits)
