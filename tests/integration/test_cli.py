"""The command line end to end, as a user runs it: in this process through
``helpers.cli.run_cli`` (what a process would print and return), and in real processes
for the console script and the module entry point (the ``e2e`` tests).

One short `train` (a few thousand images, one epoch) feeds the artifact and `evaluate`
tests; the error tests check the CLI contract: exit code 2, one `mnist-model: error:`
line on stderr, never a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from helpers.cli import assert_ok, run_cli, short_train_flags
from helpers.synthetic import fake_raw_bytes, write_raw
from mnist_model.checkpoint import load_checkpoint, save_checkpoint
from mnist_model.config import PRESETS
from mnist_model.data import RAW_FILES, raw_dir
from mnist_model.evaluate import evaluate
from mnist_model.model import MnistNet, count_parameters

pytestmark = pytest.mark.integration

TRAIN_LIMIT = 2000
TEST_LIMIT = 500
EXIT_USAGE_ERROR = 2


@pytest.fixture(scope="module")
def trained(mnist_root, tmp_path_factory):
    """(artifacts folder, completed process) of one short `mnist-model train`."""
    out = tmp_path_factory.mktemp("cli") / "artifacts"
    proc = run_cli(
        "train",
        *short_train_flags(TRAIN_LIMIT, TEST_LIMIT),
        "--out",
        str(out),
        data_root=mnist_root,
        cwd=out.parent,
    )
    assert_ok(proc)
    return out, proc


def test_data_verify_prints_the_four_canonical_md5s(mnist_root) -> None:
    proc = run_cli("data", "--verify", data_root=mnist_root)
    assert_ok(proc)
    lines = proc.stdout.splitlines()
    listed = {Path(path).name: md5 for md5, path in (line.split("  ", 1) for line in lines[:-1])}
    assert listed == RAW_FILES
    assert lines[-1] == f"OK: 4 files verified under {raw_dir(mnist_root)}"


@pytest.mark.e2e
def test_summary_prints_the_layer_table_and_total() -> None:
    proc = run_cli("summary", spawn=True)  # python -m mnist_model, a real process
    assert_ok(proc)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("total trainable parameters")
    assert last.split()[-1] == f"{count_parameters(MnistNet()):,}"
    assert "classifier" in proc.stdout and "Conv2d" in proc.stdout


@pytest.mark.e2e
def test_the_console_script_says_what_the_tool_does() -> None:
    import shutil
    import subprocess
    import sys

    script = shutil.which("mnist-model", path=str(Path(sys.executable).parent)) or "mnist-model"
    proc = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "train a 7,954-parameter MNIST CNN, judge it" in " ".join(proc.stdout.split())
    assert "thresholds" in proc.stdout and "compare" in proc.stdout


@pytest.mark.e2e
def test_the_help_needs_no_torch() -> None:
    # `mnist-model --help` and the parser are quick: nothing heavy is imported to build it
    import subprocess
    import sys

    code = "import sys, mnist_model.cli as c; c.build_parser(); print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "False", proc.stdout + proc.stderr


def test_train_reports_and_writes_artifacts(trained) -> None:
    out, proc = trained
    assert "Test set: Average loss:" in proc.stdout
    assert "final accuracy" in proc.stdout
    for name in ("checkpoint", "metrics", "per_class"):
        assert f"wrote {name}: " in proc.stdout
    # The core artifacts; train may write more (report pictures), which other tests own.
    assert {"metrics.json", "model.pt", "per_class.json"} <= {p.name for p in out.iterdir()}


def test_metrics_json_describes_the_run(trained) -> None:
    out, _ = trained
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["epochs"] == 1 and metrics["config"]["batch_size"] == 64
    assert (metrics["train_size"], metrics["test_size"]) == (TRAIN_LIMIT, TEST_LIMIT)
    assert len(metrics["epochs"]) == 1
    final = metrics["final"]
    assert final["total"] == TEST_LIMIT
    assert sum(map(sum, final["confusion"])) == TEST_LIMIT
    assert final["accuracy"] == final["correct"] / TEST_LIMIT


def test_preset_fast_runs_its_epochs_and_flags_override_the_rest(mnist_root, tmp_path) -> None:
    out = tmp_path / "fast"
    proc = run_cli(
        "train",
        "--preset",
        "fast",
        "--limit",
        "256",
        "--test-limit",
        "100",
        "--batch-size",
        "64",
        "--threads",
        "1",
        "--no-progress",
        "--out",
        str(out),
    )
    assert_ok(proc)
    metrics = json.loads((out / "metrics.json").read_text())
    expected = dataclasses.replace(PRESETS["fast"], batch_size=64)
    assert metrics["config"] == dataclasses.asdict(expected)
    assert metrics["machine"]["threads"] == 1
    assert len(metrics["epochs"]) == PRESETS["fast"].epochs < PRESETS["default"].epochs


def test_per_class_json_has_ten_consistent_rows(trained) -> None:
    out, _ = trained
    rows = json.loads((out / "per_class.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())["final"]
    assert [row["class"] for row in rows] == list(range(10))
    assert sum(row["count"] for row in rows) == TEST_LIMIT
    assert [row["accuracy"] for row in rows] == metrics["per_class_accuracy"]


def test_checkpoint_is_plain_data_and_reproduces_the_recorded_metrics(trained, mnist_splits):
    out, _ = trained
    payload = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    assert payload["data_md5"] == RAW_FILES
    model, _ = load_checkpoint(out / "model.pt")
    test_x, test_y = mnist_splits["test"]
    result = evaluate(model, test_x[:TEST_LIMIT], test_y[:TEST_LIMIT])
    recorded = json.loads((out / "metrics.json").read_text())["final"]
    assert result.correct == recorded["correct"]
    assert result.loss == pytest.approx(recorded["loss"], rel=1e-5)


def test_evaluate_json_covers_the_full_test_set(trained, mnist_root) -> None:
    out, _ = trained
    proc = run_cli(
        "evaluate", "--checkpoint", str(out / "model.pt"), "--json", data_root=mnist_root
    )
    assert_ok(proc)
    result = json.loads(proc.stdout)
    assert result["total"] == 10_000
    assert sum(map(sum, result["confusion"])) == 10_000
    assert len(result["per_class"]) == 10


def test_evaluate_prints_a_per_class_table(trained, mnist_root) -> None:
    out, _ = trained
    proc = run_cli("evaluate", "--checkpoint", str(out / "model.pt"), data_root=mnist_root)
    assert_ok(proc)
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Test set: Average loss:") and "/10000 (" in lines[0]
    assert lines[1].split()[:3] == ["class", "accuracy", "count"]
    assert [int(line.split()[0]) for line in lines[2:]] == list(range(10))


# --- failures: exit 2, one line, no traceback ---------------------------------------------
def corrupt_root(tmp_path: Path) -> Path:
    """A data root whose four files exist but are not MNIST (fake data, wrong MD5s)."""
    write_raw(tmp_path / "corrupt", fake_raw_bytes())
    return tmp_path / "corrupt"


def garbage_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.pt"
    path.write_bytes(b"this is not a checkpoint\n" * 40)
    return path


def untrained_checkpoint(tmp_path: Path) -> Path:
    return save_checkpoint(
        tmp_path / "untrained.pt", MnistNet(), train_config={}, metrics={}, data_md5={}
    )


BAD_INVOCATIONS = {
    "missing checkpoint": lambda tmp: ["evaluate", "--checkpoint", str(tmp / "nope.pt")],
    "garbage checkpoint": lambda tmp: ["evaluate", "--checkpoint", str(garbage_checkpoint(tmp))],
    "epochs 0": lambda tmp: ["train", "--epochs", "0", "--out", str(tmp / "out")],
    "negative limit": lambda tmp: ["train", "--limit", "-5", "--out", str(tmp / "out")],
    "corrupt data dir (verify)": lambda tmp: [
        "data",
        "--verify",
        "--data-dir",
        str(corrupt_root(tmp)),
    ],
    "corrupt data dir (train)": lambda tmp: [
        "train",
        "--epochs",
        "1",
        "--data-dir",
        str(corrupt_root(tmp)),
        "--out",
        str(tmp / "out"),
    ],
    "empty data dir (evaluate)": lambda tmp: [
        "evaluate",
        "--checkpoint",
        str(untrained_checkpoint(tmp)),
        "--data-dir",
        str(tmp / "empty"),
    ],
}


@pytest.mark.parametrize("make_args", BAD_INVOCATIONS.values(), ids=BAD_INVOCATIONS.keys())
def test_bad_input_exits_2_with_one_error_line(make_args, tmp_path) -> None:
    proc = run_cli(*make_args(tmp_path), cwd=tmp_path)
    assert proc.returncode == EXIT_USAGE_ERROR, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("mnist-model: error: ")
    # A failed run must not leave half an artifacts folder behind.
    assert not (tmp_path / "out" / "model.pt").exists()


def test_corrupt_data_is_left_untouched(tmp_path) -> None:
    root = corrupt_root(tmp_path)
    before = {p.name: p.read_bytes() for p in raw_dir(root).iterdir()}
    proc = run_cli(
        "train", "--epochs", "1", "--data-dir", str(root), "--out", str(tmp_path / "out")
    )
    assert proc.returncode == EXIT_USAGE_ERROR
    assert {p.name: p.read_bytes() for p in raw_dir(root).iterdir()} == before
