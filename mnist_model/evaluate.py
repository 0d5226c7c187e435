"""Evaluation: loss, accuracy, per-class accuracy and the confusion matrix of a model."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from mnist_model.inference import inference_form
from mnist_model.model import device_of, normalize


@dataclass(frozen=True)
class EvalResult:
    """Metrics over one labelled set. ``confusion[t, p]`` counts true class t predicted p."""

    loss: float
    correct: int
    total: int
    confusion: torch.Tensor
    logits: torch.Tensor | None = field(default=None, compare=False, repr=False)
    """The logits behind these metrics, when one process computed all of them (the
    report reuses them instead of running the model again)."""

    @property
    def accuracy(self) -> float:
        return self.correct / self.total

    @property
    def per_class_accuracy(self) -> list[float]:
        counts = self.confusion.sum(1).clamp(min=1)
        return (self.confusion.diagonal() / counts).tolist()

    @property
    def class_counts(self) -> list[int]:
        return self.confusion.sum(1).tolist()

    @property
    def worst_class(self) -> int:
        """The class with the lowest accuracy (the first of them on a tie)."""
        per_class = self.per_class_accuracy
        return min(range(len(per_class)), key=per_class.__getitem__)

    def per_class_rows(self) -> list[dict]:
        """One dict per class: accuracy, count and the class it is most often taken for."""
        return [
            {
                "class": cls,
                "accuracy": self.per_class_accuracy[cls],
                "count": self.class_counts[cls],
                "most_confused_with": self.most_confused_with(cls),
            }
            for cls in range(len(self.class_counts))
        ]

    def per_class_text(self) -> str:
        """The per-class rows as a plain-text table (``evaluate``, the acceptance summary)."""
        lines = [f"{'class':>5} {'accuracy':>9} {'count':>6} {'most confused with':>19}"]
        for row in self.per_class_rows():
            confused = "-" if row["most_confused_with"] is None else row["most_confused_with"]
            lines.append(
                f"{row['class']:>5} {100 * row['accuracy']:>8.2f}% {row['count']:>6} {confused:>19}"
            )
        return "\n".join(lines)

    def most_confused_with(self, cls: int) -> int | None:
        """The class that ``cls`` is most often mistaken for, or None if never wrong."""
        row = self.confusion[cls].clone()
        row[cls] = 0
        return int(row.argmax()) if int(row.max()) > 0 else None

    def reference_line(self) -> str:
        """The per-epoch line in the reference project's format."""
        return (
            f"Test set: Average loss: {self.loss:.4f}, "
            f"Accuracy: {self.correct}/{self.total} ({100 * self.accuracy:.2f}%)"
        )

    def to_dict(self) -> dict:
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "correct": self.correct,
            "total": self.total,
            "per_class_accuracy": self.per_class_accuracy,
            "class_counts": self.class_counts,
            "confusion": self.confusion.tolist(),
        }


@torch.inference_mode()
def predict_logits(
    model: nn.Module, images: torch.Tensor, *, batch_size: int = 1000, views: int | None = None
) -> torch.Tensor:
    """Logits for normalised float images (N, 1, 28, 28), computed in eval mode, on CPU.

    An MnistNet runs in its folded inference form (``inference_form``): the same
    predictions, logits within 1e-4, about twice as fast. ``views`` overrides an MnistNet's
    test-time views (``ModelConfig.test_time_views``)."""
    was_training = model.training
    model.eval()
    net = inference_form(model, views)
    device = device_of(model)
    try:
        chunks = [
            net(images[i : i + batch_size].to(device)).float().cpu()
            for i in range(0, len(images), batch_size)
        ]
    finally:
        model.train(was_training)
    return torch.cat(chunks)


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    batch_size: int = 1000,
    views: int | None = None,
) -> EvalResult:
    """Evaluate ``model`` on ``images`` (uint8 (N, 28, 28) or normalised float) and labels;
    ``views`` overrides an MnistNet's test-time views."""
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError(f"need as many labels as images (>0), got {len(images)} and {len(labels)}")
    inputs = normalize(images) if images.dtype == torch.uint8 else images
    return result_from_logits(
        predict_logits(model, inputs, batch_size=batch_size, views=views), labels
    )


def result_from_logits(logits: torch.Tensor, labels: torch.Tensor) -> EvalResult:
    """The metrics of ``logits`` (N, classes) against ``labels``: how ``evaluate`` scores a
    model, and how the gate scores logits computed elsewhere."""
    labels = labels.cpu().long()
    loss = F.cross_entropy(logits, labels, reduction="sum").item() / len(labels)
    predictions = logits.argmax(1)
    classes = logits.shape[1]  # the model's num_classes
    confusion = torch.bincount(labels * classes + predictions, minlength=classes * classes).reshape(
        classes, classes
    )
    correct = int((predictions == labels).sum())
    return EvalResult(
        loss=loss, correct=correct, total=len(labels), confusion=confusion, logits=logits
    )
