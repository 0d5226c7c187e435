"""Training-step images/s of the layout and precision choices behind the default recipe.

    python scripts/compare_training_step.py [--batch 256] [--repeats 3]

Times forward + backward + SGD step on random data (no augmentation, no data loading), in
the default thread count and channels_last, for:
- ``bn_before_pool``: the previous layout, Conv -> BN -> ReLU -> max-pool at 28x28 and 14x14;
- ``pool_before_bn``: the current MnistNet, Conv -> max-pool -> BN -> ReLU;
- ``stride2_stem``: a stride-2 stem instead of conv + pool (measured, not adopted);
each in float32 and under bfloat16 autocast. Every variant has the same 7,954 parameters.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from mnist_model.model import MnistNet


def block(cin: int, cout: int, k: int = 3, *, pool: bool = False, stride: int = 1) -> list:
    layers = [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)]
    layers += [nn.MaxPool2d(2)] if pool else []
    return layers + [nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def head(channels: int) -> list:
    return [nn.Conv2d(channels, 10, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]


VARIANTS = {
    "bn_before_pool": lambda: nn.Sequential(
        *block(1, 8, 5), nn.MaxPool2d(2), *block(8, 16), *block(16, 16), nn.MaxPool2d(2),
        *block(16, 16), *block(16, 12), *head(12),
    ),
    "pool_before_bn": MnistNet,
    "stride2_stem": lambda: nn.Sequential(
        *block(1, 8, 5, stride=2), *block(8, 16), *block(16, 16, pool=True),
        *block(16, 16), *block(16, 12), *head(12),
    ),
}  # fmt: skip


def step_rate(model: nn.Module, batch: int, bf16: bool, repeats: int) -> float:
    model = model.train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(batch, 1, 28, 28).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(5):
        step()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(30):
            step()
        rates.append(30 * batch / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"threads {torch.get_num_threads()}, batch {args.batch}")
    print(f"{'variant':<16}{'params':>8}{'float32':>10}{'bf16':>10}  images/s")
    for name, build in VARIANTS.items():
        model = build()
        params = sum(p.numel() for p in model.parameters())
        fp32 = step_rate(model, args.batch, False, args.repeats)
        bf16 = step_rate(model, args.batch, True, args.repeats)
        print(f"{name:<16}{params:>8}{fp32:>10.0f}{bf16:>10.0f}", flush=True)


if __name__ == "__main__":
    main()
