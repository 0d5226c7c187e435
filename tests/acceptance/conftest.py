"""Acceptance fixtures: the model under judgement, its test-set results and the bar.

The model is the checkpoint given with ``--checkpoint PATH`` (CI passes the one its train
step wrote) or, without it, the default recipe trained here in-process on the full data.
A bad path or file is an error, never a skip: an acceptance run that judged nothing must
not look green.
"""

from __future__ import annotations

import os

import pytest

TABLE_KEY = pytest.StashKey[str]()
NOTES_KEY = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def thresholds() -> dict:
    """The versioned golden file (``mnist_model.thresholds``: the report and the plots read
    the same one); missing or malformed fails every acceptance test."""
    from mnist_model import thresholds

    try:
        return thresholds.load()
    except thresholds.ThresholdsError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def accepted_model(request, mnist_splits, tmp_path_factory):
    """(model in eval mode, where it came from)."""
    from mnist_model.checkpoint import load_checkpoint, save_checkpoint
    from mnist_model.errors import CheckpointError

    option = request.config.getoption("--checkpoint")
    if option is not None:
        try:
            model, _ = load_checkpoint(option)
        except CheckpointError as exc:
            pytest.fail(f"--checkpoint: {exc}", pytrace=False)
        return model, f"checkpoint {option}"

    import dataclasses

    from mnist_model.config import Machine, TrainConfig
    from mnist_model.runner import run_recipe

    config = TrainConfig()
    run = run_recipe(config, Machine(), mnist_splits["train"], mnist_splits["test"])
    # Keep what was trained, so a failure can be re-judged without retraining.
    path = tmp_path_factory.mktemp("acceptance") / "model.pt"
    save_checkpoint(
        path,
        run.model,
        train_config=dataclasses.asdict(config),
        metrics=run.final.to_dict(),
        data_md5={},
    )
    return run.model.eval(), f"default recipe trained in-process (saved to {path})"


@pytest.fixture(scope="session")
def test_set(mnist_splits):
    return mnist_splits["test"]


@pytest.fixture(scope="session")
def ood_suite(mnist_root, test_set, thresholds):
    """The out-of-distribution suite in MNIST form, prepared once per machine and kept
    next to the MNIST files (``mnist_model.ood.prepare``)."""
    from mnist_model import ood

    suite = thresholds["ood"]
    return ood.prepare(
        *test_set,
        per_class=suite["per_class"],
        seed=suite["seed"],
        cache_dir=ood.cache_dir(mnist_root),
    )


@pytest.fixture(scope="session")
def test_result(accepted_model, test_set):
    from mnist_model.evaluate import evaluate

    model, _ = accepted_model
    return evaluate(model, *test_set)


@pytest.fixture(scope="session")
def per_class_table(request, accepted_model, test_result) -> str:
    """The per-class report, also shown in the terminal summary (so it is in CI logs)."""
    _, origin = accepted_model
    lines = [
        f"model: {origin}",
        f"overall: {test_result.correct}/{test_result.total} = "
        f"{100 * test_result.accuracy:.2f}%, loss {test_result.loss:.4f}",
        test_result.per_class_text(),
    ]
    table = "\n".join(lines)
    request.config.stash[TABLE_KEY] = table
    return table


@pytest.fixture
def note(request):
    """note(text): a line for the acceptance summary (measured values, pass or fail)."""
    return request.config.stash.setdefault(NOTES_KEY, []).append


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    table = config.stash.get(TABLE_KEY, None)
    notes = config.stash.get(NOTES_KEY, [])
    if table is None and not notes:
        return
    terminalreporter.write_sep("=", "acceptance: per-class results")
    for line in ([table] if table else []) + notes:
        terminalreporter.write_line(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # GitHub Actions shows this file on the run's page
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(step_summary(terminalreporter.stats, table, notes))


def step_summary(stats: dict, table: str | None, notes: list[str]) -> str:
    """Markdown for the CI job summary: the verdict, each failed check, the table."""
    passed, failed = len(stats.get("passed", [])), len(stats.get("failed", []))
    failed += len(stats.get("error", []))
    verdict = "PASSED" if failed == 0 and passed else "FAILED"
    lines = [f"## Acceptance: {verdict} ({passed} passed, {failed} failed)", ""]
    for report in stats.get("failed", []) + stats.get("error", []):
        message = report.longreprtext.strip().splitlines()
        lines.append(f"- FAILED `{report.nodeid}`: {message[-1] if message else ''}")
    if table:
        lines += ["", "```", table, "```"]
    lines += [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n\n"
