"""What the gate measures on a live model, each figure computed in one place.

``gate_record`` measures everything the gate judges into one record: the evidence schema
(``evidence.record``: the test set, one-pixel shifts, the pixel regression, the
out-of-distribution suite) plus the sections only a live model gives (predict's
preprocessing paired with the plain one, the test set as PNG files, the architecture).
``verdict.judge`` decides; nothing here compares a figure with a floor.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mnist_model.evaluate import predict_logits, result_from_logits
from mnist_model.formats import Loaded, as_loaded
from mnist_model.gate import evidence, ood
from mnist_model.model import normalize

SHIFTS = {"up": (-1, 1), "down": (1, 1), "left": (-1, 2), "right": (1, 2)}
"""direction -> (shift, dim) for images of shape (N, H, W)."""

PIXEL_REGRESSION_EPOCHS = 4
PIXEL_REGRESSION_BATCH = 128
PIXEL_REGRESSION_LR = 0.01
"""Mini-batch SGD with momentum: ~92 % in a few seconds on the CPU, close to what
logistic regression reaches at convergence, so the margin is measured against a fair
linear model rather than an undertrained one."""

FAMILY = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.ReLU, nn.AdaptiveAvgPool2d, nn.Dropout)
"""The layer types of the MnistNet family: convolutions, BatchNorm, max-pooling, ReLU,
global average pooling (and dropout, off by default). No fully connected layer."""


def shift_with_zero_fill(images: torch.Tensor, shift: int, dim: int) -> torch.Tensor:
    """torch.roll, then blank the row/column that wrapped around (black, uint8 0)."""
    out = torch.roll(images, shifts=shift, dims=dim)
    edge = 0 if shift > 0 else -1
    out.select(dim, edge).zero_()
    return out


def train_pixel_regression(
    images: torch.Tensor, labels: torch.Tensor, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A multinomial logistic regression on the normalised pixels: (weight, bias)."""
    x = normalize(images).flatten(1)
    weight = torch.zeros(x.shape[1], 10, requires_grad=True)
    bias = torch.zeros(10, requires_grad=True)
    optimizer = torch.optim.SGD([weight, bias], lr=PIXEL_REGRESSION_LR, momentum=0.9)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(PIXEL_REGRESSION_EPOCHS):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), PIXEL_REGRESSION_BATCH):
            index = order[start : start + PIXEL_REGRESSION_BATCH]
            loss = F.cross_entropy(x[index] @ weight + bias, labels[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return weight.detach(), bias.detach()


def pixel_regression_correct(train_xy, test_xy) -> int:
    """Test images the logistic regression on the pixels gets right: the opponent the
    model must beat by a margin (a model that merely matches a linear classifier has
    learned nothing spatial)."""
    weight, bias = train_pixel_regression(*train_xy)
    test_x, test_y = test_xy
    predictions = (normalize(test_x).flatten(1) @ weight + bias).argmax(1)
    return int((predictions == test_y).sum())


def plain_pairs(default_right, plain_right, condition, names: tuple[str, ...]) -> dict:
    """predict's preprocessing and the plain one on the same pictures (boolean arrays:
    which each got right; ``condition`` indexes ``names``): per condition the pictures,
    and those only plain or only the default got right."""
    pairs = {}
    for index, name in enumerate(names):
        here = condition == index
        mine, plain = default_right[here], plain_right[here]
        pairs[name] = {
            "n": int(here.sum()),
            "plain_only": int((plain & ~mine).sum()),
            "default_only": int((mine & ~plain).sum()),
        }
    return pairs


def png_round_trip(model: torch.nn.Module, test_xy, preprocessing: str) -> dict:
    """The test images written as PNG files and read back through ``predict`` (Pillow
    decoding, then ``preprocessing``): how many it reads right, and how many files it
    could not read at all."""
    from PIL import Image

    from mnist_model.predict import predict_files

    images, labels = test_xy
    with tempfile.TemporaryDirectory(prefix="mnist-model-png-") as folder:
        paths = [Path(folder) / f"{i:05d}.png" for i in range(len(images))]
        for path, image in zip(paths, images.numpy(), strict=True):
            Image.fromarray(image).save(path)
        rows = predict_files(model, paths, preprocessing=preprocessing)
    right = sum(row.get("digit") == int(y) for row, y in zip(rows, labels, strict=True))
    return {"correct": right, "unreadable": sum("error" in row for row in rows)}


def architecture(
    model: torch.nn.Module | Loaded, test_images: torch.Tensor, *, inference_form: bool = True
) -> dict:
    """What the model is: its format and parameters (``formats.Loaded``), whether it is an
    MnistNet, its leaf layers outside the family, and (an MnistNet, if ``inference_form``)
    how its folded inference form, the one ``predict`` runs, agrees with the eager model
    on ``test_images``."""
    loaded = as_loaded(model)
    model = loaded.model
    found = {
        "parameters": loaded.parameters,
        "class": loaded.name,
        "format": loaded.format,
        "mnistnet": loaded.mnistnet,
    }
    if found["mnistnet"]:
        leaves = [(n, m) for n, m in model.named_modules() if not list(m.children())]
        found["layers"] = sorted({type(m).__name__ for _, m in leaves})
        found["strangers"] = [n for n, m in leaves if not isinstance(m, FAMILY)]
    if found["mnistnet"] and inference_form:
        inputs = normalize(test_images)
        model.eval()
        with torch.inference_mode():
            eager = torch.cat([model(inputs[i : i + 1000]) for i in range(0, len(inputs), 1000)])
        fast = predict_logits(model, inputs)
        found["inference_form"] = {
            "images": len(inputs),
            "same_predictions": bool(torch.equal(fast.argmax(1), eager.argmax(1))),
            "max_logit_difference": float((fast - eager).abs().max()),
        }
    return found


def judged_images(inputs) -> dict[str, torch.Tensor]:
    """Every picture the gate shows a model, by set (``SETS``): uint8 ``(N, 28, 28)``,
    white on black, before normalisation."""
    test = inputs.test_xy[0]
    sets = {"test": test}
    for direction, (shift, dim) in SHIFTS.items():
        sets[f"shift_{direction}"] = shift_with_zero_fill(test, shift, dim)
    sets["suite_default"] = torch.from_numpy(inputs.suite.arrays)
    sets["suite_plain"] = torch.from_numpy(inputs.plain_suite.arrays)
    return sets


SETS = ("test", *(f"shift_{d}" for d in SHIFTS), "suite_default", "suite_plain")
"""The sets of pictures a model's logits are judged on (``judged_images``)."""


def logits_of(model: torch.nn.Module, inputs) -> dict[str, torch.Tensor]:
    """``model``'s logits on every set the gate judges (its folded form for an MnistNet,
    as ``predict`` runs it)."""
    return {name: predict_logits(model, normalize(x)) for name, x in judged_images(inputs).items()}


def shift_agreement(logits: dict[str, torch.Tensor]) -> dict[str, int]:
    """``{direction: test images whose prediction a one-pixel shift leaves unchanged}``."""
    base = logits["test"].argmax(1)
    return {d: int((logits[f"shift_{d}"].argmax(1) == base).sum()) for d in SHIFTS}


def refusal_counts(logits: dict[str, torch.Tensor], suite) -> dict:
    """What ``predict`` would answer and refuse at each confidence of
    ``floors.CONFIDENCE_GRID`` (``evidence.REFUSAL_KEYS``): a picture is refused when the
    preprocessing found no single digit in it or the model's top probability is lower."""
    from mnist_model.gate.floors import CONFIDENCE_GRID
    from mnist_model.predict import confidence

    test, pictures = confidence(logits["test"]), confidence(logits["suite_default"])
    digit = suite.labels >= 0
    answered = [~suite.refused & (pictures >= t) for t in CONFIDENCE_GRID]
    return {
        "grid": list(CONFIDENCE_GRID),
        "test_sure": [int((test >= t).sum()) for t in CONFIDENCE_GRID],
        "test_total": len(test),
        "digits_sure": [int((a & digit).sum()) for a in answered],
        "digits_total": int(digit.sum()),
        "not_a_digit_refused": [int((~a & ~digit).sum()) for a in answered],
        "not_a_digit_total": max(1, int((~digit).sum())),
    }


def record_from_logits(
    logits: dict[str, torch.Tensor], inputs, *, provenance: dict | None = None
) -> dict:
    """The evidence record and the paired counts of the two preprocessings, from logits on
    every set of ``SETS``: a live model's (``logits_of``) or computed elsewhere
    (``mnist-model gate --predictions``)."""
    suite, plain_suite = inputs.suite, inputs.plain_suite
    default_predicted = ood.predicted(suite, logits["suite_default"])
    plain_predicted = ood.predicted(plain_suite, logits["suite_plain"])
    record = evidence.record(
        provenance=provenance or {},
        test=result_from_logits(logits["test"], inputs.test_xy[1]),
        shift=shift_agreement(logits),
        pixel_regression_correct=inputs.pixel_regression_correct,
        ood=ood.counts(suite, default_predicted),
        ood_suite=inputs.description,
        plain=ood.counts(plain_suite, plain_predicted),
        refusal=refusal_counts(logits, suite),
    )
    record["plain_pairs"] = plain_pairs(
        default_predicted == suite.labels,
        plain_predicted == plain_suite.labels,
        suite.condition,
        suite.names,
    )
    return record


def gate_record(
    model: torch.nn.Module | Loaded,
    inputs,
    *,
    provenance: dict | None = None,
    live: bool = True,
) -> dict:
    """Everything the gate judges about ``model`` (a module, or any format's
    ``formats.Loaded``), measured on ``inputs`` (``inputs.GateInputs``): the evidence
    record and, if ``live``, the sections an evidence file does not keep
    (``plain_pairs``, ``png``, ``architecture``)."""
    loaded = as_loaded(model)
    record = record_from_logits(logits_of(loaded.model, inputs), inputs, provenance=provenance)
    pairs = record.pop("plain_pairs")
    if not live:
        return record
    record["plain_pairs"] = pairs
    record["png"] = {p: png_round_trip(loaded.model, inputs.test_xy, p) for p in PNG}
    record["architecture"] = architecture(loaded, inputs.test_xy[0])
    return record


PNG = ("default", "plain")
"""predict's preprocessings, each judged on the test set written as PNG files."""


def predictions_record(logits: dict[str, torch.Tensor], inputs) -> dict:
    """The record of logits computed elsewhere: everything but what needs the model
    itself, which is marked so (the PNG round trip through ``predict``, the architecture)."""
    record = record_from_logits(logits, inputs, provenance={"format": "predictions"})
    record["png"] = dict.fromkeys(PNG)
    record["architecture"] = {"live": False, "mnistnet": False}
    return record
