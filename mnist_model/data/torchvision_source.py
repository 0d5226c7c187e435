"""Source 1: torchvision's own MNIST downloader (its mirrors, its .gz MD5 checks)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from mnist_model.data.layout import RAW_FILES, raw_dir
from mnist_model.errors import DataError

log = logging.getLogger(__name__)


@contextlib.contextmanager
def _socket_timeout(seconds: float | None) -> Iterator[None]:
    # torchvision's urlopen calls pass no timeout; without one a firewall that drops packets
    # would hang `mnist-model data` forever. This is process-wide, hence restored at once.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


class TorchvisionSource:
    """Download with ``torchvision.datasets.MNIST(download=True)`` into a temporary folder.

    ``mirrors`` and ``resources`` override torchvision's class attributes (tests point them
    at ``file://`` URLs); by default torchvision's own lists are used.
    """

    name = "torchvision"

    def __init__(
        self,
        mirrors: Sequence[str] | None = None,
        resources: Sequence[tuple[str, str]] | None = None,
        timeout_s: float | None = 60.0,
    ) -> None:
        self.mirrors = list(mirrors) if mirrors is not None else None
        self.resources = list(resources) if resources is not None else None
        self.timeout_s = timeout_s

    def _dataset_class(self) -> type:
        from torchvision.datasets import MNIST  # heavy import, only when actually fetching

        overrides: dict[str, object] = {}
        if self.mirrors is not None:
            overrides["mirrors"] = self.mirrors
        if self.resources is not None:
            overrides["resources"] = self.resources
        # Keep the class name "MNIST": torchvision derives the raw folder from it.
        return type("MNIST", (MNIST,), overrides)

    def fetch(self, dest: Path) -> None:
        """Run torchvision's download, then move the uncompressed files into ``dest``."""
        dataset_class = self._dataset_class()
        with tempfile.TemporaryDirectory(prefix="mnist-model-tv-", dir=dest) as tmp:
            log.info("torchvision: downloading from %s", ", ".join(dataset_class.mirrors))
            try:
                with _socket_timeout(self.timeout_s):
                    dataset_class(tmp, train=True, download=True)
            except (RuntimeError, OSError, ValueError) as exc:
                raise DataError(f"torchvision download failed: {exc}") from exc
            got = raw_dir(tmp)
            for name in RAW_FILES:
                if not (got / name).is_file():
                    raise DataError(f"torchvision download did not produce {name}")
                os.replace(got / name, dest / name)
