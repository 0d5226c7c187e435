"""The report's pictures: each is a PNG of its designed size, written atomically, and
drawn from what it is given (the bar to draw comes in as an argument)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from mnist_model.report import plots

HISTORY = [
    {
        "epoch": e,
        "train_loss": 1 / e,
        "test_loss": 0.5 / e,
        "train_accuracy": 0.9 + e / 100,
        "test_accuracy": 0.95 + e / 100,
        "lr": 0.1 / e,
    }
    for e in range(1, 4)
]


def png_size(path) -> tuple[int, int]:
    with Image.open(path) as image:
        assert image.format == "PNG"
        return image.size


def test_curves_draw_the_given_bar(tmp_path, monkeypatch) -> None:
    labels = []
    real = plots._save

    def spy(figure, path):
        labels.extend(line.get_label() for ax in figure.axes for line in ax.get_lines())
        return real(figure, path)

    monkeypatch.setattr(plots, "_save", spy)
    path = plots.plot_curves(HISTORY, 0.9951, tmp_path / "curves.png")
    assert png_size(path) == (1200, 360)
    assert "99.51 % bar" in labels


@pytest.mark.parametrize("low_res", [0, 2])
def test_curves_mark_the_epochs_trained_at_20x20(tmp_path, monkeypatch, low_res) -> None:
    marks = []
    real = plots._save

    def spy(figure, path):
        for ax in figure.axes:
            texts = [t.get_text() for t in ax.texts]
            spans = [p.get_x() for p in ax.patches]
            marks.append((texts, spans))
        return real(figure, path)

    monkeypatch.setattr(plots, "_save", spy)
    history = [{**h, "train_side": 20 if h["epoch"] <= low_res else 28} for h in HISTORY]
    plots.plot_curves(history, 0.994, tmp_path / "curves.png")
    expected = (["trained at 20x20"], [0.5]) if low_res else ([], [])
    assert marks == [expected] * 3


@pytest.mark.parametrize("wrong", [0, 3, 30], ids=["none", "three", "more-than-shown"])
def test_misclassified_shows_at_most_25(tmp_path, wrong) -> None:
    labels = torch.arange(40) % 10
    probabilities = torch.nn.functional.one_hot(labels, 10).float()
    probabilities[:wrong] = probabilities[:wrong].roll(1, dims=1)  # these are wrong
    images = torch.zeros(40, 28, 28, dtype=torch.uint8)
    path = plots.plot_misclassified(images, labels, probabilities, tmp_path / "m.png")
    rows = max(1, -(-min(wrong, 25) // 5))
    assert png_size(path) == (1000, round(220 * rows))


def test_per_class_and_confusion_are_written(tmp_path) -> None:
    per_class = [0.99] * 9 + [0.97]
    path = plots.plot_per_class(per_class, [0.985] * 10, tmp_path / "per_class.png")
    assert png_size(path) == (700, 360)
    confusion = torch.eye(10, dtype=torch.long) * 100
    confusion[3, 5] = 2
    assert png_size(plots.plot_confusion(confusion, tmp_path / "c.png")) == (650, 550)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "per_class.png"]
