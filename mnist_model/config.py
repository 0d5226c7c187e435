"""Configuration: the recipe (what is trained) apart from the machine (how it computes).

``ModelConfig`` and ``TrainConfig`` are the recipe; their defaults are the project's
reference, whose results (seeds, spread, arithmetic class) are in the README and
docs/recipe.md. ``Machine`` holds what a run may change without changing what it trains
(device, threads, the arithmetic asked for), and ``Arithmetic`` the precision and layout
a run actually computes in once ``auto`` is resolved (``mnist_model.run.autotune``).

Each field's docstring is its meaning; ``mnist-model train --help`` shows it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field, fields

PRECISION_CHOICES = ("auto", "bf16", "fp32")
LAYOUT_CHOICES = ("auto", "channels_last", "contiguous")


def _is_int(value: object) -> bool:
    """An int proper: 2.0 and True compare equal to integers but build no layer."""
    return isinstance(value, int) and not isinstance(value, bool)


MAX_WIDTH = 1024
"""The widest layer a ModelConfig may ask for: far beyond this project's 8,000-parameter
budget, and small enough that a crafted checkpoint cannot make MnistNet allocate
gigabytes before its weights are compared."""
MAX_BLOCKS = 16
"""The most convolutions a stage may have."""
TEST_TIME_VIEWS = (1, 5, 9)
"""The view sets ``ModelConfig.test_time_views`` may name (``model.VIEWS``)."""


@dataclass(frozen=True)
class ModelConfig:
    """Widths of the network's three resolutions (28x28, 14x14, 7x7)."""

    stem_channels: int = 8
    stem_kernel: int = 5
    stage1_channels: tuple[int, ...] = (16, 16)
    stage2_channels: tuple[int, ...] = (16, 12)
    num_classes: int = 10
    dropout: float = 0.0
    test_time_views: int = 5
    """Views whose logits the eval-mode forward averages: 1 (the picture alone), 5 (also
    the picture shifted one pixel up, down, left and right) or 9 (every shift of at most
    one pixel). Training sees one view; a prediction costs this many forward passes
    (docs/recipe.md, issue 40). Checkpoints saved before this field have 1."""

    def __post_init__(self) -> None:
        widths = (self.stem_channels, *self.stage1_channels, *self.stage2_channels)
        if not self.stage1_channels or not self.stage2_channels:
            raise ValueError("stage1_channels and stage2_channels need at least one width")
        if not all(_is_int(w) and 1 <= w <= MAX_WIDTH for w in widths):
            raise ValueError(f"channel widths must be integers in [1, {MAX_WIDTH}], got {widths}")
        if max(len(self.stage1_channels), len(self.stage2_channels)) > MAX_BLOCKS:
            raise ValueError(f"a stage has at most {MAX_BLOCKS} convolutions")
        kernel = self.stem_kernel
        if not _is_int(kernel) or not 1 <= kernel <= 27 or kernel % 2 == 0:
            raise ValueError(f"stem_kernel must be an odd integer in [1, 27], got {kernel}")
        if not _is_int(self.num_classes) or self.num_classes < 2:
            raise ValueError(f"num_classes must be an integer >= 2, got {self.num_classes}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not _is_int(self.test_time_views) or self.test_time_views not in TEST_TIME_VIEWS:
            raise ValueError(
                f"test_time_views must be one of {TEST_TIME_VIEWS}, got {self.test_time_views!r}"
            )


@dataclass(frozen=True)
class TrainConfig:
    """The training recipe, and the seed that picks one model of it."""

    epochs: int = 24
    """Passes over the training set."""
    batch_size: int = 256
    """Images per SGD step."""
    lr: float = 0.2
    """Peak learning rate of the one-cycle schedule."""
    momentum: float = 0.9
    """Nesterov momentum (0: plain SGD)."""
    weight_decay: float = 1e-3
    """L2 weight decay, applied to the convolution weights (see decay_norm_and_bias)."""
    decay_norm_and_bias: bool = False
    """Apply weight decay to BatchNorm scales and shifts and to biases too."""
    label_smoothing: float = 0.0
    """Label smoothing of the cross-entropy loss."""
    warmup_fraction: float = 0.25
    """Fraction of the steps over which the learning rate rises to its peak."""
    initial_lr_divisor: float = 10.0
    """The schedule starts at the peak learning rate divided by this."""
    final_lr_divisor: float = 100.0
    """The schedule ends at the peak learning rate divided by this."""
    max_rotation_deg: float = 10.0
    """Largest random rotation of a training image, in degrees."""
    max_translate: float = 0.1
    """Largest random shift, as a fraction of the image side."""
    max_scale: float = 0.1
    """Largest random change of scale, as a fraction (0.1: 0.9x to 1.1x)."""
    max_elastic_px: float = 0.0
    """Largest displacement in pixels of a smooth random warp added to the affine one (0:
    none; it reads blurry low-resolution digits worse, docs/recipe.md)."""
    ema_decay: float = 0.999
    """Per-step decay of the weights' moving average, which is what is evaluated and saved
    (0: the live weights). Its warm-up caps the decay at (1 + n) / (10 + n) at step n, so
    a run of N steps trains the same model with every decay at or above (1 + N) / (10 +
    N): 0.9984 at the default's 5,640 steps."""
    low_res_fraction: float = 0.4
    """Fraction of the epochs, the first ones, trained on batches warped straight to 20x20
    (a step costs about 0.58x a full-size one); the rest, and every evaluation, are 28x28."""
    augment_decay: float = 1.0
    """The augmentation's magnitude shrinks linearly by this fraction over training (1: to
    zero, so the last steps see undistorted digits)."""
    seed: int = 0
    """Seeds every random draw of the run: the same seed gives the same bits within one
    arithmetic class."""

    def __post_init__(self) -> None:
        _check_types(self)
        positive = ("epochs", "batch_size", "lr", "initial_lr_divisor", "final_lr_divisor")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in (
            "weight_decay",
            "label_smoothing",
            "max_rotation_deg",
            "max_translate",
            "max_scale",
            "max_elastic_px",
            "momentum",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        _check_ranges(self)

    @property
    def low_res_epochs(self) -> int:
        """How many of the first epochs train at 20x20 (the fraction, rounded half up)."""
        return math.floor(self.low_res_fraction * self.epochs + 0.5)


def _check_types(config) -> None:
    """Each field holds the type of its default (a bool is not an int, nor a NaN a number)."""
    for spec in fields(config):
        value, default = getattr(config, spec.name), spec.default
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ValueError(f"{spec.name} must be True or False, got {value!r}")
        if _is_int(default) and not _is_int(value):
            raise ValueError(f"{spec.name} must be an integer, got {value!r}")
        if isinstance(default, float) and not (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        ):
            raise ValueError(f"{spec.name} must be a finite number, got {value!r}")


def _check_ranges(config: TrainConfig) -> None:
    bounded = {
        "label_smoothing": (0.0, 1.0, True),
        "ema_decay": (0.0, 1.0, False),
        "augment_decay": (0.0, 1.0, True),
        "low_res_fraction": (0.0, 1.0, False),
    }
    for name, (low, high, closed) in bounded.items():
        value = getattr(config, name)
        if not (low <= value <= high if closed else low <= value < high):
            shown = f"[{low:g}, {high:g}{']' if closed else ')'}"
            raise ValueError(f"{name} must be in {shown}, got {value}")
    if not config.max_scale < 1.0:  # a scale factor of 1 - max_scale must stay positive
        raise ValueError(f"max_scale must be < 1, got {config.max_scale}")
    if not 0 <= config.seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {config.seed}")
    if not 0.0 < config.warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must be in (0, 1), got {config.warmup_fraction}")


@dataclass(frozen=True)
class Machine:
    """Where and how a run computes. None of it is part of the recipe: a resumed run may
    change any of it (its arithmetic stays the one it started with)."""

    device: str = "auto"
    """auto (CUDA when present, else Apple's MPS when present, else the CPU), cpu, cuda,
    cuda:N or mps."""
    threads: int = 0
    """torch intra-op threads (0: torch's default, one per core)."""
    precision: str = field(default="auto", metadata={"choices": PRECISION_CHOICES})
    """bf16 (the training forward pass under bfloat16 autocast; weights, optimiser and
    evaluation stay float32), fp32, or auto: whichever trains faster here, measured once
    and cached."""
    layout: str = field(default="auto", metadata={"choices": LAYOUT_CHOICES})
    """Memory format of the training activations (auto: measured with the precision)."""
    eval_batch_size: int = 1000
    """Images per batch when evaluating."""

    def __post_init__(self) -> None:
        _check_types(self)
        if self.threads < 0:
            raise ValueError(f"threads must be >= 0, got {self.threads}")
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be > 0, got {self.eval_batch_size}")
        for name in ("precision", "layout"):
            choices = self.__dataclass_fields__[name].metadata["choices"]
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class Arithmetic:
    """What a run computes in, and why: ``source`` is ``explicit`` (both given),
    ``measured``, ``cache``, ``cuda`` or ``mps`` (an accelerator's rule) or ``resumed`` (from
    a train state)."""

    precision: str
    layout: str
    source: str = "explicit"
    images_per_second: dict[str, float] = field(default_factory=dict)
    """Throughput of each measured candidate, keyed ``precision/layout``."""

    @property
    def name(self) -> str:
        return f"{self.precision}/{self.layout}"

    @property
    def memory_format(self):
        """The torch memory format of the activations (torch is imported here, not at the
        module's import: the command line's help needs the configs, not torch)."""
        import torch

        return torch.channels_last if self.layout == "channels_last" else torch.contiguous_format

    def autocast(self, device):
        """The context the training forward pass runs in."""
        import torch

        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: object) -> Arithmetic:
        """Rebuild a recorded choice; ValueError if it is not one this version can run."""
        if not isinstance(raw, dict):
            raise ValueError(f"not an arithmetic record: {raw!r}")
        precision, layout = raw.get("precision"), raw.get("layout")
        if precision not in PRECISION_CHOICES[1:] or layout not in LAYOUT_CHOICES[1:]:
            raise ValueError(f"unknown arithmetic {precision!r}/{layout!r}")
        rates = raw.get("images_per_second", {})
        if not isinstance(rates, dict) or not all(
            isinstance(v, int | float) for v in rates.values()
        ):
            raise ValueError(f"bad images_per_second {rates!r}")
        source = raw.get("source", "explicit")
        return cls(precision, layout, str(source), {str(k): float(v) for k, v in rates.items()})

    def describe(self) -> str:
        """One line for logs and the model card."""
        text = f"{'bf16 autocast' if self.precision == 'bf16' else 'float32'}, {self.layout}"
        if self.images_per_second:
            seen = ", ".join(
                f"{name} {rate:,.0f}"
                for name, rate in sorted(self.images_per_second.items(), key=lambda kv: -kv[1])
            )
            return f"{text} ({self.source}; training images/s: {seen})"
        return f"{text} ({self.source})"


FLOAT32 = Arithmetic("fp32", "contiguous")
"""The arithmetic of a run that names none: float32, contiguous, nothing measured."""


def recipe_fingerprint(train_config: dict, model_config: dict) -> str:
    """A short hash of the recipe (the model config and every TrainConfig field but the
    seed): models with the same fingerprint are seeds of one recipe."""
    recipe = {k: v for k, v in train_config.items() if k not in RUN_SETTINGS}
    text = json.dumps({"train": recipe, "model": model_config}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


AUGMENTATION = (
    "max_rotation_deg",
    "max_translate",
    "max_scale",
    "max_elastic_px",
    "low_res_fraction",
    "augment_decay",
)
"""The TrainConfig fields that shape the training pictures; the rest are the schedule."""


def setting_group(cls: type, name: str) -> str:
    """The group a setting is shown under (the model card, ``train --help``): ``model``,
    ``schedule``, ``augmentation`` or ``machine``."""
    if cls is ModelConfig:
        return "model"
    if cls is Machine:
        return "machine"
    return "augmentation" if name in AUGMENTATION else "schedule"


RUN_SETTINGS = ("seed", *(f.name for f in fields(Machine)))
"""Keys of a recorded config that say which run it was, not which recipe (older
checkpoints recorded the machine's fields with the recipe's)."""

PRESETS: dict[str, TrainConfig] = {
    "default": TrainConfig(),
    "fast": TrainConfig(
        epochs=10,
        lr=0.3,
        weight_decay=5e-4,
        decay_norm_and_bias=True,
        ema_decay=0.999,
        low_res_fraction=0.3,
    ),
}
"""Named starting points for ``mnist-model train --preset NAME``; flags override them.
``fast``: 10 epochs, the first 3 at 20x20 (under half the default's loop), peak lr 0.3,
decay 5e-4 on every parameter. A smoke-test recipe: it may miss the 99.4 % bar (README)."""


# --- where this process computes -------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model name, as /proc/cpuinfo gives it (else what platform knows)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


ONEDNN_ISAS = (
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
    "AVX512_CORE_BF16",
    "AVX10_1_512",
    "AVX512_CORE_FP16",
    "AVX10_1_512_AMX",
    "AVX512_CORE_AMX",
    "AVX10_1_512_AMX_FP16",
    "AVX512_CORE_AMX_FP16",
    "ALL",
)
"""oneDNN's ``ONEDNN_MAX_CPU_ISA`` values, from the least to the most capable."""


def cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def arithmetic_class(precision: str, device: str = "cpu") -> str:
    """The arithmetic class a run of ``precision`` computes in on this machine, as this
    process's ISA limits leave it: the same seed gives the same bits only within one.

    ``bf16-amx`` (oneDNN's AMX tiles), ``bf16-avx512bf16`` (AVX-512 BF16 instructions),
    ``bf16-emulated``, ``fp32-avx512``, ``fp32-avx2``, ``<precision>-cuda`` or ``-mps``."""
    for accelerator in ("cuda", "mps"):
        if str(device).startswith(accelerator):
            return f"{precision}-{accelerator}"
    flags = cpu_flags()
    limit = os.environ.get("ONEDNN_MAX_CPU_ISA", "").upper()
    rank = ONEDNN_ISAS.index(limit) if limit in ONEDNN_ISAS else len(ONEDNN_ISAS)

    def allowed(isa: str, flag: str) -> bool:
        return rank >= ONEDNN_ISAS.index(isa) and flag in flags

    if precision == "bf16":
        if allowed("AVX10_1_512_AMX", "amx_bf16"):
            return "bf16-amx"
        return "bf16-avx512bf16" if allowed("AVX512_CORE_BF16", "avx512_bf16") else "bf16-emulated"
    import torch

    aten = torch.backends.cpu.get_cpu_capability()
    avx512 = allowed("AVX512_CORE", "avx512f") and aten.startswith("AVX512")
    return "fp32-avx512" if avx512 else "fp32-avx2"


INPUT_SCALES = {
    "mnist": "normalised: (x / 255 - 0.1307) / 0.3081, as this project trains",
    "unit": "pixels in [0, 1] (transforms.ToTensor() alone)",
    "byte": "pixels in [0, 255]",
}
"""What a model to judge was trained on (``formats.load_any``'s ``input_scale``): the gate
converts its own normalised input to it."""
