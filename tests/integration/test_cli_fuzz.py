"""Property-based tests of the whole command line: no combination of valid-looking flags
crashes. Each run either finishes and leaves loadable artifacts, or exits 2 with one line
``mnist-model: error: ...`` that names what was wrong, and leaves no partial file.

The commands run in-process through ``cli.main`` (a subprocess per example would spend
most of its time importing torch) on a few hundred real MNIST images. Set
``MNIST_MODEL_FUZZ_EXAMPLES`` to explore more combinations than the default run does.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

import mnist_model.cli.common as commands
from mnist_model import cli
from mnist_model.checkpoint import load_checkpoint
from mnist_model.config import LAYOUT_CHOICES, PRECISION_CHOICES
from mnist_model.data import RAW_FILES

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("MNIST_MODEL_FUZZ_EXAMPLES", "0") or 0)
FUZZ = settings(
    max_examples=EXAMPLES or 20,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def values(valid: list, invalid: list) -> st.SearchStrategy:
    """Mostly valid values (so most examples train), sometimes an invalid one."""
    return st.sampled_from(valid * 4 + invalid)


TRAIN_FLAGS = {
    "--batch-size": values([1, 3, 64, 256, 4096], [0]),
    "--warmup-fraction": values([0.01, 0.25, 0.5, 0.99], [0.0, 1.0]),
    "--lr": values([1e-4, 0.2, 3.0, 1e6], [-0.1, 0.0]),
    "--initial-lr-divisor": values([0.5, 10.0, 1e4], [-1.0, 0.0]),
    "--final-lr-divisor": values([1.0, 100.0, 1e-3], [-1.0, 0.0]),
    "--momentum": values([0.0, 0.5, 0.9, 0.99, 1.5], [-0.1]),
    "--weight-decay": values([0.0, 5e-4, 0.5], [-1e-3]),
    "--label-smoothing": values([0.0, 0.1, 1.0], [-0.1, 1.5]),
    "--max-rotation-deg": values([0.0, 10.0, 360.0], [-1.0]),
    "--max-translate": values([0.0, 0.1, 2.0], [-0.1]),
    "--max-scale": values([0.0, 0.1, 0.99], [-0.1, 1.0, 2.0]),
    "--max-elastic-px": values([0.0, 2.0, 30.0], [-1.0]),
    "--augment-decay": values([0.0, 0.5, 1.0], [-0.5, 1.5]),
    "--ema-decay": values([0.0, 0.5, 0.999], [-0.1, 1.0]),
    "--decay-norm-and-bias": st.sampled_from([True, False]),
    "--seed": values([0, 1, 2**63 - 1], [-1, 2**63]),
    "--threads": values([0, 1, 2], [-1]),
    "--eval-batch-size": values([1, 7, 1000], [0]),
    "--precision": st.sampled_from(PRECISION_CHOICES),
    "--layout": st.sampled_from(LAYOUT_CHOICES),
    "--preset": st.sampled_from(["default", "fast"]),
    "--device": values(["auto", "cpu"], ["cuda:7", "meta", "nonsense"]),
}
"""Values of the right type, valid and invalid, so that validation and training both run.
--epochs, --limit and --test-limit are always given (the defaults train for minutes)."""

train_flags = st.fixed_dictionaries(
    {
        "--epochs": values([1, 2], [-1, 0]),
        "--limit": values([1, 2, 17, 100, 300], [-5, 0]),
        "--test-limit": values([1, 10, 100], [0]),
    },
    optional=TRAIN_FLAGS,
)


def run(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``mnist-model -q ARGV`` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(["-q", *argv])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    # --hypothesis-show-statistics: how the examples ended, and what the errors said
    first = err.getvalue().strip().splitlines()[:1]
    with contextlib.suppress(InvalidArgument):  # outside a hypothesis test there are no events
        event(f"{argv[0]}: exit {code}" + (f" ({_gist(first[0])})" if code and first else ""))
    return code, out.getvalue(), err.getvalue()


def _gist(line: str) -> str:
    """The error line without paths and numbers, so equal errors count as one event."""
    import re

    text = line.removeprefix("mnist-model: error: ")
    return re.sub(r"(/[^\s:;,)]+)+|-?\d+(\.\d+)?(e[-+]?\d+)?", "#", text)[:70]


def as_args(flags: dict) -> list[str]:
    """Flags as a command line; a True/False value is --flag / --no-flag."""
    tokens = []
    for flag, value in flags.items():
        if isinstance(value, bool):
            tokens.append(flag if value else "--no-" + flag[2:])
        else:
            tokens += [flag, str(value)]
    return tokens


def assert_one_line_error(code: int, err: str, flags: dict | None = None) -> str:
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mnist-model: error: "), err
    if flags:  # the message names the offending flag (as --flag-name or field_name)
        names = {f for f in flags} | {f[2:].replace("-", "_") for f in flags}
        names |= {"--resume", "training state", "--device", "non-finite loss"}
        assert any(name in lines[0] for name in names), lines[0]
    return lines[0]


def assert_no_partial_files(folder: Path) -> None:
    """Every file left is complete: no temporaries, and each one loads. (A run refused
    before it wrote anything leaves no folder at all, which is complete too.)"""
    for path in folder.iterdir() if folder.exists() else []:
        assert not path.name.startswith(".") and "tmp" not in path.name, path
        if path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pt":
            torch.load(path, weights_only=True)


def assert_complete_run(folder: Path) -> None:
    model, payload = load_checkpoint(folder / "model.pt")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["final"]["total"] == payload["metrics"]["total"] > 0
    assert metrics["arithmetic"]["precision"] in PRECISION_CHOICES[1:]
    for name in ("per_class.json", "report.md", "curves.png", "confusion_matrix.png"):
        assert (folder / name).stat().st_size > 0, name
    assert_no_partial_files(folder)


@pytest.fixture
def preloaded(monkeypatch, mnist_splits):
    """The CLI's data step returns the session's real splits (data loading has its own
    tests); everything after it runs for real."""

    def load(data_dir, *, acquire_missing=True):
        return dict(RAW_FILES), mnist_splits["train"], mnist_splits["test"]

    monkeypatch.setattr(commands, "load_data", load)


SMALL_TEST = 1000
"""Test images a fuzzed training evaluates (each epoch) and reports on: the flags' paths
are what is fuzzed, not the size of the evaluation."""


@pytest.fixture
def preloaded_small(monkeypatch, mnist_splits):
    """``preloaded``, with the first ``SMALL_TEST`` test images."""
    test_x, test_y = mnist_splits["test"]

    def load(data_dir, *, acquire_missing=True):
        return dict(RAW_FILES), mnist_splits["train"], (test_x[:SMALL_TEST], test_y[:SMALL_TEST])

    monkeypatch.setattr(commands, "load_data", load)


@FUZZ
@given(flags=train_flags, resume=st.sampled_from(["no", "without_state", "after_run", "changed"]))
def test_any_train_flags_finish_or_fail_in_one_line(preloaded_small, flags, resume) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        argv = ["train", *as_args(flags), "--no-progress", "--out", str(out)]
        if resume in ("after_run", "changed"):
            code, _, err = run(argv)
            if code != 0:
                assert_one_line_error(code, err, flags)
                return
            if resume == "changed":  # a state written by another config is refused
                argv = [*argv, "--lr", "0.0123"]
        code, _, err = run([*argv, "--resume"] if resume != "no" else argv)
        if code == 0:
            assert_complete_run(out)
        else:
            assert_one_line_error(code, err, flags)
            assert_no_partial_files(out)


sweep_flags = st.fixed_dictionaries(
    {
        "--epochs": values([1], [0]),
        "--limit": st.sampled_from([1, 50]),
        "--seeds": st.sampled_from(["0", "0-1", "1,3", "2-1", "", "a", "-1", "0-0"]),
    },
    optional={k: TRAIN_FLAGS[k] for k in ("--batch-size", "--lr", "--seed", "--precision")},
)


@settings(FUZZ, max_examples=EXAMPLES or 8)  # several trainings per example
@given(flags=sweep_flags)
def test_any_sweep_flags_finish_or_fail_in_one_line(preloaded, flags) -> None:
    flags = dict(flags)
    limit = flags.pop("--limit")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sweep"
        # sweep has no --limit: give it a small training split through the preloaded data
        with pytest.MonkeyPatch.context() as patch:
            load = commands.load_data

            def small(data_dir, *, acquire_missing=True):
                checksums, (x, y), test = load(data_dir, acquire_missing=acquire_missing)
                return checksums, (x[:limit], y[:limit]), (test[0][:50], test[1][:50])

            patch.setattr(commands, "load_data", small)
            code, stdout, err = run(["sweep", *as_args(flags), "--no-progress", "--out", str(out)])
        if code == 0:
            summary = json.loads((out / "sweep.json").read_text())
            for seed in summary["seeds"]:
                assert_complete_run(out / f"seed{seed['seed']}")
        else:
            assert_one_line_error(code, err, flags)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory, mnist_splits) -> Path:
    from mnist_model.checkpoint import save_checkpoint
    from mnist_model.model import MnistNet

    path = tmp_path_factory.mktemp("fuzz") / "model.pt"
    torch.manual_seed(0)
    save_checkpoint(path, MnistNet(), train_config={}, metrics={}, data_md5={})
    return path


def _checkpoint(kind: str, tiny: Path, tmp: Path) -> Path:
    """A checkpoint argument of the given kind."""
    if kind == "valid":
        return tiny
    path = tmp / f"{kind}.pt"
    if kind == "folder":
        path.mkdir()
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "garbage":
        path.write_bytes(os.urandom(64))
    elif kind == "not_ours":
        torch.save({"weights": torch.zeros(3)}, path)
    return path  # "missing": never created


checkpoints = st.sampled_from(["valid", "missing", "folder", "empty", "garbage", "not_ours"])


@FUZZ
@given(kind=checkpoints, as_json=st.booleans())
def test_evaluate_any_checkpoint(preloaded, tiny_checkpoint, kind, as_json) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = _checkpoint(kind, tiny_checkpoint, Path(tmp))
        code, stdout, err = run(["evaluate", "--checkpoint", str(path)] + ["--json"] * as_json)
    if kind == "valid":
        assert code == 0, err
        if as_json:
            assert json.loads(stdout)["total"] == 10000
    else:
        assert str(path) in assert_one_line_error(code, err)


@FUZZ
@given(kind=checkpoints, out_kind=st.sampled_from(["new", "nested", "is_a_file"]))
def test_report_any_checkpoint_and_folder(mnist_splits, tiny_checkpoint, kind, out_kind) -> None:
    test_x, test_y = mnist_splits["test"]
    small = (test_x[:SMALL_TEST], test_y[:SMALL_TEST])
    with (
        tempfile.TemporaryDirectory() as tmp,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr("mnist_model.data.load_split", lambda root, train: small)
        path = _checkpoint(kind, tiny_checkpoint, Path(tmp))
        out = Path(tmp) / "report" / ("deeper" if out_kind == "nested" else "")
        if out_kind == "is_a_file":
            out = Path(tmp) / "a_file"
            out.write_text("keep me")
        code, _, err = run(["report", "--checkpoint", str(path), "--out", str(out)])
        if code == 0:
            assert (out / "report.md").is_file() and kind == "valid"
        else:
            assert_one_line_error(code, err)
            if out_kind == "is_a_file":
                assert out.read_text() == "keep me"  # never lost data


def _image(kind: str, folder: Path) -> Path:
    from PIL import Image

    path = folder / f"{kind}.png"
    if kind == "digit":
        canvas = Image.new("L", (60, 90), 255)
        canvas.paste(0, (25, 10, 35, 80))  # a dark vertical stroke: a "1"
        canvas.save(path)
    elif kind == "tiny":
        Image.new("L", (1, 1), 0).save(path)
    elif kind == "wide_rgb":
        Image.new("RGB", (400, 7), (200, 10, 10)).save(path)
    elif kind == "flat":
        Image.new("L", (28, 28), 128).save(path)
    elif kind == "garbage":
        path.write_bytes(os.urandom(100))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "folder":
        path.mkdir()
    return path  # "missing": never created


@FUZZ
@given(
    kinds=st.lists(
        st.sampled_from(
            ["digit", "tiny", "wide_rgb", "flat", "garbage", "empty", "folder", "missing"]
        ),
        min_size=1,
        max_size=4,
        unique=True,
    ),
    as_json=st.booleans(),
)
def test_predict_any_images(tiny_checkpoint, kinds, as_json) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        paths = [_image(kind, Path(tmp)) for kind in kinds]
        argv = ["predict", *map(str, paths), "--checkpoint", str(tiny_checkpoint)]
        code, stdout, err = run(argv + ["--json"] * as_json)
    assert "Traceback" not in err
    errors = err.strip().splitlines()
    assert all(line.startswith("mnist-model: error: ") for line in errors), err
    # a file that cannot be read: 2; else one with no single digit (a blank or flat one,
    # or what the untrained model is unsure of): 3
    refused = [line for line in stdout.splitlines() if "no single digit" in line]
    assert code == (2 if errors else 3 if refused or as_json and '"refused": "' in stdout else 0)
    if as_json:
        rows = json.loads(stdout)
        assert [row["image"] for row in rows] == list(map(str, paths))
        assert sum("error" in row for row in rows) == len(errors)
        assert all(("error" in row) != ("refused" in row) for row in rows)
        assert {"flat", "tiny"}.isdisjoint({Path(r["image"]).stem for r in rows if "digit" in r})


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "--images", "0"],
        ["bench", "--repeats", "-1"],
        ["bench", "--cpu-classes", "--full"],
        ["bench", "--checkpoint", "/nonexistent/model.pt"],
    ],
    ids=["no-images", "negative-repeats", "cpu-classes-with-full", "missing-checkpoint"],
)
def test_bench_refuses_bad_arguments_in_one_line(argv, tmp_path) -> None:
    code, _, err = run([*argv, "--out", str(tmp_path / "bench.json")])
    assert_one_line_error(code, err)
    assert not (tmp_path / "bench.json").exists()


@pytest.mark.benchmark  # about 30 s of timing loops: with the benchmarks, not the default run
def test_a_small_valid_bench_finishes_with_its_json(tmp_path, tiny_checkpoint) -> None:
    out = tmp_path / "bench.json"
    argv = ["bench", "--images", "64", "--repeats", "1", "--checkpoint", str(tiny_checkpoint)]
    code, stdout, err = run([*argv, "--out", str(out)])
    assert code == 0, err
    result = json.loads(out.read_text())
    assert result["train_images_per_second"]["ours"] > 0
    assert all(a["same_predictions"] for a in result["inference"]["agreement"].values())
