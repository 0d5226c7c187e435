"""``mnist-model thresholds record|derive|check``: measure checkpoints into evidence files,
derive the floors from evidence, judge evidence against the floors."""

from __future__ import annotations

import argparse
from pathlib import Path

import mnist_model.cli.common as common
from mnist_model.cli.common import EXIT_FAILED, data_dir_flag, load_model
from mnist_model.config import INPUT_SCALES
from mnist_model.errors import MnistModelError


def thresholds_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    parser.add_argument(
        "action",
        choices=("record", "derive", "check"),
        help="record: measure checkpoints into evidence files; derive: compute the thresholds "
        "file from evidence; check: judge evidence against it",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="models of any format (record), or evidence files or folders",
    )
    parser.add_argument("--out", type=Path, help="record: evidence folder; derive: file to write")
    parser.add_argument(
        "--arithmetic-class",
        help="record: the class the models were trained in (default: this machine's for an "
        "mnist-model checkpoint's precision, else 'unstated')",
    )
    parser.add_argument(
        "--model-class",
        metavar="MODULE:NAME",
        help="record: the nn.Module class (or factory) that state_dict files load into",
    )
    parser.add_argument(
        "--input-scale",
        choices=tuple(INPUT_SCALES),
        default="mnist",
        help="record: the pixels the models were trained on (see `gate --help`)",
    )
    parser.add_argument(
        "--promise",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="derive: a floor promised whatever the evidence says, which a derived floor may "
        "raise but never lower: "
        + ", ".join(f"{k} ({v[1]})" for k, v in PROMISE_NAMES.items())
        + "; repeat it. 'project' takes this project's promises. None: derived floors only",
    )
    parser.add_argument(
        "--thresholds", type=Path, help="check: the file to judge against (default: the shipped)"
    )


FOR_ACTIONS = {
    "data_dir": ("record",),
    "out": ("record", "derive"),
    "arithmetic_class": ("record",),
    "model_class": ("record",),
    "input_scale": ("record",),
    "promise": ("derive",),
    "thresholds": ("check",),
}
"""Each flag and the actions it means something to; given to another, it is refused."""
UNSET = {"input_scale": "mnist", "promise": []}
"""The flags whose default is not None."""


def thresholds(args: argparse.Namespace) -> int:
    for name, actions in FOR_ACTIONS.items():
        if args.action not in actions and getattr(args, name) != UNSET.get(name):
            flag = "--" + name.replace("_", "-")
            raise MnistModelError(
                f"thresholds {args.action}: {flag} has no effect here (it is for "
                f"{' and '.join(actions)})"
            )
    if args.action == "record":
        return record(args)
    if args.action == "derive":
        return derive(args)
    return check(args)


def record(args: argparse.Namespace) -> int:
    """Models of any format -> evidence files, one per model, measured as the gate
    measures."""
    from mnist_model.atomic import atomic_write_json
    from mnist_model.data import resolve_data_root
    from mnist_model.gate.inputs import gate_inputs, provenance
    from mnist_model.gate.measure import gate_record

    if args.out is None or (args.out.exists() and not args.out.is_dir()):
        raise MnistModelError("thresholds record needs --out FOLDER")
    _, train_xy, test_xy = common.load_data(args.data_dir, acquire_missing=False)
    inputs = gate_inputs(resolve_data_root(args.data_dir), train_xy, test_xy)
    for path in args.paths:
        loaded = load_model(args, path)
        origin = provenance(path, loaded, args.arithmetic_class)
        rec = gate_record(loaded, inputs, provenance=origin, live=False)
        seed = origin["seed"]  # a file's name for a model that records no seed
        named = f"seed{seed}" if isinstance(seed, int) else seed
        out = args.out / f"{origin['arithmetic_class']}-{named}.json"
        atomic_write_json(out, rec)
        print(f"wrote {out}")
    return 0


def derive(args: argparse.Namespace) -> int:
    """Evidence -> the thresholds file (``gate.floors.derive``)."""
    from mnist_model.atomic import atomic_write_json
    from mnist_model.gate import evidence, floors, ood
    from mnist_model.gate.inputs import suite_description
    from mnist_model.gate.thresholds import floors_text

    if args.out is None:
        raise MnistModelError("thresholds derive needs --out FILE")
    common.writable(args.out)
    data = floors.derive(
        evidence.load_evidence(args.paths),
        suite=suite_description(),
        evidence_folder=", ".join(str(p) for p in args.paths),
        earlier=ood.EARLIER,
        promises=promises(args.promise),
    )
    atomic_write_json(args.out, floors.rounded(data))
    print(floors_text(data))
    print(f"wrote {args.out}")
    return 0


PROMISE_NAMES = {
    "accuracy": ("overall_accuracy", "test accuracy, e.g. 0.99"),
    "digit_accuracy": ("per_class", "every digit's accuracy"),
    "max_params": ("parameter_budget", "at most this many parameters"),
    "seeds_mean_accuracy": ("multiseed_mean_accuracy", "the multi-seed mode's mean"),
}


def promises(given: list[str]) -> dict:
    """``--promise`` values as ``floors.derive``'s promises (``floors.PROMISES`` keys)."""
    from mnist_model.gate.floors import PROMISES

    chosen: dict = {}
    for text in given:
        if text == "project":
            chosen.update(PROMISES)
            continue
        name, _, value = text.partition("=")
        if name not in PROMISE_NAMES:
            raise MnistModelError(
                f"--promise {text}: promise one of {sorted(PROMISE_NAMES)} (NAME=VALUE) or "
                "'project'"
            )
        try:
            number = float(value)
        except ValueError:
            raise MnistModelError(f"--promise {text}: {value!r} is not a number") from None
        key = PROMISE_NAMES[name][0]
        if key == "parameter_budget":
            chosen[key] = int(number) + 1  # the budget is a strict bound: at most N
        elif not 0 < number <= 1:
            raise MnistModelError(f"--promise {text}: an accuracy is a fraction in (0, 1]")
        else:
            chosen[key] = number
    return chosen


def check(args: argparse.Namespace) -> int:
    """Evidence judged against a thresholds file; exit 1 if a model fails a floor."""
    from mnist_model.gate import evidence, thresholds
    from mnist_model.gate.verdict import judge

    records = evidence.load_evidence(args.paths)
    bars = thresholds.load(args.thresholds)
    failing = 0
    for rec in records:
        failed = judge(rec, bars).failed
        failing += bool(failed)
        verdict = "pass" if not failed else "FAIL: " + "; ".join(c.reason for c in failed)
        if rec["ood"]["version"] != bars["ood"]["version"]:
            shared = len(bars["ood"]["earlier"].get(str(rec["ood"]["version"]), ()))
            verdict += f" (suite version {rec['ood']['version']}: its {shared} conditions)"
        accuracy = 100 * rec["test"]["correct"] / rec["test"]["total"]
        print(f"{rec['file']:<28} {accuracy:6.2f}%  {verdict}")
    print(evidence.class_table(records))
    print(f"{len(records) - failing} of {len(records)} models pass every floor")
    return EXIT_FAILED if failing else 0


COMMANDS = {
    "thresholds": (
        "record evidence, derive the floors from it, or check evidence against them",
        thresholds_flags,
        thresholds,
    )
}
