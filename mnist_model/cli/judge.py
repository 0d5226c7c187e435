"""Judging a checkpoint: ``gate`` (the whole verdict the acceptance suite reaches),
``evaluate`` (the test set), ``ood`` (the out-of-distribution suite), ``baseline`` (the
record of an accepted model) and ``compare`` (the paired comparison with it). Every
pass or fail printed here is ``gate.verdict.judge``'s."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import mnist_model.cli.common as common
from mnist_model.cli.common import (
    EXIT_FAILED,
    ON,
    checkpoint_flag,
    data_dir_flag,
    json_flag,
    load_model,
    positive,
    read_test_split,
    thresholds_flag,
)
from mnist_model.errors import MnistModelError


def _baseline_flag(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--baseline",
        type=Path,
        required=required,
        help="the accepted model: a baseline record (JSON) or a model file of any format "
        "(read with --model-class and --input-scale too)"
        + (" (required)" if required else "; adds the paired comparison with it"),
    )


def gate_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    checkpoint_flag(parser, required=False)
    parser.add_argument(
        "--predictions",
        type=Path,
        help="instead of --checkpoint: logits computed elsewhere on the pictures of "
        "`mnist-model export-inputs` (an .npz, one (N, 10) array a set); the checks that "
        "need the model itself are n/a",
    )
    _baseline_flag(parser, required=False)
    thresholds_flag(parser)
    json_flag(parser, "the verdict, every check with its figure, bound and source,")


def gate(args: argparse.Namespace) -> int:
    """The acceptance suite's verdict on a model of any format (or on logits computed
    elsewhere), in one table; exit 1 if any check fails."""
    from mnist_model.data import resolve_data_root
    from mnist_model.gate import paired, thresholds
    from mnist_model.gate.inputs import gate_inputs, provenance, read_predictions
    from mnist_model.gate.measure import gate_record, predictions_record
    from mnist_model.gate.ood import predicted
    from mnist_model.gate.paired import accepted_predictions
    from mnist_model.gate.verdict import judge

    if (args.checkpoint is None) == (args.predictions is None):
        raise MnistModelError("gate: give --checkpoint MODEL or --predictions FILE (one)")
    baseline_model = args.baseline is not None and not paired.is_record(args.baseline)
    if args.predictions is not None and not baseline_model:
        for flag, given in (("--model-class", args.model_class), ("--input-scale", _scaled(args))):
            if given:
                raise MnistModelError(
                    f"gate --predictions: {flag} has no effect here (no model is read: it is "
                    "for --checkpoint, or --baseline given a model file)"
                )
    bars = thresholds.load(args.thresholds)
    loaded = load_model(args) if args.checkpoint is not None else None
    _, train_xy, test_xy = common.load_data(args.data_dir)
    inputs = gate_inputs(resolve_data_root(args.data_dir), train_xy, test_xy)
    if loaded is None:
        logits = read_predictions(args.predictions, inputs)
        record = predictions_record(logits, inputs)
        candidate = (
            logits["test"].argmax(1).numpy(),
            predicted(inputs.suite, logits["suite_default"]),
        )
    else:
        record = gate_record(loaded, inputs, provenance=provenance(args.checkpoint, loaded))
        candidate = paired.predictions_of(loaded.model, test_xy[0], inputs.suite)
    comparison = None
    if args.baseline is not None:
        accepted = accepted_predictions(args.baseline, inputs, **_reading(args))
        comparison = paired.compare_predictions(accepted, candidate, inputs)
    verdict = judge(record, bars, comparison=comparison)
    print(json.dumps(verdict.to_json()) if args.json else verdict.text())
    return EXIT_FAILED if verdict.failed else 0


def evaluate_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    checkpoint_flag(parser)
    json_flag(parser, "the metrics")


def _scaled(args: argparse.Namespace) -> bool:
    """Whether ``--input-scale`` asks for other pixels than this project's."""
    return args.input_scale != "mnist"


def _reading(args: argparse.Namespace) -> dict:
    """How a model file given as ``--baseline`` is read: as ``--checkpoint`` is."""
    return {"model_class": args.model_class, "input_scale": args.input_scale}


def evaluate(args: argparse.Namespace) -> int:
    from mnist_model.evaluate import evaluate as evaluate_model

    model = load_model(args).model
    _, test_xy = read_test_split(args.data_dir)
    result = evaluate_model(model, *test_xy)
    if not math.isfinite(result.loss):  # finite logits can still overflow the loss
        raise MnistModelError(f"{args.checkpoint}: the model's test loss is not finite")
    if args.json:
        print(json.dumps({**result.to_dict(), "per_class": result.per_class_rows()}))
        return 0
    print(result.reference_line())
    print(result.per_class_text())
    return 0


def ood_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    checkpoint_flag(parser, many=True)
    thresholds_flag(parser)
    parser.add_argument(
        "--per-class", type=int, help="pictures of each digit per condition (100, the gate's)"
    )
    parser.add_argument(
        "--suite-seed",
        type=int,
        default=0,
        help="the seed that draws the suite's digits and conditions (default: 0, the gate's)",
    )
    parser.add_argument(
        "--ablate",
        **ON,
        help="also score the default preprocessing with each of its steps switched off, "
        "one column each (the ablation table)",
    )
    json_flag(parser, "the accuracies (and, on the gate's suite, the floors and verdicts)")


def ood(args: argparse.Namespace) -> int:
    """Score checkpoints on the suite through the default and the plain preprocessing
    (with --ablate, also through the default without each step); several checkpoints are
    averaged, condition by condition. On the gate's suite every model is judged against
    the floors: exit 1 if any condition of any model is below its floor."""
    import torch

    from mnist_model.evaluate import predict_logits
    from mnist_model.gate import ood, thresholds
    from mnist_model.gate.inputs import suite_description
    from mnist_model.gate.verdict import judge
    from mnist_model.model import normalize
    from mnist_model.predict.preprocess import STEPS

    per_class = positive("--per-class", args.per_class) or ood.PER_CLASS
    if not 0 <= args.suite_seed < 2**63:
        raise MnistModelError(f"--suite-seed must be in [0, 2**63), got {args.suite_seed}")
    models = [load_model(args, path).model for path in args.checkpoint]
    root, test_xy = read_test_split(args.data_dir)
    fewest = int(test_xy[1].bincount(minlength=10).min())
    if per_class > fewest:
        raise MnistModelError(
            f"--per-class {per_class}: the test set has only {fewest} pictures of its rarest digit"
        )
    names = ["default", *(f"without-{s}" for s in STEPS if args.ablate), "plain"]
    bars = thresholds.load(args.thresholds)
    sure = (bars.get("refusal") or {}).get("min_confidence")
    scores, counted, refused = {}, [], {}
    for name in names:
        suite = ood.prepare(
            *test_xy,
            per_class=per_class,
            seed=args.suite_seed,
            cache_dir=ood.cache_dir(root),
            preprocessing=name,
        )
        logits = [predict_logits(m, normalize(torch.from_numpy(suite.arrays))) for m in models]
        each = [ood.counts(suite, ood.predicted(suite, x)) for x in logits]
        counted = counted or each
        scores[name] = {c: sum(e[c][0] / e[c][1] for e in each) / len(each) for c in suite.names}
        if name == "default":
            shares = [ood.refused(suite, x, sure) for x in logits]
            refused = {c: sum(r[c] for r in shares) / len(shares) for c in suite.names}
    described = {**suite_description(), "per_class": per_class, "seed": args.suite_seed}
    checks = {}
    if described == suite_description():
        verdicts = [judge({"ood": _ood_section(described, each)}, bars) for each in counted]
        checks = {c: [v[f"ood {c}"] for v in verdicts] for c in scores["default"]}
    failed = any(not check.passed for group in checks.values() for check in group)
    if args.json:
        extra = {n: scores[n] for n in names[1:]} | {"refused": refused}
        if checks:
            extra["floors"] = {c: group[0].bound for c, group in checks.items()}
            extra["verdict"] = {c: _worst(group) for c, group in checks.items()}
        print(json.dumps({**scores["default"], **extra}))
    elif args.ablate:
        print(ood.columns_text(scores))
    else:
        print(ood.table_text(scores["default"], checks, plain=scores["plain"], refused=refused))
    return EXIT_FAILED if failed else 0


def _ood_section(described: dict, counts: dict[str, tuple[int, int]]) -> dict:
    correct = {c: n for c, (n, _) in counts.items()}
    return {**described, "correct": correct, "total": {c: t for c, (_, t) in counts.items()}}


def _worst(group) -> str:
    return "pass" if all(check.passed for check in group) else "fail"


def baseline_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    checkpoint_flag(parser)
    parser.add_argument("--out", type=Path, required=True, help="the record to write (required)")


def baseline(args: argparse.Namespace) -> int:
    """Write the baseline record of a checkpoint (the accepted model to compare with)."""
    from mnist_model.atomic import atomic_write_json
    from mnist_model.gate.inputs import paired_inputs
    from mnist_model.gate.paired import record_of_model

    common.writable(args.out)
    loaded = load_model(args)
    root, test_xy = read_test_split(args.data_dir)
    record = record_of_model(args.checkpoint, loaded, paired_inputs(root, test_xy))
    atomic_write_json(args.out, record)
    summary = record["summary"]
    print(
        f"{args.out}: test {summary['test_correct']}/{summary['test_total']}, "
        f"out-of-distribution {summary['ood_correct']}/{summary['ood_total']}"
    )
    return 0


def compare_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    checkpoint_flag(parser)
    _baseline_flag(parser, required=True)
    thresholds_flag(parser)
    json_flag(parser, "the comparison")


def compare(args: argparse.Namespace) -> int:
    """Compare a candidate with a baseline (a record, or a checkpoint to record now);
    exit 1 when the candidate is worse."""
    from mnist_model.data import resolve_data_root
    from mnist_model.gate import paired

    result, failed = comparison_of(args, resolve_data_root(args.data_dir))
    if args.json:
        print(json.dumps(paired.summary_json(result, failed)))
    else:
        print(paired.comparison_text(result, failed))
    return EXIT_FAILED if failed else 0


def comparison_of(args: argparse.Namespace, root):
    """(the paired comparison of ``--checkpoint`` with ``--baseline``, the reasons the
    verdict finds it worse)."""
    from mnist_model.data import load_split
    from mnist_model.gate import paired, thresholds
    from mnist_model.gate.inputs import paired_inputs
    from mnist_model.gate.paired import accepted_predictions
    from mnist_model.gate.verdict import judge

    inputs = paired_inputs(root, load_split(root, train=False))
    model = load_model(args).model
    accepted = accepted_predictions(args.baseline, inputs, **_reading(args))
    result = paired.compare_models(accepted, model, inputs)
    verdict = judge({}, thresholds.load(args.thresholds), comparison=result)
    return result, [check.reason for check in verdict.failed]


def export_inputs_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    parser.add_argument(
        "--out", type=Path, required=True, help="the folder for inputs.npz and inputs.json"
    )


def export_inputs(args: argparse.Namespace) -> int:
    """Every picture the gate judges, as arrays, for a model outside PyTorch."""
    from mnist_model.data import resolve_data_root
    from mnist_model.gate.inputs import PREDICTIONS_HELP, gate_inputs, write_inputs

    out = common.folder(args.out)
    common.writable(out / "inputs.npz", out / "inputs.json")
    _, train_xy, test_xy = common.load_data(args.data_dir)
    inputs = gate_inputs(resolve_data_root(args.data_dir), train_xy, test_xy)
    print(f"wrote {write_inputs(out, inputs)}")
    print(PREDICTIONS_HELP)
    return 0


COMMANDS = {
    "export-inputs": (
        "write every picture the gate judges as arrays, to judge a model outside PyTorch "
        "with `gate --predictions`",
        export_inputs_flags,
        export_inputs,
    ),
    "gate": (
        "the acceptance gate's whole verdict on a checkpoint (exit 1 if a check fails)",
        gate_flags,
        gate,
    ),
    "evaluate": ("recompute the metrics of a saved checkpoint", evaluate_flags, evaluate),
    "ood": (
        "accuracy of a checkpoint on the out-of-distribution digit suite, per condition, "
        "against its floor (exit 1 if one is below)",
        ood_flags,
        ood,
    ),
    "baseline": (
        "write the baseline record of a checkpoint: its prediction for every test image "
        "and suite picture",
        baseline_flags,
        baseline,
    ),
    "compare": (
        "is a candidate worse than the baseline? a paired, image-by-image test",
        compare_flags,
        compare,
    ),
}
