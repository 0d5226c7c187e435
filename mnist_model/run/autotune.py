"""The arithmetic autotuner: which of bf16 autocast or float32, channels_last or contiguous
trains fastest on this machine.

Which is fastest depends on the CPU, not on the recipe. On a CPU with native AVX-512 BF16
(this project's development machine) bf16 autocast is about 1.3x faster than float32; on
AVX-512 without BF16 it is about 1.5x slower, and on AVX2-only CPUs (most laptops, GitHub's
``ubuntu-latest`` runners), where oneDNN emulates bfloat16, about 7x slower. So ``auto``
(``Machine.precision`` and ``Machine.layout``) times a few real training steps of
each candidate on this machine, at the run's batch size and thread count, and keeps the
fastest. The choice is cached per machine, torch version, threads and batch size in
``<cache>/arithmetic.json`` (``$MNIST_MODEL_CACHE``, else ``$XDG_CACHE_HOME/mnist-model``,
else ``~/.cache/mnist-model``), so a machine measures once; ``refresh=True`` (the CLI's
``--remeasure``) measures again. On CUDA, ``auto`` is bf16 autocast where the GPU supports
it and channels_last, without measuring.

Training is reproducible per arithmetic: the same seed and the same chosen arithmetic give
bit-identical results on the CPU. The measurement uses its own model and forks the RNG, so
it never changes what the run draws.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from mnist_model.atomic import atomic_write_json
from mnist_model.config import (
    LAYOUT_CHOICES,
    PRECISION_CHOICES,
    Arithmetic,
    cpu_model,
)
from mnist_model.optim import NesterovSGD
from mnist_model.run.timing import interleaved_medians
from mnist_model.schema import Int, MapOf, Num, Record, SchemaError, Str

log = logging.getLogger(__name__)

AUTO = "auto"
PRECISIONS = tuple(c for c in PRECISION_CHOICES if c != AUTO)
LAYOUTS = tuple(c for c in LAYOUT_CHOICES if c != AUTO)
CACHE_ENV_VAR = "MNIST_MODEL_CACHE"
CACHE_NAME = "arithmetic.json"
CACHE_SCHEMA = 1
MAX_CACHE_ENTRIES = 64
MEASURE_BATCH_CAP = 256
"""Steps are timed at the run's batch size up to this; beyond it the per-image speed of
the candidates no longer changes order, and bigger steps would only cost time."""
MEASURE_ROUNDS = 3
"""Timed steps per surviving candidate (after one warm-up step): the median is kept."""
PRUNE_FACTOR = 2.0
"""A candidate whose first timed step is this many times slower than the best's is dropped
there: on an AVX2 CPU one bf16 step costs as much as all of float32's."""


def candidates(precision: str, layout: str) -> list[tuple[str, str]]:
    """Every (precision, layout) that ``auto`` may pick given what was fixed."""
    precisions = PRECISIONS if precision == AUTO else (precision,)
    layouts = LAYOUTS if layout == AUTO else (layout,)
    return list(itertools.product(precisions, layouts))


def cache_path() -> Path:
    """``$MNIST_MODEL_CACHE``, else the user's cache folder, else (no home folder: a cache
    is optional) the temporary folder; the file ``arithmetic.json`` in it."""
    import tempfile

    from mnist_model.data.layout import user_cache_root

    explicit = os.environ.get(CACHE_ENV_VAR, "")
    if explicit:
        return Path(explicit).expanduser() / CACHE_NAME
    root = user_cache_root() or Path(tempfile.gettempdir()) / "mnist-model"
    return root / CACHE_NAME


def machine_key(batch_size: int, threads: int, choices: list[tuple[str, str]]) -> str:
    """What a measurement depends on. The ISA switches are part of it because they change
    the kernels torch and oneDNN run, on the same CPU."""
    parts = {
        "torch": str(torch.__version__),
        "cpu": cpu_model(),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper() or "default",
        "threads": threads,
        "batch": batch_size,
        "candidates": ",".join(f"{p}/{lay}" for p, lay in choices),
    }
    return json.dumps(parts, sort_keys=True)


def _measure_step(
    model: torch.nn.Module,
    optimizer: NesterovSGD,
    x: torch.Tensor,
    y: torch.Tensor,
    arithmetic: Arithmetic,
) -> float:
    """Seconds of one training step as train() takes it: forward, loss, backward, update."""
    start = time.perf_counter()
    with arithmetic.autocast(x.device):
        logits = model(x)
    loss = F.cross_entropy(logits.float(), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step(0.01)
    return time.perf_counter() - start


def measure(
    choices: list[tuple[str, str]], inputs: torch.Tensor, labels: torch.Tensor
) -> dict[str, float]:
    """Training images/s of each candidate on ``inputs`` (normalised, (N, 1, 28, 28)).

    The candidates take turns, so a machine that slows down mid-measurement slows all of
    them; a candidate far behind after its first timed step is not timed further. The
    global RNG is forked, so measuring does not change what the run itself draws.
    """
    from mnist_model.model import MnistNet

    runs = {}
    with torch.random.fork_rng(devices=[]):
        for precision, layout in choices:
            arithmetic = Arithmetic(precision, layout)
            model = MnistNet().train().to(memory_format=arithmetic.memory_format)
            optimizer = NesterovSGD(
                model.parameters(), momentum=0.9, weight_decay=5e-4, nesterov=True
            )
            x = inputs.contiguous(memory_format=arithmetic.memory_format)
            runs[arithmetic.name] = (model, optimizer, x, arithmetic)
        for model, optimizer, x, arithmetic in runs.values():  # warm-up: oneDNN primitives
            _measure_step(model, optimizer, x, labels, arithmetic)

        def rate(name: str) -> Callable[[], float]:
            model, optimizer, x, arithmetic = runs[name]
            return lambda: len(inputs) / _measure_step(model, optimizer, x, labels, arithmetic)

        return interleaved_medians(
            {name: rate(name) for name in runs}, MEASURE_ROUNDS, prune_factor=PRUNE_FACTOR
        )


CACHE_LIMIT = 2**20
"""An arithmetic cache larger than this (bytes) is not read, but rebuilt."""
CACHE = Record(
    {
        "schema": Int(),
        "entries": MapOf(
            Record(
                {
                    "precision": Str(50),
                    "layout": Str(50),
                    "source": Str(50),
                    "images_per_second": MapOf(Num(0), 100),
                    "measured_at": Str(100),
                }
            ),
            1000,
            key=Str(1000),
        ),
    },
    required=frozenset({"schema", "entries"}),
)
"""The arithmetic cache's declared structure; a file that breaks it is measured again."""


def _read_cache(path: Path) -> dict:
    """The cache's entries; a missing, unreadable, foreign or stale file gives {} and, for
    the last three, one log line (the file is then rewritten by the next measurement)."""
    if not path.is_file():
        return {}
    try:
        if path.stat().st_size > CACHE_LIMIT:
            raise ValueError(f"{path.stat().st_size} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        log.info(
            "arithmetic cache %s is unreadable (%s): measuring again", path, type(exc).__name__
        )
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        log.info("arithmetic cache %s is not an mnist-model cache: measuring again", path)
        return {}
    if data.get("schema") != CACHE_SCHEMA:
        log.info(
            "arithmetic cache %s has schema %r, this version writes %d: measuring again",
            path,
            data.get("schema"),
            CACHE_SCHEMA,
        )
        return {}
    try:
        CACHE.check(data, "arithmetic cache")
    except SchemaError as exc:
        log.info("%s: %s: measuring again", path, exc)
        return {}
    return data["entries"]


def _write_cache(path: Path, entries: dict) -> None:
    """Best effort: a cache that cannot be written costs a measurement next time, no more."""
    kept = dict(list(entries.items())[-MAX_CACHE_ENTRIES:])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"schema": CACHE_SCHEMA, "entries": kept})
    except OSError as exc:
        log.warning("could not write the arithmetic cache %s (%s)", path, exc)


def choose(
    precision: str,
    layout: str,
    device: torch.device,
    inputs: torch.Tensor,
    labels: torch.Tensor,
    *,
    refresh: bool = False,
    path: Path | None = None,
    measure_fn: Callable[..., dict[str, float]] = measure,
) -> Arithmetic:
    """Resolve ``auto`` in ``precision``/``layout`` for ``device``.

    ``inputs``/``labels`` are a normalised batch of the run's size (or the whole set when
    it is smaller); only the first ``MEASURE_BATCH_CAP`` images are used."""
    if precision != AUTO and layout != AUTO:
        return Arithmetic(precision, layout, "explicit")
    if device.type == "cuda":
        bf16 = torch.cuda.is_bf16_supported()
        return Arithmetic(
            precision if precision != AUTO else ("bf16" if bf16 else "fp32"),
            layout if layout != AUTO else "channels_last",
            "cuda",
        )
    if device.type == "mps":  # nothing measured: float32, the layout MPS is tuned for
        return Arithmetic(
            precision if precision != AUTO else "fp32",
            layout if layout != AUTO else "contiguous",
            "mps",
        )
    choices = candidates(precision, layout)
    inputs, labels = inputs[:MEASURE_BATCH_CAP], labels[:MEASURE_BATCH_CAP]
    key = machine_key(len(inputs), torch.get_num_threads(), choices)
    path = path or cache_path()
    entries = _read_cache(path)
    if not refresh and key in entries:
        try:
            cached = Arithmetic.from_dict(entries[key])
        except ValueError as exc:
            log.info("arithmetic cache %s has a bad entry (%s): measuring again", path, exc)
        else:
            if (cached.precision, cached.layout) in choices:
                return dataclasses.replace(cached, source="cache")
            log.info("arithmetic cache %s has a choice outside %s: measuring again", path, choices)
    start = time.perf_counter()
    rates = measure_fn(choices, inputs, labels)
    best = max(rates, key=rates.get)
    precision_, layout_ = best.split("/")
    chosen = Arithmetic(precision_, layout_, "measured", rates)
    log.info(
        "measured the arithmetic in %.2f s: %s", time.perf_counter() - start, chosen.describe()
    )
    entries.pop(key, None)
    entries[key] = {**chosen.to_dict(), "measured_at": _now()}
    _write_cache(path, entries)
    return chosen


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
