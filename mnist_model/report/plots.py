"""Pictures of a run: learning curves, misclassified digits, per-class accuracy, confusion.

matplotlib's non-interactive Agg backend is selected per figure (no display needed, no
global ``matplotlib.use`` at import), and every PNG is written atomically.
"""

from __future__ import annotations

from pathlib import Path

import torch

from mnist_model.atomic import atomic_path


def _figure(
    width: float,
    height: float,
    *,
    left: float = 0.8,
    right: float = 0.2,
    bottom: float = 0.6,
    top: float = 0.45,
    between: float = 0.8,
):
    """A figure of ``width`` x ``height`` inches whose axes keep fixed margins, in inches.

    Fixed margins instead of ``tight_layout``: that one draws every figure an extra time
    to measure its labels, which was a third of the report's time."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    figure.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=between / ((width - left - right) / 3),
    )
    return figure


def _save(figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def plot_curves(history: list[dict], target: float, path: Path) -> Path:
    """Train/test loss, train/test accuracy (with the ``target`` accuracy line) and the
    learning rate. The epochs that trained on 20x20 warps are shaded and labelled: their
    training figures are for the smaller pictures, not a run going wrong."""
    epochs = [h["epoch"] for h in history]
    figure = _figure(12, 3.6, left=0.7)
    loss, acc, lr = figure.subplots(1, 3)
    low = [h["epoch"] for h in history if h.get("train_side", 28) < 28]
    for axis in (loss, acc, lr) if low else ():
        axis.axvspan(min(low) - 0.5, max(low) + 0.5, color="0.9", zorder=0)
        axis.text(
            (min(low) + max(low)) / 2,
            0.02,
            "trained at 20x20",
            transform=axis.get_xaxis_transform(),
            ha="center",
            fontsize=8,
            color="0.4",
        )
    loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train (augmented)")
    loss.plot(epochs, [h["test_loss"] for h in history], "o-", label="test")
    loss.set(title="loss", xlabel="epoch", yscale="log")
    for axis in (loss.yaxis.set_major_formatter, loss.yaxis.set_minor_formatter):
        axis(lambda value, _: f"{value:.4g}")  # short labels also within one decade
    loss.legend()
    acc.plot(epochs, [100 * h["train_accuracy"] for h in history], "o-", label="train (augmented)")
    acc.plot(epochs, [100 * h["test_accuracy"] for h in history], "o-", label="test")
    acc.axhline(100 * target, color="red", linestyle="--", label=f"{100 * target:g} % bar")
    acc.set(title="accuracy (%)", xlabel="epoch", ylim=(97, 100))
    acc.legend(loc="lower right")
    lr.plot(epochs, [h["lr"] for h in history], "o-")
    lr.set(title="learning rate (start of epoch)", xlabel="epoch")
    return _save(figure, path)


def plot_misclassified(
    images: torch.Tensor,
    labels: torch.Tensor,
    probabilities: torch.Tensor,
    path: Path,
    limit: int = 25,
) -> Path:
    """Up to ``limit`` misclassified test digits (``images``: the raw uint8 pixels),
    captioned true / predicted (confidence).

    The digits are tiled into one image on one axes: 25 separate axes made this the
    slowest picture of the report (about 1 s of every ``mnist-model train``)."""
    predicted = probabilities.argmax(1)
    wrong = (predicted != labels).nonzero().flatten()[:limit].tolist()
    columns = 5
    rows = max(1, -(-len(wrong) // columns))
    h, w = images.shape[-2:]
    cell_w, cell_h = w + 8, h + 12  # room between digits, and above each for its caption
    montage = torch.zeros(rows * cell_h, columns * cell_w)
    figure = _figure(2 * columns, 2.2 * rows, left=0.1, right=0.1, bottom=0.1, top=0.5)
    ax = figure.subplots()
    ax.axis("off")
    for slot, index in enumerate(wrong):
        top, left = (slot // columns) * cell_h + 10, (slot % columns) * cell_w + 4
        montage[top : top + h, left : left + w] = images[index].reshape(h, w).float()
        p = int(predicted[index])
        confidence = 100 * float(probabilities[index, p])
        caption = f"true {int(labels[index])} / pred {p} ({confidence:.0f}%)"
        ax.text(left + w // 2, top - 2, caption, ha="center", va="bottom", fontsize=9)
    ax.imshow(montage.numpy(), cmap="gray_r", vmin=0, vmax=255, interpolation="nearest")
    if not wrong:
        ax.text(
            0.5, 0.5, "no misclassified images", ha="center", va="center", transform=ax.transAxes
        )
    figure.suptitle(f"misclassified test images (first {len(wrong)})")
    return _save(figure, path)


def plot_per_class(per_class: list[float], thresholds: list[float], path: Path) -> Path:
    """Per-class accuracy bars with each class's acceptance threshold drawn over them."""
    figure = _figure(7, 3.6)
    ax = figure.subplots()
    classes = list(range(len(per_class)))
    colors = [
        "tab:green" if a >= t else "tab:red" for a, t in zip(per_class, thresholds, strict=True)
    ]
    ax.bar(classes, [100 * a for a in per_class], color=colors)
    for cls, threshold in zip(classes, thresholds, strict=True):
        ax.hlines(100 * threshold, cls - 0.4, cls + 0.4, color="black", linestyle="--")
    ax.set(
        title="per-class test accuracy (dashes: acceptance threshold)",
        xlabel="digit",
        ylabel="accuracy (%)",
        xticks=classes,
        ylim=(min(97.0, 100 * min(per_class) - 0.5), 100),
    )
    return _save(figure, path)


def plot_confusion(confusion: torch.Tensor, path: Path) -> Path:
    """The 10x10 confusion matrix with counts (rows: true class, columns: predicted)."""
    figure = _figure(6.5, 5.5, right=0.1)
    ax = figure.subplots()
    counts = confusion.numpy()
    shown = ax.imshow(counts, cmap="Blues", norm=_log_norm(counts))
    figure.colorbar(shown, ax=ax)
    for t in range(counts.shape[0]):
        for p in range(counts.shape[1]):
            if counts[t, p]:
                ax.text(
                    p,
                    t,
                    str(counts[t, p]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if t == p else "black",
                )
    ticks = list(range(counts.shape[0]))
    ax.set(title="confusion matrix", xlabel="predicted", ylabel="true", xticks=ticks, yticks=ticks)
    return _save(figure, path)


def _log_norm(counts):
    from matplotlib.colors import LogNorm

    return LogNorm(vmin=1, vmax=max(1, int(counts.max())))
