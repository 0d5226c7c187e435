"""The acceptance suite takes the model under judgement however the user spells it:
``--checkpoint PATH`` or ``--checkpoint=PATH``, from the repository root or from any
other folder, with the file inside or outside the repository. Each run is a real pytest
subprocess on tests/acceptance/test_accuracy.py; the checkpoint is an untrained model,
so the run must fail, and its table must show that this very file was judged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnist_model.checkpoint import load_checkpoint, save_checkpoint
from mnist_model.evaluate import evaluate
from mnist_model.model import MnistNet

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # real processes: the slow tier

REPO = Path(__file__).resolve().parents[2]
SUITE = REPO / "tests" / "acceptance" / "test_accuracy.py"


@pytest.fixture(scope="module")
def untrained(tmp_path_factory, mnist_splits):
    """(path outside the repository, path inside it, its correct count on the test set)."""
    torch.manual_seed(0)
    outside = tmp_path_factory.mktemp("judged") / "model.pt"
    save_checkpoint(outside, MnistNet(), train_config={}, metrics={}, data_md5={})
    inside = REPO / ".acceptance-seeds" / "plugin-test-model.pt"  # a git-ignored folder
    inside.parent.mkdir(exist_ok=True)
    inside.write_bytes(outside.read_bytes())
    correct = evaluate(load_checkpoint(outside)[0], *mnist_splits["test"]).correct
    yield outside, inside, correct
    inside.unlink()


def judge(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "acceptance", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


# Every pair of (spelling, where it runs, where the file is) in four runs. The first is
# the spelling of the README and CI (no test path: the whole suite is collected); the
# others name the acceptance file, which is quicker.
CASES = [
    ("separate", "repo_root", "outside", False),
    ("equals", "repo_root", "inside", True),
    ("separate", "elsewhere", "inside", True),
    ("equals", "elsewhere", "outside", True),
]


@pytest.mark.parametrize(
    ("spelling", "where", "location", "name_the_suite"),
    CASES,
    ids=["-".join(case[:3]) for case in CASES],
)
def test_checkpoint_option_in_every_spelling(
    untrained, tmp_path, spelling, where, location, name_the_suite
):
    outside, inside, correct = untrained
    cwd = REPO if where == "repo_root" else tmp_path
    target = outside if location == "outside" else inside
    given = os.path.relpath(target, cwd)  # relative to wherever the command runs
    option = ["--checkpoint", given] if spelling == "separate" else [f"--checkpoint={given}"]
    # Without a test path the whole suite is collected; its minute-long checks of an
    # untrained model (500 pictures a condition, 10,000 PNG files) are deselected by name.
    quick = ["-k", "not floor and not png_files"]
    suite = [os.path.relpath(SUITE, cwd)] if name_the_suite else quick
    summary = tmp_path / "step_summary.md"  # as GitHub Actions sets it
    proc = judge(cwd, *option, *suite, env={"GITHUB_STEP_SUMMARY": str(summary)})
    output = proc.stdout + proc.stderr
    assert "unrecognized arguments" not in output, output
    assert proc.returncode == 1, output  # an untrained model fails the bar...
    assert f"model: checkpoint {given}" in output, output  # ...and it was this one
    assert f"overall: {correct}/10000" in output, output
    # The CI job summary: the verdict, each failed check, the per-class table.
    text = summary.read_text()
    assert text.startswith("## Acceptance: FAILED (")
    # (How the node id starts depends on the root directory pytest picked: with a separate
    # PATH outside any project it picks one from that path, before any plugin is loaded.)
    assert "tests/acceptance/test_accuracy.py::test_overall_accuracy`" in text
    assert f"overall: {correct}/10000" in text and "most confused with" in text


@pytest.mark.parametrize("above", [False, True], ids=["bar-at-the-model", "bar-one-image-above"])
def test_the_overall_bar_is_read_from_the_thresholds_file(untrained, tmp_path, above) -> None:
    # The acceptance suite run with thresholds.PATH pointing at an edited copy: a bar set
    # exactly at the untrained model's accuracy passes it, one image above fails it. So
    # the suite judges by the file and nothing else (the report side: tests/unit/report/
    # test_card.py).
    from mnist_model.gate import thresholds

    outside, _, correct = untrained
    data = thresholds.load()
    data["overall_accuracy"] = (correct + above) / 10_000
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps(data))
    # (patched from a plugin, once pytest is configured: importing the package before
    # pytest.main would keep pytest from rewriting its plugin's asserts, a warning = error)
    code = (
        "import pathlib, sys, pytest\n"
        "class Bar:\n"
        "    def pytest_configure(self, config):\n"
        "        from mnist_model.gate import thresholds\n"
        f"        thresholds.PATH = pathlib.Path({str(path)!r})\n"
        "sys.exit(pytest.main(sys.argv[1:], plugins=[Bar()]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "-m", "acceptance", "-p", "no:cacheprovider"]
        + [f"--checkpoint={outside}", str(SUITE), "-k", "test_overall_accuracy"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == (1 if above else 0), output
    assert ("1 failed" if above else "1 passed") in output, output


# --- living with other projects -----------------------------------------------------------
OTHER_CONFTEST = """
def pytest_addoption(parser):
    parser.addoption("--checkpoint", default="none", help="their own option")
    parser.addoption("--thresholds", action="store_true", help="theirs too")
"""
OTHER_TEST = """
def test_their_option(request):
    assert request.config.getoption("--checkpoint") == "theirs.ckpt"
    assert request.config.getoption("--thresholds") is True
"""


def test_another_project_keeps_its_own_checkpoint_option(tmp_path) -> None:
    # mnist-model is installed in this environment, so its plugin loads in their session.
    (tmp_path / "conftest.py").write_text(OTHER_CONFTEST)
    (tmp_path / "test_theirs.py").write_text(OTHER_TEST)
    (tmp_path / "baseline_marked.py").write_text("")  # nothing of ours to deselect
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
        + ["--checkpoint", "theirs.ckpt", "--thresholds", "test_theirs.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "1 passed" in output, output
    assert "already" not in output, output
    # Ours stay reachable there under their own names.
    help_text = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    assert "--mnist-checkpoint" in help_text and "--mnist-thresholds" in help_text


def test_the_long_spelling_and_a_thresholds_file_work_in_this_repository(untrained, tmp_path):
    from mnist_model.gate import thresholds

    outside, _, correct = untrained
    data = thresholds.load()
    data["overall_accuracy"] = correct / 10_000  # a bar exactly at the untrained model
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    proc = judge(
        REPO,
        f"--mnist-checkpoint={outside}",
        f"--thresholds={path}",
        str(SUITE),
        "-k",
        "test_overall_accuracy",
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "1 passed" in output, output
