"""Acceptance fixtures: the model under judgement and the gate's verdict on it.

The model is the one given with ``--checkpoint PATH`` (CI passes the checkpoint its train
step wrote; any format ``mnist_model.formats`` reads, with ``--model-class`` and
``--input-scale``) or, without it, the default recipe trained here in-process on the full
data. ``--thresholds FILE`` judges against other floors (your own, derived from your
models).
The verdict is ``mnist_model.gate.verdict.judge`` on everything the gate measures
(``measure.gate_record``), the engine ``mnist-model gate`` prints: each acceptance test
asserts one of its checks, so the two cannot disagree. A bad path or file is an error,
never a skip: an acceptance run that judged nothing must not look green.
"""

from __future__ import annotations

import os

import pytest

TABLE_KEY = pytest.StashKey[str]()
VERDICT_KEY = pytest.StashKey[object]()
COMPARISON_KEY = pytest.StashKey[str]()


@pytest.fixture(scope="session")
def thresholds(request) -> dict:
    """The versioned golden file (``mnist_model.gate.thresholds``: the report and the plots
    read the same one), or ``--thresholds``; missing or malformed fails every acceptance
    test."""
    from mnist_model.gate import thresholds
    from mnist_model.gate.plugin import dest

    try:
        return thresholds.load(request.config.getoption(dest("thresholds")))
    except thresholds.ThresholdsError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def accepted_model(request, mnist_splits, tmp_path_factory):
    """(the model, ``formats.Loaded``; where it came from; its provenance)."""
    from mnist_model.checkpoint import save_checkpoint
    from mnist_model.errors import CheckpointError
    from mnist_model.formats import load_any
    from mnist_model.gate.inputs import provenance
    from mnist_model.gate.plugin import dest, reading

    option = request.config.getoption(dest("checkpoint"))
    if option is not None:
        try:
            loaded = load_any(option, **reading(request.config))
        except CheckpointError as exc:
            pytest.fail(f"--checkpoint: {exc}", pytrace=False)
        return loaded, f"checkpoint {option} ({loaded.description})", provenance(option, loaded)

    import dataclasses

    from mnist_model.config import Machine, TrainConfig
    from mnist_model.run.runner import run_recipe

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
    loaded = load_any(path)
    return loaded, f"default recipe trained in-process (saved to {path})", provenance(path, loaded)


@pytest.fixture(scope="session")
def test_set(mnist_splits):
    return mnist_splits["test"]


@pytest.fixture(scope="session")
def gate_inputs(mnist_root, mnist_splits):
    """The suite through both preprocessings and the pixel regression, prepared once
    (``mnist_model.gate.inputs``, as the command line prepares them)."""
    from mnist_model.gate.inputs import gate_inputs

    return gate_inputs(mnist_root, mnist_splits["train"], mnist_splits["test"])


@pytest.fixture(scope="session")
def gate_record(accepted_model, gate_inputs) -> dict:
    from mnist_model.gate.measure import gate_record

    loaded, _, origin = accepted_model
    return gate_record(loaded, gate_inputs, provenance=origin)


@pytest.fixture(scope="session")
def comparison(request, accepted_model, gate_inputs):
    """The paired comparison with ``--baseline`` (None without it)."""
    from mnist_model.errors import MnistModelError
    from mnist_model.gate import paired
    from mnist_model.gate.paired import accepted_predictions
    from mnist_model.gate.plugin import dest, reading

    path = request.config.getoption(dest("baseline"))
    if path is None:
        return None
    loaded, _, _ = accepted_model
    try:
        baseline = accepted_predictions(path, gate_inputs, **reading(request.config))
    except MnistModelError as exc:
        pytest.fail(f"--baseline: {exc}", pytrace=False)
    return paired.compare_models(baseline, loaded.model, gate_inputs)


@pytest.fixture(scope="session")
def verdict(request, gate_record, comparison, thresholds):
    """The gate's verdict (``verdict.judge``), also printed in the terminal summary."""
    from mnist_model.gate import paired
    from mnist_model.gate.plugin import dest
    from mnist_model.gate.verdict import judge

    result = judge(gate_record, thresholds, comparison=comparison)
    request.config.stash[VERDICT_KEY] = result
    if comparison is not None:
        reasons = [c.reason for c in result.failed if c.name.startswith("paired")]
        text = paired.comparison_text(comparison, reasons)
        request.config.stash[COMPARISON_KEY] = (
            f"baseline: {request.config.getoption(dest('baseline'))}\n{text}"
        )
    return result


@pytest.fixture(scope="session")
def test_result(gate_record):
    return gate_record["test"]


@pytest.fixture(scope="session")
def per_class_table(request, accepted_model, test_set) -> str:
    """The per-class report, also shown in the terminal summary (so it is in CI logs)."""
    from mnist_model.evaluate import evaluate
    from mnist_model.gate.stats import wilson_interval

    loaded, origin, _ = accepted_model
    result = evaluate(loaded.model, *test_set)
    low, high = wilson_interval(result.correct, result.total)
    lines = [
        f"model: {origin}",
        f"overall: {result.correct}/{result.total} = "
        f"{100 * result.accuracy:.2f}% (95 % {100 * low:.2f}-{100 * high:.2f}), "
        f"loss {result.loss:.4f}",
        _with_intervals(result),
    ]
    table = "\n".join(lines)
    request.config.stash[TABLE_KEY] = table
    return table


def _with_intervals(result) -> str:
    """The per-class table with each accuracy's 95 % Wilson interval appended."""
    from mnist_model.gate.stats import wilson_interval

    rows = result.per_class_text().splitlines()
    lines = [rows[0] + "  95 % interval"]
    for row, counts in zip(rows[1:], result.per_class_rows(), strict=True):
        low, high = wilson_interval(round(counts["accuracy"] * counts["count"]), counts["count"])
        lines.append(f"{row}  {100 * low:.2f}-{100 * high:.2f}")
    return "\n".join(lines)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    table = config.stash.get(TABLE_KEY, None)
    verdict = config.stash.get(VERDICT_KEY, None)
    if table is None and verdict is None:
        return
    compared = config.stash.get(COMPARISON_KEY, None)
    if compared is None:
        compared = "baseline: none given (--baseline=FILE compares with an accepted model)"
    terminalreporter.write_sep("=", "acceptance: the gate's verdict")
    shown = [table] if table else []
    shown += [verdict.text()] if verdict is not None else []
    for line in shown + [compared]:
        terminalreporter.write_line(line)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:  # GitHub Actions shows this file on the run's page
        with open(summary, "a", encoding="utf-8") as fh:
            fh.write(step_summary(terminalreporter.stats, table, verdict, compared))


def step_summary(stats: dict, table: str | None, verdict=None, compared: str = "") -> str:
    """Markdown for the CI job summary: the pytest outcome, each failed check of the
    verdict, the per-class table and the verdict's table."""
    passed, failed = len(stats.get("passed", [])), len(stats.get("failed", []))
    failed += len(stats.get("error", []))
    outcome = "PASSED" if failed == 0 and passed else "FAILED"
    lines = [f"## Acceptance: {outcome} ({passed} passed, {failed} failed)", ""]
    for report in stats.get("failed", []) + stats.get("error", []):
        message = report.longreprtext.strip().splitlines()
        lines.append(f"- FAILED `{report.nodeid}`: {message[-1] if message else ''}")
    if table:
        lines += ["", "```", table, "```"]
    if verdict is not None:
        lines += ["", "```", verdict.text(), "```"]
    if compared:
        lines += ["", "```", compared, "```"]
    return "\n".join(lines) + "\n\n"
