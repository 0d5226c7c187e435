"""The ``mnist-model`` subcommands: each reads its parsed flags, calls the package and
prints. ``mnist_model.cli`` parses the command line and dispatches here by name
(``NAME`` -> ``cmd_NAME``); expected failures raise MnistModelError for it to print.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import sys
from pathlib import Path

from mnist_model.config import PRESETS, Machine, TrainConfig
from mnist_model.errors import MnistModelError

log = logging.getLogger("mnist_model")

EXIT_ERROR = 2


def _positive(name: str, value: int | None) -> int | None:
    if value is not None and value < 1:
        raise MnistModelError(f"{name} must be a positive integer, got {value}")
    return value


def cmd_data(args: argparse.Namespace) -> int:
    from mnist_model.data import acquire, raw_dir, resolve_data_root, verify

    root = resolve_data_root(args.data_dir)
    checksums = verify(root) if args.verify else acquire(root)
    for name, md5 in sorted(checksums.items()):
        print(f"{md5}  {raw_dir(root) / name}")
    print(f"OK: {len(checksums)} files verified under {raw_dir(root)}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from mnist_model.layers import summary_text
    from mnist_model.model import MnistNet

    print(summary_text(MnistNet()))
    return 0


def _load_data(data_dir: str | None, *, acquire_missing: bool = True):
    """(checksums, (train images, labels), (test images, labels)) of the verified data."""
    from mnist_model.data import acquire, load_split, resolve_data_root, verify

    root = resolve_data_root(data_dir)
    checksums = acquire(root) if acquire_missing else verify(root)
    splits = (load_split(root, train=train, verified=True) for train in (True, False))
    return checksums, *splits


def _train_config(args: argparse.Namespace, **overrides: object) -> TrainConfig:
    """The preset's TrainConfig with every flag the user gave (and ``overrides``) applied."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    given = {name: value for name, value in given.items() if value is not None}
    try:
        return dataclasses.replace(PRESETS[args.preset], **{**given, **overrides})
    except ValueError as exc:
        raise MnistModelError(str(exc)) from None


def _machine(args: argparse.Namespace) -> Machine:
    """The Machine of the flags the user gave (the defaults for the others)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Machine)}
    try:
        return Machine(**{name: value for name, value in given.items() if value is not None})
    except ValueError as exc:
        raise MnistModelError(str(exc)) from None


def _device(machine: Machine):
    from mnist_model.runner import select_device

    try:
        return select_device(machine.device)
    except MnistModelError as exc:
        raise MnistModelError(f"--device: {exc}") from None


def _folder(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise MnistModelError(f"--out {out} exists and is not a folder")
    return out


def _run_options(args: argparse.Namespace, checksums: dict, machine: Machine, device) -> dict:
    """The keyword arguments train and sweep pass to every training run."""
    return {
        "checksums": checksums,
        "machine": machine,
        "device": device,
        "progress": args.progress,
        "remeasure": args.remeasure,
    }


def _one_writer(out: Path):
    """The output folder's lock (``mnist_model.lock``), held by the first torchrun rank."""
    import contextlib

    from mnist_model import distributed
    from mnist_model.lock import folder_lock

    if distributed.rank() != 0:
        return contextlib.nullcontext()
    return folder_lock(out)


def _how_to_resume(out: Path) -> str:
    """What an interrupted `train` says: how to continue, and from which epoch."""
    from mnist_model.checkpoint import CheckpointError, load_plain
    from mnist_model.outputs import FILES

    path = out / FILES["state"]
    try:
        epoch = int(load_plain(path, "training state")["epoch"]) if path.is_file() else 0
    except (CheckpointError, KeyError, TypeError, ValueError):
        epoch = 0
    if epoch == 0:
        return "no epoch had finished; run the same command again to start over"
    return (
        f"epoch {epoch} is saved in {path}; the same command with --resume continues from "
        f"epoch {epoch + 1}"
    )


def _resume_state(args: argparse.Namespace, config: TrainConfig, out: Path) -> dict | None:
    """The training state ``--resume`` continues from (None without the flag)."""
    from mnist_model import distributed
    from mnist_model.config import ModelConfig
    from mnist_model.outputs import FILES
    from mnist_model.runner import read_training_state

    if not args.resume:
        return None
    try:
        state = read_training_state(out / FILES["state"], config, ModelConfig())
    except MnistModelError as exc:
        raise type(exc)(
            f"--resume: {exc}; resume with the same recipe flags, or train without --resume "
            "to start over"
        ) from None
    if distributed.world_size() > 1:
        raise MnistModelError("--resume is not supported under torchrun; resume on one process")
    return state


def cmd_train(args: argparse.Namespace) -> int:
    from mnist_model.distributed import join_torchrun, leave
    from mnist_model.runner import train_and_write

    config, machine = _train_config(args), _machine(args)
    limit, test_limit = _positive("--limit", args.limit), _positive("--test-limit", args.test_limit)
    device, threads = join_torchrun(_device(machine), machine.threads)
    machine = dataclasses.replace(machine, threads=threads)
    checksums, (train_x, train_y), (test_x, test_y) = _load_data(args.data_dir)
    train_xy = (train_x[:limit], train_y[:limit])
    test_xy = (test_x[:test_limit], test_y[:test_limit])
    log.info(
        "training on %d, testing on %d images, %s, %s, %s",
        len(train_xy[0]),
        len(test_xy[0]),
        device,
        config,
        machine,
    )
    out = _folder(args.out)
    options = _run_options(args, checksums, machine, device)
    with _one_writer(out):
        state = _resume_state(args, config, out)
        try:
            run, paths = train_and_write(config, out, train_xy, test_xy, state=state, **options)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(_how_to_resume(out)) from None
    if paths:  # none on a torchrun rank other than 0: rank 0 reports and writes
        print(f"{run.final.reference_line()}\n{run.summary_line()}")
        print("\n".join(f"wrote {name}: {path}" for name, path in paths.items()))
    leave()
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from mnist_model import distributed
    from mnist_model.sweep import parse_seeds, run_sweep, summary_table

    if distributed.launched_by_torchrun():
        raise MnistModelError("sweep runs seeds one after another; start it without torchrun")
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        raise MnistModelError(f"--seeds: {exc}") from None
    configs = {seed: _train_config(args, seed=seed) for seed in seeds}
    machine = _machine(args)
    device = _device(machine)
    checksums, train_xy, test_xy = _load_data(args.data_dir)
    options = _run_options(args, checksums, machine, device)
    with _one_writer(_folder(args.out)):
        summary = run_sweep(configs, args.out, train_xy, test_xy, **options)
    print(summary_table(summary))
    print(f"wrote {args.out / 'sweep.json'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from mnist_model import ood
    from mnist_model.data import load_split, resolve_data_root
    from mnist_model.runner import rebuild_report

    root = resolve_data_root(args.data_dir)
    test_xy = load_split(root, train=False)
    comparison = None
    if args.baseline is not None:
        from mnist_model import compare

        comparison = compare.comparison_text(*_comparison(args.checkpoint, args.baseline, root))
    paths = rebuild_report(
        _folder(args.out),
        args.checkpoint,
        test_xy,
        ood=args.ood,
        ood_cache=ood.cache_dir(root),
        comparison=comparison,
    )
    for name, path in paths.items():
        print(f"wrote {name}: {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    """Every readable image is reported; unreadable ones get a one-line error each."""
    from mnist_model.predict import load_model, predict_files

    rows = predict_files(load_model(args.checkpoint), args.images, preprocessing=args.preprocess)
    for row in rows:
        if "error" in row:
            print(f"mnist-model: error: {row['error']}", file=sys.stderr)
        elif not args.json:
            top3 = ", ".join(f"{t['digit']}: {100 * t['probability']:.1f}%" for t in row["top3"])
            print(
                f"{row['image']}: {row['digit']} ({100 * row['probability']:.1f}%)  top 3: {top3}"
            )
    if args.json:
        print(json.dumps(rows, indent=2))
    return EXIT_ERROR if any("error" in row for row in rows) else 0


def cmd_bench(args: argparse.Namespace) -> int:
    from mnist_model.atomic import atomic_write_json
    from mnist_model.bench.run import run_command
    from mnist_model.data import resolve_data_root, verify

    names = ("images", "repeats", "full", "checkpoint", "cpu_classes", "threads", "batches")
    flags = {name: getattr(args, name) for name in names}
    grid = args.threads is not None or args.batches is not None
    if (args.cpu_classes or grid) and (args.full or args.checkpoint):
        raise MnistModelError("--cpu-classes and --threads/--batches measure training only")
    if args.cpu_classes and grid:
        raise MnistModelError("--cpu-classes and --threads/--batches are separate benches")
    for name in ("images", "repeats", "threads", "batches"):
        for value in flags[name] if isinstance(flags[name], list) else [flags[name]]:
            _positive(f"--{name}", value)
    root = resolve_data_root(args.data_dir)
    verify(root)
    result, table = run_command(root, **flags)
    atomic_write_json(args.out, result)
    print(table)
    print(f"wrote {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.data import load_split, resolve_data_root
    from mnist_model.evaluate import evaluate

    model, payload = load_checkpoint(args.checkpoint)
    test_x, test_y = load_split(resolve_data_root(args.data_dir), train=False)
    result = evaluate(model, test_x, test_y)
    if not math.isfinite(result.loss):  # finite logits can still overflow the loss
        raise MnistModelError(f"{args.checkpoint}: the model's test loss is not finite")
    if args.json:
        print(json.dumps({**result.to_dict(), "per_class": result.per_class_rows()}))
        return 0
    print(result.reference_line())
    print(result.per_class_text())
    return 0


def cmd_ood(args: argparse.Namespace) -> int:
    """Score checkpoints on the suite through the default and the plain preprocessing
    (with --ablate, also through the default without each step); several checkpoints are
    averaged, condition by condition."""
    from mnist_model import ood, thresholds
    from mnist_model.checkpoint import load_checkpoint
    from mnist_model.data import load_split, resolve_data_root
    from mnist_model.preprocess import STEPS

    per_class = _positive("--per-class", args.per_class) or ood.PER_CLASS
    models = [load_checkpoint(path)[0] for path in args.checkpoint]
    root = resolve_data_root(args.data_dir)
    test_x, test_y = load_split(root, train=False)
    names = ["default", *(f"without-{s}" for s in STEPS if args.ablate), "plain"]
    scores = {}
    for name in names:
        suite = ood.prepare(
            test_x,
            test_y,
            per_class=per_class,
            seed=args.seed,
            cache_dir=ood.cache_dir(root),
            preprocessing=name,
        )
        each = [ood.score(model, suite) for model in models]
        scores[name] = {c: sum(s[c] for s in each) / len(each) for c in suite.names}
    if args.json:
        print(json.dumps({**scores["default"], **{n: scores[n] for n in names[1:]}}))
    elif args.ablate:
        print(ood.columns_text(scores))
    else:
        print(ood.table_text(scores["default"], thresholds.ood_floors(), plain=scores["plain"]))
    return 0


def cmd_thresholds(args: argparse.Namespace) -> int:
    """record: checkpoints -> evidence files; derive: evidence -> thresholds file;
    check: evidence against a thresholds file (exit 1 if a model fails a floor)."""
    from mnist_model import calibration, ood, thresholds
    from mnist_model.atomic import atomic_write_json

    if args.action == "record":
        return _record_evidence(args)
    records = calibration.load_evidence(args.paths)
    if args.action == "derive":
        if args.out is None:
            raise MnistModelError("thresholds derive needs --out FILE")
        data = calibration.derive(
            records,
            suite=_ood_suite_description(),
            evidence_folder=_shown(args.paths),
            earlier=ood.EARLIER,
        )
        atomic_write_json(args.out, calibration.rounded(data))
        print(thresholds.floors_text(data))
        print(f"wrote {args.out}")
        return 0
    bars = thresholds.load(args.thresholds)
    failing = 0
    for rec in records:
        failed = calibration.judge(rec, bars)
        failing += bool(failed)
        verdict = "pass" if not failed else "FAIL: " + "; ".join(failed)
        if rec["ood"]["version"] != bars["ood"]["version"]:
            shared = len(bars["ood"]["earlier"].get(str(rec["ood"]["version"]), ()))
            verdict += f" (suite version {rec['ood']['version']}: its {shared} conditions)"
        accuracy = 100 * rec["test"]["correct"] / rec["test"]["total"]
        print(f"{rec['file']:<28} {accuracy:6.2f}%  {verdict}")
    print(calibration.class_table(records))
    print(f"{len(records) - failing} of {len(records)} models pass every floor")
    return 1 if failing else 0


def _shown(paths: list[Path]) -> str:
    return ", ".join(str(p) for p in paths)


def _ood_suite_description() -> dict:
    from mnist_model import ood

    return {"version": ood.SUITE_VERSION, "per_class": ood.PER_CLASS, "seed": 0}


def _record_evidence(args: argparse.Namespace) -> int:
    from mnist_model import calibration, gate
    from mnist_model.atomic import atomic_write_json
    from mnist_model.data import load_split, resolve_data_root

    if args.out is None or (args.out.exists() and not args.out.is_dir()):
        raise MnistModelError("thresholds record needs --out FOLDER")
    root = resolve_data_root(args.data_dir)
    train_xy, test_xy = (load_split(root, train=t) for t in (True, False))
    suite, described = _suite_for(root, test_xy)
    plain, _ = _suite_for(root, test_xy, preprocessing="plain")
    baseline = gate.linear_baseline_correct(train_xy, test_xy)
    for path in args.paths:
        rec = calibration.measure(
            path,
            test_xy=test_xy,
            suite=suite,
            suite_description=described,
            baseline_correct=baseline,
            arithmetic_class=args.arithmetic_class,
            plain_suite=plain,
        )
        model = rec["model"]
        out = args.out / f"{model['arithmetic_class']}-seed{model['seed']}.json"
        atomic_write_json(out, rec)
        print(f"wrote {out}")
    return 0


def _suite_for(root, test_xy, preprocessing: str = "default"):
    """The prepared out-of-distribution suite the gate judges (through ``preprocessing``),
    and its description."""
    from mnist_model import ood

    described = _ood_suite_description()
    suite = ood.prepare(
        *test_xy,
        per_class=described["per_class"],
        seed=described["seed"],
        cache_dir=ood.cache_dir(root),
        preprocessing=preprocessing,
    )
    return suite, described


def _test_split(root):
    from mnist_model.data import load_split

    return load_split(root, train=False)


def cmd_baseline(args: argparse.Namespace) -> int:
    """Write the baseline record of a checkpoint (the champion to compare with)."""
    from mnist_model.atomic import atomic_write_json
    from mnist_model.compare import record_of_checkpoint
    from mnist_model.data import resolve_data_root

    root = resolve_data_root(args.data_dir)
    test_xy = _test_split(root)
    suite, described = _suite_for(root, test_xy)
    record = record_of_checkpoint(
        args.checkpoint, test_xy=test_xy, suite=suite, suite_description=described
    )
    atomic_write_json(args.out, record)
    summary = record["summary"]
    print(
        f"{args.out}: test {summary['test_correct']}/{summary['test_total']}, "
        f"out-of-distribution {summary['ood_correct']}/{summary['ood_total']}"
    )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare a candidate with a baseline (a record, or a checkpoint to record now);
    exit 1 when the candidate is worse."""
    from mnist_model import compare
    from mnist_model.data import resolve_data_root

    result, failed = _comparison(args.checkpoint, args.baseline, resolve_data_root(args.data_dir))
    if args.json:
        print(json.dumps(compare.summary_json(result, failed)))
    else:
        print(compare.comparison_text(result, failed))
    return 1 if failed else 0


def _comparison(checkpoint: Path, baseline: Path, root):
    """(the paired comparison of ``checkpoint`` with ``baseline``, what makes it worse)."""
    from mnist_model import compare, thresholds
    from mnist_model.checkpoint import load_checkpoint

    test_xy = _test_split(root)
    suite, described = _suite_for(root, test_xy)
    base = _baseline_predictions(baseline, test_xy, suite, described)
    candidate = compare.predictions_of(load_checkpoint(checkpoint)[0], test_xy[0], suite)
    result = compare.compare(
        base,
        candidate,
        test_labels=test_xy[1].numpy(),
        ood_labels=suite.labels,
        ood_condition=suite.condition,
        ood_names=suite.names,
    )
    return result, compare.judge(result, thresholds.load())


def _baseline_predictions(path: Path, test_xy, suite, described):
    """A baseline's (test, suite) predictions: from a record, or from a checkpoint."""
    from mnist_model import compare
    from mnist_model.checkpoint import load_checkpoint

    if path.suffix == ".pt":
        return compare.predictions_of(load_checkpoint(path)[0], test_xy[0], suite)
    _, test, ood = compare.load_record(
        path, test_labels=test_xy[1].numpy(), ood_labels=suite.labels, ood_suite=described
    )
    return test, ood
