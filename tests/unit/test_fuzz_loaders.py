"""Fuzzing the two loaders that read files from strangers: images and checkpoints.

Whatever the bytes, the result is a model/image or one typed error (ImageError,
CheckpointError) with a one-line message; never another exception type."""

from __future__ import annotations

import io

import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_model.checkpoint import load_checkpoint, save_checkpoint
from mnist_model.errors import CheckpointError
from mnist_model.model import MnistNet
from mnist_model.predict import read_image
from mnist_model.predict.preprocess import ImageError, to_mnist_array
from mnist_model.predict.scene import WIDEST

FUZZ = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)


def _png_bytes(width: int, height: int, mode: str) -> bytes:
    """White paper with a dark vertical stroke through the middle: a "1" that preprocessing
    must find (a flat image would only ever take the blank-image error path)."""
    image = Image.new("L", (width, height), 255)
    image.paste(0, (width // 3, 0, max(width // 3 + 1, 2 * width // 3), height))
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, "PNG")
    return buffer.getvalue()


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_as_an_image(tmp_path, data):
    path = tmp_path / "fuzz.png"
    path.write_bytes(data)
    try:
        image = read_image(path)
    except ImageError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    try:
        to_mnist_array(image)
    except ImageError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(
    width=st.integers(1, 300),
    height=st.integers(1, 300),
    mode=st.sampled_from(["L", "RGB", "RGBA", "1", "P"]),
    cut=st.one_of(st.just(1.0), st.floats(0.0, 1.0)),
)
@example(width=3, height=3, mode="L", cut=1.0)  # a blur once averaged the stroke away
def test_truncated_real_images(tmp_path, width, height, mode, cut):
    data = _png_bytes(width, height, mode)
    path = tmp_path / "cut.png"
    path.write_bytes(data[: int(len(data) * cut)])
    whole = len(data[: int(len(data) * cut)]) == len(data)
    stroke = max(width // 3 + 1, 2 * width // 3) - width // 3
    # the whole file, paper on both sides of the stroke, no wider than a digit can be
    # (scene.WIDEST): a digit
    if whole and width >= 3 and stroke <= WIDEST * height:
        array = to_mnist_array(read_image(path))
        assert array.shape == (28, 28) and array.max() > array.min()
        return
    try:
        to_mnist_array(read_image(path))
    except ImageError as exc:
        assert "\n" not in str(exc)


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes_as_a_checkpoint(tmp_path, data):
    path = tmp_path / "fuzz.pt"
    path.write_bytes(data)
    try:
        load_checkpoint(path)
    except CheckpointError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:
        raise AssertionError("random bytes loaded as a checkpoint")


@FUZZ
@given(cut=st.floats(0.0, 0.999), flip=st.integers(0, 10**9))
def test_truncated_or_flipped_checkpoint(tmp_path_factory, cut, flip):
    folder = tmp_path_factory.mktemp("ckpt")
    good = save_checkpoint(folder / "good.pt", MnistNet(), train_config={}, metrics={}, data_md5={})
    data = bytearray(good.read_bytes())
    bad = folder / "bad.pt"
    if flip % 2:
        data[flip % len(data)] ^= 0xFF
        bad.write_bytes(bytes(data))
    else:
        bad.write_bytes(bytes(data[: int(len(data) * cut)]))
    try:
        model, _ = load_checkpoint(bad)
    except CheckpointError as exc:
        assert "\n" not in str(exc)
    else:  # a flipped byte inside a tensor's data still loads: the model must be sound
        assert isinstance(model, MnistNet)
        model(torch.zeros(1, 1, 28, 28))
