"""Measure `mnist-model predict` on real files: (1) the MNIST test set saved as PNGs and
read back through the CLI, against the in-memory accuracy; (2) digits rendered in
matplotlib's bundled fonts, dark-on-light and light-on-dark, at several sizes.

    python scripts/predict_accuracy.py --checkpoint artifacts/model.pt [--limit 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont

from mnist_model.checkpoint import load_checkpoint
from mnist_model.data import load_split, resolve_data_root
from mnist_model.evaluate import evaluate

FONTS = [
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
]


def cli_predictions(paths: list[Path], checkpoint: str) -> list[int]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mnist_model",
            "predict",
            *map(str, paths),
            "--checkpoint",
            checkpoint,
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return [row["digit"] for row in json.loads(proc.stdout)]


def render(digit: int, font: str, size: int, dark_on_light: bool) -> Image.Image:
    font_dir = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    face = ImageFont.truetype(str(font_dir / font), size)
    paper, ink = (255, 0) if dark_on_light else (0, 255)
    image = Image.new("L", (size * 2, size * 2), paper)
    ImageDraw.Draw(image).text((size // 2, size // 4), str(digit), fill=ink, font=face)
    return image


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--limit", type=int, default=10000)
    args = parser.parse_args()
    test_x, test_y = load_split(resolve_data_root(None), train=False)
    test_x, test_y = test_x[: args.limit], test_y[: args.limit]
    model, _ = load_checkpoint(args.checkpoint)
    memory = evaluate(model, test_x, test_y).accuracy
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, image in enumerate(test_x.numpy()):
            paths.append(Path(tmp) / f"{i:05d}.png")
            Image.fromarray(image).save(paths[-1])
        predicted = cli_predictions(paths, args.checkpoint)
        files = sum(int(p == int(y)) for p, y in zip(predicted, test_y, strict=True)) / len(paths)
        print(
            f"MNIST test PNGs through the CLI: {100 * files:.2f}% vs in memory "
            f"{100 * memory:.2f}% ({len(paths)} images)"
        )
        rendered, labels = [], []
        for font in FONTS:
            for size in (24, 64, 160):
                for dark in (True, False):
                    for digit in range(10):
                        rendered.append(Path(tmp) / f"r_{font}_{size}_{dark}_{digit}.png")
                        render(digit, font, size, dark).convert("RGB").save(rendered[-1])
                        labels.append(digit)
        predicted = cli_predictions(rendered, args.checkpoint)
        right = sum(int(p == y) for p, y in zip(predicted, labels, strict=True))
        print(
            f"rendered digits ({len(FONTS)} fonts x 3 sizes x 2 polarities x 10): "
            f"{right}/{len(labels)} = {100 * right / len(labels):.1f}%"
        )
        by_font = {}
        for path, p, y in zip(rendered, predicted, labels, strict=True):
            font = path.name.split("_")[1]
            by_font.setdefault(font, [0, 0])
            by_font[font][0] += int(p == y)
            by_font[font][1] += 1
        for font, (ok, n) in by_font.items():
            print(f"  {font:<24} {ok}/{n}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
