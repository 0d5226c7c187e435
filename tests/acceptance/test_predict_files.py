"""``mnist-model predict`` on files: the 10,000 test digits written as PNG and read back
through the same code path as the command (``predict_files``: Pillow decoding, then
predict's MNIST-style preprocessing) must score within 0.1 point of the in-memory
accuracy, with predict's preprocessing and with the plain one. Preprocessing that mangled
a clean MNIST digit would show here first."""

from __future__ import annotations

import pytest
from PIL import Image

from mnist_model.predict import predict_files

pytestmark = pytest.mark.acceptance


@pytest.fixture(scope="module")
def png_files(test_set, tmp_path_factory) -> list:
    folder = tmp_path_factory.mktemp("png")
    paths = []
    for i, image in enumerate(test_set[0].numpy()):
        paths.append(folder / f"{i:05d}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


@pytest.mark.parametrize("preprocessing", ["default", "plain"])
def test_test_set_as_png_files_scores_like_in_memory(
    accepted_model, test_set, test_result, thresholds, png_files, note, preprocessing
) -> None:
    model, _ = accepted_model
    images, labels = test_set
    paths = png_files
    rows = predict_files(model, paths, preprocessing=preprocessing)
    assert [row["image"] for row in rows] == [str(p) for p in paths]
    errors = [row for row in rows if "error" in row]
    assert not errors, errors[:3]
    correct = sum(row["digit"] == int(y) for row, y in zip(rows, labels, strict=True))
    files, memory = 100 * correct / len(rows), 100 * test_result.accuracy
    note(
        f"test set as PNG files through predict ({preprocessing}): {files:.2f} % "
        f"(in memory {memory:.2f} %)"
    )
    lost = thresholds["png_points_lost"]
    assert files >= memory - lost, f"{files:.2f} % from files vs {memory:.2f} %"
