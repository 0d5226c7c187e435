"""Eval-mode forward throughput at the batch sizes that matter: 1 (latency), 64, 1000 (bulk).

Deselected by default. Timings compare only against runs on the same machine, so save a
baseline there and compare later runs with it:

    pytest -m benchmark -p no:xdist --benchmark-save=baseline --benchmark-json=bench.json
    pytest -m benchmark -p no:xdist --benchmark-compare=0001 --benchmark-compare-fail=mean:25%

(``tox -e bench`` runs the first; pass the compare flags after ``--``.) The speed-up bars
of the inference path are ratios taken in one run, in ``test_inference_speedup.py``.
"""

from __future__ import annotations

import pytest
import torch

from mnist_model.inference import fold_for_inference, inference_form
from mnist_model.model import MnistNet

pytestmark = pytest.mark.benchmark

PATHS = {
    "eager": lambda model: model,
    "folded": fold_for_inference,  # BatchNorm folded into the convolutions
    "inference_form": inference_form,  # folded + channels_last: what evaluate/predict run
}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("batch_size", [1, 64, 1000])
def test_eval_forward_throughput(benchmark, batch_size, path) -> None:
    model = PATHS[path](MnistNet().eval())
    x = torch.randn(batch_size, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    benchmark.group = f"eval forward, batch {batch_size}"
    benchmark.extra_info["batch_size"] = batch_size
    benchmark.extra_info["path"] = path

    def forward() -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    logits = benchmark(forward)
    assert logits.shape == (batch_size, 10)
    assert torch.isfinite(logits).all()
