"""``mnist-model predict``: the digit in image files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_model.cli.common import EXIT_ERROR, checkpoint_flag, json_flag, load_model


def predict_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "images",
        nargs="+",
        type=Path,
        metavar="IMAGE",
        help="image files to read; a folder stands for its image files (by name), '-' for "
        "paths read from standard input, one a line",
    )
    checkpoint_flag(parser)
    json_flag(parser, "a list, one object per image, instead of one line per image")
    parser.add_argument(
        "--preprocess",
        choices=("default", "plain"),
        default="default",
        help="how a picture becomes a 28x28 digit: default (polarity, lighting, ink mask, "
        "ruling removed) or plain (invert light paper, crop, fit, centre) (default: default)",
    )


def predict(args: argparse.Namespace) -> int:
    """Every readable image is reported; unreadable ones get a one-line error each."""
    from mnist_model.predict import predict_files

    images = expand(args.images)
    rows = predict_files(load_model(args).model, images, preprocessing=args.preprocess)
    for row in rows:
        if "error" in row:
            print(f"mnist-model: error: {row['error']}", file=sys.stderr)
        elif not args.json:
            top3 = ", ".join(f"{t['digit']}: {100 * t['probability']:.1f}%" for t in row["top3"])
            print(
                f"{row['image']}: {row['digit']} ({100 * row['probability']:.1f}%)  top 3: {top3}"
            )
    if args.json:
        print(json.dumps(rows, indent=2))
    return EXIT_ERROR if any("error" in row for row in rows) else 0


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def expand(given: list[Path]) -> list[Path]:
    """Files as given, a folder's image files in name order (a folder without any stays,
    and ``predict`` reports it), and for ``-`` the paths on standard input."""
    from mnist_model.errors import MnistModelError

    files: list[Path] = []
    for path in given:
        if str(path) == "-":
            files += [Path(line.strip()) for line in sys.stdin if line.strip()]
        elif path.is_dir():  # an empty one stays, to be reported as one
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            files += found or [path]
        else:
            files.append(path)
    if not files:
        raise MnistModelError("predict: no image paths given")
    return files


COMMANDS = {"predict": ("predict the digit in image files (PNG/JPEG/BMP)", predict_flags, predict)}
