"""An out-of-distribution digit suite: held-out digits as people photograph and scan them.

``mnist-model predict`` meets images that MNIST never showed: digits written by other
people on other paper, printed digits, low-resolution captures, bad lighting. This module
generates such images locally and reproducibly (a seed; no download) from held-out
material only, the MNIST *test* digits and digits rendered from fonts that ship with
matplotlib, and scores a model on them through ``predict``'s own preprocessing, one
accuracy per named condition (the CheckList idea: a change that should not matter, such
as the paper's colour, must not change the answer).

Every condition starts from the same kind of base picture, dark ink on white paper at
about 4x MNIST's resolution, and changes one thing about it.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PER_CLASS = 50
"""Pictures of each digit per condition in the suite the acceptance gate judges (500 a
condition: one picture is 0.2 points)."""
CANVAS = 112
"""Side of a base picture: the 28x28 field at 4x."""
FONTS = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Italic.ttf",
    "DejaVuSansMono.ttf",
    "STIXGeneral.ttf",
    "cmr10.ttf",
    "cmss10.ttf",
)
"""Typefaces of the printed-digit condition (bundled with matplotlib, so always present)."""

Transform = Callable[[Image.Image, np.random.Generator], Image.Image]


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    transform: Transform
    printed: bool = False
    """Start from a digit rendered in a font instead of an MNIST test digit."""


def _paper(digit: np.ndarray) -> Image.Image:
    """An MNIST digit (uint8 28x28, white on black) as dark ink on white paper, 4x."""
    image = Image.fromarray(255 - digit).resize((CANVAS, CANVAS), Image.Resampling.BICUBIC)
    return image


def _rendered(digit: int, rng: np.random.Generator) -> Image.Image:
    """A digit printed in a random bundled font, dark on white, filling about 60 %."""
    import matplotlib

    font = FONTS[int(rng.integers(len(FONTS)))]
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / font
    face = ImageFont.truetype(str(path), size=int(rng.integers(60, 80)))
    image = Image.new("L", (CANVAS, CANVAS), 255)
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.textbbox((0, 0), str(digit), font=face)
    x = (CANVAS - (right - left)) // 2 - left + int(rng.integers(-6, 7))
    y = (CANVAS - (bottom - top)) // 2 - top + int(rng.integers(-6, 7))
    draw.text((x, y), str(digit), fill=0, font=face)
    return image


# --- the conditions: each takes the base picture (L, dark on white) -----------------------
def _low_resolution(side: int, resample: Image.Resampling) -> Transform:
    def transform(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        small = image.resize((side, side), Image.Resampling.BOX)
        return small.resize((CANVAS, CANVAS), resample)

    return transform


def _stroke(filter_size: int, thicker: bool) -> Transform:
    """Dark ink grows under a min filter and shrinks under a max filter."""

    def transform(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        # Thin a blurred copy so that a thin pen stays connected.
        if thicker:
            return image.filter(ImageFilter.MinFilter(filter_size))
        return image.filter(ImageFilter.MaxFilter(filter_size))

    return transform


def _blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(2.5, 4.0))))


def _noise(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    a = np.asarray(image, dtype=np.float64) * 0.8 + 25  # a camera's grey paper and ink
    a = a + rng.normal(0, 30, a.shape)
    return Image.fromarray(np.uint8(np.clip(a, 0, 255)))


def _jpeg(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    small = image.resize((40, 40), Image.Resampling.BILINEAR)  # a small, heavily compressed crop
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=int(rng.integers(5, 12)))
    buffer.seek(0)
    return Image.open(buffer).convert("L").resize((CANVAS, CANVAS), Image.Resampling.BILINEAR)


def _gradient(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Light falling off across the page: paper from white to dark grey."""
    a = np.asarray(image, dtype=np.float64)
    angle = rng.uniform(0, 2 * math.pi)
    ys, xs = np.mgrid[0:CANVAS, 0:CANVAS] / (CANVAS - 1) - 0.5
    ramp = (np.cos(angle) * xs + np.sin(angle) * ys) / math.sqrt(0.5)  # -1..1
    light = 0.65 + 0.35 * ramp  # 0.30 .. 1.0
    return Image.fromarray(np.uint8(np.clip(a * light, 0, 255)))


def _shadow(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A hard shadow (a hand, a phone) across part of the page."""
    a = np.asarray(image, dtype=np.float64)
    ys, xs = np.mgrid[0:CANVAS, 0:CANVAS]
    angle = rng.uniform(0, 2 * math.pi)
    offset = rng.uniform(-0.2, 0.2) * CANVAS
    side = np.cos(angle) * (xs - CANVAS / 2) + np.sin(angle) * (ys - CANVAS / 2) > offset
    a = np.where(side, a * 0.45, a)
    return Image.fromarray(np.uint8(np.clip(a, 0, 255)))


def _grey_paper(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Low contrast: grey ink on grey paper."""
    a = np.asarray(image, dtype=np.float64) / 255
    paper, ink = rng.uniform(150, 190), rng.uniform(60, 100)
    return Image.fromarray(np.uint8(ink + a * (paper - ink)))


def _coloured(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Blue or red ink on yellow, green or pink paper (an RGB image)."""
    a = (np.asarray(image, dtype=np.float64) / 255)[..., None]
    papers = np.array([[250, 240, 170], [200, 235, 200], [250, 205, 215]], dtype=np.float64)
    inks = np.array([[30, 40, 150], [170, 20, 30], [20, 90, 40]], dtype=np.float64)
    paper, ink = papers[rng.integers(len(papers))], inks[rng.integers(len(inks))]
    return Image.fromarray(np.uint8(ink + a * (paper - ink)), mode="RGB")


def _ruled(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Ruled paper: thin grey-blue lines across the page behind the digit."""
    a = np.asarray(image, dtype=np.float64).copy()
    spacing = int(rng.integers(22, 30))
    for y in range(int(rng.integers(0, spacing)), CANVAS, spacing):
        a[y : y + 2] = np.minimum(a[y : y + 2], 170)
    return Image.fromarray(np.uint8(a))


def _squared(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Squared (graph) paper: a light grid behind the digit."""
    a = np.asarray(image, dtype=np.float64).copy()
    spacing = int(rng.integers(14, 20))
    start = int(rng.integers(0, spacing))
    a[start::spacing] = np.minimum(a[start::spacing], 185)
    a[:, start::spacing] = np.minimum(a[:, start::spacing], 185)
    return Image.fromarray(np.uint8(a))


def _placed(size: int, scale: float, where: str) -> Transform:
    """The digit scaled by ``scale`` on a ``size`` canvas, centred or in a random corner."""

    def transform(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        side = max(8, round(CANVAS * scale))
        digit = image.resize((side, side), Image.Resampling.BILINEAR)
        canvas = Image.new("L", (size, size), 255)
        if where == "centre":
            x = y = (size - side) // 2
        else:
            x = int(
                rng.choice(
                    [rng.integers(0, size // 6), rng.integers(size - side - size // 6, size - side)]
                )
            )
            y = int(
                rng.choice(
                    [rng.integers(0, size // 6), rng.integers(size - side - size // 6, size - side)]
                )
            )
        canvas.paste(digit, (x, y))
        return canvas

    return transform


def _touching_border(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Cropped so tightly that the ink touches the picture's edge."""
    a = np.asarray(image)
    rows = np.nonzero((a < 128).any(1))[0]
    cols = np.nonzero((a < 128).any(0))[0]
    return Image.fromarray(a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])


def _aspect(wide: bool) -> Transform:
    def transform(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        factor = rng.uniform(1.4, 1.8)
        size = (round(CANVAS * factor), CANVAS) if wide else (CANVAS, round(CANVAS * factor))
        return image.resize(size, Image.Resampling.BILINEAR)

    return transform


def _inverted(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Light ink on dark paper (chalk on a board, a screen in dark mode)."""
    return Image.fromarray(255 - np.asarray(image))


def _unchanged(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image


CONDITIONS: tuple[Condition, ...] = (
    Condition("clean", "MNIST test digits as dark ink on white paper, 112x112", _unchanged),
    *(
        Condition(
            f"lowres_{side}_{name}",
            f"reduced to {side}x{side} and enlarged again ({name})",
            _low_resolution(side, resample),
        )
        for side in (8, 12, 16)
        for name, resample in (
            ("nearest", Image.Resampling.NEAREST),
            ("bilinear", Image.Resampling.BILINEAR),
        )
    ),
    Condition("thin_pen", "strokes thinned (a fine pen)", _stroke(5, thicker=False)),
    Condition("thick_marker", "strokes thickened (a marker)", _stroke(9, thicker=True)),
    Condition("blur", "out of focus (Gaussian blur)", _blur),
    Condition("sensor_noise", "grey paper with camera noise", _noise),
    Condition("jpeg", "a small crop saved as a low-quality JPEG", _jpeg),
    Condition("lighting_gradient", "light falling off across the page", _gradient),
    Condition("shadow", "a hard shadow over part of the page", _shadow),
    Condition("grey_paper", "grey ink on grey paper (low contrast)", _grey_paper),
    Condition("coloured", "coloured ink on coloured paper (RGB)", _coloured),
    Condition("ruled_paper", "ruled lines behind the digit", _ruled),
    Condition("squared_paper", "a grid behind the digit", _squared),
    Condition(
        "small_on_large", "a small digit in the middle of a large page", _placed(448, 0.4, "centre")
    ),
    Condition("off_centre", "a digit near a corner of a large page", _placed(336, 0.7, "corner")),
    Condition("touching_border", "cropped so the ink touches the edge", _touching_border),
    Condition("wide", "stretched 1.4-1.8x wider", _aspect(wide=True)),
    Condition("tall", "stretched 1.4-1.8x taller", _aspect(wide=False)),
    Condition("light_on_dark", "light ink on dark paper", _inverted),
    Condition("printed", "digits printed in nine typefaces", _unchanged, printed=True),
)
"""Every condition of the suite, by name, in report order."""


def generate(
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    per_class: int = 20,
    seed: int = 0,
    conditions: tuple[Condition, ...] = CONDITIONS,
) -> dict[str, tuple[list[Image.Image], list[int]]]:
    """``{condition: (images, labels)}``: ``per_class`` pictures of each digit per
    condition. The handwritten ones come from a seeded draw of MNIST *test* digits (the
    same digits for every condition, so conditions are compared on equal material)."""
    test_labels = test_labels.cpu()
    rng = np.random.default_rng(seed)
    chosen = []
    for digit in range(10):
        candidates = torch.nonzero(test_labels == digit).flatten().numpy()
        chosen.extend(int(i) for i in rng.choice(candidates, per_class, replace=False))
    suite = {}
    positions = {c.name: i for i, c in enumerate(CONDITIONS)}
    for condition in conditions:
        # A condition's draws are its own, and the same whichever conditions are generated.
        key = positions.get(condition.name, zlib.crc32(condition.name.encode()))
        local = np.random.default_rng([seed, key])
        images, labels = [], []
        for i in chosen:
            label = int(test_labels[i])
            if condition.printed:
                base = _rendered(label, local)
            else:
                base = _paper(test_images[i].cpu().numpy())
            images.append(condition.transform(base, local))
            labels.append(label)
        suite[condition.name] = (images, labels)
    return suite


def score(model: torch.nn.Module, suite: dict) -> dict[str, float]:
    """Accuracy per condition through ``predict``'s preprocessing; an image predict refuses
    (e.g. one it finds blank) counts as wrong."""
    from mnist_model.inference import inference_form
    from mnist_model.predict import ImageError, predict_arrays, to_mnist_array

    net = inference_form(model.eval())
    accuracies = {}
    for name, (images, labels) in suite.items():
        arrays, kept = [], []
        for image, label in zip(images, labels, strict=True):
            try:
                arrays.append(to_mnist_array(image))
            except ImageError:
                continue
            kept.append(label)
        predictions = predict_arrays(net, arrays) if arrays else []
        correct = sum(p.digit == y for p, y in zip(predictions, kept, strict=True))
        accuracies[name] = correct / len(labels)
    return accuracies


def run_suite(
    model: torch.nn.Module,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    per_class: int = PER_CLASS,
    seed: int = 0,
) -> dict[str, float]:
    """Generate the suite and score ``model`` on it: ``{condition: accuracy}``."""
    return score(model, generate(test_images, test_labels, per_class=per_class, seed=seed))


def table_text(accuracies: dict[str, float], floors: dict[str, float] | None = None) -> str:
    """One line per condition: accuracy, its floor and verdict (with ``floors``), and what
    the condition is; then the mean."""
    described = {c.name: c.description for c in CONDITIONS}
    lines = [f"{'condition':<20}{'accuracy':>9}{'floor':>8}  verdict  description"]
    for name, accuracy in accuracies.items():
        floor = (floors or {}).get(name)
        bar = "" if floor is None else f"{100 * floor:7.1f}%"
        verdict = "" if floor is None else ("pass" if accuracy >= floor else "FAIL")
        lines.append(
            f"{name:<20}{100 * accuracy:8.1f}%{bar:>8}  {verdict:<7}  {described.get(name, '')}"
        )
    mean = sum(accuracies.values()) / max(1, len(accuracies))
    lines.append(f"{'mean':<20}{100 * mean:8.2f}%")
    return "\n".join(lines)
