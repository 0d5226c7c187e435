"""Does torch.compile pay off for inference? Compile time against images/s gained.

    python scripts/compile_inference.py [--repeats 5]

Compiles the folded channels_last model (the inference form evaluate/predict run), then
times eager, folded and compiled forward passes in turns at batch 1 and 1,000, and
prints after how many images the compile time is paid back.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mnist_model.inference import inference_form
from mnist_model.model import MnistNet


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    eager = MnistNet().eval()
    folded = inference_form(eager)
    start = time.perf_counter()
    compiled = torch.compile(folded)
    with torch.inference_mode():  # both shapes, so neither timing includes a recompile
        compiled(torch.randn(1000, 1, 28, 28))
        compiled(torch.randn(1, 1, 28, 28))
    compile_seconds = time.perf_counter() - start
    print(f"compile and first calls: {compile_seconds:.1f} s")
    nets = {"eager": eager, "folded_channels_last": folded, "compiled": compiled}
    for batch in (1, 1000):
        x = torch.randn(batch, 1, 28, 28)
        calls = max(1, 2000 // batch)
        samples: dict[str, list[float]] = {name: [] for name in nets}
        with torch.inference_mode():
            for net in nets.values():
                for _ in range(3):
                    net(x)
            for _ in range(args.repeats):
                for name, net in nets.items():
                    start = time.perf_counter()
                    for _ in range(calls):
                        net(x)
                    samples[name].append(calls * batch / (time.perf_counter() - start))
        rate = {name: statistics.median(values) for name, values in samples.items()}
        saved = 1 / rate["folded_channels_last"] - 1 / rate["compiled"]
        payback = f"{compile_seconds / saved:,.0f} images" if saved > 0 else "never"
        print(
            f"batch {batch:>4}: "
            + ", ".join(f"{name} {value:,.0f}/s" for name, value in rate.items())
            + f"; compiled/folded {rate['compiled'] / rate['folded_channels_last']:.2f}x;"
            f" compile time paid back after {payback}"
        )


if __name__ == "__main__":
    main()
