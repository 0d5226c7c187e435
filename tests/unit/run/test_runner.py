"""The runner: train_and_write leaves exactly the files of outputs.FILES, each loadable,
rebuild_report exactly those of REPORT_KEYS; the device, the arithmetic auto picks and a
resumed run's arithmetic."""

from __future__ import annotations

import json

import pytest
import torch

from mnist_model.checkpoint import load_checkpoint
from mnist_model.config import Machine, TrainConfig
from mnist_model.errors import TrainingError
from mnist_model.run import autotune
from mnist_model.run.outputs import FILES, REPORT_KEYS
from mnist_model.run.runner import (
    read_training_state,
    rebuild_report,
    resolve_arithmetic,
    select_device,
    train_and_write,
)
from mnist_model.train import train

TINY = TrainConfig(epochs=2, batch_size=8)
FP32 = Machine(threads=1, precision="fp32", layout="contiguous")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    from helpers.synthetic import fake_arrays

    images, labels = (torch.from_numpy(a) for a in fake_arrays(32, seed=7))
    out = tmp_path_factory.mktemp("artifacts") / "run"
    run, paths = train_and_write(
        TINY,
        out,
        (images, labels),
        (images[:16], labels[:16]),
        checksums={"f": "md5"},
        machine=FP32,
    )
    return out, run, paths, (images, labels)


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
    assert metrics["machine"]["precision"] == "fp32" and "threads" not in metrics["config"]
    assert json.loads(paths["per_class"].read_text()) == json.loads(
        json.dumps(run.final.per_class_rows())
    )
    model, payload = load_checkpoint(paths["checkpoint"])
    assert payload["metrics"]["correct"] == run.final.correct
    assert payload["data_md5"] == {"f": "md5"}


def test_rebuild_report_writes_the_report_files_only(written, tmp_path) -> None:
    _, _, paths, (images, labels) = written
    rebuilt = rebuild_report(tmp_path / "report", paths["checkpoint"], (images[:16], labels[:16]))
    assert set(rebuilt) == set(REPORT_KEYS)
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == sorted(
        FILES[key] for key in REPORT_KEYS
    )


def test_a_resumed_run_continues_the_saved_state_to_the_same_weights(written, tmp_path) -> None:
    out, run, _, (images, labels) = written
    state = read_training_state(out / FILES["state"], TINY, run.model.config)
    assert state["epoch"] == 2 and state["arithmetic"].name == "fp32/contiguous"
    # a finished state resumes to the same model, evaluated again
    again, _ = train_and_write(
        TINY,
        tmp_path / "again",
        (images, labels),
        (images[:16], labels[:16]),
        checksums={"f": "md5"},  # the same data: a resumed run may not change it
        machine=Machine(threads=2),  # the machine may change; the arithmetic stays
        state=state,
    )
    assert again.arithmetic.source == "resumed" and again.arithmetic.name == "fp32/contiguous"
    pairs = zip(run.model.state_dict().values(), again.model.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


@pytest.mark.parametrize(
    ("train", "test", "checksums", "says"),
    [
        (24, 16, {"f": "md5"}, "train_size 32 saved, 24 now"),
        (32, 8, {"f": "md5"}, "test_size 16 saved, 8 now"),
        (32, 16, {"f": "other"}, "the data files' MD5s differ"),
    ],
    ids=["limit", "test-limit", "other-files"],
)
def test_a_resume_on_other_data_is_refused(written, tmp_path, train, test, checksums, says):
    out, run, _, (images, labels) = written
    state = read_training_state(out / FILES["state"], TINY, run.model.config)
    with pytest.raises(TrainingError, match=f"cannot resume: .*{says}.*--limit, --test-limit"):
        train_and_write(
            TINY,
            tmp_path / "again",
            (images[:train], labels[:train]),
            (images[:test], labels[:test]),
            checksums=checksums,
            machine=FP32,
            state=state,
        )
    assert not (tmp_path / "again").exists() or not any((tmp_path / "again").iterdir())
    del state["data"]  # a state from before the data selection was recorded
    with pytest.raises(TrainingError, match="records no data selection"):
        train_and_write(
            TINY,
            tmp_path / "old",
            (images, labels),
            (images[:16], labels[:16]),
            checksums={"f": "md5"},
            machine=FP32,
            state=state,
        )


def test_a_missing_or_foreign_state_is_refused(written, tmp_path) -> None:
    from mnist_model.checkpoint import CheckpointError

    out, run, _, _ = written
    with pytest.raises(TrainingError, match="no training state"):
        read_training_state(tmp_path / "none.pt", TINY, run.model.config)
    with pytest.raises(TrainingError, match="another recipe"):
        read_training_state(out / FILES["state"], TrainConfig(epochs=3), run.model.config)
    saved = torch.load(out / FILES["state"], weights_only=True)
    saved["arithmetic"] = {"precision": "fp8", "layout": "contiguous"}
    torch.save(saved, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="no valid arithmetic"):
        read_training_state(tmp_path / "bad.pt", TINY, run.model.config)


def test_select_device() -> None:
    assert select_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device("auto").type == expected


def test_asking_for_cuda_without_cuda_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # same on GPU machines
    with pytest.raises(TrainingError, match="no CUDA device"):
        select_device("cuda")


def test_auto_reproduces_the_arithmetic_it_chose(tiny_dataset, tmp_path, monkeypatch) -> None:
    """The same seed and the same chosen arithmetic give identical weights; measuring (which
    builds and steps models of its own) does not move the run's random numbers."""
    monkeypatch.setenv(autotune.CACHE_ENV_VAR, str(tmp_path))
    x, y = tiny_dataset
    cpu = torch.device("cpu")
    chosen = resolve_arithmetic(Machine(threads=1), cpu, (x, y), TINY.batch_size)
    assert chosen.source == "measured"
    again = resolve_arithmetic(Machine(threads=1), cpu, (x, y), TINY.batch_size)
    assert again.source == "cache" and again.name == chosen.name
    measured = train(TINY, x, y, x[:4], y[:4], arithmetic=chosen, threads=1)
    explicit = resolve_arithmetic(
        Machine(precision=chosen.precision, layout=chosen.layout), cpu, (x, y), TINY.batch_size
    )
    assert explicit.source == "explicit"
    plain = train(TINY, x, y, x[:4], y[:4], arithmetic=explicit, threads=1)
    first, second = measured.model.state_dict(), plain.model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
