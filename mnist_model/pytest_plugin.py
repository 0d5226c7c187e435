"""The acceptance suite's command-line options, as a pytest plugin.

Installed with the package through the ``pytest11`` entry point, so pytest knows
``--checkpoint``, ``--seeds`` and ``--seeds-out`` before it parses the command line: the
model under judgement can be given as ``--checkpoint PATH`` or ``--checkpoint=PATH``,
from the repository or from any other folder, wherever the file lives. (Declared in a
conftest instead, the options exist only once pytest has found that conftest, and a
separate PATH is first taken for a test path that decides the root directory.)

The fixtures and hooks that use the options live in the test suite's conftests. This
module imports nothing heavy: pytest loads it in every session of the environment.
"""

from __future__ import annotations


def pytest_addoption(parser) -> None:
    group = parser.getgroup("mnist-model acceptance")
    group.addoption(
        "--checkpoint",
        action="store",
        default=None,
        metavar="PATH",
        help="acceptance tests: judge this checkpoint instead of training the default recipe",
    )
    group.addoption(
        "--seeds",
        action="store",
        type=int,
        default=0,
        metavar="N",
        help="acceptance multi-seed mode: train seeds 0..N-1 (one test each; use -n 2 to "
        "run them in parallel) and check every seed and their mean",
    )
    group.addoption(
        "--seeds-out",
        action="store",
        default=".acceptance-seeds",
        metavar="DIR",
        help="where the multi-seed mode writes seed*.json and sweep.json",
    )
