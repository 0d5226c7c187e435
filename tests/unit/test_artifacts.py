"""The output folder: train_and_write leaves exactly the files of artifacts.FILES, each
loadable, and rebuild_report exactly those of REPORT_KEYS."""

from __future__ import annotations

import json

import pytest

from mnist_model.artifacts import FILES, REPORT_KEYS, rebuild_report, train_and_write
from mnist_model.checkpoint import load_checkpoint
from mnist_model.config import TrainConfig

TINY = TrainConfig(epochs=2, batch_size=8, threads=1, precision="fp32", layout="contiguous")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    import torch

    from helpers.synthetic import fake_arrays

    images, labels = (torch.from_numpy(a) for a in fake_arrays(32, seed=7))
    out = tmp_path_factory.mktemp("artifacts") / "run"
    run, paths = train_and_write(
        TINY, out, (images, labels), (images[:16], labels[:16]), checksums={"f": "md5"}
    )
    return out, run, paths, (images[:16], labels[:16])


def test_every_file_of_the_list_and_nothing_else(written) -> None:
    out, _, paths, _ = written
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES.values())
    # every written file is returned under its name in FILES (the state is written as
    # the run goes, for --resume, and is not a final artifact)
    assert {key: path.name for key, path in paths.items()} == {
        key: name for key, name in FILES.items() if key != "state"
    }


def test_the_files_agree_with_the_run(written) -> None:
    out, run, paths, _ = written
    metrics = json.loads(paths["metrics"].read_text())
    assert metrics["final"]["correct"] == run.final.correct
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert json.loads(paths["per_class"].read_text()) == json.loads(
        json.dumps(run.final.per_class_rows())
    )
    model, payload = load_checkpoint(paths["checkpoint"])
    assert payload["metrics"]["correct"] == run.final.correct
    assert payload["data_md5"] == {"f": "md5"}


def test_rebuild_report_writes_the_report_files_only(written, tmp_path) -> None:
    _, _, paths, test_xy = written
    rebuilt = rebuild_report(tmp_path / "report", paths["checkpoint"], test_xy)
    assert set(rebuilt) == set(REPORT_KEYS)
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == sorted(
        FILES[key] for key in REPORT_KEYS
    )
