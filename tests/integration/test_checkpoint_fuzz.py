"""A property-based fuzz of checkpoint *contents*: start from a good checkpoint, mutate what
is inside (a tensor to NaN, inf, a huge value or zeros; a dtype or a shape; a key dropped
or added; the model config out of range; a future schema; metrics that disagree with the
weights), and run every reader on it. Each must refuse in one line (exit 2) or give an
answer with nothing non-finite in it, and write nothing when it refuses.

The default run tries a few mutations; ``MNIST_MODEL_FUZZ_EXAMPLES=300`` explores."""

from __future__ import annotations

import copy
import json
import math
import os

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_model.checkpoint import SCHEMA_VERSION, load_plain, save_checkpoint
from mnist_model.cli import main

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("MNIST_MODEL_FUZZ_EXAMPLES", "0") or 0)


@pytest.fixture(scope="module")
def good(small_training, tmp_path_factory):
    """(a good checkpoint, a digit image, a folder to write into): paths, so that a failing
    example prints short."""
    folder = tmp_path_factory.mktemp("fuzz")
    path = save_checkpoint(
        folder / "good.pt",
        small_training.run.model,
        train_config={"seed": 0},
        metrics={"test_accuracy": 0.95, "history": []},
        data_md5={},
    )
    image = folder / "digit.png"
    Image.fromarray(small_training.test_x[0].numpy()).save(image)
    return path, image, folder


def tensor_change(kind: str, tensor: torch.Tensor) -> torch.Tensor:
    if kind == "dtype":
        return tensor.double()
    if kind == "shape":
        return tensor.flatten()[:-1] if tensor.numel() > 1 else tensor.repeat(2)
    if not tensor.is_floating_point():
        return tensor.fill_(-3)
    return tensor.fill_({"nan": math.nan, "inf": math.inf, "huge": 1e30, "zeros": 0.0}[kind])


MUTATIONS = st.one_of(
    st.tuples(
        st.just("tensor"),
        st.sampled_from(["nan", "inf", "huge", "zeros", "dtype", "shape"]),
        st.integers(0, 99),
    ),
    st.tuples(st.just("key"), st.sampled_from(["drop", "add"]), st.integers(0, 99)),
    st.tuples(
        st.just("config"),
        st.sampled_from(["stem_channels", "stem_kernel", "num_classes", "dropout"]),
        st.sampled_from([-1, 0, 2.5, 1e9, "x"]),
    ),
    st.tuples(st.just("schema"), st.sampled_from([SCHEMA_VERSION + 1, 0, "2"]), st.just(0)),
    st.tuples(st.just("metrics"), st.sampled_from(["accuracy", "nan", "history"]), st.just(0)),
)


def mutate(payload: dict, mutation: tuple) -> dict:
    what, how, pick = mutation
    payload = copy.deepcopy(payload)
    if what in ("tensor", "key"):
        names = sorted(payload["state_dict"])
        name = names[pick % len(names)]
    if what == "tensor":
        payload["state_dict"][name] = tensor_change(how, payload["state_dict"][name].clone())
    elif what == "key" and how == "drop":
        del payload["state_dict"][name]
    elif what == "key":
        payload["state_dict"]["extra.weight"] = torch.zeros(3)
    elif what == "config":
        payload["model_config"][how] = pick
    elif what == "schema":
        payload["schema_version"] = how
    else:  # metrics that disagree with the weights: readers recompute, never trust them
        payload["metrics"] = {
            "accuracy": {"test_accuracy": 1.0, "history": []},
            "nan": {"test_accuracy": math.nan, "history": [{"epoch": 1, "test_loss": math.nan}]},
            "history": {"history": "not a list"},
        }[how]
    return payload


READERS = ["evaluate", "predict", "report", "baseline"]


@settings(
    max_examples=EXAMPLES or 6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(mutation=MUTATIONS, reader=st.sampled_from(READERS))
def test_every_reader_refuses_in_one_line_or_answers_finitely(
    good, mutation, reader, capsys
) -> None:
    source, image, folder = good
    path = folder / "mutated.pt"
    torch.save(mutate(load_plain(source, "checkpoint"), mutation), path)
    out = folder / f"out-{reader}"
    extra = {
        "predict": [str(image), "--json"],
        "evaluate": ["--json"],
        "report": ["--out", str(out)],
        "baseline": ["--out", str(out) + ".json"],
    }[reader]
    capsys.readouterr()
    code = main([reader, "--checkpoint", str(path), *extra])
    stdout, stderr = capsys.readouterr()
    event(f"{mutation[0]}:{mutation[1]} -> {'refused' if code else 'answered'}")
    if code:
        assert code == 2, (mutation, reader, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("mnist-model: error: "), stderr
        assert not out.exists() and not (folder / f"out-{reader}.json").exists()
        return
    assert "Traceback" not in stderr
    if reader in ("predict", "evaluate"):
        assert all(math.isfinite(v) for v in _numbers(json.loads(stdout))), stdout
    for written in [*out.glob("*.md"), *folder.glob(f"out-{reader}.json")]:
        assert "nan" not in written.read_text().lower().split(), written
    for written in (out, folder / f"out-{reader}.json"):
        if written.is_dir():
            for f in written.iterdir():
                f.unlink()
            written.rmdir()
        elif written.exists():
            written.unlink()


def _numbers(data):
    if isinstance(data, bool):
        return
    if isinstance(data, int | float):
        yield float(data)
    elif isinstance(data, dict):
        for value in data.values():
            yield from _numbers(value)
    elif isinstance(data, list):
        for value in data:
            yield from _numbers(value)


# --- the structure-aware fuzz: every field of the declared schema, broken in turn ----------
SCHEMA_READERS = ["evaluate", "report", "baseline", "gate", "predict"]


def test_every_schema_violation_is_one_line_from_every_reader(good, capsys) -> None:
    """``checkpoint.CHECKPOINT.variants``: each field of a good checkpoint replaced by each
    value its spec refuses (another type, too long, too deep, not finite), and each
    required field left out. Every reader refuses each in one line with exit 2 and
    writes nothing. The quick tier gives each variant one reader, in turns;
    ``MNIST_MODEL_FUZZ_EXAMPLES`` set gives it every reader, as the slow tier does."""
    _schema_fuzz(good, capsys, every_reader=bool(EXAMPLES))


@pytest.mark.slow
def test_every_schema_violation_from_every_reader_in_full(good, capsys) -> None:
    """The slow tier's size of the fuzz above: every variant through every reader."""
    _schema_fuzz(good, capsys, every_reader=True)


def _schema_fuzz(good, capsys, *, every_reader: bool) -> None:
    from mnist_model.checkpoint import CHECKPOINT

    source, image, folder = good
    payload = load_plain(source, "checkpoint")
    variants = CHECKPOINT.variants(payload)
    assert len(variants) > 80  # every field of the schema, several ways each
    tried = 0
    for i, (where, broken) in enumerate(variants):
        path = folder / "broken.pt"
        torch.save(broken, path)
        readers = SCHEMA_READERS if every_reader else [SCHEMA_READERS[i % len(SCHEMA_READERS)]]
        for reader in readers:
            out = folder / f"schema-{reader}"
            extra = {
                "report": ["--out", str(out)],
                "baseline": ["--out", str(out)],
                "predict": [str(image)],
            }.get(reader, [])
            capsys.readouterr()
            code = main([reader, "--checkpoint", str(path), *extra])
            stderr = capsys.readouterr().err
            lines = stderr.strip().splitlines()
            assert code == 2, (where, reader, stderr)
            assert len(lines) == 1 and lines[0].startswith("mnist-model: error: "), stderr
            assert str(path) in lines[0] and not out.exists(), (where, reader, lines)
            tried += 1
    assert tried >= len(variants)
