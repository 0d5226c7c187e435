"""Logits computed elsewhere (``mnist-model export-inputs``, then ``gate --predictions``):
judged by the same record as a live model's, with the checks that need the model itself
marked n/a, and every malformed file refused in one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnist_model.errors import MnistModelError
from mnist_model.evaluate import predict_logits
from mnist_model.gate import thresholds
from mnist_model.gate.inputs import GateInputs, read_predictions, write_inputs
from mnist_model.gate.measure import (
    SETS,
    gate_record,
    judged_images,
    logits_of,
    predictions_record,
)
from mnist_model.gate.ood import PreparedSuite
from mnist_model.gate.verdict import judge
from mnist_model.model import MnistNet, normalize


@pytest.fixture
def inputs(tiny_dataset) -> GateInputs:
    """A small stand-in for the gate's inputs: 32 test images, a suite of 12 pictures in
    two conditions (one refused)."""
    images, labels = tiny_dataset
    rng = np.random.default_rng(0)

    def suite() -> PreparedSuite:
        refused = np.zeros(12, dtype=bool)
        refused[3] = True
        return PreparedSuite(
            arrays=rng.integers(0, 256, (12, 28, 28), dtype=np.uint8),
            labels=np.arange(12) % 10,
            condition=np.arange(12) % 2,
            refused=refused,
            names=("clean", "blur"),
        )

    return GateInputs(
        test_xy=(images, labels),
        suite=suite(),
        description={"version": 3, "per_class": 1, "seed": 0},
        plain_suite=suite(),
        pixel_regression_correct=3,
    )


def _elsewhere(inputs: GateInputs, model) -> dict[str, np.ndarray]:
    """What a user's framework computes: normalisation written out in numpy."""
    out = {}
    for name, images in judged_images(inputs).items():
        x = (images.numpy().astype(np.float32) / 255 - 0.1307) / 0.3081
        with torch.inference_mode():
            out[name] = model(torch.from_numpy(x[:, None])).numpy().astype(np.float64)
    return out


def test_logits_from_elsewhere_give_the_live_models_record(inputs, tmp_path) -> None:
    torch.manual_seed(0)
    model = MnistNet().eval()
    path = tmp_path / "predictions.npz"
    np.savez(path, **_elsewhere(inputs, model))
    logits = read_predictions(path, inputs)
    assert set(logits) == set(SETS)
    record = predictions_record(logits, inputs)
    live = gate_record(model, inputs, live=False)
    for section in ("test", "shift_agreement", "baseline_correct", "ood"):
        got, want = record[section], live[section]
        if section == "test":
            assert got["loss"] == pytest.approx(want.pop("loss"), abs=1e-5)
            got = {k: v for k, v in got.items() if k != "loss"}
        assert got == want, section
    verdict = judge(record, thresholds.load())
    expected = {"png default", "png plain", "parameters", "family", "inference form"}
    assert {c.name for c in verdict.not_applicable} == expected
    assert all("predictions only" in c.reason for c in verdict.not_applicable)


def test_the_live_record_is_its_logits_record(inputs) -> None:
    torch.manual_seed(1)
    model = MnistNet().eval()
    logits = logits_of(model, inputs)
    assert torch.equal(logits["test"], predict_logits(model, normalize(inputs.test_xy[0])))
    assert logits["shift_up"].shape == (32, 10) and logits["suite_plain"].shape == (12, 10)


def test_the_exported_inputs_are_the_judged_pictures(inputs, tmp_path) -> None:
    path = write_inputs(tmp_path / "inputs", inputs)
    with np.load(path) as archive:
        for name, images in judged_images(inputs).items():
            assert np.array_equal(archive[name], images.numpy()) and archive[name].dtype == np.uint8
    assert (tmp_path / "inputs" / "inputs.json").is_file()


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda d: d.pop("shift_up"), "no logits for ['shift_up']"),
        (lambda d: d.update(test=d["test"][:, :9]), "the gate needs float (32, 10) logits"),
        (lambda d: d.update(test=d["test"].astype(np.int64)), "int64"),
        (lambda d: d["suite_plain"].__setitem__((0, 0), np.nan), "NaN or infinite"),
    ],
    ids=["missing", "shape", "dtype", "nan"],
)
def test_malformed_predictions_are_one_line(inputs, tmp_path, damage, says) -> None:
    arrays = _elsewhere(inputs, MnistNet().eval())
    damage(arrays)
    path = tmp_path / "predictions.npz"
    np.savez(path, **arrays)
    with pytest.raises(MnistModelError) as caught:
        read_predictions(path, inputs)
    assert says in str(caught.value) and "\n" not in str(caught.value)


def _npy() -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.zeros((32, 10)))
    return buffer.getvalue()


@pytest.mark.parametrize("content", [b"", b"not an npz", b"PK\x03\x04broken", _npy()])
def test_a_file_that_is_not_an_npz_is_one_line(inputs, tmp_path, content) -> None:
    path = tmp_path / "predictions.npz"
    path.write_bytes(content)
    with pytest.raises(MnistModelError, match="not a readable .npz"):
        read_predictions(path, inputs)


def test_an_array_declaring_terabytes_is_refused_before_it_is_allocated(inputs, tmp_path) -> None:
    import io
    import zipfile

    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 10)}
    )
    path = tmp_path / "predictions.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("test.npy", header.getvalue() + bytes(40))
    with pytest.raises(MnistModelError, match="not a readable .npz .*declares"):
        read_predictions(path, inputs)
