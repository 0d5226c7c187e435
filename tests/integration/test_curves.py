"""curves.png from a real training: the history records the side each epoch trained at,
and the picture shades exactly the epochs trained at 20x20, also when redrawn from a
checkpoint written before the history kept the side.

The run is its own, not the shared ``small_training``: that one is a single epoch, so it
has no 20x20 epoch to shade. This one is three short epochs (the first two at 20x20) on
a thousand real images, about fifty steps.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

import mnist_model.train as training
from mnist_model.checkpoint import read_checkpoint
from mnist_model.config import Machine
from mnist_model.model import IMAGE_SHAPE, LOW_RES_SIZE
from mnist_model.report import plots
from mnist_model.run.runner import rebuild_report, train_and_write

pytestmark = pytest.mark.integration

SPAN = "trained at 20x20"


@dataclasses.dataclass
class ShortRun:
    config: object
    paths: dict
    history: list[dict]
    trained_sides: dict[int, set[int]]
    """Per epoch, the sides of the batches its steps really trained on."""
    curves: object
    """The figure written to curves.png."""
    test_xy: tuple[torch.Tensor, torch.Tensor]


class Figures:
    """Keeps the figure each picture of a report is saved from, by file name."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.by_name: dict[str, object] = {}
        real = plots._save

        def keep(figure, path: Path) -> Path:
            self.by_name[Path(path).name] = figure
            return real(figure, path)

        monkeypatch.setattr(plots, "_save", keep)


@pytest.fixture(scope="module")
def short_run(mnist_splits, small_train_config, tmp_path_factory) -> ShortRun:
    config = dataclasses.replace(small_train_config, epochs=3, batch_size=64, low_res_fraction=0.5)
    assert config.low_res_epochs == 2
    train_xy = tuple(t[:1024] for t in mnist_splits["train"])
    test_xy = tuple(t[:500] for t in mnist_splits["test"])
    sides: dict[int, set[int]] = {}
    epoch_now = [0]
    real_epoch, real_step = training._epoch, training._step

    def epoch(run, number, *args):
        epoch_now[0] = number
        return real_epoch(run, number, *args)

    def step(run, images, labels, done, size):
        side = IMAGE_SHAPE[-1] if size is None else size[0]
        sides.setdefault(epoch_now[0], set()).add(side)
        return real_step(run, images, labels, done, size)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "_epoch", epoch)
        patch.setattr(training, "_step", step)
        figures = Figures(patch)
        run, paths = train_and_write(
            config,
            tmp_path_factory.mktemp("curves") / "run",
            train_xy,
            test_xy,
            checksums={},
            machine=Machine(threads=1, precision="fp32", layout="contiguous"),
            progress=False,
        )
    assert paths["curves"].is_file()
    return ShortRun(config, paths, run.history, sides, figures.by_name["curves.png"], test_xy)


def shaded(figure) -> list[tuple[list[tuple[float, float]], list[str]]]:
    """Per axes: the shaded x spans and the texts on it."""
    return [
        (
            [(p.get_x(), p.get_x() + p.get_width()) for p in ax.patches],
            [t.get_text() for t in ax.texts],
        )
        for ax in figure.axes
    ]


def test_the_history_records_the_side_each_epoch_trained_at(short_run) -> None:
    low = short_run.config.low_res_epochs
    expected = [LOW_RES_SIZE] * low + [28] * (short_run.config.epochs - low)
    assert [r["train_side"] for r in short_run.history] == expected
    assert [short_run.trained_sides[r["epoch"]] for r in short_run.history] == [
        {side} for side in expected
    ]
    # and it travels with the weights, for `mnist-model report`
    payload = read_checkpoint(short_run.paths["checkpoint"])
    assert [r["train_side"] for r in payload["metrics"]["history"]] == expected


def test_curves_shade_exactly_the_epochs_trained_at_20x20(short_run) -> None:
    low = short_run.config.low_res_epochs
    assert shaded(short_run.curves) == [([(0.5, low + 0.5)], [SPAN])] * 3
    for ax in short_run.curves.axes:  # every epoch is drawn, the shaded ones included
        (text,) = ax.texts
        assert 1 <= text.get_position()[0] <= low
        for line in ax.get_lines():
            if line.get_transform() is ax.transData and line.get_marker() == "o":
                assert list(line.get_xdata()) == [1, 2, 3]


def resaved(short_run, path: Path, *, train_config=None) -> Path:
    """The run's checkpoint as one written before the history kept ``train_side``."""
    payload = read_checkpoint(short_run.paths["checkpoint"])
    for record in payload["metrics"]["history"]:
        del record["train_side"]
    if train_config is not None:
        payload["train_config"] = train_config
    torch.save(payload, path)
    return path


def test_an_older_checkpoint_gets_the_sides_from_its_recipe(short_run, tmp_path, monkeypatch):
    figures = Figures(monkeypatch)
    older = resaved(short_run, tmp_path / "older.pt")
    rebuild_report(tmp_path / "report", older, short_run.test_xy)
    assert shaded(figures.by_name["curves.png"]) == shaded(short_run.curves)


def test_an_older_checkpoint_of_an_unreadable_recipe_shades_nothing(
    short_run, tmp_path, monkeypatch
) -> None:
    figures = Figures(monkeypatch)
    recipe = dataclasses.asdict(short_run.config)
    del recipe["low_res_fraction"]  # a recipe from before the 20x20 epochs: unknown
    older = resaved(short_run, tmp_path / "older.pt", train_config=recipe)
    rebuild_report(tmp_path / "report", older, short_run.test_xy)
    curves = figures.by_name["curves.png"]
    assert shaded(curves) == [([], [])] * 3
    assert len(curves.axes[0].get_lines()[0].get_xdata()) == 3  # the epochs still drawn
