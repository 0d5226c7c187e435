"""`mnist-model bench --cpu-classes`: training throughput on the CPU classes users have.

This machine can be made to behave like older CPUs with the standard switches: oneDNN's
``ONEDNN_MAX_CPU_ISA`` caps the instructions its kernels use, ATen's
``ATEN_CPU_CAPABILITY`` those of torch's own kernels. Each class runs in a subprocess
(the switches are read when the libraries load) with an empty arithmetic cache, so
``auto`` measures there as on a user's first run. Within a class every candidate takes
one turn per repeat: bf16 and float32 in both layouts, ``auto`` (the default recipe as a
user gets it), and the reference recipe. The table is in ratios, which survive this
machine's drift far better than images/s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

from mnist_model.bench import targets as bars

CPU_CLASSES: dict[str, dict[str, str]] = {
    "native": {},
    "avx512_core": {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}
"""Name -> environment. native is whatever this CPU has (here AVX-512 with BF16);
avx512_core is AVX-512 without BF16 (servers before Cooper Lake); avx2 is most laptops
and GitHub's ubuntu-latest runners."""
FIXED = ("bf16/channels_last", "bf16/contiguous", "fp32/channels_last", "fp32/contiguous")
DEFAULT_IMAGES = 5120
"""Per measurement: 20 steps of the default batch. An emulated bf16 epoch of this size
already takes about 5 s under the AVX2 class."""
AUTO_WITHIN = bars.AUTO_WITHIN
REFERENCE_RATIO = bars.TRAINING_SPEEDUP


def measure_class(root: str, images: int, repeats: int) -> dict:
    """In this process (whose CPU class the environment set): time every candidate."""
    import torch

    from mnist_model.bench import measure
    from mnist_model.config import Machine, TrainConfig
    from mnist_model.data.load import load_split
    from mnist_model.model import normalize
    from mnist_model.run.autotune import choose

    train_xy = load_split(root, train=True)
    test_xy = load_split(root, train=False)
    batch = TrainConfig().batch_size
    start = time.perf_counter()
    chosen = choose(
        "auto", "auto", torch.device("cpu"), normalize(train_xy[0][:batch]), train_xy[1][:batch]
    )
    measuring = time.perf_counter() - start

    one_epoch = TrainConfig(epochs=1)
    configs = {
        name: (one_epoch, Machine(precision=name.split("/")[0], layout=name.split("/")[1]))
        for name in FIXED
    }
    configs["auto"] = (one_epoch, Machine())  # reads the choice made above from the cache
    rates = measure.train_rates(train_xy, test_xy, root, images, repeats, configs)
    return {
        "capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA", "default"),
        "threads": torch.get_num_threads(),
        "auto_choice": chosen.to_dict(),
        "auto_measure_seconds": measuring,
        "images_per_second": rates,
    }


def run_cpu_classes(root: str | os.PathLike[str], images: int, repeats: int) -> dict:
    """Every class in its own subprocess, one after another (they share the cores)."""
    results = {}
    for name, switches in CPU_CLASSES.items():
        with tempfile.TemporaryDirectory(prefix="mnist-model-bench-cache-") as cache:
            env = {**os.environ, **switches, "MNIST_MODEL_CACHE": cache}
            for key in {"ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA"} - set(switches):
                env.pop(key, None)  # native means native, whatever the caller's shell says
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mnist_model.bench.cpu_classes",
                    os.fspath(root),
                    "--images",
                    str(images),
                    "--repeats",
                    str(repeats),
                ],
                env=env,
                capture_output=True,
                text=True,
            )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"CPU class {name}: the measurement failed: {last}")
        results[name] = {"switches": switches, **json.loads(proc.stdout.splitlines()[-1])}
    return {"images": images, "repeats": repeats, "classes": results, **verdicts(results)}


def verdicts(classes: dict) -> dict:
    """The two targets, per class: auto against the fastest fixed choice, and the default
    recipe (auto) against the reference recipe."""
    rows = {}
    for name, result in classes.items():
        rates = result["images_per_second"]
        best = max(FIXED, key=rates.get)
        rows[name] = {
            "fastest_fixed": best,
            "auto_vs_fastest_fixed": rates["auto"] / rates[best],
            "auto_vs_reference": rates["auto"] / rates["reference"],
        }
    return {
        "ratios": rows,
        "auto_within_10_percent_everywhere": all(
            r["auto_vs_fastest_fixed"] >= AUTO_WITHIN for r in rows.values()
        ),
        "at_least_4x_reference_everywhere": all(
            r["auto_vs_reference"] >= REFERENCE_RATIO for r in rows.values()
        ),
    }


def cpu_classes_table(result: dict) -> str:
    columns = (*FIXED, "auto", "reference")
    head = f"{'CPU class':<12}" + "".join(f"{c:>20}" for c in columns)
    lines = [
        f"training images/s, {result['images']} images per measurement, median of "
        f"{result['repeats']} interleaved repeats",
        head,
    ]
    for name, data in result["classes"].items():
        rates = data["images_per_second"]
        lines.append(f"{name:<12}" + "".join(f"{rates[c]:>20,.0f}" for c in columns))
    lines.append("")
    lines.append(
        f"{'CPU class':<12}{'auto picked':>22}{'measured in':>13}{'fastest fixed':>20}"
        f"{'auto / fastest':>16}{'auto / reference':>18}"
    )
    for name, data in result["classes"].items():
        choice = data["auto_choice"]
        ratio = result["ratios"][name]
        lines.append(
            f"{name:<12}{choice['precision'] + '/' + choice['layout']:>22}"
            f"{data['auto_measure_seconds']:>12.2f}s{ratio['fastest_fixed']:>20}"
            f"{ratio['auto_vs_fastest_fixed']:>15.2f}x{ratio['auto_vs_reference']:>17.2f}x"
        )
    lines.append(
        f"auto within {100 * (1 - AUTO_WITHIN):.0f} % of the fastest fixed choice on every "
        f"class: {result['auto_within_10_percent_everywhere']}; default recipe >= "
        f"{REFERENCE_RATIO:.0f}x the reference on every class: "
        f"{result['at_least_4x_reference_everywhere']} (training throughput, which projects "
        f"the end-to-end ratio of two runs of as many epochs, evaluation excluded)"
    )
    return "\n".join(lines)


def _worker(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one CPU class of `mnist-model bench`")
    parser.add_argument("root")
    parser.add_argument("--images", type=int, required=True)
    parser.add_argument("--repeats", type=int, required=True)
    args = parser.parse_args(argv)
    print(json.dumps(measure_class(args.root, args.images, args.repeats)))


if __name__ == "__main__":
    _worker()
