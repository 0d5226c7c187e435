"""predict's preprocessing is never worse than the plain MNIST recipe (issue 31).

The plain preprocessing (``predict --preprocess plain``: light paper made dark, the ink's
box cropped, fitted to 20 pixels, centred) is the baseline every extra step of predict's
must beat. On every condition of the suite, the same model reads the same pictures through
both; predict's may be below plain by at most ``plain_points_lost`` points, and fails only
where the paired difference is surely below that (its exact upper bound at the gate's 1 %
family-wise level, shared by the conditions). Where a step of predict's exists for a
condition (``preprocess.PURPOSES``), predict's must get more pictures right than plain."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_model import ood
from mnist_model.calibration import FAMILY_FALSE_ALARM
from mnist_model.gate import against_plain
from mnist_model.preprocess import PURPOSES

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="session")
def plain_suite(mnist_root, test_set, thresholds):
    """The suite's pictures through the plain preprocessing (prepared once, cached)."""
    suite = thresholds["ood"]
    return ood.prepare(
        *test_set,
        per_class=suite["per_class"],
        seed=suite["seed"],
        cache_dir=ood.cache_dir(mnist_root),
        preprocessing="plain",
    )


@pytest.fixture(scope="session")
def verdicts(accepted_model, ood_suite, plain_suite, thresholds) -> dict[str, dict]:
    model, _ = accepted_model
    assert np.array_equal(ood_suite.labels, plain_suite.labels)
    assert np.array_equal(ood_suite.condition, plain_suite.condition)
    return against_plain(
        ood.predictions(model, ood_suite) == ood_suite.labels,
        ood.predictions(model, plain_suite) == plain_suite.labels,
        ood_suite.condition,
        ood_suite.names,
        tolerance=thresholds["plain_points_lost"] / 100,
        alpha=FAMILY_FALSE_ALARM,
        purposes=PURPOSES,
    )


def test_every_purpose_is_a_condition_of_the_suite() -> None:
    assert set(PURPOSES) <= set(ood.NAMES)


@pytest.mark.parametrize("condition", ood.NAMES)
def test_predict_is_never_worse_than_plain(verdicts, note, condition) -> None:
    verdict = verdicts[condition]
    note(
        f"ood {condition}: predict - plain {100 * verdict['difference']:+.1f} points "
        f"(bounds {100 * verdict['low']:+.1f} .. {100 * verdict['high']:+.1f})"
    )
    assert verdict["failed"] is None, verdict["failed"]
