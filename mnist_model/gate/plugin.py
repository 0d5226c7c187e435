"""The acceptance suite's command-line options and multi-seed hooks, as a pytest plugin.

Installed with the package through the ``pytest11`` entry point, so pytest knows
``--checkpoint``, ``--seeds`` and ``--seeds-out`` before it parses the command line: the
model under judgement can be given as ``--checkpoint PATH`` or ``--checkpoint=PATH``,
from the repository or from any other folder, wherever the file lives. (Declared in a
conftest instead, the options exist only once pytest has found that conftest, and a
separate PATH is first taken for a test path that decides the root directory.)

The acceptance fixtures live in tests/acceptance/conftest.py. This module imports
nothing heavy: pytest loads it in every session of the environment, and its hooks do
nothing unless ``--seeds`` is given.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("mnist-model acceptance")
    group.addoption(
        "--checkpoint",
        action="store",
        default=None,
        metavar="PATH",
        help="acceptance tests: judge this checkpoint instead of training the default recipe",
    )
    group.addoption(
        "--baseline",
        action="store",
        default=None,
        metavar="PATH",
        help="acceptance tests: also compare the judged model, image by image, with this "
        "accepted model (a baseline record from `mnist-model baseline`, or a checkpoint)",
    )
    group.addoption(
        "--seeds",
        action="store",
        type=int,
        default=0,
        metavar="N",
        help="acceptance multi-seed mode: train seeds 0..N-1 (one test each; use -n 2 to "
        "run them in parallel) and check every seed and their mean",
    )
    group.addoption(
        "--seeds-out",
        action="store",
        default=".acceptance-seeds",
        metavar="DIR",
        help="where the multi-seed mode writes seed*.json and sweep.json",
    )


# --- acceptance multi-seed mode (pytest -m acceptance --seeds 5 -n 2) --------------------
# Each seed is one test (tests/acceptance/test_multiseed.py) that xdist can run in
# parallel and that writes its result to --seeds-out. When the session ends, the
# controller reads every seed's file, writes sweep.json and fails the run if a seed is
# missing or the mean is below the bar (``multiseed_mean_accuracy`` in the thresholds
# file): the spread is checked, not only each seed.


def pytest_configure(config: pytest.Config) -> None:
    """The gate's own inputs are usage errors (one message, exit 4, before any test runs):
    a ``--checkpoint`` or ``--baseline`` that is missing, a folder, unreadable or not
    loadable, and a negative ``--seeds``."""
    import os

    if config.getoption("--seeds") < 0:
        raise pytest.UsageError(f"--seeds {config.getoption('--seeds')}: give 1 or more")
    for option in ("--checkpoint", "--baseline"):
        value = config.getoption(option)
        if value is None:
            continue
        path = Path(value)
        if path.is_dir():
            raise pytest.UsageError(f"{option} {value}: a folder, not a file")
        if not path.is_file():
            raise pytest.UsageError(f"{option} {value}: no such file")
        if not os.access(path, os.R_OK):
            raise pytest.UsageError(f"{option} {value}: not readable")
        _loadable(option, path)


def _loadable(option: str, path: Path) -> None:
    """A checkpoint loads; a baseline record reads (its data-free checks)."""
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.errors import MnistModelError
    from mnist_model.gate.paired import read_record

    try:
        if option == "--checkpoint" or path.suffix == ".pt":
            load_checkpoint(path)
        else:
            read_record(path)
    except MnistModelError as exc:
        raise pytest.UsageError(f"{option}: {exc}") from None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Multi-seed tests only with ``--seeds``, comparison tests only with ``--baseline``
    (collected or not, never skipped)."""
    multi = config.getoption("--seeds") > 0
    compared = config.getoption("--baseline") is not None

    def wanted(item: pytest.Item) -> bool:
        if (item.get_closest_marker("multiseed") is not None) != multi:
            return False
        return compared or item.get_closest_marker("baseline") is None

    keep = [item for item in items if wanted(item)]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if config.getoption("--seeds") > 0 and is_controller(config):
        for stale in (*seeds_dir(config).glob("seed*.json"), *seeds_dir(config).glob("seed*.pt")):
            stale.unlink()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.getoption("--seeds") > 0:
        from mnist_model.gate import thresholds

        check_mean(session, thresholds.load())


def seeds_dir(config: pytest.Config) -> Path:
    return Path(config.getoption("--seeds-out")).resolve()


def is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def check_mean(session: pytest.Session, bars: dict) -> None:
    """Aggregate the seeds' files on the controller; a shortfall fails the session."""
    import json

    from mnist_model.atomic import atomic_write_json
    from mnist_model.gate.seeds import SeedResult, summarise, summary_table
    from mnist_model.gate.verdict import seeds_check

    config = session.config
    count = config.getoption("--seeds")
    if count <= 0 or not is_controller(config) or config.option.collectonly:
        return
    folder = seeds_dir(config)
    results, missing = [], []
    for seed in range(count):
        path = folder / f"seed{seed}.json"
        if path.is_file():
            results.append(SeedResult(**json.loads(path.read_text())))
        else:
            missing.append(seed)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    write = reporter.write_line if reporter else print
    if reporter:
        reporter.ensure_newline()  # the progress line may still be open
        reporter.write_sep("=", f"acceptance: {count} seeds")
    if missing:
        write(f"FAILED: no result for seeds {missing} (their tests failed or did not run)")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    summary = summarise(results)
    atomic_write_json(folder / "sweep.json", summary)
    write(summary_table(summary))
    write(f"wrote {folder / 'sweep.json'}")
    check = seeds_check(summary["mean_accuracy"], bars)
    if not check.passed:
        write(f"FAILED: {check.reason}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
