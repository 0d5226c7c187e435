"""Where the MNIST files live: the canonical names, their MD5s and the data root.

The layout is torchvision's (``<root>/MNIST/raw/<name>``) so that
``torchvision.datasets.MNIST(root, download=False)`` reads the same files we verify.
"""

from __future__ import annotations

import os
from pathlib import Path

from mnist_model.errors import DataError

ENV_VAR = "MNIST_MODEL_DATA"
"""Environment variable naming the data root when no explicit one is given."""

RAW_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
"""Canonical uncompressed IDX file name -> MD5. Every source is checked against these."""


def raw_dir(root: str | os.PathLike[str]) -> Path:
    """Return ``root/MNIST/raw``, the folder torchvision reads the IDX files from."""
    return Path(root) / "MNIST" / "raw"


def _absolute(path: str | os.PathLike[str]) -> Path:
    # abspath normalises ".." without resolving symlinks, so the user sees the path they gave.
    return Path(os.path.abspath(Path(path).expanduser()))


def user_cache_root() -> Path | None:
    """The user's cache folder for this project: ``$XDG_CACHE_HOME/mnist-model`` when that
    is absolute (XDG says relative values must be ignored), else ``~/.cache/mnist-model``;
    None when there is no home folder (no HOME and no passwd entry)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "mnist-model"
    try:
        return Path.home() / ".cache" / "mnist-model"
    except (RuntimeError, KeyError):
        return None


def _default_cache_root() -> Path:
    root = user_cache_root()
    if root is None:
        raise DataError(
            f"cannot find a home folder for the MNIST cache; pass a data folder or set {ENV_VAR}"
        )
    return root


def resolve_data_root(data_dir: str | os.PathLike[str] | None) -> Path:
    """Pick the data root: explicit argument, else ``$MNIST_MODEL_DATA``, else a user cache.

    The result is absolute. Nothing is created here (reading must not leave folders behind)
    and the current directory is never used implicitly, so the data location does not
    depend on where the command happened to be started. Empty strings count as unset.
    """
    if data_dir is not None and str(data_dir) != "":
        return _absolute(data_dir)
    env = os.environ.get(ENV_VAR, "")
    if env:
        return _absolute(env)
    return _absolute(_default_cache_root())
