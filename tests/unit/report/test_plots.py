"""The report's pictures: each is a PNG of its designed size, written atomically, and
drawn from what it is given (the bar to draw comes in as an argument). The learning
curves keep every point on its panel and their tick labels apart, whatever the history."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
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


def test_curves_draw_the_given_bar_as_its_error_rate(tmp_path) -> None:
    figure = plots.curves_figure(HISTORY, 0.9951)
    bars = [line for ax in figure.axes for line in ax.get_lines() if "bar" in line.get_label()]
    assert [line.get_label() for line in bars] == ["99.51 % bar (0.49 % error)"]
    assert list(bars[0].get_ydata()) == pytest.approx([0.49, 0.49])
    path = plots.plot_curves(HISTORY, 0.9951, tmp_path / "curves.png")
    assert png_size(path) == (1200, 360)


@pytest.mark.parametrize("low_res", [0, 2])
def test_curves_mark_the_epochs_trained_at_20x20(low_res) -> None:
    history = [{**h, "train_side": 20 if h["epoch"] <= low_res else 28} for h in HISTORY]
    figure = plots.curves_figure(history, 0.994)
    marks = [
        ([t.get_text() for t in ax.texts], [p.get_x() for p in ax.patches]) for ax in figure.axes
    ]
    expected = (["trained at 20x20"], [0.5]) if low_res else ([], [])
    assert marks == [expected] * 3


def test_curves_without_history_say_so_with_no_axes(tmp_path) -> None:
    figure = plots.curves_figure([], 0.994)
    assert figure.axes == []
    assert [t.get_text() for t in figure.texts] == ["no training history in this checkpoint"]
    assert png_size(plots.plot_curves([], 0.994, tmp_path / "curves.png")) == (1200, 360)


# --- nothing falls off a panel, no labels collide ----------------------------------------
def record(epoch, loss, test_loss, accuracy, test_accuracy, lr=0.05, side=28) -> dict:
    return {
        "epoch": epoch,
        "train_loss": loss,
        "test_loss": test_loss,
        "train_accuracy": accuracy,
        "test_accuracy": test_accuracy,
        "lr": lr,
        "train_side": side,
    }


# The default recipe's shape: the 20x20 epochs' test accuracy (87-92 %) far below the
# later 99.5 %, losses over two decades.
TYPICAL = [
    record(e, 1.1 / e**0.3, 0.3 / e**1.5, a, t, side=20 if e <= 4 else 28)
    for e, a, t in zip(
        range(1, 11),
        [0.80, 0.88, 0.92, 0.95, 0.97, 0.98, 0.985, 0.99, 0.992, 0.993],
        [0.87, 0.90, 0.92, 0.991, 0.993, 0.994, 0.995, 0.9955, 0.996, 0.9962],
        strict=True,
    )
]
WITHIN_A_DECADE = [record(e, 0.52 + e / 100, 0.55, 0.995, 0.996) for e in range(1, 6)]
ONE_EPOCH = [record(1, 0.5, 0.5, 0.99, 0.99)]
PERFECT = [record(e, 0.4, 1e-4 / e, 1.0, 1.0 if e > 1 else 0.999) for e in range(1, 4)]
MANY_DECADES = [record(e, 10.0**-e, 10.0 ** (1 - 2 * e), 1 - 10.0**-e, 0.5) for e in range(1, 9)]
EXAMPLES = {
    "typical": TYPICAL,
    "within-a-decade": WITHIN_A_DECADE,
    "one-epoch": ONE_EPOCH,
    "zero-error": PERFECT,
    "many-decades": MANY_DECADES,
}


@st.composite
def histories(draw) -> list[dict]:
    """1-30 epochs, the first few at 20x20; losses log-uniform over 0 to 8 decades, error
    rates over 0 to 6 decades and sometimes exactly 0 (or 100 %)."""
    epochs = draw(st.integers(1, 30))
    low_res = draw(st.integers(0, epochs))

    def spread(top: tuple[float, float], decades: float):
        high = draw(st.floats(*top))
        span = draw(st.floats(0, decades))
        return st.floats(high - span, high).map(lambda x: 10.0**x)

    losses = spread((-4, 1), 8)
    errors = st.one_of(spread((-6, 0), 6), st.sampled_from([0.0, 1.0]))
    return [
        {
            "epoch": e,
            "train_loss": draw(losses),
            "test_loss": draw(losses),
            "train_accuracy": 1 - draw(errors),
            "test_accuracy": 1 - draw(errors),
            "lr": draw(st.floats(1e-6, 10)),
            "train_side": 20 if e <= low_res else 28,
        }
        for e in range(1, epochs + 1)
    ]


targets = st.sampled_from([0.9, 0.99, 0.994, 0.9951, 0.9999, 1.0])


def points_off_their_panel(figure) -> list[str]:
    """Every plotted point outside its axes' view limits, or where its axis cannot place
    it (<= 0 or not finite on a log axis)."""
    off = []
    for ax in figure.axes:
        for line in ax.get_lines():
            xs, ys = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
            checks = [(ax.yaxis, ys, ax.get_ylim())]
            if line.get_transform() is ax.transData:  # not an axhline (x in axes units)
                checks.append((ax.xaxis, xs, ax.get_xlim()))
            for axis, values, limits in checks:
                low, high = sorted(limits)
                placeable = np.isfinite(values) & (
                    (values > 0) if axis.get_scale() == "log" else True
                )
                inside = placeable & (values >= low) & (values <= high)
                off += [f"{ax.get_title()} {line.get_label()}: {v}" for v in values[~inside]]
    return off


@pytest.mark.parametrize("history", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_every_point_is_on_its_panel(history) -> None:
    assert points_off_their_panel(plots.curves_figure(history, 0.994)) == []


@given(history=histories(), target=targets)
def test_every_point_is_on_its_panel_whatever_the_history(history, target) -> None:
    figure = plots.curves_figure(history, target)
    assert points_off_their_panel(figure) == []
    loss, error, _ = figure.axes
    curves = {line.get_label(): line for line in error.get_lines()}
    # each 0 % error is drawn at the floor with a marker of its own, and the legend says so
    marked = [line for label, line in curves.items() if label.startswith("0 % error, drawn at")]
    floor = marked[0].get_ydata()[0] if marked else None
    zeros = []
    for key, label in (("train_accuracy", "train (augmented)"), ("test_accuracy", "test")):
        errors = [100 - 100 * h[key] for h in history]
        assert list(curves[label].get_xdata()) == [h["epoch"] for h in history]
        assert list(curves[label].get_ydata()) == [e if e > 0 else floor for e in errors]
        zeros += [[h["epoch"], floor] for h, e in zip(history, errors, strict=True) if e <= 0]
    assert [xy for line in marked for xy in line.get_xydata().tolist()] == zeros
    legend = [t.get_text() for t in error.get_legend().get_texts()]
    assert [line.get_label() for line in marked] == [t for t in legend if t.startswith("0 %")]


def tick_labels(figure) -> list:
    """(text, window extent, axis) of every drawn, visible, non-empty tick label."""
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    found = []
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            scale = axis.get_transform()
            low, high = sorted(scale.transform(axis.get_view_interval()))
            slack = 1e-6 * (high - low)
            for locs, ticks in (
                (axis.get_majorticklocs(), axis.get_major_ticks),
                (axis.get_minorticklocs(), axis.get_minor_ticks),
            ):
                for loc, tick in zip(locs, ticks(len(locs)), strict=True):
                    if not low - slack <= scale.transform(loc) <= high + slack:
                        continue  # not drawn
                    for label in (tick.label1, tick.label2):
                        if label.get_visible() and label.get_text():
                            found.append(
                                (label.get_text(), label.get_window_extent(renderer), axis)
                            )
    return found


def colliding_labels(figure) -> list[tuple[str, str]]:
    labels = tick_labels(figure)
    return [
        (a, b)
        for (a, box_a, _), (b, box_b, _) in itertools.combinations(labels, 2)
        if box_a.overlaps(box_b)
    ]


def assert_labels_read(figure) -> None:
    assert colliding_labels(figure) == []
    labels = tick_labels(figure)
    for ax in figure.axes[:2]:  # the log axes: two labels at least, none on a minor tick
        assert len([text for text, _, axis in labels if axis is ax.yaxis]) >= 2, ax.get_title()
        assert not any(label.get_text() for label in ax.yaxis.get_minorticklabels())


@pytest.mark.parametrize("history", EXAMPLES.values(), ids=EXAMPLES.keys())
def test_no_two_tick_labels_overlap(history) -> None:
    assert_labels_read(plots.curves_figure(history, 0.994))


@settings(max_examples=6)  # each example draws the figure (a quarter of a second)
@given(history=histories(), target=targets)
def test_no_two_tick_labels_overlap_whatever_the_history(history, target) -> None:
    assert_labels_read(plots.curves_figure(history, target))


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
