"""``pip install`` with PyTorch's CPU-only wheels when their index answers, else the default.

    python .ci/pip_install.py -e ".[test,lint]"     (what .ci/run and tox call)

On Linux x86_64 the default index (PyPI) gives torch's CUDA build: about 5.9 GB in the
environment, 3.2 GB of it nvidia libraries, for a model that trains on the CPU. PyTorch's
CPU index (``TORCH_INDEX``, default https://download.pytorch.org/whl/cpu) gives the
CPU-only build instead. This script asks that index first: if it answers within
``PROBE_SECONDS``, pip installs with it as an extra index (pip then prefers its
``+cpu`` torch); if not (no network, a proxy, a closed CI machine), pip installs from
the default index alone, and the line printed says so. ``TORCH_INDEX=none`` skips the
probe. macOS and Windows wheels on PyPI are CPU builds already.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

DEFAULT_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_SECONDS = 10


def reachable(index: str, timeout: float = PROBE_SECONDS) -> bool:
    """Whether ``index`` serves a torch page (a PEP 503 simple index)."""
    if index.lower() in {"", "none"}:
        return False
    try:
        with urllib.request.urlopen(index.rstrip("/") + "/torch/", timeout=timeout):
            return True  # an error status (404, 503) raises HTTPError, an OSError
    except (OSError, ValueError):
        return False


def command(args: list[str], index: str) -> tuple[list[str], str]:
    """The pip command for ``args``, and one line saying where torch comes from."""
    pip = [sys.executable, "-m", "pip", "install"]
    if reachable(index):
        return [*pip, "--extra-index-url", index, *args], f"torch: CPU-only build from {index}"
    return [*pip, *args], (
        f"torch: {index} not reachable, so the default index's build (on Linux x86_64 the "
        "CUDA one, about 5.9 GB installed)"
    )


def main(argv: list[str]) -> int:
    pip, line = command(argv, os.environ.get("TORCH_INDEX", DEFAULT_INDEX))
    print(f"pip_install: {line}", flush=True)
    return subprocess.call(pip)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
