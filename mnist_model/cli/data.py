"""``mnist-model data``: fetch (or only check) the four MNIST files."""

from __future__ import annotations

import argparse

from mnist_model.cli.common import ON, data_dir_flag


def data_flags(parser: argparse.ArgumentParser) -> None:
    data_dir_flag(parser)
    parser.add_argument("--verify", **ON, help="only check the files already there, fetch nothing")


def data(args: argparse.Namespace) -> int:
    from mnist_model.data import acquire, raw_dir, resolve_data_root, verify

    root = resolve_data_root(args.data_dir)
    checksums = verify(root) if args.verify else acquire(root)
    for name, md5 in sorted(checksums.items()):
        print(f"{md5}  {raw_dir(root) / name}")
    print(f"OK: {len(checksums)} files verified under {raw_dir(root)}")
    return 0


COMMANDS = {"data": ("acquire and verify MNIST, print the four MD5s", data_flags, data)}
