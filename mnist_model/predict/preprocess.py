"""Any picture of one digit -> the 28x28 form MNIST digits have.

MNIST digits are white on black, size-normalised to fit a 20x20 box (aspect ratio kept)
and placed in a 28x28 field so that their centre of mass is at the centre. A photo, scan
or drawing is brought to that form in six steps:

0. **Scene.** A phone's EXIF orientation is applied; the paper is cut out of its
   surroundings (a desk, a monitor, a screenshot's bars) and, once the ink is found, only
   the one digit-like mark is kept, or the picture holds no single digit
   (``NotOneDigit``: several marks, none like a digit, a blank or textured page;
   ``mnist_model.predict.scene``).
1. **Polarity.** Paper covers most of a picture's border and of the picture, so their
   median grey is the paper's; where a shadow or a gradient makes that ambiguous, the
   polarity whose ink map finds far less ink wins, else a vote of tiles in which the
   lighting is about even (``_ink_of_paper``).
2. **Lighting.** The paper's brightness is estimated at every pixel (a grey closing,
   which removes dark strokes narrower than half the picture and keeps the edges of
   wider dark regions, such as shadows) and each pixel's ink is its darkening *relative*
   to the paper there: a shadow or a gradient darkens paper and ink alike.
3. **Ink mask.** Otsu's threshold, without isolated specks (a 3x3 median first removes
   camera noise on large pictures), marks the digit; faint ink connected to it above the
   paper's noise is the digit's too. The lines of ruled or squared paper (at least three
   thin bands crossing the whole picture) are not.
4. **Contrast.** The strokes' ink is stretched to full white; all else is black.
5. **Size and centre.** The ink's bounding box is resized to fit 20x20 with its aspect
   ratio, then placed by centre of mass, as MNIST was made.

Each step can be switched off (``STEPS``) and earns its place on ``mnist_model.gate.ood``'s
suite: switching it off costs accuracy on the conditions it exists for (``PURPOSES``; the
ablation table is in docs/recipe.md, ``mnist-model ood --ablate`` makes it), and none
lowers MNIST's own test digits. ``plain_mnist_array`` is the plain MNIST-style baseline
they are all measured against. A picture already in MNIST's form (``in_mnist_form``:
every MNIST digit is) is left as it is.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from PIL import Image, ImageFilter, ImageOps
from scipy import ndimage

from mnist_model.errors import ImageError, NotOneDigit
from mnist_model.predict.scene import MIN_STROKE, digit_like, on_paper, single_mark

MIN_CONTRAST = 32
"""A digit must differ from its background by at least this many grey levels (of 255)."""
WORK_SIDE = 256
"""Larger pictures are first shrunk (area average) to this many pixels on the longer side:
the digit ends up 20 pixels tall, and the filters' cost grows with the area."""


CLEARLY_MORE = 2.0
"""Of two polarities, one whose ink map holds this many times the other's ink is wrong."""
FAINT = 0.02
"""Ink above this (and above the paper's noise) belongs to the digit if it touches its mask."""
MIN_WINDOW = 15
"""The closing's window is at least this wide: wider than any stroke of a 28x28 digit."""
SMOOTH_SIDE = 6
"""Pictures at least this many pixels on the shorter side are box-blurred (radius 1) before
the contrast check, so that pixel noise alone is not a digit; a narrower one is not: the
blur would average a one-pixel stroke of a 3-pixel picture into its paper."""
DENOISE_SIDE = 56
"""Pictures at least this many pixels on the shorter side (twice MNIST's) are denoised:
their strokes are several pixels wide, so a 3x3 median removes pixel noise only."""


STEPS = ("scene", "polarity", "lighting", "denoise", "mask", "ruling", "contrast", "lanczos")
"""The default pipeline's steps that ``to_mnist_array(without=...)`` can switch off, for the
ablation (``mnist-model ood --ablate``). Off, each falls back to what the plain baseline
does: the whole frame is the paper and every mark on it the digit (``predict.scene``);
the border's median alone decides the polarity; ink is darkening relative to the
lightest grey of the whole picture, not the local paper; no 3x3 median; every pixel above
``PLAIN_INK`` is the digit's (no Otsu mask, no faint ink grown from it); no ruling
removal; ink stretched to its maximum, not to its strokes' 99th percentile; the fit
resizes bilinearly instead of with Lanczos."""


PURPOSES = (
    "lowres_8_bilinear",
    "thin_pen",
    "sensor_noise",
    "lighting_gradient",
    "shadow",
    "lined_paper",
    "page_on_desk",
    "sticky_note",
    "screenshot",
    "clutter",
    "not_a_digit",
)
"""The suite's conditions (``mnist_model.gate.ood``) the default's extra steps exist for: on
each, every evidence model of suite version 4 reads more through the default than through
the plain preprocessing (at least 0.8 point, on thin pens; docs/recipe.md), and the
acceptance gate asks every model to
(tests/acceptance/test_never_worse_than_plain.py). Which step earns what is the ablation's
table (``mnist-model ood --ablate``)."""


def to_mnist_array(image, *, without: frozenset[str] = frozenset()) -> np.ndarray:
    """Any PIL image, 2-D array or tensor -> uint8 (28, 28), white digit on black, centred.
    A picture already in that form (``in_mnist_form``) is returned as it is. ``without``
    names steps (``STEPS``) to switch off."""
    if not without <= set(STEPS):
        raise ValueError(f"unknown preprocessing steps {sorted(without - set(STEPS))}")
    grey = grey_array(image)
    if grey.size == 0 or min(grey.shape) < 1:
        raise ImageError("empty image")
    if in_mnist_form(grey):
        return np.uint8(np.clip(np.rint(grey), 0, 255))
    grey = _at_most(grey, WORK_SIDE)
    if "scene" not in without:
        grey = on_paper(grey)
    smooth = (
        np.asarray(
            Image.fromarray(np.uint8(np.clip(grey, 0, 255))).filter(ImageFilter.BoxBlur(1)),
            dtype=np.float64,
        )
        if min(grey.shape) >= SMOOTH_SIDE
        else grey
    )
    low, high = smooth.min(), smooth.max()
    if high - low < MIN_CONTRAST:
        raise NotOneDigit("blank image: no digit stands out from the background")
    mapping = _global_ink if "lighting" in without else ink_map
    if "polarity" in without:
        light_paper = np.median(_border(grey)) > (grey.min() + grey.max()) / 2
        ink = mapping(grey if light_paper else 255.0 - grey)
    else:
        ink = _ink_of_paper(grey, low, high, mapping)
    if min(ink.shape) >= DENOISE_SIDE and "denoise" not in without:
        ink = np.asarray(  # a 3x3 median: camera noise goes, strokes stay
            Image.fromarray(np.float32(ink), mode="F").filter(ImageFilter.MedianFilter(3)),
            dtype=np.float64,
        )
    ink = _digit_ink(ink, without)
    if "scene" not in without:
        ink = single_mark(ink)
        digit_like(ink)
    support = ink > 0.2
    rows, cols = np.nonzero(support.any(1))[0], np.nonzero(support.any(0))[0]
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    resample = Image.Resampling.BILINEAR if "lanczos" in without else Image.Resampling.LANCZOS
    return _fit(crop * 255.0, resample)


def _digit_ink(ink: np.ndarray, without: frozenset[str]) -> np.ndarray:
    """The digit's ink alone, its strokes stretched to full white (1.0)."""
    if "mask" in without:
        mask = ink > PLAIN_INK * ink.max()
        near, faint = np.ones_like(mask), ink > FAINT
    else:
        mask = ink_mask(ink)
        # The digit's faint parts (and ruling): above the noise of the paper far from it.
        near = _dilated(mask, max(1, min(ink.shape) // 8))
        noise = float(np.percentile(ink[~near], 99)) if (~near).any() else 0.0
        faint = ink > max(FAINT, noise)
    ruling = np.zeros_like(mask) if "ruling" in without else _ruling(faint)
    mask &= ~ruling
    if "contrast" in without:
        strong = float(ink[mask].max()) if mask.any() else 0.0
    else:
        strong = float(np.percentile(ink[mask], 99)) if mask.any() else 0.0
    if strong * 255 < MIN_CONTRAST:
        raise NotOneDigit("blank image: no digit stands out from the background")
    if strong < MIN_STROKE and "scene" not in without:
        raise NotOneDigit(f"no mark: the darkest strokes darken the paper by {strong:.0%}")
    if "mask" in without:
        return np.clip(np.where(ruling, 0.0, ink) / strong, 0.0, 1.0)
    # Only the digit's ink counts: its mask, and faint ink near it (within an eighth of
    # the picture); paper texture, noise and ruling elsewhere go black. Then the strokes'
    # ink is stretched to full white.
    connected = mask | (faint & ~ruling & near)
    ink = np.where(_dilated(connected, max(1, min(ink.shape) // 28)), ink, 0.0)
    return np.clip(ink / strong, 0.0, 1.0)


def _border(grey: np.ndarray) -> np.ndarray:
    return np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])


def _global_ink(grey: np.ndarray) -> np.ndarray:
    """Dark-on-light grey levels -> ink in [0, 1], relative to the picture's lightest grey
    (one paper brightness for the whole picture: no lighting correction)."""
    low, high = grey.min(), grey.max()
    return np.clip((high - grey) / max(high - low, 1.0), 0.0, 1.0)


def in_mnist_form(grey: np.ndarray) -> bool:
    """Whether a picture is already what MNIST's own normalisation makes: 28x28, a black
    background (most pixels exactly 0), the ink's bounding box 19 or 20 pixels on its
    longer side and its centre of mass within a pixel of the centre. Every MNIST digit,
    train and test, is; preprocessing such a picture again would only blur it (the test
    set as PNG files lost up to 15 images of 10,000 that way), so it is its own form."""
    if grey.shape != (28, 28) or np.median(grey) != 0 or grey.max() < MIN_CONTRAST:
        return False
    rows, cols = np.nonzero((grey > 0).any(1))[0], np.nonzero((grey > 0).any(0))[0]
    side = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    total = grey.sum()
    ys, xs = np.mgrid[0:28, 0:28]
    offset = max(abs((grey * ys).sum() / total - 13.5), abs((grey * xs).sum() / total - 13.5))
    return 19 <= side <= 20 and offset <= 1.0


def _ink_of_paper(grey: np.ndarray, low: float, high: float, mapping=None) -> np.ndarray:
    """The ink map in the right polarity (paper lighter or darker than the ink).

    Paper covers most of a picture's border and of the picture, so the border's median
    grey, else the whole picture's, is the paper's when it sits clearly on one side of the
    middle. Where neither does (a shadow or a gradient over the page), both polarities are
    mapped: the wrong one takes paper for ink, so it finds far more ink than the right one
    (a shadow). If neither finds clearly more, each of 4x4 tiles with contrast votes
    by its own median, where the lighting is about even (a gradient). ``mapping`` turns
    dark-on-light grey into ink (default ``ink_map``)."""
    mapping = mapping or ink_map
    middle = (low + high) / 2
    for median in (float(np.median(_border(grey))), float(np.median(grey))):
        if abs(median - middle) > 0.25 * (high - low):
            return mapping(grey if median > middle else 255.0 - grey)
    light, dark = mapping(grey), mapping(255.0 - grey)
    if max(light.mean(), dark.mean()) > CLEARLY_MORE * min(light.mean(), dark.mean()):
        return light if light.mean() < dark.mean() else dark
    votes = 0.0
    for rows in np.array_split(grey, 4, axis=0):
        for tile in np.array_split(rows, 4, axis=1):
            if tile.size and tile.max() - tile.min() >= MIN_CONTRAST:
                contrast = tile.max() - tile.min()
                votes += contrast * np.sign(np.median(tile) - (tile.max() + tile.min()) / 2)
    return light if votes >= 0 else dark


def _at_most(grey: np.ndarray, side: int) -> np.ndarray:
    """Shrink (area average) so that the longer side is at most ``side`` pixels."""
    height, width = grey.shape
    if max(height, width) <= side:
        return grey
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    image = Image.fromarray(np.float32(grey), mode="F").resize(size, Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float64)


def grey_array(image) -> np.ndarray:
    """A float64 (H, W) array of grey levels 0..255 from a PIL image, array or tensor;
    transparent pixels count as white paper."""
    if isinstance(image, Image.Image):
        image = ImageOps.exif_transpose(image)  # a phone's picture, upright as shown
        if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
            background = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(background, image.convert("RGBA"))
        return np.asarray(image.convert("L"), dtype=np.float64)
    if hasattr(image, "detach"):  # a torch tensor
        image = image.detach().cpu().numpy()
    array = np.squeeze(np.asarray(image))
    if array.ndim == 3 and array.shape[-1] in (3, 4):
        array = array[..., :3].mean(-1)
    if array.ndim != 2:
        raise ImageError(f"expected a 2-D greyscale or HxWx3 image, got shape {array.shape}")
    array = array.astype(np.float64)
    if array.max(initial=0) <= 1.0:  # floats in [0, 1]
        array = array * 255.0
    return array


def ink_map(grey: np.ndarray) -> np.ndarray:
    """Dark-on-light grey levels -> ink in [0, 1] (0: paper), relative to the local paper.

    The paper's brightness is a grey closing (a max then a min filter) of the picture
    padded with paper: it removes dark strokes narrower than the window and keeps the
    edges of wider dark regions (shadows) where they are."""
    height, width = grey.shape
    k = max(MIN_WINDOW, min(height, width) // 2, max(height, width) // 3) | 1
    # Outside the picture, the paper continues as the brightest grey within a window of
    # each border pixel: a stroke that touches the edge does not continue, the lighting does.
    # The closing runs on a copy shrunk so that its window is MIN_WINDOW wide; the estimate
    # is enlarged back and eroded by the shrink factor, so that a shadow's edge, blurred by
    # the enlargement, errs towards the dark side (less paper, never false ink).
    factor = max(1.0, k / MIN_WINDOW)
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = np.asarray(
        Image.fromarray(np.float32(grey), mode="F").resize(size, Image.Resampling.BOX), np.float64
    )
    kk = MIN_WINDOW if factor > 1 else k
    r = kk // 2
    padded = np.pad(_max_filter(small, kk), r, mode="edge")
    padded[r : r + small.shape[0], r : r + small.shape[1]] = small
    paper = _min_filter(_max_filter(padded, kk), kk)[r : r + small.shape[0], r : r + small.shape[1]]
    if factor > 1:
        paper = np.asarray(
            Image.fromarray(np.float32(paper), mode="F").resize(
                (width, height), Image.Resampling.BILINEAR
            ),
            np.float64,
        )
        paper = _min_filter(paper, 2 * round(factor) + 1)
    paper = np.maximum(paper, grey)  # paper is never darker than what was seen on it
    return np.clip(1.0 - grey / np.maximum(paper, 1.0), 0.0, 1.0)


def _dilated(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` grown by ``radius`` pixels (a square window; outside the picture, no ink)."""
    return ndimage.maximum_filter(mask, size=2 * radius + 1, mode="constant", cval=False)


def _max_filter(a: np.ndarray, k: int) -> np.ndarray:
    """Maximum over a k x k window (odd k), edges padded with the edge value."""
    return ndimage.maximum_filter(a, size=k, mode="nearest")


def _min_filter(a: np.ndarray, k: int) -> np.ndarray:
    """Minimum over a k x k window (odd k), edges padded with the edge value."""
    return ndimage.minimum_filter(a, size=k, mode="nearest")


def otsu_threshold(values: np.ndarray) -> float:
    """The threshold in [0, 1] that best splits ``values`` into two classes."""
    histogram, edges = np.histogram(values, bins=64, range=(0.0, 1.0))
    weights = histogram.astype(np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    below = np.cumsum(weights)
    total = below[-1]
    mean_below = np.cumsum(weights * centres)
    between = (mean_below[-1] * below - total * mean_below) ** 2 / np.maximum(
        below * (total - below), 1e-12
    )
    return float(edges[int(np.argmax(between[:-1])) + 1])


def ink_mask(ink: np.ndarray) -> np.ndarray:
    """Where the digit's ink surely is: above Otsu's threshold, without specks."""
    threshold = max(otsu_threshold(ink), 0.1)
    mask = ink > threshold
    # A 3x3 median drops isolated pixels (sensor noise) and keeps strokes.
    mask = np.asarray(
        Image.fromarray(np.uint8(mask) * 255).filter(ImageFilter.MedianFilter(3))
    ).astype(bool) | (mask & (ink > 0.5))
    return mask


def _ruling(mask: np.ndarray) -> np.ndarray:
    """The lines of ruled or squared paper: in either direction, at least three thin bands
    in which ``mask`` crosses nearly the whole picture. Fewer or thicker ones are left
    alone: they may be strokes of a tightly cropped digit (the bars of a 2 or a 5)."""
    ruling = np.zeros_like(mask)
    for axis in (1, 0):  # rows crossed by horizontal lines, then columns by vertical ones
        full = mask.mean(axis) > 0.85
        edges = np.flatnonzero(np.diff(np.r_[0, full.astype(np.int8), 0]))
        bands = [(start, stop) for start, stop in zip(edges[::2], edges[1::2], strict=True)]
        thin = [(a, b) for a, b in bands if b - a <= max(2, 0.04 * len(full))]
        if len(thin) >= 3:
            for start, stop in thin:
                if axis == 1:
                    ruling[start:stop] = True
                else:
                    ruling[:, start:stop] = True
    return ruling


def _fit(crop: np.ndarray, resample: Image.Resampling = Image.Resampling.LANCZOS) -> np.ndarray:
    """Fit into 20x20 (aspect kept), centre of mass at the centre of 28x28, as uint8."""
    scale = 20.0 / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    box = Image.fromarray(np.uint8(np.clip(np.rint(crop), 0, 255)))
    box = np.asarray(box.resize(size, resample), dtype=np.float64)
    field = np.zeros((28, 28))
    total = box.sum() or 1.0
    com_y = (box.sum(1) * np.arange(box.shape[0])).sum() / total
    com_x = (box.sum(0) * np.arange(box.shape[1])).sum() / total
    top = int(np.clip(round(13.5 - com_y), 0, 28 - box.shape[0]))
    left = int(np.clip(round(13.5 - com_x), 0, 28 - box.shape[1]))
    field[top : top + box.shape[0], left : left + box.shape[1]] = box
    return np.uint8(np.clip(np.rint(field), 0, 255))


PLAIN_INK = 0.25
"""The plain preprocessing's ink: above a quarter of the way from the darkest to the
lightest grey, once the paper is dark."""


def plain_mnist_array(image) -> np.ndarray:
    """The plain MNIST-style preprocessing, the baseline the default must not lose to:
    light paper made dark, the ink's bounding box cropped, its longer side resized to 20
    pixels bilinearly, scaled to full range, the centre of mass put at the centre. No
    mask, no closing, no ruling removal. A picture in MNIST's form is left as it is."""
    grey = grey_array(image)
    if grey.size == 0 or min(grey.shape) < 1:
        raise ImageError("empty image")
    if in_mnist_form(grey):
        return np.uint8(np.clip(np.rint(grey), 0, 255))
    if np.median(_border(grey)) > (grey.min() + grey.max()) / 2:  # light paper: make it dark
        grey = 255.0 - grey
    low, high = grey.min(), grey.max()
    if high - low < MIN_CONTRAST:
        raise NotOneDigit("blank image: no digit stands out from the background")
    ink = (grey - low) / (high - low)
    rows, cols = np.nonzero((ink > PLAIN_INK).any(1))[0], np.nonzero((ink > PLAIN_INK).any(0))[0]
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return _fit(crop * 255.0, Image.Resampling.BILINEAR)


PREPROCESSINGS = {"default": to_mnist_array, "plain": plain_mnist_array}
"""``predict --preprocess NAME``: the default pipeline and the plain baseline."""


def named(name: str):
    """The preprocessing called ``name``: one of ``PREPROCESSINGS``, or ``without-STEP``
    (the default with one of ``STEPS`` switched off, for the ablation)."""
    if name in PREPROCESSINGS:
        return PREPROCESSINGS[name]
    step = name.removeprefix("without-")
    if step == name or step not in STEPS:
        raise ValueError(f"unknown preprocessing {name!r}")
    return partial(to_mnist_array, without=frozenset({step}))
