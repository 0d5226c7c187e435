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
COMPARISON_KEY = pytest.StashKey[str]()


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
def comparison(request, accepted_model, test_set, ood_suite, thresholds):
    """(the paired comparison with ``--baseline``, what makes the candidate worse)."""
    from pathlib import Path

    from mnist_model import compare
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.errors import MnistModelError

    model, _ = accepted_model
    path = Path(request.config.getoption("--baseline"))
    labels = test_set[1].numpy()
    suite = {k: thresholds["ood"][k] for k in ("version", "per_class", "seed")}
    try:
        if path.suffix == ".pt":
            baseline = compare.predictions_of(load_checkpoint(path)[0], test_set[0], ood_suite)
        else:
            _, *baseline = compare.load_record(
                path, test_labels=labels, ood_labels=ood_suite.labels, ood_suite=suite
            )
    except MnistModelError as exc:
        pytest.fail(f"--baseline: {exc}", pytrace=False)
    result = compare.compare(
        tuple(baseline),
        compare.predictions_of(model, test_set[0], ood_suite),
        test_labels=labels,
        ood_labels=ood_suite.labels,
        ood_condition=ood_suite.condition,
        ood_names=ood_suite.names,
    )
    failed = compare.judge(result, thresholds)
    text = f"baseline: {path}\n" + compare.comparison_text(result, failed)
    request.config.stash[COMPARISON_KEY] = text
    return result, failed


@pytest.fixture(scope="session")
def per_class_table(request, accepted_model, test_result) -> str:
    """The per-class report, also shown in the terminal summary (so it is in CI logs)."""
    from mnist_model.stats import wilson_interval

    _, origin = accepted_model
    low, high = wilson_interval(test_result.correct, test_result.total)
    lines = [
        f"model: {origin}",
        f"overall: {test_result.correct}/{test_result.total} = "
        f"{100 * test_result.accuracy:.2f}% (95 % {100 * low:.2f}-{100 * high:.2f}), "
        f"loss {test_result.loss:.4f}",
        _with_intervals(test_result),
    ]
    table = "\n".join(lines)
    request.config.stash[TABLE_KEY] = table
    return table


def _with_intervals(result) -> str:
    """The per-class table with each accuracy's 95 % Wilson interval appended."""
    from mnist_model.stats import wilson_interval

    rows = result.per_class_text().splitlines()
    lines = [rows[0] + "  95 % interval"]
    for row, counts in zip(rows[1:], result.per_class_rows(), strict=True):
        low, high = wilson_interval(round(counts["accuracy"] * counts["count"]), counts["count"])
        lines.append(f"{row}  {100 * low:.2f}-{100 * high:.2f}")
    return "\n".join(lines)


@pytest.fixture
def note(request):
    """note(text): a line for the acceptance summary (measured values, pass or fail)."""
    return request.config.stash.setdefault(NOTES_KEY, []).append


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    table = config.stash.get(TABLE_KEY, None)
    notes = config.stash.get(NOTES_KEY, [])
    if table is None and not notes:
        return
    compared = config.stash.get(COMPARISON_KEY, None)
    if compared is None:
        compared = "baseline: none given (--baseline=FILE compares with an accepted model)"
    terminalreporter.write_sep("=", "acceptance: per-class results")
    for line in ([table] if table else []) + notes + [compared]:
        terminalreporter.write_line(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # GitHub Actions shows this file on the run's page
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(step_summary(terminalreporter.stats, table, notes, compared))


def step_summary(stats: dict, table: str | None, notes: list[str], compared: str = "") -> str:
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
    if compared:
        lines += ["", "```", compared, "```"]
    return "\n".join(lines) + "\n\n"
