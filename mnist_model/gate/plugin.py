"""The acceptance suite's command-line options and multi-seed hooks, as a pytest plugin.

Installed with the package through the ``pytest11`` entry point, so pytest knows the
options before it parses the command line: the model under judgement can be given as
``--checkpoint PATH`` or ``--checkpoint=PATH``, from the repository or from any other
folder. (Declared in a conftest instead, the options exist only once pytest has found
that conftest, and a separate PATH is first taken for a test path.)

**It lives with other projects.** pytest loads it in every session of the environment,
so it claims only names of its own (``--mnist-checkpoint``, ``--mnist-baseline``, ...,
``OPTIONS``). The short spellings (``--checkpoint``, ``--baseline``, ``--seeds``,
``--model-class``, ``--thresholds``...) are added as aliases once the initial conftests
are loaded, each only if no conftest or plugin has taken it: a project whose conftest
defines its own ``--checkpoint`` keeps it, and runs unchanged. Its hooks do nothing
unless its options are given; the acceptance fixtures live in tests/acceptance/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

OPTIONS = {
    "checkpoint": (
        {"metavar": "PATH"},
        "acceptance tests: judge this model (any format mnist-model reads) instead of "
        "training the default recipe",
    ),
    "baseline": (
        {"metavar": "PATH"},
        "acceptance tests: also compare the judged model, image by image, with this "
        "accepted model (a baseline record from `mnist-model baseline`, or a model file)",
    ),
    "model-class": (
        {"metavar": "MODULE:NAME"},
        "acceptance tests: the nn.Module class (or factory) a state_dict loads into",
    ),
    "input-scale": (
        {"default": "mnist", "choices": ("mnist", "unit", "byte")},
        "acceptance tests: the pixels the model was trained on (see `mnist-model gate --help`)",
    ),
    "thresholds": (
        {"metavar": "FILE"},
        "acceptance tests: the floors to judge against (default: the shipped file)",
    ),
    "seeds": (
        {"type": int, "default": 0, "metavar": "N"},
        "acceptance multi-seed mode: train seeds 0..N-1 (one test each; use -n 2 to run "
        "them in parallel) and check every seed and their mean",
    ),
    "seeds-out": (
        {"default": ".acceptance-seeds", "metavar": "DIR"},
        "where the multi-seed mode writes seed*.json and sweep.json",
    ),
}
"""Each option: its argparse settings and help. ``--mnist-NAME`` always; ``--NAME`` where
free. Read them as ``config.getoption(dest("checkpoint"))``."""
GROUP = "mnist-model acceptance"


def dest(name: str) -> str:
    return "mnist_" + name.replace("-", "_")


def pytest_addoption(parser) -> None:
    group = parser.getgroup(GROUP)
    for name, (settings, help_) in OPTIONS.items():
        group.addoption(f"--mnist-{name}", dest=dest(name), help=help_, **settings)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    """After the initial conftests have added their options: the short spellings nobody
    took, as aliases of ours. Before, the value of a separate ``--checkpoint PATH`` is
    taken out of the paths the initial conftests are looked up from (unknown until then,
    the option left PATH looking like a test path, and this repository's root conftest
    would be found too late)."""
    paths = early_config.known_args_namespace.file_or_dir
    for flag, value in zip(args, args[1:], strict=False):
        if flag.startswith("--") and flag[2:] in OPTIONS and value in paths:
            paths.remove(value)
    result = yield
    taken = {
        name
        for group in (*parser._groups, parser._anonymous)  # noqa: SLF001 - no public list
        for option in group.options
        for name in option.names()
    }
    group = parser.getgroup(GROUP)
    for name, (settings, _) in OPTIONS.items():
        if f"--{name}" not in taken:
            short = {k: v for k, v in settings.items() if k != "default"}
            group.addoption(f"--{name}", dest=dest(name), help=f"= --mnist-{name}", **short)
    return result


# --- acceptance multi-seed mode (pytest -m acceptance --seeds 5 -n 2) --------------------
# Each seed is one test (tests/acceptance/test_multiseed.py) that xdist can run in
# parallel and that writes its result to --seeds-out. When the session ends, the
# controller reads every seed's file, writes sweep.json and fails the run if a seed is
# missing or the mean is below the bar (``multiseed_mean_accuracy`` in the thresholds
# file): the spread is checked, not only each seed.


def pytest_configure(config: pytest.Config) -> None:
    """The gate's own inputs are usage errors (one message, exit 4, before any test runs):
    a ``--checkpoint`` or ``--baseline`` that is missing, a folder, unreadable or not
    loadable, a ``--thresholds`` file that does not load, and a negative ``--seeds``."""
    import os

    if config.getoption(dest("seeds")) < 0:
        raise pytest.UsageError(f"--seeds {config.getoption(dest('seeds'))}: give 1 or more")
    for option in ("checkpoint", "baseline", "thresholds"):
        value = config.getoption(dest(option))
        if value is None:
            continue
        path = Path(value)
        if path.is_dir():
            raise pytest.UsageError(f"--{option} {value}: a folder, not a file")
        if not path.is_file():
            raise pytest.UsageError(f"--{option} {value}: no such file")
        if not os.access(path, os.R_OK):
            raise pytest.UsageError(f"--{option} {value}: not readable")
        _loadable(config, option, path)


def reading(config: pytest.Config) -> dict:
    """How a model file given to the acceptance suite is read (``formats.load_any``)."""
    return {
        "model_class": config.getoption(dest("model-class")),
        "input_scale": config.getoption(dest("input-scale")),
    }


def _loadable(config: pytest.Config, option: str, path: Path) -> None:
    """A model loads; a baseline record reads (its data-free checks); thresholds load."""
    from mnist_model.errors import MnistModelError
    from mnist_model.formats import load_any
    from mnist_model.gate import thresholds
    from mnist_model.gate.paired import is_record, read_record

    try:
        if option == "thresholds":
            thresholds.load(path)
        elif option == "checkpoint" or not is_record(path):
            load_any(path, **reading(config))
        else:
            read_record(path)
    except MnistModelError as exc:
        raise pytest.UsageError(f"--{option}: {exc}") from None


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if config.getoption(dest("seeds")) > 0 and is_controller(config):
        for stale in (*seeds_dir(config).glob("seed*.json"), *seeds_dir(config).glob("seed*.pt")):
            stale.unlink()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if session.config.getoption(dest("seeds")) > 0:
        from mnist_model.gate import thresholds

        check_mean(session, thresholds.load(session.config.getoption(dest("thresholds"))))


def seeds_dir(config: pytest.Config) -> Path:
    return Path(config.getoption(dest("seeds-out"))).resolve()


def is_controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def check_mean(session: pytest.Session, bars: dict) -> None:
    """Aggregate the seeds' files on the controller; a shortfall fails the session."""
    import json

    from mnist_model.atomic import atomic_write_json
    from mnist_model.gate.seeds import SeedResult, summarise, summary_table
    from mnist_model.gate.verdict import seeds_check

    config = session.config
    count = config.getoption(dest("seeds"))
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
    if check.applicable and not check.passed:
        write(f"FAILED: {check.reason}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
