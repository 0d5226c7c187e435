"""``mnist-model train`` and ``sweep``: the recipe's flags (one per TrainConfig and
Machine field, from the preset), the run's output folder, resuming."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import logging
from pathlib import Path

import mnist_model.cli.common as common
from mnist_model.cli.common import ON, data_dir_flag, folder, positive
from mnist_model.config import PRESETS, Machine, TrainConfig
from mnist_model.errors import MnistModelError

log = logging.getLogger("mnist_model")


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Each dataclass field's docstring (the string right after it in the source), on one
    line: the meaning its flag's help shows. Read once per class: parsing the source is
    most of the time the command line takes to build."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for node, after in zip(body, body[1:], strict=False):
        if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr):
            text = getattr(after.value, "value", None)
            if isinstance(text, str):
                docs[node.target.id] = " ".join(text.split())
    return docs


def recipe_flags(parser: argparse.ArgumentParser) -> None:
    """``--preset`` plus one flag per TrainConfig and Machine field, each with its meaning
    and default. A recipe flag left out takes the preset's value (``train_config``), so
    the flags default to None here; then what every training run takes."""
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="the recipe the other flags start from: default (what CI judges) or fast (a "
        "smoke-test recipe that may miss the bar) (default: default)",
    )
    for cls in (TrainConfig, Machine):
        docs, defaults = field_docs(cls), cls()
        for field in dataclasses.fields(cls):
            default = getattr(defaults, field.name)
            flag = "--" + field.name.replace("_", "-")
            which = "default preset" if cls is TrainConfig else "default"
            help_ = f"{docs[field.name]} ({which}: {default})".replace("%", "%%")
            if isinstance(default, bool):
                parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=help_)
            elif "choices" in field.metadata:
                parser.add_argument(flag, choices=field.metadata["choices"], help=help_)
            else:
                parser.add_argument(flag, type=type(default), help=help_)
    data_dir_flag(parser)
    parser.add_argument(
        "--remeasure",
        **ON,
        help="time the arithmetic candidates again instead of using the cached choice",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show a progress bar per epoch (default: only on a terminal)",
    )


def train_config(args: argparse.Namespace, **overrides: object) -> TrainConfig:
    """The preset's TrainConfig with every flag the user gave (and ``overrides``) applied."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    given = {name: value for name, value in given.items() if value is not None}
    try:
        return dataclasses.replace(PRESETS[args.preset], **{**given, **overrides})
    except ValueError as exc:
        raise MnistModelError(str(exc)) from None


def machine(args: argparse.Namespace) -> Machine:
    """The Machine of the flags the user gave (the defaults for the others)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(Machine)}
    try:
        return Machine(**{name: value for name, value in given.items() if value is not None})
    except ValueError as exc:
        raise MnistModelError(str(exc)) from None


def _device(chosen: Machine):
    from mnist_model.run.runner import select_device

    try:
        return select_device(chosen.device)
    except MnistModelError as exc:
        raise MnistModelError(f"--device: {exc}") from None


def _run_options(args: argparse.Namespace, checksums: dict, chosen: Machine, device) -> dict:
    """The keyword arguments train and sweep pass to every training run."""
    return {
        "checksums": checksums,
        "machine": chosen,
        "device": device,
        "progress": args.progress,
        "remeasure": args.remeasure,
    }


def _one_writer(out: Path):
    """The output folder's lock (``mnist_model.run.lock``), held by the first torchrun rank."""
    import contextlib

    from mnist_model.run import distributed
    from mnist_model.run.lock import folder_lock

    if distributed.rank() != 0:
        return contextlib.nullcontext()
    return folder_lock(out)


def _how_to_resume(out: Path) -> str:
    """What an interrupted `train` says: how to continue, and from which epoch."""
    from mnist_model.checkpoint import CheckpointError, load_plain
    from mnist_model.run.outputs import FILES

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
    from mnist_model.config import ModelConfig
    from mnist_model.run import distributed
    from mnist_model.run.outputs import FILES
    from mnist_model.run.runner import read_training_state

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


def train_flags(parser: argparse.ArgumentParser) -> None:
    recipe_flags(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts"),
        help="folder the run's files are written to (default: artifacts)",
    )
    parser.add_argument(
        "--limit", type=int, help="train on the first N training images (default: all)"
    )
    parser.add_argument(
        "--test-limit", type=int, help="evaluate on the first N test images (default: all)"
    )
    parser.add_argument(
        "--resume", **ON, help="continue a stopped run from OUT/train_state.pt (saved each epoch)"
    )


def _remeasure_has_an_effect(args: argparse.Namespace, chosen: Machine) -> None:
    """``--remeasure`` times the arithmetic ``auto`` chooses: refused where nothing is
    chosen (both given) or the run keeps the one it started with (``--resume``)."""
    if not args.remeasure:
        return
    if getattr(args, "resume", False):
        raise MnistModelError(
            "--remeasure has no effect with --resume: a resumed run keeps its arithmetic"
        )
    if "auto" not in (chosen.precision, chosen.layout):
        raise MnistModelError(
            "--remeasure has no effect: --precision and --layout are both given, so nothing "
            "is measured"
        )


def train(args: argparse.Namespace) -> int:
    from mnist_model.errors import WriteError
    from mnist_model.run.distributed import join_torchrun, leave
    from mnist_model.run.outputs import FILES
    from mnist_model.run.runner import train_and_write

    config, chosen = train_config(args), machine(args)
    _remeasure_has_an_effect(args, chosen)
    limit, test_limit = positive("--limit", args.limit), positive("--test-limit", args.test_limit)
    device, threads = join_torchrun(_device(chosen), chosen.threads)
    chosen = dataclasses.replace(chosen, threads=threads)
    checksums, (train_x, train_y), (test_x, test_y) = common.load_data(args.data_dir)
    train_xy = (train_x[:limit], train_y[:limit])
    test_xy = (test_x[:test_limit], test_y[:test_limit])
    log.info(
        "training on %d, testing on %d images, %s, %s, %s",
        len(train_xy[0]),
        len(test_xy[0]),
        device,
        config,
        chosen,
    )
    out = folder(args.out)
    common.writable(*(out / name for name in FILES.values()))
    options = _run_options(args, checksums, chosen, device)
    with _one_writer(out):
        state = _resume_state(args, config, out)
        try:
            run, paths = train_and_write(config, out, train_xy, test_xy, state=state, **options)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(_how_to_resume(out)) from None
        except WriteError as exc:  # a full disk, say: what is kept, and how to go on
            raise WriteError(f"{exc}; {_how_to_resume(out)}") from None
    if paths:  # none on a torchrun rank other than 0: rank 0 reports and writes
        print(f"{run.final.reference_line()}\n{run.summary_line()}")
        print("\n".join(f"wrote {name}: {path}" for name, path in paths.items()))
    leave()
    return 0


def sweep_flags(parser: argparse.ArgumentParser) -> None:
    recipe_flags(parser)
    parser.add_argument(
        "--seeds", default="0-4", help="seeds to train, '0-4' or '1,5,9' (default: 0-4)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("artifacts/sweep"),
        help="folder of the seeds' runs and sweep.json (default: artifacts/sweep)",
    )


def sweep(args: argparse.Namespace) -> int:
    from mnist_model.gate.seeds import summary_table
    from mnist_model.run import distributed
    from mnist_model.run.sweep import parse_seeds, run_sweep

    if distributed.launched_by_torchrun():
        raise MnistModelError("sweep runs seeds one after another; start it without torchrun")
    if args.seed is not None:
        raise MnistModelError("sweep: --seed has no effect here; give the seeds with --seeds")
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError as exc:
        raise MnistModelError(f"--seeds: {exc}") from None
    configs = {seed: train_config(args, seed=seed) for seed in seeds}
    chosen = machine(args)
    _remeasure_has_an_effect(args, chosen)
    device = _device(chosen)
    checksums, train_xy, test_xy = common.load_data(args.data_dir)
    options = _run_options(args, checksums, chosen, device)
    with _one_writer(folder(args.out)):
        summary = run_sweep(configs, args.out, train_xy, test_xy, **options)
    print(summary_table(summary))
    print(f"wrote {args.out / 'sweep.json'}")
    return 0


COMMANDS = {
    "train": ("acquire data, train, evaluate, write artifacts", train_flags, train),
    "sweep": ("train the recipe once per seed; summarise the spread", sweep_flags, sweep),
}
