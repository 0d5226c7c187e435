"""``mnist-model thresholds record|derive|check``: measure checkpoints into evidence files,
derive the floors from evidence, judge evidence against the floors."""

from __future__ import annotations

import argparse
from pathlib import Path

import mnist_model.cli.common as common
from mnist_model.cli.common import EXIT_FAILED, data_dir_flag
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
        help="checkpoints (record), or evidence files or folders",
    )
    parser.add_argument("--out", type=Path, help="record: evidence folder; derive: file to write")
    parser.add_argument(
        "--arithmetic-class",
        help="record: the class the checkpoints were trained in (default: this machine's for "
        "their precision)",
    )
    parser.add_argument("--thresholds", type=Path, help="check: the file to judge against")


def thresholds(args: argparse.Namespace) -> int:
    if args.action == "record":
        return record(args)
    if args.action == "derive":
        return derive(args)
    return check(args)


def record(args: argparse.Namespace) -> int:
    """Checkpoints -> evidence files, one per model, measured as the gate measures."""
    from mnist_model.atomic import atomic_write_json
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.data import resolve_data_root
    from mnist_model.gate.inputs import gate_inputs, provenance
    from mnist_model.gate.measure import gate_record

    if args.out is None or (args.out.exists() and not args.out.is_dir()):
        raise MnistModelError("thresholds record needs --out FOLDER")
    _, train_xy, test_xy = common.load_data(args.data_dir, acquire_missing=False)
    inputs = gate_inputs(resolve_data_root(args.data_dir), train_xy, test_xy)
    for path in args.paths:
        model, payload = load_checkpoint(path)
        origin = provenance(path, payload, args.arithmetic_class)
        rec = gate_record(model, inputs, provenance=origin, live=False)
        out = args.out / f"{origin['arithmetic_class']}-seed{origin['seed']}.json"
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
    data = floors.derive(
        evidence.load_evidence(args.paths),
        suite=suite_description(),
        evidence_folder=", ".join(str(p) for p in args.paths),
        earlier=ood.EARLIER,
    )
    atomic_write_json(args.out, floors.rounded(data))
    print(floors_text(data))
    print(f"wrote {args.out}")
    return 0


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
