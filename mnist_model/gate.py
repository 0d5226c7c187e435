"""What the acceptance gate measures on a model, each figure computed in one place.

The acceptance suite (tests/acceptance), the evidence the floors are derived from
(``mnist-model thresholds record``) and the champion/challenger comparison all call these
functions, so a floor is always judged on the figure it was derived from.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mnist_model.data.load import normalize
from mnist_model.evaluate import predict_logits

SHIFTS = {"up": (-1, 1), "down": (1, 1), "left": (-1, 2), "right": (1, 2)}
"""direction -> (shift, dim) for images of shape (N, H, W)."""

BASELINE_EPOCHS = 4
BASELINE_BATCH = 128
BASELINE_LR = 0.01
"""Mini-batch SGD with momentum: ~92 % in a few seconds on the CPU, close to what
logistic regression reaches at convergence, so the margin is measured against a fair
linear model rather than an undertrained one."""


def shift_with_zero_fill(images: torch.Tensor, shift: int, dim: int) -> torch.Tensor:
    """torch.roll, then blank the row/column that wrapped around (black, uint8 0)."""
    out = torch.roll(images, shifts=shift, dims=dim)
    edge = 0 if shift > 0 else -1
    out.select(dim, edge).zero_()
    return out


def shift_agreement(model: torch.nn.Module, images: torch.Tensor) -> dict[str, int]:
    """``{direction: images whose prediction a one-pixel shift leaves unchanged}``."""
    base = predict_logits(model, normalize(images)).argmax(1)
    agree = {}
    for direction, (shift, dim) in SHIFTS.items():
        shifted = predict_logits(model, normalize(shift_with_zero_fill(images, shift, dim)))
        agree[direction] = int((shifted.argmax(1) == base).sum())
    return agree


def train_logistic_regression(
    images: torch.Tensor, labels: torch.Tensor, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A multinomial logistic regression on the normalised pixels: (weight, bias)."""
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


def linear_baseline_correct(train_xy, test_xy) -> int:
    """Test images the logistic-regression baseline gets right: the opponent the model
    must beat by ``baseline_margin`` (a model that merely matches a linear classifier
    has learned nothing spatial)."""
    weight, bias = train_logistic_regression(*train_xy)
    test_x, test_y = test_xy
    predictions = (normalize(test_x).flatten(1) @ weight + bias).argmax(1)
    return int((predictions == test_y).sum())


def core_failures(
    per_class_correct: list[int],
    per_class_total: list[int],
    bars: dict,
    *,
    parameters: int | None = None,
) -> list[str]:
    """What the gate's core checks find wrong with a model's test-set counts: the overall
    bar, every digit's floor and (given ``parameters``) the budget, as the gate words them.
    The multi-seed gate and ``calibration.judge`` both judge with this."""
    failed = []
    correct, total = sum(per_class_correct), sum(per_class_total)
    if not correct / total >= bars["overall_accuracy"]:
        failed.append(f"overall {100 * correct / total:.2f}% < {100 * bars['overall_accuracy']:g}%")
    for digit, (c, n) in enumerate(zip(per_class_correct, per_class_total, strict=True)):
        bar = bars["per_class"][str(digit)]
        if not c / n >= bar:
            failed.append(f"digit {digit} {100 * c / n:.2f}% < {100 * bar:g}%")
    if parameters is not None and not parameters < bars["parameter_budget"]:
        failed.append(f"{parameters:,} parameters, budget fewer than {bars['parameter_budget']:,}")
    return failed


def against_plain(
    default_right,
    plain_right,
    condition,
    names: tuple[str, ...],
    *,
    tolerance: float,
    alpha: float,
    purposes: tuple[str, ...] = (),
) -> dict[str, dict]:
    """predict's preprocessing against the plain one, condition by condition, on the same
    pictures (boolean arrays: which pictures each got right; ``condition`` indexes
    ``names``). Per condition: the paired difference (default - plain) and its exact
    confidence bounds at one-sided level ``alpha`` / the number of conditions (Bonferroni),
    and ``failed``: the default is surely worse than plain by more than ``tolerance`` (the
    upper bound below -tolerance), or, on one of ``purposes`` (the conditions a step of the
    default exists for), it got no more pictures right than plain."""
    from mnist_model.stats import paired_difference_interval

    level = 1 - 2 * alpha / len(names)
    verdicts = {}
    for index, name in enumerate(names):
        here = condition == index
        mine, plain, n = default_right[here], plain_right[here], int(here.sum())
        low, high = paired_difference_interval(
            int((plain & ~mine).sum()), int((mine & ~plain).sum()), n, level
        )
        difference = (int(mine.sum()) - int(plain.sum())) / n
        failed = None
        if high < -tolerance:
            failed = f"{name}: {100 * difference:+.1f} points against plain, surely below "
            failed += f"-{100 * tolerance:g}"
        elif name in purposes and difference <= 0:
            failed = f"{name}: {100 * difference:+.1f} points against plain where it should win"
        verdicts[name] = {"difference": difference, "low": low, "high": high, "failed": failed}
    return verdicts
