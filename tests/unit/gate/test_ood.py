"""The out-of-distribution suite: reproducible from its seed, every condition present with
the same digits, pictures of the kinds predict accepts, and scored per condition."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_model.gate import ood
from mnist_model.gate.verdict import Check
from mnist_model.model import MnistNet


@pytest.fixture(scope="module")
def digits():
    """Ten fake 'test digits' per class: a bar whose position says the class."""
    images = torch.zeros(100, 28, 28, dtype=torch.uint8)
    labels = torch.arange(100) % 10
    for i, label in enumerate(labels.tolist()):
        images[i, 6:22, 4 + 2 * label : 7 + 2 * label] = 255
    return images, labels


def test_every_condition_with_per_class_pictures_of_each_digit(digits) -> None:
    suite = ood.generate(*digits, per_class=2)
    assert list(suite) == [c.name for c in ood.CONDITIONS]
    for name, (images, labels) in suite.items():
        assert name == "not_a_digit" or sorted(labels) == sorted(list(range(10)) * 2), name
        assert all(isinstance(image, Image.Image) for image in images), name
        assert all(image.mode in ("L", "RGB") for image in images), name
    # the handwritten conditions share their digits: the same labels in the same order
    printed = {c.name for c in ood.CONDITIONS if c.printed or c.small_print or c.not_a_digit}
    orders = {tuple(labels) for name, (_, labels) in suite.items() if name not in printed}
    assert len(orders) == 1
    assert suite["not_a_digit"][1] == [-1] * 20


def test_the_same_seed_gives_the_same_pictures(digits) -> None:
    conditions = tuple(c for c in ood.CONDITIONS if c.name in ("sensor_noise", "printed"))
    one = ood.generate(*digits, per_class=1, seed=3, conditions=conditions)
    two = ood.generate(*digits, per_class=1, seed=3, conditions=conditions)
    other = ood.generate(*digits, per_class=1, seed=4, conditions=conditions)

    def same(a, b) -> bool:
        pairs = zip(a, b, strict=True)
        return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in pairs)

    for name in one:
        assert same(one[name][0], two[name][0]), name
    assert not same(one["sensor_noise"][0], other["sensor_noise"][0])
    # a condition's pictures do not depend on which other conditions are generated
    full = ood.generate(*digits, per_class=1, seed=3)
    assert same(full["sensor_noise"][0], one["sensor_noise"][0])


VERSION_2_PICTURES = "b6b2a00923e232b26d46add636c2ddc82c4545b5fa82abb6c0190792a8add780"
"""sha256 of suite version 2's pictures of the bar digits (per_class 2, seed 0), computed
with version 2's code (commit 70d1dee). Version 3 must draw them picture for picture the
same: version 2's evidence counts for those conditions (``ood.EARLIER``)."""


def _pictures_digest(suite) -> str:
    digest = hashlib.sha256()
    for name, (images, _) in suite.items():
        digest.update(name.encode())
        for image in images:
            digest.update(f"{image.mode}{image.size}".encode() + image.tobytes())
    return digest.hexdigest()


def test_version_2s_conditions_are_picture_for_picture_unchanged(digits) -> None:
    # the pictures are; what the model sees of them is not (the scene step), so no
    # earlier record's suite counts count
    assert ood.EARLIER == {2: (), 3: ()}
    kept = ood.CONDITIONS[: ood.VERSION_2]
    assert _pictures_digest(ood.generate(*digits, per_class=2, conditions=kept)) == (
        VERSION_2_PICTURES
    ), "a version-2 condition changed: its evidence no longer counts (ood.EARLIER)"


def test_the_version_3_conditions_look_like_what_they_name(digits) -> None:
    new = ood.CONDITIONS[ood.VERSION_2 : ood.VERSION_3]
    suite = {
        name: images
        for name, (images, _) in ood.generate(*digits, per_class=2, conditions=new).items()
    }
    arrays = {name: [np.asarray(i) for i in images] for name, images in suite.items()}
    for name, pictures in arrays.items():
        assert all(a.shape == (ood.CANVAS, ood.CANVAS) and a.min() < 128 for a in pictures), name
    # hard-edged bits; counts (at most 17 levels where enlarged without interpolation)
    assert all(set(np.unique(a)) <= {0, 255} for a in arrays["blocky_strokes"])
    assert any(len(np.unique(a)) <= 17 for a in arrays["count_grid"])
    # printed small and enlarged: wide anti-aliased ramps between ink and paper
    assert all(((a > 30) & (a < 225)).mean() > 0.05 for a in arrays["other_typefaces"])
    # ruled lines that cross the whole page
    assert all(((a <= 150).mean(1) == 1).any() for a in arrays["dark_lines"])
    # a neighbour's edge at the left or right border
    assert all(a[:, :3].min() < 128 or a[:, -3:].min() < 128 for a in arrays["neighbour_edge"])


def test_the_version_4_scenes_look_like_what_they_name(digits) -> None:
    from PIL import ImageOps

    new = ood.CONDITIONS[ood.VERSION_3 :]
    suite = {n: i for n, (i, _) in ood.generate(*digits, per_class=2, conditions=new).items()}
    for image in suite["exif_rotated"]:  # stored turned, with the tag that turns it back
        assert image.getexif()[0x0112] in (3, 6, 8)
        upright = np.asarray(ImageOps.exif_transpose(image), dtype=float)
        assert upright.shape == (280, 280)
        assert not np.array_equal(upright, np.asarray(image, dtype=float))
    for image in suite["page_on_desk"]:  # light paper on a darker desk
        a = np.asarray(image, dtype=float)
        assert np.median(_border(a)) < np.percentile(a, 90) - 60
    assert all(image.mode == "RGB" for image in suite["sticky_note"])
    for image in suite["screenshot"]:  # a bar across the top, white canvas below it
        a = np.asarray(image, dtype=float)
        assert a.shape == (400, 200) and (a[2] != 255).any() and a[200].max() == 255
    assert len({np.asarray(i).shape for i in suite["not_a_digit"]}) > 1  # several kinds


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


SOME = tuple(c for c in ood.CONDITIONS if c.name in ("clean", "shadow"))
SOME_NAMES = ("clean", "shadow")


def test_score_is_an_accuracy_per_condition(digits) -> None:
    suite = ood.prepare(*digits, per_class=3, conditions=SOME, workers=1)
    torch.manual_seed(0)
    accuracies = ood.score(MnistNet(), suite)
    assert set(accuracies) == {"clean", "shadow"}
    assert all(0.0 <= a <= 1.0 for a in accuracies.values())
    failing = Check("ood clean", accuracies["clean"], 1.1, ">=", "evidence", False)
    text = ood.table_text(accuracies, {"clean": [failing]})
    assert "FAIL" in text and text.splitlines()[-1].startswith("mean")


def test_prepared_pictures_are_what_predict_makes_of_the_generated_ones(digits) -> None:
    from mnist_model.predict.preprocess import to_mnist_array

    suite = ood.prepare(*digits, per_class=2, conditions=SOME, workers=1)
    generated = ood.generate(*digits, per_class=2, conditions=SOME)
    pictures = [image for name in suite.names for image in generated[name][0]]
    assert len(pictures) == len(suite.arrays) == 40
    assert suite.totals() == {"clean": 20, "shadow": 20}
    for image, array, refused in zip(pictures, suite.arrays, suite.refused, strict=True):
        assert refused or np.array_equal(to_mnist_array(image), array)


def test_counts_add_up_and_refused_pictures_count_as_wrong(digits) -> None:
    suite = ood.prepare(*digits, per_class=2, conditions=SOME, workers=1)
    perfect = suite.labels.copy()
    assert ood.counts(suite, perfect) == {"clean": (20, 20), "shadow": (20, 20)}
    refused = np.where(np.arange(len(perfect)) % 2 == 0, -1, perfect)
    assert ood.counts(suite, refused) == {"clean": (10, 20), "shadow": (10, 20)}


def test_the_cache_is_read_back_and_a_damaged_one_is_prepared_again(digits, tmp_path) -> None:
    first = ood.prepare(*digits, per_class=1, conditions=SOME, workers=1, cache_dir=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    again = ood.prepare(*digits, per_class=1, conditions=SOME, workers=1, cache_dir=tmp_path)
    assert np.array_equal(first.arrays, again.arrays)
    assert np.array_equal(first.labels, again.labels)
    # a flipped byte in the cached pictures fails the checksum: prepared again, same result
    with np.load(path) as data:
        parts = {k: data[k] for k in data.files}
    parts["arrays"] = parts["arrays"].copy()
    parts["arrays"][0, 0, 0] ^= 0xFF
    np.savez(path, **parts)
    assert ood._read_cache(path, first.names) is None
    rebuilt = ood.prepare(*digits, per_class=1, conditions=SOME, workers=1, cache_dir=tmp_path)
    assert np.array_equal(first.arrays, rebuilt.arrays)
    path.write_bytes(b"not a zip")
    assert np.array_equal(
        first.arrays,
        ood.prepare(*digits, per_class=1, conditions=SOME, workers=1, cache_dir=tmp_path).arrays,
    )


def test_the_cache_key_changes_with_what_the_pictures_depend_on(digits) -> None:
    images, _ = digits
    key = ood.cache_key(images, 100, 0)
    assert key == ood.cache_key(images, 100, 0)
    assert key != ood.cache_key(images, 99, 0)
    assert key != ood.cache_key(images, 100, 1)
    changed = images.clone()
    changed[0, 0, 0] = 1
    assert key != ood.cache_key(changed, 100, 0)


def test_the_cache_key_changes_with_the_scene_steps_code(digits, monkeypatch) -> None:
    # an edit to predict/scene.py once left a stale prepared suite in use
    import inspect

    from mnist_model.predict import scene

    images, _ = digits
    key = ood.cache_key(images, 100, 0)
    real = inspect.getsource
    monkeypatch.setattr(
        inspect, "getsource", lambda m: real(m) + ("# edited" if m is scene else "")
    )
    assert ood.cache_key(images, 100, 0) != key


def test_the_table_shows_the_plain_preprocessing_beside_predicts() -> None:
    clean = Check("ood clean", 0.99, 0.9, ">=", "evidence", True)
    text = ood.table_text(
        {"clean": 0.99, "shadow": 0.8}, {"clean": [clean]}, plain={"clean": 0.98, "shadow": 0.3}
    )
    head, clean, shadow, mean = text.splitlines()
    assert "plain" in head and "98.0%" in clean and "30.0%" in shadow
    assert mean.split()[-1] == "64.00%"  # the plain column's mean


def test_the_plain_suite_is_prepared_and_cached_apart(digits, tmp_path) -> None:
    default = ood.prepare(*digits, per_class=1, conditions=SOME, workers=1, cache_dir=tmp_path)
    plain = ood.prepare(
        *digits, per_class=1, conditions=SOME, workers=1, cache_dir=tmp_path, preprocessing="plain"
    )
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert np.array_equal(default.labels, plain.labels)
    assert not np.array_equal(default.arrays, plain.arrays)


def test_the_table_shows_what_predict_refuses(digits) -> None:
    suite = ood.prepare(*digits, per_class=2, conditions=SOME, workers=1)
    logits = torch.zeros(len(suite.arrays), 10)
    logits[::2, 3] = 5.0  # half the pictures sure (top probability 0.94), half not (0.1)
    by_scene = {
        n: float(suite.refused[suite.condition == i].mean()) for i, n in enumerate(SOME_NAMES)
    }
    assert ood.refused(suite, logits, None) == by_scene
    odd = np.arange(len(suite.arrays)) % 2 == 1
    unsure = {
        n: float((suite.refused | odd)[suite.condition == i].mean())
        for i, n in enumerate(SOME_NAMES)
    }
    assert ood.refused(suite, logits, 0.6) == unsure and min(unsure.values()) >= 0.5
    text = ood.table_text({"clean": 0.99, "shadow": 0.8}, refused={"clean": 0.5, "shadow": 0})
    head, clean, *_ = text.splitlines()
    assert "refused" in head and clean.split()[2] == "50.0%"


def test_the_ablation_table_has_a_column_per_preprocessing() -> None:
    columns = {
        "default": {"clean": 0.99, "shadow": 0.8},
        "without-mask": {"clean": 0.5, "shadow": 0.25},
    }
    lines = ood.columns_text(columns).splitlines()
    assert lines[0].split() == ["condition", "default", "without-mask"]
    assert lines[1].split() == ["clean", "99.0%", "50.0%"]
    assert lines[-1].split() == ["mean", "89.50%", "37.50%"]


def _npz_declaring(path, shape) -> None:
    """An .npz whose arrays member declares ``shape`` of uint8 but holds 8 bytes."""
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "|u1", "fortran_order": False, "shape": shape}
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("arrays.npy", header.getvalue() + bytes(8))


@pytest.mark.parametrize("shape", [(10**13,), (10**6, 10**6), (9,)], ids=["10tb", "1tb", "9"])
def test_a_cache_declaring_more_than_it_holds_is_prepared_again_not_allocated(
    tmp_path, shape
) -> None:
    path = tmp_path / "suite.npz"
    _npz_declaring(path, shape)
    assert ood._read_cache(path, ("clean",)) is None
    with pytest.raises(ValueError, match="declares"):
        ood.declared_sizes(path)
