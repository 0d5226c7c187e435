"""Training throughput of the default recipe against the reference recipe, side by side in
one run. Deselected by default; ``pytest -m benchmark -p no:xdist``.

The two pytest-benchmark entries (group "training") time the same number of images through
each recipe's real loop: ours with its per-batch augmentation, the reference with its
per-sample DataLoader. The ratio test turns images/s into the end-to-end bar of issue #5:
both recipes see the whole training split every epoch, so their training times scale as
epochs / (images/s) (ours summed over its 20x20 and 28x28 epochs), and the default recipe
must be at least 4x faster than the reference.
`mnist-model bench --full` measures the same end to end, evaluation included.
"""

from __future__ import annotations

import pytest

from mnist_model.bench.measure import ours_trainer, reference_trainer, train_rates
from mnist_model.bench.reference import REFERENCE_EPOCHS
from mnist_model.bench.targets import TRAINING_SPEEDUP
from mnist_model.config import Machine, TrainConfig

pytestmark = pytest.mark.benchmark

IMAGES = 7_680
"""Per measurement: 30 of our batches, 120 of the reference's."""


@pytest.fixture(scope="module")
def splits(mnist_splits):
    return mnist_splits["train"], mnist_splits["test"]


def test_training_ours(benchmark, splits) -> None:
    run = ours_trainer(*splits, IMAGES)
    benchmark.group = f"training, {IMAGES} images"
    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    # What was timed is real training: an epoch over the images that learned something
    # (augmented accuracy well above the 10 % of chance) in the arithmetic auto chose.
    record = run.last.history[0]
    assert record["train_accuracy"] > 0.2 and run.last.arithmetic is not None


def test_training_reference(benchmark, mnist_root) -> None:
    run = reference_trainer(str(mnist_root), IMAGES)
    benchmark.group = f"training, {IMAGES} images"
    # 120 full batches of 64: exactly the images ours sees, no more, no fewer
    assert benchmark.pedantic(run, rounds=3, warmup_rounds=1) == IMAGES


def test_default_recipe_trains_at_least_4x_faster_than_the_reference(splits, mnist_root) -> None:
    # The default's first epochs train at 20x20 (TrainConfig.low_res_fraction), so both
    # sizes are timed, taking turns: a one-epoch config with a fraction of 0.5 rounds to
    # one low-resolution epoch.
    configs = {
        "ours": (TrainConfig(epochs=1), Machine()),
        "ours_low_res": (TrainConfig(epochs=1, low_res_fraction=0.5), Machine()),
    }
    rates = train_rates(*splits, str(mnist_root), IMAGES, repeats=5, configs=configs)
    ours, low_res, reference = rates["ours"], rates["ours_low_res"], rates["reference"]
    default = TrainConfig()
    low = default.low_res_epochs
    seconds_per_image = (default.epochs - low) / ours + low / low_res
    speedup = (REFERENCE_EPOCHS / reference) / seconds_per_image
    print(
        f"images/s ours {ours:.0f} (at 20x20: {low_res:.0f}), reference {reference:.0f}; "
        f"{default.epochs} ({low} at 20x20) vs {REFERENCE_EPOCHS} epochs: {speedup:.2f}x end to end"
    )
    assert speedup >= TRAINING_SPEEDUP
