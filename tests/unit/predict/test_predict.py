"""MNIST-style preprocessing of arbitrary images, and its refusals."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mnist_model.predict import read_image
from mnist_model.predict.preprocess import ImageError, to_mnist_array


def _drawn_bar(size=(120, 90), ink=0, paper=255, mode="L") -> Image.Image:
    image = Image.new(mode, size, paper if mode == "L" else (paper,) * 3)
    ImageDraw.Draw(image).rectangle((50, 10, 62, 80), fill=ink if mode == "L" else (ink,) * 3)
    return image


@pytest.mark.parametrize("mode", ["L", "RGB"])
@pytest.mark.parametrize(("ink", "paper"), [(0, 255), (255, 0), (40, 200)])
def test_output_is_mnist_like(mode, ink, paper):
    out = to_mnist_array(_drawn_bar(ink=ink, paper=paper, mode=mode))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert out.max() == 255  # the digit is white ...
    assert out[0].max() == 0 and out[:, 0].max() == 0  # ... on black, with a margin
    rows, cols = np.nonzero(out)
    assert rows.max() - rows.min() + 1 <= 20 and cols.max() - cols.min() + 1 <= 20
    weights = out.astype(float)
    com = (
        (weights.sum(1) * np.arange(28)).sum() / weights.sum(),
        (weights.sum(0) * np.arange(28)).sum() / weights.sum(),
    )
    assert abs(com[0] - 13.5) <= 1.0 and abs(com[1] - 13.5) <= 1.0


def test_both_polarities_give_the_same_digit():
    dark_on_light = to_mnist_array(_drawn_bar(ink=0, paper=255))
    light_on_dark = to_mnist_array(_drawn_bar(ink=255, paper=0))
    assert np.array_equal(dark_on_light, light_on_dark)


def test_blank_image_is_refused():
    with pytest.raises(ImageError, match="blank"):
        to_mnist_array(Image.new("L", (64, 64), 255))


def test_unreadable_and_missing_files(tmp_path):
    garbage = tmp_path / "noise.png"
    garbage.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    for path in (garbage, empty):
        with pytest.raises(ImageError, match="not a readable image"):
            read_image(path)
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "missing.png")


def test_huge_image_is_refused_before_decoding(tmp_path, monkeypatch):
    import mnist_model.predict as predict_module

    path = tmp_path / "big.png"
    Image.new("L", (300, 300), 255).save(path)
    monkeypatch.setattr(predict_module, "MAX_PIXELS", 300 * 300 - 1)
    with pytest.raises(ImageError, match="pixel limit"):
        read_image(path)
