"""Report files from a real (short) run, and `mnist-model predict` on real image files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers.cli import run_cli
from mnist_model.config import Machine
from mnist_model.data.checksums import sha256_file
from mnist_model.predict import load_model, predict
from mnist_model.run.outputs import FILES, REPORT_KEYS, write_final_artifacts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def checkpoint(small_training, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    machine = Machine(threads=1)
    run = small_training.run
    paths = write_final_artifacts(
        out, small_training.config, machine, run, {"test": "md5"}, {"device": "cpu"}
    )
    return paths["checkpoint"]


def test_report_command_writes_five_sane_files(checkpoint, mnist_root, tmp_path):
    out = tmp_path / "report"
    proc = run_cli(
        "report", "--checkpoint", str(checkpoint), "--out", str(out), "--data-dir", str(mnist_root)
    )
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES[key] for key in REPORT_KEYS)
    for name in (FILES[key] for key in REPORT_KEYS):
        if name.endswith(".png"):
            with Image.open(out / name) as image:
                image.verify()
                assert image.format == "PNG"
                assert 300 <= image.width <= 2000 and 200 <= image.height <= 2000, name
    text = (out / "report.md").read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert {"curves.png", "misclassified.png", "per_class.png", "confusion_matrix.png"} <= set(
        links
    )
    assert all((out / link).is_file() for link in links)
    total = sum(p.numel() for p in load_model(checkpoint).parameters())
    assert f"Trainable parameters: **{total:,}**" in text
    verdicts = re.findall(r"^\| \d \| .*\| (pass|\*\*FAIL\*\*) \|", text, flags=re.M)
    assert len(verdicts) == 10
    # a model below the bar (one short epoch): the card opens with FAIL and what failed
    lines = text.splitlines()
    assert lines[0] == "# mnist-model: model card"
    assert re.fullmatch(r"\*\*verdict: FAIL \(\d+ of \d+ checks failed\)\*\*", lines[2]), lines[2]
    failing = lines[lines.index("Failing checks:") + 2 :]
    failing = failing[: failing.index("")]
    assert any(line.startswith("- overall: ") and "needs >= 99.40 %" in line for line in failing)
    assert f"SHA-256 `{sha256_file(checkpoint)}`" in text
    assert "- trained: " in text and "## Intended use" in text and "## Limitations" in text


def _save_test_digit(image: torch.Tensor, path: Path, *, invert: bool, size: int) -> Path:
    array = image.numpy()
    array = 255 - array if invert else array
    Image.fromarray(array).resize((size, size), Image.Resampling.BICUBIC).convert("RGB").save(path)
    return path


def test_predict_cli_returns_each_class_from_rendered_test_digits(
    checkpoint, small_training, tmp_path
):
    model = load_model(checkpoint)
    images, labels = small_training.test_x, small_training.test_y
    in_memory = predict(model, list(images[:300].numpy()))
    paths, expected = [], []
    for digit in range(10):
        # a test digit of this class that the in-memory path gets right and is sure of (a
        # short training's model: resizing may tip a borderline digit either way)
        index = next(
            i
            for i in range(300)
            if labels[i] == digit
            and in_memory[i].digit == digit
            and in_memory[i].probability >= 0.9
        )
        paths.append(
            _save_test_digit(
                images[index],
                tmp_path / f"{digit}.png",
                invert=digit % 2 == 0,
                size=28 * (1 + digit % 4),
            )
        )
        expected.append(digit)
    proc = run_cli(
        "predict",
        *map(str, paths),
        "--checkpoint",
        str(checkpoint),
        "--json",
        "--min-confidence",
        "0",  # a short training's model: its confidence is not judged here
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [row["digit"] for row in rows] == expected
    assert all(row["refused"] is None for row in rows)
    for row in rows:
        probabilities = [t["probability"] for t in row["top3"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert row["probability"] == probabilities[0] and 0 < sum(probabilities) <= 1 + 1e-6


def test_predict_reports_good_images_and_fails_on_bad_ones(checkpoint, small_training, tmp_path):
    good = _save_test_digit(small_training.test_x[0], tmp_path / "good.png", invert=True, size=56)
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\x00\x01 not an image")
    blank = tmp_path / "blank.bmp"
    Image.new("L", (40, 40), 255).save(blank)
    proc = run_cli(
        "predict",
        str(good),
        str(garbage),
        str(blank),
        str(tmp_path / "nope.png"),
        "--checkpoint",
        str(checkpoint),
        "--min-confidence",
        "0",
    )
    assert proc.returncode == 2  # unreadable files outrank "no single digit" (3)
    assert "Traceback" not in proc.stderr
    good_line, blank_line = proc.stdout.splitlines()
    assert good_line.startswith(str(good))
    assert (
        blank_line
        == f"{blank}: no single digit (blank image: no digit stands out from the background)"
    )
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 2 and all(e.startswith("mnist-model: error: ") for e in errors)
    for path in (garbage, tmp_path / "nope.png"):
        assert any(str(path) in e for e in errors)


def _pair(small_training, path: Path) -> Path:
    """Two test digits side by side, dark on white: a number, not one digit."""
    import numpy as np

    a, b = (255 - small_training.test_x[i].numpy() for i in (0, 1))
    Image.fromarray(np.hstack([a, b])).resize((112, 56)).save(path)
    return path


def test_predict_says_no_single_digit_with_its_own_exit_status(
    checkpoint, small_training, tmp_path
) -> None:
    good = _save_test_digit(small_training.test_x[0], tmp_path / "good.png", invert=True, size=56)
    pair = _pair(small_training, tmp_path / "pair.png")
    args = ("predict", str(good), str(pair), "--checkpoint", str(checkpoint))
    proc = run_cli(*args, "--min-confidence", "0")
    assert proc.returncode == 3 and proc.stderr == ""
    assert proc.stdout.splitlines()[1] == (
        f"{pair}: no single digit (2 marks of comparable size, not one digit)"
    )
    rows = json.loads(run_cli(*args, "--min-confidence", "0", "--json").stdout)
    assert rows[0]["refused"] is None and "digit" in rows[0]
    assert rows[1] == {"image": str(pair), "refused": rows[1]["refused"]}
    # below the confidence asked for: refused, the model's guess kept beside the reason
    unsure = json.loads(run_cli(*args, "--min-confidence", "1", "--json").stdout)[0]
    assert unsure["refused"].startswith(f"unsure: {unsure['digit']} at ")
    assert run_cli(*args, "--min-confidence", "1").returncode == 3


def test_predict_shows_a_phone_photo_upright(checkpoint, small_training, tmp_path) -> None:
    upright = _save_test_digit(small_training.test_x[2], tmp_path / "up.png", invert=True, size=84)
    sideways = tmp_path / "sideways.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "turn 90 degrees clockwise to show": the pixels are stored turned back
    with Image.open(upright) as image:
        image.transpose(Image.Transpose.ROTATE_90).save(sideways, quality=95, exif=exif.tobytes())
    out = tmp_path / "seen"
    proc = run_cli(
        "predict",
        str(upright),
        str(sideways),
        "--checkpoint",
        str(checkpoint),
        "--json",
        "--min-confidence",
        "0",
        "--save-preprocessed",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert rows[0]["digit"] == rows[1]["digit"]
    import numpy as np

    seen = [np.asarray(Image.open(row["preprocessed"]), dtype=float) for row in rows]
    assert seen[0].shape == (28, 28) and np.abs(seen[0] - seen[1]).mean() < 3  # JPEG's loss
    assert sorted(p.name for p in out.iterdir()) == ["sideways.png", "up.png"]


def test_save_preprocessed_refuses_a_file_where_the_folder_goes(
    checkpoint, small_training, tmp_path
) -> None:
    good = _save_test_digit(small_training.test_x[0], tmp_path / "good.png", invert=True, size=56)
    taken = tmp_path / "taken"
    taken.write_text("mine")
    proc = run_cli(
        "predict", str(good), "--checkpoint", str(checkpoint), "--save-preprocessed", str(taken)
    )
    assert proc.returncode == 2 and proc.stdout == "" and taken.read_text() == "mine"
    assert proc.stderr.startswith("mnist-model: error: ") and len(proc.stderr.splitlines()) == 1


def test_predict_refuses_a_checkpoint_that_is_not_one(tmp_path, small_training):
    image = _save_test_digit(small_training.test_x[0], tmp_path / "d.png", invert=False, size=28)
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"PK\x03\x04 truncated")
    proc = run_cli("predict", str(image), "--checkpoint", str(bogus))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("mnist-model: error:") and str(bogus) in proc.stderr


def test_predict_with_the_plain_preprocessing(checkpoint, small_training, tmp_path) -> None:
    from mnist_model.predict.preprocess import plain_mnist_array

    image = small_training.test_x[0]
    path = _save_test_digit(image, tmp_path / "digit.png", invert=True, size=56)
    proc = run_cli(
        "predict", str(path), "--checkpoint", str(checkpoint), "--preprocess", "plain", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)
    model = load_model(checkpoint)
    from PIL import Image

    expected = predict(model, [plain_mnist_array(Image.open(path))])[0]
    assert row["digit"] == expected.digit
    assert row["probability"] == pytest.approx(expected.probability, rel=1e-5)


def test_ood_ablate_scores_each_step_switched_off(checkpoint, mnist_root, tmp_path) -> None:
    from mnist_model.gate.ood import NAMES
    from mnist_model.predict.preprocess import STEPS

    data = tmp_path / "data"  # the suite's preparations are cached beside the data
    data.mkdir()
    (data / "MNIST").symlink_to(Path(mnist_root) / "MNIST")
    argv = ("ood", "--checkpoint", str(checkpoint), "--checkpoint", str(checkpoint))
    argv += ("--per-class", "1", "--data-dir", str(data), "--ablate")
    proc = run_cli(*argv, "--json")
    assert proc.returncode == 0, proc.stderr
    scores = json.loads(proc.stdout)
    columns = ["plain", *(f"without-{step}" for step in STEPS)]
    assert set(scores) == set(NAMES) | set(columns) | {"refused"}
    assert all(set(scores[c]) == set(NAMES) for c in [*columns, "refused"])
    assert all(0 <= v <= 1 for v in scores["refused"].values())
    assert all(0 <= v <= 1 for c in columns for v in scores[c].values())
