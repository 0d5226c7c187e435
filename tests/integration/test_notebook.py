"""The demo notebook executes headless, end to end, with its QUICK switch on."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # real processes: the slow tier

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "train.ipynb"


def test_notebook_runs_quick(tmp_path, monkeypatch, mnist_root):
    monkeypatch.setenv("MNIST_MODEL_DATA", str(mnist_root))
    monkeypatch.setenv("MNIST_MODEL_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MNIST_MODEL_NOTEBOOK_OUT", str(tmp_path / "out"))
    notebook = nbformat.read(NOTEBOOK, as_version=4)  # a missing notebook fails here
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    ).execute()
    outputs = "".join(
        out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", [])
    )
    assert "Test set: Average loss" in outputs
    assert "predicted" in outputs
    for name in ("curves.png", "misclassified.png", "per_class.png", "report.md", "model.pt"):
        assert (tmp_path / "out" / name).is_file(), name
