"""Bad input batches are refused with a ValueError that names what was expected and got.

A wrong shape that happened to broadcast, or an integer image that was never normalised,
would otherwise produce confident garbage instead of an error.
"""

from __future__ import annotations

import re

import pytest
import torch

from mnist_model.model import LOW_RES_SIZE, MnistNet, check_input

EXPECTED_SHAPE = "(N, 1, 28, 28)"


@pytest.fixture(scope="module")
def model() -> MnistNet:
    return MnistNet().eval()


BAD_SHAPES = {
    "rank 3 (channel dim missing)": (4, 28, 28),
    "rank 2 (flattened)": (4, 784),
    "rank 5": (1, 4, 1, 28, 28),
    "spatial 32x32": (4, 1, 32, 32),
    "spatial 28x27": (4, 1, 28, 27),
    "3 channels": (4, 3, 28, 28),
    "channels last-dim (NHWC)": (4, 28, 28, 1),
}


@pytest.mark.parametrize("shape", BAD_SHAPES.values(), ids=BAD_SHAPES.keys())
def test_wrong_shapes_name_expected_and_actual(model, shape) -> None:
    x = torch.zeros(shape)
    with pytest.raises(ValueError) as info:
        model(x)
    message = str(info.value)
    assert EXPECTED_SHAPE in message
    assert str(tuple(shape)) in message


def test_low_resolution_images_are_taken_in_training_mode_only() -> None:
    # TrainConfig.low_res_fraction feeds 20x20 batches; evaluation and predict never do.
    net = MnistNet()
    x = torch.zeros(3, 1, LOW_RES_SIZE, LOW_RES_SIZE)
    assert net.train()(x).shape == (3, 10)
    with pytest.raises(ValueError, match=re.escape(EXPECTED_SHAPE)):
        net.eval()(x)


@pytest.mark.parametrize("shape", [(2, 1, 24, 24), (2, 1, 20, 28), (2, 1, 32, 32), (2, 3, 20, 20)])
def test_training_mode_takes_no_other_size(shape) -> None:
    with pytest.raises(ValueError, match=re.escape(str(shape))):
        MnistNet().train()(torch.zeros(shape))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.int32, torch.bool])
def test_non_float_dtypes_name_expected_and_actual(model, dtype) -> None:
    x = torch.zeros(2, 1, 28, 28, dtype=dtype)
    with pytest.raises(ValueError, match="floating-point") as info:
        model(x)
    assert str(dtype) in str(info.value)


def test_empty_batch_is_refused(model) -> None:
    with pytest.raises(ValueError, match=re.escape("N=0")):
        model(torch.zeros(0, 1, 28, 28))


def test_non_tensor_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="list"):
        check_input([[0.0] * 28] * 28)


@pytest.mark.parametrize("where", [(0, 0, 0, 0), (1, 0, 27, 13)], ids=["first", "inside"])
def test_nan_input_is_refused(model, where) -> None:
    # A NaN pixel poisons every logit of its sample (and, in train mode, the whole batch's
    # BatchNorm statistics); it must fail loudly, naming the problem.
    x = torch.zeros(2, 1, 28, 28)
    x[where] = float("nan")
    with pytest.raises(ValueError, match=r"(?i)\bnan\b"):
        model(x)


@pytest.mark.parametrize("value", [float("inf"), float("-inf")], ids=["inf", "-inf"])
def test_infinite_input_is_refused(model, value) -> None:
    x = torch.zeros(2, 1, 28, 28)
    x[1, 0, 3, 3] = value
    with pytest.raises(ValueError, match=r"(?i)infinite|finite"):
        model(x)


def test_large_finite_input_whose_sum_overflows_passes(model) -> None:
    # The check sums first; a sum past the float range must not be taken for an infinity.
    x = torch.full((2, 1, 28, 28), 3e38)
    assert not torch.isfinite(x.sum())
    check_input(x)
    check_input(x.half().clamp(max=6e4))  # float16: 1,568 x 6e4 overflows its 65,504


def test_valid_input_passes(model) -> None:
    # The counterpart of every refusal above: the checks must not reject good batches.
    check_input(torch.zeros(3, 1, 28, 28))
    check_input(torch.zeros(1, 1, 28, 28, dtype=torch.float64))
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
