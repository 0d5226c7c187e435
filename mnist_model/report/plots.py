"""Pictures of a run: learning curves, misclassified digits, per-class accuracy, confusion.

matplotlib's non-interactive Agg backend is selected per figure (no display needed, no
global ``matplotlib.use`` at import), and every PNG is written atomically.
"""

from __future__ import annotations

import math
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


NO_HISTORY = "no training history in this checkpoint"
"""What ``curves.png`` says instead of empty panels when there is no epoch to draw."""


def plot_curves(history: list[dict], target: float, path: Path) -> Path:
    """``curves_figure`` written to ``path``."""
    return _save(curves_figure(history, target), path)


def curves_figure(history: list[dict], target: float):
    """Train/test loss, train/test error rate (100 - accuracy, %, with the ``target``
    accuracy's line) and the learning rate, by epoch. The epochs that trained on 20x20
    warps (``train_side`` < 28) are shaded and labelled: their training figures are for
    the smaller pictures, not a run going wrong.

    Nothing falls off a panel: loss and error rate are on log axes whose limits hold every
    point (an error of 12 % at 20x20 and one of 0.4 % later both show), and a value a log
    axis cannot place (0 % error) is drawn at a floor with a marker of its own and a
    legend entry that says so. Without any epoch the picture says so, with no axes."""
    figure = _figure(12, 3.6, left=0.7)
    if not history:
        figure.text(0.5, 0.5, NO_HISTORY, ha="center", va="center", fontsize=14, color="0.3")
        return figure
    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    loss, error, lr = figure.subplots(1, 3)
    low = [h["epoch"] for h in history if h.get("train_side", 28) < 28]
    for axis in (loss, error, lr) if low else ():
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
    train, test = "train (augmented)", "test"
    _log_curves(
        loss,
        epochs,
        {train: [h["train_loss"] for h in history], test: [h["test_loss"] for h in history]},
        zero="loss 0",
        default_floor=1e-3,
    )
    loss.set(title="loss (log scale)", xlabel="epoch")
    bar = 100 - 100 * target
    _log_curves(
        error,
        epochs,
        {
            train: [100 - 100 * h["train_accuracy"] for h in history],
            test: [100 - 100 * h["test_accuracy"] for h in history],
        },
        zero="0 % error",
        unit=" %",
        default_floor=0.01,  # one test digit in 10,000
        ceiling=100,
        bar=(bar, f"{100 * target:g} % bar ({bar:.4g} % error)"),
    )
    error.set(title="error = 100 - accuracy (%, log scale)", xlabel="epoch")
    lr.plot(epochs, [h["lr"] for h in history], "o-")
    lr.set(title="learning rate (start of epoch)", xlabel="epoch")
    for axis in (loss, error, lr):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    return figure


LOG_RANGE = (1e-100, 1e100)
"""What a log panel places as it is: a value below counts as 0 (drawn at the floor), one
above is drawn at the top of the range; both marked (only a damaged checkpoint has any)."""


def _log_curves(
    axis,
    epochs: list,
    curves: dict[str, list[float]],
    *,
    zero: str,
    unit: str = "",
    default_floor: float,
    ceiling: float | None = None,
    bar: tuple[float, str] | None = None,
) -> None:
    """Draw ``curves`` (label: values by epoch) and the horizontal ``bar`` (value, label)
    on a log y axis that holds every point.

    A value of 0 has no place on a log axis: it is drawn at a floor, the largest power of
    ten below the smallest positive value (``default_floor`` when there is none), marked
    with an open triangle and a legend entry: ``zero``, drawn at the floor. Values outside
    ``LOG_RANGE`` are treated alike. The limits hold every point, capped at ``ceiling``
    where nothing lies above it; the ticks are labelled few (``_log_ticks``), the minor
    ones not at all."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    tiny, huge = LOG_RANGE
    values = [v for vs in curves.values() for v in vs] + ([bar[0]] if bar else [])
    placed = [v for v in values if tiny <= v <= huge]
    floor = default_floor
    if placed:
        floor = 10.0 ** math.floor(math.log10(min(placed)))
        floor = floor / 10 if floor >= min(placed) else floor

    def drawn(value: float) -> float:
        return floor if value < tiny else min(value, huge)

    low, high = [], []  # the points drawn elsewhere than their value
    for label, vs in curves.items():
        axis.plot(epochs, [drawn(v) for v in vs], "o-", label=label)
        low += [(e, floor) for e, v in zip(epochs, vs, strict=True) if v < tiny]
        high += [(e, huge) for e, v in zip(epochs, vs, strict=True) if v > huge]
    if bar is not None:
        value, label = bar
        if drawn(value) != value:
            label = f"{label}, drawn at {drawn(value):g}{unit}"
        axis.axhline(drawn(value), color="red", linestyle="--", label=label)
    for points, marker, label in (
        (low, "v", f"{zero}, drawn at {floor:g}{unit}"),
        (high, "^", f"above {huge:g}{unit}, drawn at {huge:g}{unit}"),
    ):
        if points:
            xy = zip(*points, strict=True)
            axis.plot(*xy, marker, color="black", markerfacecolor="none", label=label)
    axis.set_yscale("log")
    ticks, limits = _log_ticks(min(map(drawn, values)), max(map(drawn, values)), ceiling)
    axis.set_ylim(*limits)
    axis.yaxis.set_major_locator(FixedLocator(ticks))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.yaxis.set_minor_locator(LogLocator(subs=(2, 3, 4, 5, 6, 7, 8, 9)))
    axis.yaxis.set_minor_formatter(NullFormatter())
    axis.legend(loc="best", fontsize=8)


_MANTISSAS = ((1,), (1, 2, 5), (1, 1.5, 2, 3, 4, 5, 6, 8))
"""Tick values of a log axis per decade, coarse to fine: the finer ones are for data that
spans less of a decade."""


def _log_ticks(low: float, high: float, ceiling: float | None = None):
    """Labelled ticks and limits for a log axis showing ``low``..``high`` (> 0).

    The limits are the data's, a little wider, moved out to the nearest of the finest
    ticks, so at least two of those always show. The labels are the coarsest tick set
    (every decade, 1-2-5, the finest) with three or more inside the limits, else with
    two; past eight decades only every few is labelled, so the labels never crowd.
    ``ceiling`` caps the upper limit (error rates stop at 100 %) where nothing lies above
    it."""
    pad = max(1.1, (high / low) ** 0.04)
    first, last = math.floor(math.log10(low / pad)) - 1, math.ceil(math.log10(high * pad)) + 1

    def ladder(mantissas) -> list[float]:
        return sorted(float(f"{m}e{e}") for e in range(first, last + 1) for m in mantissas)

    finest = ladder(_MANTISSAS[-1])
    bottom = max(t for t in finest if t <= low / pad)
    top = min(t for t in finest if t >= high * pad)
    if ceiling is not None and high <= ceiling:
        top = min(top, ceiling)  # a tick of every set: a power of ten
    sets = [[t for t in ladder(m) if bottom <= t <= top] for m in _MANTISSAS]
    ticks = next((t for t in sets if len(t) >= 3), None) or next(t for t in sets if len(t) >= 2)
    if len(ticks) > 9:  # every decade is too many: every step-th one
        step = math.ceil(len(ticks) / 6)
        ticks = [t for t in ticks if round(math.log10(t)) % step == 0]
    return ticks, (bottom, top)


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
