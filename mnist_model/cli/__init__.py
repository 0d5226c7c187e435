"""mnist-model: train a 7,954-parameter MNIST CNN, judge it, and read digits with it.

Every command's flags and their meaning: ``mnist-model COMMAND --help``. Each command is a
module of this folder holding its flags beside its handler (``COMMANDS``: name -> help,
flags, handler). Expected failures (bad paths, corrupt data, unsafe checkpoints, bad flag
values) print one line ``mnist-model: error: ...`` and exit 2; ``--debug`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from mnist_model import __version__
from mnist_model.cli import bench, data, export, judge, predict, report, thresholds, train
from mnist_model.cli.common import EXIT_ERROR
from mnist_model.errors import MnistModelError

log = logging.getLogger("mnist_model")

COMMANDS = {
    **data.COMMANDS,
    **report.COMMANDS,
    **train.COMMANDS,
    **predict.COMMANDS,
    **bench.COMMANDS,
    **judge.COMMANDS,
    **export.COMMANDS,
    **thresholds.COMMANDS,
}
"""Every subcommand: (its help, the function adding its flags, its handler)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-model", description=__doc__.split("\n\n")[0].split(": ", 1)[1]
    )
    parser.add_argument("--version", action="version", version=f"mnist-model {__version__}")
    _global_flags(parser, False)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_, flags, _) in COMMANDS.items():
        command = sub.add_parser(name, help=help_, description=help_)
        flags(command)
        # Before or after the command name alike: a value given after it wins, and one
        # not given there leaves the value from before it alone (SUPPRESS).
        _global_flags(command, argparse.SUPPRESS)
    return parser


def _global_flags(parser: argparse.ArgumentParser, default) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks on errors"
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", default=default, help="only warnings and errors"
    )


def _safe_streams() -> None:
    """Print any file name on any terminal: a character the output's encoding lacks (under
    PYTHONIOENCODING=ascii, say) is escaped, not a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _safe_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    # The package's logger only, and as it was afterwards: main() also runs in-process
    # (tests, notebooks), where the root logger is not ours to change.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = log.level, log.propagate
    log.addHandler(handler)
    log.setLevel(logging.WARNING if args.quiet else logging.INFO)
    log.propagate = False
    try:
        return COMMANDS[args.command][2](args)
    except KeyboardInterrupt as exc:
        hint = f"; {exc}" if str(exc) else ""
        print(f"mnist-model: interrupted{hint}", file=sys.stderr)
        return 130
    except (MnistModelError, OSError) as exc:
        if args.debug:
            raise
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"mnist-model: error: {message}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
