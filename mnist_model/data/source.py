"""The interface every acquisition source implements, plus error-text helpers.

A source only has to put the raw files into a staging folder; ``acquire`` verifies them
and installs them. Keeping verification out of sources means a buggy or hostile source
cannot get an unverified file into the data folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Source(Protocol):
    """Something that can produce the raw MNIST IDX files."""

    name: str

    def fetch(self, dest: Path) -> None:
        """Write the IDX files (canonical names) into the existing folder ``dest``.

        Raise any exception on failure; its message should say what went wrong.
        """
        ...


def one_line(exc: BaseException, limit: int = 300) -> str:
    """Squash an exception into one short line (torchvision's messages span many lines)."""
    text = re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text
