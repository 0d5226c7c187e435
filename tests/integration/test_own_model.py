"""Gate your own model (issue #36's done-when): the worked example in examples/own_model
runs end to end (a foreign architecture's evidence, floors derived with the user's
promises, a held-out seed passes, a weakened model fails), its figures agree with an
evaluation written independently of the package, and the same model as ONNX gets a
complete verdict from the acceptance suite. And this project's model, judged as its
checkpoint, as TorchScript, as a torch.export program and as ONNX, gets the same
prediction on every test image and suite picture and the same verdict."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_model.checkpoint import save_checkpoint
from mnist_model.cli import main

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "own_model"
SEEDS = 5


@pytest.fixture(scope="module")
def example(tmp_path_factory, mnist_root):
    """The worked example, run as a user runs it: (its work folder, its output)."""
    work = tmp_path_factory.mktemp("own") / "work"
    env = {**os.environ, "PYTHON": sys.executable, "WORK": str(work), "SEEDS": str(SEEDS)}
    env["MNIST_MODEL_DATA"] = str(mnist_root)
    proc = subprocess.run(
        ["bash", str(EXAMPLE / "run.sh")], env=env, capture_output=True, text=True, timeout=1200
    )
    return work, proc


def _small_net():
    spec = importlib.util.spec_from_file_location("own_net", EXAMPLE / "net.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SmallNet()


def _independent_predictions(state_path: Path, mnist_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """SmallNet's test predictions as its author would compute them: torchvision's MNIST
    reader, ToTensor() pixels, the module itself (nothing of mnist_model)."""
    from torchvision import datasets, transforms

    test = datasets.MNIST(mnist_root, train=False, download=False, transform=transforms.ToTensor())
    images = torch.stack([image for image, _ in test])
    labels = np.array([label for _, label in test])
    net = _small_net()
    net.load_state_dict(torch.load(state_path, weights_only=True))
    net.eval()
    with torch.inference_mode():
        predicted = torch.cat([net(images[i : i + 1000]) for i in range(0, 10_000, 1000)])
    return predicted.argmax(1).numpy(), labels


def test_the_example_passes_its_held_out_seed_and_fails_the_weakened_model(example):
    work, proc = example
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    assert "the held-out seed passed and the weakened model failed" in output
    held_out, weakened = output.split("== the weakened model: must fail")
    assert "verdict: PASS" in held_out and "n/a   family" in held_out
    assert "the judged model is of that recipe" in held_out
    assert "FAIL  digit 7" in weakened and "verdict: FAIL" in weakened


def test_its_evidence_agrees_with_an_independent_evaluation(example, mnist_root):
    work, _ = example
    for seed in (0, SEEDS - 1):
        (record,) = [
            json.loads(p.read_text())
            for p in (work / "evidence").glob("*.json")
            if json.loads(p.read_text())["model"]["seed"] == f"seed{seed}"
        ]
        predicted, labels = _independent_predictions(work / "models" / f"seed{seed}.pt", mnist_root)
        right = predicted == labels
        assert record["test"]["correct"] == int(right.sum())
        per_digit = [int(right[labels == d].sum()) for d in range(10)]
        assert record["test"]["per_class_correct"] == per_digit
        assert record["model"]["format"] == "state_dict" and record["model"]["model"] == "SmallNet"


def test_its_paired_counts_agree_with_an_independent_count(
    example, mnist_root, capsys, monkeypatch
):
    work, _ = example
    model = work / "models" / f"seed{SEEDS}.pt"
    read = ["--model-class", "net:SmallNet", "--input-scale", "unit"]
    baseline = REPO / "baselines" / "default.json"
    monkeypatch.chdir(EXAMPLE)  # --model-class imports net.py from the current folder
    code = main(
        ["compare", "--checkpoint", str(model), *read, "--baseline", str(baseline), "--json"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code in (0, 1)
    digits = json.loads(baseline.read_text())["test"]["predicted"]  # one character an image
    accepted = np.array([int(c) for c in digits])
    predicted, labels = _independent_predictions(model, mnist_root)
    mine, theirs = predicted == labels, accepted == labels
    assert summary["baseline_only"] == int((theirs & ~mine).sum())
    assert summary["candidate_only"] == int((mine & ~theirs).sum())


def test_the_same_model_as_onnx_gets_a_complete_acceptance_verdict(
    example, tmp_path, capsys, monkeypatch
):
    work, _ = example
    onnx = tmp_path / "smallnet.onnx"
    read = ["--model-class", "net:SmallNet", "--input-scale", "unit"]
    monkeypatch.chdir(EXAMPLE)
    model = str(work / "models" / f"seed{SEEDS}.pt")
    command = ["export", "--checkpoint", model, *read, "--format", "onnx", "--out", str(onnx)]
    assert main(command) == 0
    assert "ONNX, 5,258 parameters" in capsys.readouterr().out
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "acceptance", "-p", "no:cacheprovider", "-rs"]
        + [f"--checkpoint={onnx}", f"--thresholds={work / 'thresholds.json'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    # family and inference form; and the refusal, where the user's evidence derives none
    derived = json.loads((work / "thresholds.json").read_text())["refusal"]["min_confidence"]
    assert f"{2 if derived is not None else 5} skipped" in output
    assert "not applicable: not an MnistNet (main_graph, onnx)" in output
    assert derived is not None or "refusal test: not applicable: no confidence" in output
    assert "verdict: PASS" in output and "failed" not in output.splitlines()[-1]


# --- this project's model in every format -----------------------------------------------------
def test_every_format_of_the_projects_model_gets_the_same_predictions_and_verdict(
    small_training, mnist_root, mnist_splits, tmp_path, capsys
):
    from mnist_model.formats import load_any
    from mnist_model.gate import thresholds
    from mnist_model.gate.inputs import gate_inputs
    from mnist_model.gate.measure import gate_record
    from mnist_model.gate.paired import predictions_of
    from mnist_model.gate.verdict import judge
    from mnist_model.predict.preprocess import PURPOSES

    checkpoint = save_checkpoint(
        tmp_path / "model.pt", small_training.run.model, train_config={}, metrics={}, data_md5={}
    )
    files = {"checkpoint": checkpoint}
    for kind in ("torchscript", "export", "onnx"):
        files[kind] = tmp_path / f"model.{kind}"
        assert (
            main(
                [
                    "export",
                    "--checkpoint",
                    str(checkpoint),
                    "--format",
                    kind,
                    "--out",
                    str(files[kind]),
                ]
            )
            == 0
        )
    capsys.readouterr()
    inputs = gate_inputs(mnist_root, mnist_splits["train"], mnist_splits["test"])
    bars = thresholds.load()
    seen = {}
    for kind, path in files.items():
        loaded = load_any(path)
        assert loaded.format == kind
        test, suite = predictions_of(loaded.model, inputs.test_xy[0], inputs.suite)
        plain = predictions_of(loaded.model, inputs.test_xy[0], inputs.plain_suite)[1]
        verdict = judge(gate_record(loaded, inputs), bars)
        seen[kind] = (test, suite, plain, verdict)
    test, suite, plain, verdict = seen["checkpoint"]
    # Judged by another rule once the file no longer says it is an MnistNet: the family,
    # the folded form (n/a), the parameters (folded: fewer), and the purpose of predict's
    # steps (the promise alone). Every other check has the same figure.
    other_rule = {"family", "inference form", "parameters", *(f"plain {p}" for p in PURPOSES)}
    for kind in ("torchscript", "export", "onnx"):
        other_test, other_suite, other_plain, other = seen[kind]
        assert np.array_equal(other_test, test) and np.array_equal(other_suite, suite), kind
        assert np.array_equal(other_plain, plain), kind
        assert [c.status for c in other.checks if c.name not in other_rule] == [
            c.status for c in verdict.checks if c.name not in other_rule
        ], kind
        for check in other.checks:
            if check.name not in other_rule:
                assert check.figure == pytest.approx(verdict[check.name].figure, abs=1e-6)
        assert other["family"].status == other["inference form"].status == "n/a"
        assert other["parameters"].passed and verdict["parameters"].passed
        assert other.passed == verdict.passed


def test_logits_computed_elsewhere_get_the_models_verdict(
    small_training, mnist_root, tmp_path, capsys
):
    """``export-inputs``, logits from onnxruntime with the normalisation written in numpy
    (no torch), then ``gate --predictions``: every check that needs no live model has the
    figure and the outcome ``gate --checkpoint`` gives the same model."""
    import onnxruntime

    from mnist_model.predict.preprocess import PURPOSES

    data = ["--data-dir", str(mnist_root)]
    checkpoint = save_checkpoint(
        tmp_path / "model.pt", small_training.run.model, train_config={}, metrics={}, data_md5={}
    )
    onnx = tmp_path / "model.onnx"
    assert (
        main(["export", "--checkpoint", str(checkpoint), "--format", "onnx", "--out", str(onnx)])
        == 0
    )
    assert main(["export-inputs", *data, "--out", str(tmp_path / "inputs")]) == 0
    session = onnxruntime.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    logits = {}
    with np.load(tmp_path / "inputs" / "inputs.npz") as archive:
        for key in archive.files:
            x = ((archive[key].astype(np.float32) / 255 - 0.1307) / 0.3081)[:, None]
            logits[key] = np.concatenate(
                [session.run(None, {name: x[i : i + 1000]})[0] for i in range(0, len(x), 1000)]
            )
    np.savez(tmp_path / "predictions.npz", **logits)
    capsys.readouterr()
    baseline = ["--baseline", str(REPO / "baselines" / "default.json"), "--json"]
    code = main(["gate", *data, "--predictions", str(tmp_path / "predictions.npz"), *baseline])
    elsewhere = json.loads(capsys.readouterr().out)
    assert code == main(["gate", *data, "--checkpoint", str(checkpoint), *baseline])
    live = json.loads(capsys.readouterr().out)
    needs_the_model = ["png default", "png plain", "parameters", "family", "inference form"]
    assert elsewhere["not_applicable"] == needs_the_model and live["not_applicable"] == []
    other_rule = {*needs_the_model, *(f"plain {p}" for p in PURPOSES)}
    judged = {c["name"]: c for c in live["checks"] if c["name"] not in other_rule}
    for check in elsewhere["checks"]:
        if check["name"] in judged:
            want = judged.pop(check["name"])
            assert check["passed"] == want["passed"], check["name"]
            assert check["figure"] == pytest.approx(want["figure"], abs=1e-5), check["name"]
    assert not judged  # every check of the live verdict was judged from the logits too
