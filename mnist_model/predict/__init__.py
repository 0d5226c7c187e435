"""Predict digits in ordinary image files, preprocessed the way MNIST itself was made.

MNIST digits are white on black, size-normalised to fit a 20x20 box (aspect ratio kept)
and placed in a 28x28 field so that their centre of mass is at the centre. A photo or a
drawing is turned into the same form before the model sees it (``mnist_model.predict.preprocess``:
polarity, lighting, ink mask, contrast, size and centre); otherwise a perfectly
good model fails on perfectly clear digits.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mnist_model.errors import MnistModelError, NotOneDigit
from mnist_model.formats.kinds import it_is
from mnist_model.inference import inference_form
from mnist_model.model import device_of, normalize
from mnist_model.predict.preprocess import PREPROCESSINGS, ImageError

MAX_PIXELS = 40_000_000
"""Images with more pixels than this (about 6,300 x 6,300) are refused before decoding."""


@dataclass(frozen=True)
class Prediction:
    digit: int
    probability: float
    top3: list[tuple[int, float]]

    def to_dict(self) -> dict:
        return {
            "digit": self.digit,
            "probability": self.probability,
            "top3": [{"digit": d, "probability": p} for d, p in self.top3],
        }


def load_model(
    path: str | os.PathLike[str], *, model_class: str | None = None, input_scale: str = "mnist"
) -> torch.nn.Module:
    """The model in a file of any format (``mnist_model.formats.load_any``), in eval mode."""
    from mnist_model.formats import load_any

    return load_any(path, model_class=model_class, input_scale=input_scale).model


def confidence(logits: torch.Tensor) -> np.ndarray:
    """Each row's top softmax probability (float64), the figure a refusal is decided on."""
    return logits.double().softmax(1).max(1).values.cpu().numpy()


def unsure(prediction: Prediction, min_confidence: float | None) -> str | None:
    """Why ``predict`` will not answer with ``prediction`` (None: it answers)."""
    if min_confidence is None or prediction.probability >= min_confidence:
        return None
    return (
        f"unsure: {prediction.digit} at {100 * prediction.probability:.1f} %, below the "
        f"{100 * min_confidence:g} % a digit needs"
    )


def read_image(path: str | os.PathLike[str]):
    """Open an image file with Pillow, refusing huge or unreadable files with ImageError;
    a photo's EXIF orientation is applied (a phone stores pixels sideways and says so)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if path.is_dir():
        raise ImageError(f"{path}: a folder with no image files")
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    try:
        with Image.open(path) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise ImageError(
                    f"{path}: {width}x{height} pixels is over the {MAX_PIXELS:,}-pixel limit"
                )
            image.load()
            return ImageOps.exif_transpose(image)
    except ImageError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(
            f"{path}: not a readable image ({type(exc).__name__}){it_is(path)}"
        ) from None


def to_model_input(images: Iterable, preprocessing: str = "default") -> torch.Tensor:
    """Preprocess images and normalise exactly as in training: (N, 1, 28, 28) float32."""
    to_mnist_array = PREPROCESSINGS[preprocessing]
    return _normalised([to_mnist_array(image) for image in images])


def _normalised(arrays: list[np.ndarray]) -> torch.Tensor:
    return normalize(torch.from_numpy(np.stack(arrays)))


def predict(
    model: torch.nn.Module, images: Iterable, preprocessing: str = "default"
) -> list[Prediction]:
    """Predictions for PIL images, arrays or tensors (any size, either polarity), through
    ``preprocessing`` (``preprocess.PREPROCESSINGS``: ``default`` or ``plain``)."""
    return _predictions(model, to_model_input(images, preprocessing))


@torch.inference_mode()
def _predictions(model: torch.nn.Module, inputs: torch.Tensor) -> list[Prediction]:
    model.eval()
    device = device_of(model)
    probabilities = inference_form(model)(inputs.to(device)).softmax(1).cpu()
    if not bool(torch.isfinite(probabilities).all()):
        raise MnistModelError("the model's output is not finite: its weights overflow")
    predictions = []
    for row in probabilities:
        values, digits = row.topk(3)
        top3 = [(int(d), float(v)) for d, v in zip(digits, values, strict=True)]
        predictions.append(Prediction(top3[0][0], top3[0][1], top3))
    return predictions


def predict_files(
    model: torch.nn.Module,
    paths: Iterable[str | os.PathLike[str]],
    *,
    batch_size: int = 256,
    preprocessing: str = "default",
    min_confidence: float | None = None,
    keep_arrays: bool = False,
) -> list[dict]:
    """One row per file, in order. A file read as one digit gives ``{"image", "digit",
    "probability", "top3", "refused": None}``; one that holds no single digit gives
    ``"refused"``, a one-line reason: several marks, none like a digit (the
    preprocessing: no ``digit``), or a top probability below ``min_confidence`` (the
    model's guess stays in the row). A file that cannot be read gives ``{"image",
    "error"}``, a one-line message naming it. Readable files are preprocessed one by one
    (``preprocessing``) and then run through the model (folded once) in batches. With
    ``keep_arrays``, each row keeps its 28x28 input under ``"_array"``, for ``save``."""
    to_mnist_array = PREPROCESSINGS[preprocessing]
    net = inference_form(model.eval())
    rows: list[dict] = []
    arrays: list[np.ndarray] = []
    slots: list[int] = []  # the row of each readable file
    for path in paths:
        try:
            arrays.append(to_mnist_array(read_image(path)))
        except NotOneDigit as exc:
            rows.append({"image": str(path), "refused": str(exc)})
            continue
        except ImageError as exc:
            message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
            rows.append({"image": str(path), "error": message})
            continue
        slots.append(len(rows))
        rows.append({"image": str(path), **({"_array": arrays[-1]} if keep_arrays else {})})
    for slot, prediction in zip(slots, predict_arrays(net, arrays, batch_size), strict=True):
        rows[slot].update(prediction.to_dict(), refused=unsure(prediction, min_confidence))
    return rows


def save(rows: list[dict], folder: Path) -> None:
    """Write each row's 28x28 input as ``folder/NAME.png`` (the image's name, numbered
    when two share it) and record the path in the row as ``"preprocessed"``; drop the
    private ``"_array"``."""
    from PIL import Image

    from mnist_model.atomic import atomic_path
    from mnist_model.errors import WriteError

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot write {folder}: {exc.strerror or exc}") from None
    taken: set[str] = set()
    for row in rows:
        array = row.pop("_array", None)
        if array is None:
            continue
        stem, k = Path(row["image"]).stem or "image", 1
        name = f"{stem}.png"
        while name in taken:
            k += 1
            name = f"{stem}-{k}.png"
        taken.add(name)
        with atomic_path(folder / name) as tmp:
            Image.fromarray(array).save(tmp, format="PNG")
        row["preprocessed"] = str(folder / name)


def predict_arrays(
    model: torch.nn.Module, arrays: list[np.ndarray], batch_size: int = 256
) -> list[Prediction]:
    """Predictions for digits already in MNIST form (``to_mnist_array``'s output)."""
    predictions: list[Prediction] = []
    for start in range(0, len(arrays), batch_size):
        predictions += _predictions(model, _normalised(arrays[start : start + batch_size]))
    return predictions
