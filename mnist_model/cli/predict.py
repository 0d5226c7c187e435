"""``mnist-model predict``: the digit in image files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_model.cli.common import (
    EXIT_ERROR,
    checkpoint_flag,
    json_flag,
    load_model,
    thresholds_flag,
    writable,
)

EXIT_NO_DIGIT = 3
"""``predict``: every file was read, and at least one holds no single digit."""


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
        help="how a picture becomes a 28x28 digit: default (the paper and the one digit on "
        "it found in the scene, polarity, lighting, ink mask, ruling removed) or plain "
        "(invert light paper, crop, fit, centre) (default: default)",
    )
    parser.add_argument(
        "--save-preprocessed",
        type=Path,
        metavar="DIR",
        help="write the 28x28 picture each image became, as DIR/NAME.png (with --json, "
        "each row names its file under 'preprocessed')",
    )
    parser.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="answer only where the model's top probability is at least P, else say 'no "
        "single digit' (default: refusal.min_confidence of the thresholds, derived from "
        "evidence; 0: always answer)",
    )
    thresholds_flag(parser)


def predict(args: argparse.Namespace) -> int:
    """Every readable image is reported, as a digit or as "no single digit" (exit 3);
    unreadable ones get a one-line error each (exit 2)."""
    from mnist_model.predict import predict_files, save

    images = expand(args.images)
    if args.save_preprocessed is not None:
        writable(args.save_preprocessed / ".mnist-model-check")
    rows = predict_files(
        load_model(args).model,
        images,
        preprocessing=args.preprocess,
        min_confidence=min_confidence(args),
        keep_arrays=args.save_preprocessed is not None,
    )
    if args.save_preprocessed is not None:
        save(rows, args.save_preprocessed)
    for row in rows:
        row.pop("_array", None)
        if "error" in row:
            print(f"mnist-model: error: {row['error']}", file=sys.stderr)
        elif not args.json:
            print(line(row))
    if args.json:
        print(json.dumps(rows, indent=2))
    if any("error" in row for row in rows):
        return EXIT_ERROR
    return EXIT_NO_DIGIT if any(row.get("refused") for row in rows) else 0


def min_confidence(args: argparse.Namespace) -> float | None:
    """``--min-confidence``, else the thresholds' derived one (None: no refusal derived)."""
    from mnist_model.errors import MnistModelError
    from mnist_model.gate import thresholds

    if args.min_confidence is not None:
        if not 0 <= args.min_confidence <= 1:
            raise MnistModelError(f"--min-confidence must be in 0..1, got {args.min_confidence}")
        if args.thresholds is not None:
            raise MnistModelError("give --min-confidence or --thresholds, not both")
        return args.min_confidence or None
    return (thresholds.load(args.thresholds).get("refusal") or {}).get("min_confidence")


def line(row: dict) -> str:
    """One image's line: its digit and the top three, or why it holds no single digit."""
    saved = f"  (saved as {row['preprocessed']})" if "preprocessed" in row else ""
    if row.get("refused"):
        return f"{row['image']}: no single digit ({row['refused']}){saved}"
    top3 = ", ".join(f"{t['digit']}: {100 * t['probability']:.1f}%" for t in row["top3"])
    return f"{row['image']}: {row['digit']} ({100 * row['probability']:.1f}%)  top 3: {top3}{saved}"


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
