"""The digit in a scene: paper found on a desk or between a screenshot's bars, never in a
shadow; one mark kept, the rest dropped, and "no single digit" where there is none."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from mnist_model.errors import NotOneDigit
from mnist_model.predict.preprocess import to_mnist_array
from mnist_model.predict.scene import on_paper, paper_region, rectangularity, single_mark


def four(size: int = 112, ink: int = 20, paper: int = 255) -> Image.Image:
    """A '4'-like digit of three strokes on paper."""
    image = Image.new("L", (size, size), paper)
    draw = ImageDraw.Draw(image)
    s = size / 112
    for box in ((35, 20, 43, 62), (35, 56, 80, 64), (66, 20, 74, 92)):
        draw.rectangle(tuple(round(v * s) for v in box), fill=ink)
    return image


CLEAN = to_mnist_array(four())


def similar(a: np.ndarray, b: np.ndarray, least: float = 0.8) -> bool:
    """Whether ``b``, shifted by at most a pixel each way, correlates with ``a`` by at
    least ``least``."""
    best = -1.0
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            moved = np.roll(b.astype(float), (dy, dx), axis=(0, 1))
            best = max(best, float(np.corrcoef(a.astype(float).ravel(), moved.ravel())[0, 1]))
    return best >= least


def close(a: np.ndarray, b: np.ndarray, mean_levels: float = 8.0) -> bool:
    return float(np.abs(a.astype(float) - b.astype(float)).mean()) <= mean_levels


def test_rectangularity_against_shapes_of_known_area() -> None:
    ys, xs = np.mgrid[0:200, 0:200]
    square = (abs(xs - 100) < 50) & (abs(ys - 100) < 30)
    disc = (xs - 100) ** 2 + (ys - 100) ** 2 < 60**2
    turned = np.asarray(Image.fromarray(np.uint8(square) * 255).rotate(30)) > 127
    assert rectangularity(square) == pytest.approx(1.0, abs=0.01)
    assert rectangularity(disc) == pytest.approx(np.pi / 4, abs=0.02)
    assert rectangularity(turned) > 0.95


@given(
    angle=st.floats(-12, 12),
    x=st.integers(20, 120),
    y=st.integers(20, 60),
    desk=st.integers(20, 120),
)
def test_a_page_on_a_desk_is_read_as_the_page(angle, x, y, desk) -> None:
    alone = to_mnist_array(four(140).rotate(angle, expand=True, fillcolor=255))
    page = four(140).rotate(angle, expand=True, fillcolor=desk)
    scene = Image.new("L", (320, 240), desk)
    scene.paste(page, (x, y))
    assert paper_region(np.asarray(scene, dtype=float)) is not None
    # the same digit: a pixel's shift apart at most (the cut leaves another margin of
    # paper than the page alone has); a page taken for ink correlates far less
    assert similar(to_mnist_array(scene), alone)


@given(angle=st.floats(0, 2 * np.pi), offset=st.floats(-0.3, 0.3), darkness=st.floats(0.3, 0.6))
def test_a_shadow_is_never_taken_for_a_desk(angle, offset, darkness) -> None:
    # the lit part of a page under a hard shadow is a half-plane: it touches two adjacent
    # sides of the frame, or three
    grey = np.asarray(four(), dtype=float)
    ys, xs = np.mgrid[0:112, 0:112] - 56
    shade = np.cos(angle) * xs + np.sin(angle) * ys > offset * 112
    assert paper_region(np.where(shade, grey * darkness, grey)) is None


@pytest.mark.parametrize("keys", [205.0, 60.0])
def test_a_screenshots_bars_and_keyboard_are_not_the_digit(keys) -> None:
    shot = np.full((400, 200), 255.0)
    shot[:24] = 30.0  # status bar
    shot[260:] = keys  # keyboard, light or dark, with keys and letters
    for x in range(5, 195, 19):
        shot[270:290, x : x + 15] = 250.0
        shot[276:284, x + 5 : x + 9] = 30.0
    shot[60:210, 25:175] = np.asarray(four(150), dtype=float)
    assert close(to_mnist_array(shot), CLEAN, 12.0)
    if keys < 128:  # a dark keyboard is surroundings: the canvas is the paper
        assert on_paper(shot).shape[0] < 260


def test_a_picture_with_one_mark_is_left_as_it_is() -> None:
    ink = 1 - np.asarray(four(), dtype=float) / 255
    assert single_mark(ink) is ink


def test_a_neighbours_edge_on_the_frame_is_dropped() -> None:
    ink = 1 - np.asarray(four(), dtype=float) / 255
    ink[30:80, :6] = 1.0  # the edge of the next digit on the line
    kept = single_mark(ink)
    assert kept[:, :6].max() == 0 and kept.sum() == pytest.approx(ink[:, 6:].sum())


def test_bars_across_the_picture_and_specks_are_dropped() -> None:
    ink = 1 - np.asarray(four(), dtype=float) / 255
    ink[2:6, 5:107] = 1.0  # a toolbar's edge
    ink[100, 100] = 1.0  # a speck
    kept = single_mark(ink)
    assert kept[2:6].max() == 0 and kept[100, 100] == 0


def test_two_digits_side_by_side_are_not_one_digit() -> None:
    pair = np.hstack([np.asarray(four(), dtype=float), np.asarray(four(), dtype=float)])
    with pytest.raises(NotOneDigit, match="marks of comparable size"):
        to_mnist_array(pair)


@pytest.mark.parametrize(
    ("draw", "reason"),
    [
        (lambda d: d.rectangle((10, 60, 200, 66), fill=0), "wider than tall"),
        (lambda d: d.rectangle((100, 100, 104, 104), fill=0), "large enough"),
    ],
)
def test_marks_that_are_no_digit(draw, reason) -> None:
    picture = Image.new("L", (224, 224), 255)
    draw(ImageDraw.Draw(picture))
    with pytest.raises(NotOneDigit, match=reason):
        to_mnist_array(picture)


def test_a_textured_empty_page_has_no_mark() -> None:
    rng = np.random.default_rng(0)
    coarse = rng.normal(0, 1, (6, 6)).astype(np.float32)
    blotches = np.asarray(Image.fromarray(coarse, mode="F").resize((112, 112), Image.BICUBIC))
    with pytest.raises(NotOneDigit, match="no mark"):
        to_mnist_array(210 + 12 * blotches)


def test_without_the_scene_step_the_desk_decides_the_polarity() -> None:
    # the ablation's column: the page is taken for ink
    scene = Image.new("L", (320, 240), 60)
    scene.paste(four(140), (90, 50))
    assert similar(to_mnist_array(scene), CLEAN)
    assert not similar(to_mnist_array(scene, without=frozenset({"scene"})), CLEAN)


def test_pieces_of_one_digit_stay_together() -> None:
    # a 5 whose flag came loose, and a 1 broken across: one digit each, kept whole
    five = np.zeros((112, 112))
    five[30:38, 50:100] = 1.0  # the flag, reaching right of the body
    five[42:90, 26:76] = 0.0
    five[42:48, 26:60] = 1.0
    five[42:70, 26:32] = 1.0
    five[64:70, 26:76] = 1.0
    five[64:90, 70:76] = 1.0
    five[84:90, 26:76] = 1.0
    assert np.array_equal(single_mark(five), five)
    one = np.zeros((112, 112))
    one[20:50, 52:58] = 1.0
    one[56:95, 52:58] = 1.0
    assert np.array_equal(single_mark(one), one)


def test_a_frame_around_the_digit_is_not_a_piece_of_it() -> None:
    # a window's frame (an L of a side panel and a title bar) overlaps the digit's box
    ink = 1 - np.asarray(four(), dtype=float) / 255
    ink[0:4, :] = 1.0
    ink[:, 0:4] = 1.0
    kept = single_mark(ink)
    assert kept[:, :4].max() == 0 and kept[:4].max() == 0 and kept.sum() > 0
