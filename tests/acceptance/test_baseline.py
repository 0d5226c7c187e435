"""The CNN must beat a multinomial logistic regression on the same pixels by a wide margin:
a model that merely matches a linear classifier has learned nothing spatial."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mnist_model.data import normalize

pytestmark = pytest.mark.acceptance

BASELINE_EPOCHS = 4
BASELINE_BATCH = 128
BASELINE_LR = 0.01
"""Mini-batch SGD with momentum: ~92 % in a few seconds on the CPU, close to what
logistic regression reaches at convergence, so the margin is measured against a fair
linear model rather than an undertrained one."""


def train_logistic_regression(images, labels, seed: int = 0):
    x = normalize(images).flatten(1)
    weight = torch.zeros(x.shape[1], 10, requires_grad=True)
    bias = torch.zeros(10, requires_grad=True)
    optimizer = torch.optim.SGD([weight, bias], lr=BASELINE_LR, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(BASELINE_EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), BASELINE_BATCH):
            index = order[start : start + BASELINE_BATCH]
            loss = F.cross_entropy(x[index] @ weight + bias, labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return weight.detach(), bias.detach()


@pytest.fixture(scope="module")
def baseline_accuracy(mnist_splits) -> float:
    weight, bias = train_logistic_regression(*mnist_splits["train"])
    test_x, test_y = mnist_splits["test"]
    predictions = (normalize(test_x).flatten(1) @ weight + bias).argmax(1)
    return (predictions == test_y).double().mean().item()


def test_baseline_is_a_fair_opponent(baseline_accuracy, thresholds) -> None:
    # A broken baseline would make any margin meaningless.
    assert baseline_accuracy >= thresholds["min_baseline_accuracy"]


def test_model_beats_the_linear_baseline_by_the_margin(
    test_result, baseline_accuracy, thresholds, note
) -> None:
    margin = test_result.accuracy - baseline_accuracy
    note(
        f"logistic-regression baseline: {100 * baseline_accuracy:.2f}% "
        f"(margin {100 * margin:.2f} points, need {100 * thresholds['baseline_margin']:.0f})"
    )
    assert margin >= thresholds["baseline_margin"], (
        f"model {100 * test_result.accuracy:.2f}% vs logistic regression "
        f"{100 * baseline_accuracy:.2f}%"
    )
