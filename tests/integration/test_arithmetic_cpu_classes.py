"""``--precision auto`` on a CPU without native BF16, simulated on this one with the
standard switches (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA): the command measures, picks
the faster candidate it logged, records the choice everywhere, and does not pick bf16.

On such a CPU oneDNN emulates bfloat16 and a bf16 training step is several times slower
than a float32 one, so the margin is far beyond measurement noise.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest
import torch

from helpers.cli import short_train_flags

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # real processes: the slow tier

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def test_auto_under_avx2_picks_the_faster_measured_candidate_not_bf16(mnist_root, tmp_path) -> None:
    out = tmp_path / "run"
    env = {**os.environ, **AVX2, "MNIST_MODEL_DATA": str(mnist_root)}
    env["MNIST_MODEL_CACHE"] = str(tmp_path / "cache")  # nothing measured yet
    args = short_train_flags(512, 100)
    at = args.index("--threads")
    del args[at : at + 2]  # the default thread count: what a user on such a CPU runs
    proc = subprocess.run(
        [sys.executable, "-m", "mnist_model", "train", *args, "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    chosen = metrics["arithmetic"]
    rates = chosen["images_per_second"]
    assert chosen["source"] == "measured"
    assert set(rates) == {
        f"{p}/{lay}" for p in ("bf16", "fp32") for lay in ("channels_last", "contiguous")
    }
    assert f"{chosen['precision']}/{chosen['layout']}" == max(rates, key=rates.get)
    if platform.machine() in ("x86_64", "AMD64"):  # the switches only mean this on x86
        assert chosen["precision"] == "fp32", rates
    assert "measured the arithmetic" in proc.stderr and "arithmetic: float32" in proc.stderr
    saved = torch.load(out / "model.pt", weights_only=True)
    assert saved["metrics"]["arithmetic"] == chosen
    assert "- arithmetic: float32" in (out / "report.md").read_text()
