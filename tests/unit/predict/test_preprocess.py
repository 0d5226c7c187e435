"""predict's preprocessing under the conditions it was built for: the paper's lighting,
ruling and polarity change nothing about the 28x28 digit it returns."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mnist_model.predict.preprocess import (
    STEPS,
    ImageError,
    ink_map,
    named,
    otsu_threshold,
    plain_mnist_array,
    to_mnist_array,
)


def page(size: int = 112) -> np.ndarray:
    """A dark '4'-like digit (three strokes) on white paper, as float grey levels."""
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    s = size / 112
    for box in ((35, 20, 43, 62), (35, 56, 80, 64), (66, 20, 74, 92)):
        draw.rectangle(tuple(round(v * s) for v in box), fill=20)
    return np.asarray(image, dtype=np.float64)


def close(a: np.ndarray, b: np.ndarray, mean_levels: float = 6.0) -> bool:
    return float(np.abs(a.astype(float) - b.astype(float)).mean()) <= mean_levels


CLEAN = to_mnist_array(page())


@given(angle=st.floats(0, 2 * np.pi), darkest=st.floats(0.5, 0.9))
def test_a_light_gradient_changes_nothing(angle, darkest) -> None:
    # Down to half the light at the darkest corner. Darker corners (0.3, found by this
    # test) still leave a trace of grey paper in the digit's box: a known weakness, see
    # docs/results.md; the suite's gradient condition (centre at 0.65) scores 99.6 %.
    ys, xs = np.mgrid[0:112, 0:112] / 111 - 0.5
    ramp = (np.cos(angle) * xs + np.sin(angle) * ys) / np.sqrt(0.5)  # -1 .. 1
    light = darkest + (1 - darkest) * (ramp + 1) / 2
    assert close(to_mnist_array(page() * light), CLEAN)


@pytest.mark.parametrize("side", ["left", "top", "corner"])
def test_a_hard_shadow_changes_nothing(side) -> None:
    shaded = page()
    region = {"left": np.s_[:, :50], "top": np.s_[:45, :], "corner": np.s_[:60, :60]}[side]
    shaded[region] *= 0.45
    assert close(to_mnist_array(shaded), CLEAN)


def test_ruled_and_squared_paper_lines_are_dropped() -> None:
    ruled = page()
    ruled[5::24] = np.minimum(ruled[5::24], 170)
    assert close(to_mnist_array(ruled), CLEAN)
    squared = ruled.copy()
    squared[:, 3::16] = np.minimum(squared[:, 3::16], 185)
    assert close(to_mnist_array(squared), CLEAN)


def test_one_bar_across_a_tight_crop_is_kept() -> None:
    # the bar of a 7 cropped to the ink is a full-width band, but one band is not ruling
    seven = np.full((60, 40), 255.0)
    seven[:6, :] = 0
    seven[:, 30:36] = 0
    out = to_mnist_array(seven)
    assert out[:10].sum() > 0.2 * out.sum()  # the bar is still there, at the top


def test_both_polarities_and_noise_give_the_same_digit() -> None:
    assert close(to_mnist_array(255 - page()), CLEAN)
    noisy = page() + np.random.default_rng(0).normal(0, 25, (112, 112))
    assert close(to_mnist_array(np.clip(noisy, 0, 255)), CLEAN, mean_levels=10)


def test_ink_is_relative_to_the_paper_under_it() -> None:
    grey = page() * 0.5  # the whole page in half light
    ink = ink_map(grey)
    assert ink.max() == pytest.approx(1 - 10 / 127.5, abs=0.02)  # stroke 10 on paper 127.5
    assert np.percentile(ink, 50) == pytest.approx(0.0, abs=1e-6)


@given(low=st.floats(0.0, 0.3), high=st.floats(0.6, 1.0), fraction=st.floats(0.05, 0.5))
def test_otsu_splits_two_levels_between_them(low, high, fraction) -> None:
    n = 1000
    values = np.where(np.arange(n) < fraction * n, high, low)
    threshold = otsu_threshold(values)
    assert low < threshold <= high


def mnist_like() -> np.ndarray:
    """CLEAN is what the preprocessing makes of a page: a digit in MNIST's own form."""
    return CLEAN.copy()


def test_a_picture_already_in_mnist_form_is_returned_as_it_is() -> None:
    from mnist_model.predict.preprocess import in_mnist_form

    digit = mnist_like()
    assert in_mnist_form(digit.astype(np.float64))
    assert np.array_equal(to_mnist_array(digit), digit)
    assert np.array_equal(to_mnist_array(Image.fromarray(digit)), digit)


@pytest.mark.parametrize(
    "spoil",
    [
        lambda d: np.roll(d, 3, axis=1),  # off centre by 3 pixels
        lambda d: 255 - d,  # dark on light
        lambda d: np.asarray(Image.fromarray(d).resize((14, 14)).resize((28, 28))) // 2 + 0,
        lambda d: np.asarray(Image.fromarray(d).resize((32, 32))),  # another size
        lambda d: np.asarray(Image.fromarray(d).resize((14, 14))).repeat(2, 0).repeat(2, 1) // 3,
    ],
    ids=["off-centre", "inverted", "blurred", "32x32", "blocky-and-faint"],
)
def test_other_pictures_are_not_taken_for_mnist_form(spoil) -> None:
    from mnist_model.predict.preprocess import in_mnist_form

    spoiled = np.asarray(spoil(mnist_like()), dtype=np.uint8)
    assert not in_mnist_form(spoiled.astype(np.float64))
    assert to_mnist_array(spoiled).shape == (28, 28)


def test_the_plain_preprocessing_inverts_crops_fits_and_centres() -> None:
    from mnist_model.predict.preprocess import PREPROCESSINGS, plain_mnist_array

    assert PREPROCESSINGS["plain"] is plain_mnist_array
    digit = plain_mnist_array(page())  # dark ink on light paper
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit[0].max() == 0 and digit.max() == 255  # the paper is black, ink full range
    rows, cols = np.nonzero(digit.any(1))[0], np.nonzero(digit.any(0))[0]
    assert max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) <= 21
    ys, xs = np.mgrid[0:28, 0:28]
    total = digit.sum()
    assert (
        abs((digit * ys).sum() / total - 13.5) <= 1 and abs((digit * xs).sum() / total - 13.5) <= 1
    )
    # the same digit light on dark reads the same, and MNIST's own form is left alone
    assert close(plain_mnist_array(255 - page()), digit)
    assert np.array_equal(plain_mnist_array(mnist_like()), mnist_like())
    with pytest.raises(ImageError):
        plain_mnist_array(np.full((40, 40), 128.0))


# --- the ablation's switches ---------------------------------------------------------------
def _where_each_step_acts() -> dict[str, np.ndarray]:
    """A picture on which switching off each step changes the digit it returns."""
    shaded = page()
    shaded[:, :50] *= 0.45
    half_shaded = page()
    half_shaded[:, :60] *= 0.45  # the border's median is the shadow's: ambiguous
    ruled = page()
    for row in (5, 6):  # two-pixel grey lines, 16 apart
        ruled[row::16] = np.minimum(ruled[row::16], 120)
    noisy = np.clip(page() + np.random.default_rng(0).normal(0, 40, (112, 112)), 0, 255)
    faint = page()
    faint[60:100, 20:30] = 200  # a faint mark apart from the digit
    grey_ink = np.where(page() < 128, 120.0, 255.0)
    grey_ink[40:43, 36:39] = 0  # one dark speck in grey strokes
    on_desk = np.full((240, 320), 60.0)
    on_desk[40:180, 90:230] = page(140)  # a page on a dark desk
    return {
        "scene": on_desk,
        "polarity": half_shaded,
        "lighting": shaded,
        "denoise": noisy,
        "mask": faint,
        "ruling": ruled,
        "contrast": grey_ink,
        "lanczos": page(),
    }


@pytest.mark.parametrize("step", sorted(STEPS))
def test_switching_a_step_off_changes_the_digit_where_that_step_acts(step) -> None:
    picture = _where_each_step_acts()[step]
    without = named(f"without-{step}")
    assert not np.array_equal(without(picture), to_mnist_array(picture))


def test_the_named_preprocessings() -> None:
    assert named("default") is to_mnist_array
    assert named("plain") is plain_mnist_array
    assert np.array_equal(named("without-ruling")(page()), CLEAN)  # nothing to remove
    for unknown in ("without-everything", "fancy", "without-"):
        with pytest.raises(ValueError, match="unknown preprocessing"):
            named(unknown)
    with pytest.raises(ValueError, match="unknown preprocessing steps"):
        to_mnist_array(page(), without=frozenset({"colour"}))
