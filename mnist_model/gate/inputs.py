"""What a judgement needs, prepared once for the command line and the acceptance suite
alike: the data, the out-of-distribution suite through both preprocessings, the pixel
regression's count, the accepted model's predictions and a checkpoint's provenance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from mnist_model.config import arithmetic_class, cpu_model, recipe_fingerprint
from mnist_model.data.checksums import sha256_file
from mnist_model.formats import Loaded, foreign_recipe
from mnist_model.formats.kinds import it_is
from mnist_model.gate import ood
from mnist_model.gate.ood import PreparedSuite


def suite_description() -> dict:
    """The out-of-distribution suite the gate judges: its version, draw and seed."""
    return {"version": ood.SUITE_VERSION, "per_class": ood.PER_CLASS, "seed": 0}


def prepared_suite(root: Path, test_xy, preprocessing: str = "default") -> PreparedSuite:
    """The gate's suite through ``preprocessing``, cached next to the MNIST files."""
    described = suite_description()
    return ood.prepare(
        *test_xy,
        per_class=described["per_class"],
        seed=described["seed"],
        cache_dir=ood.cache_dir(root),
        preprocessing=preprocessing,
    )


@dataclass(frozen=True)
class GateInputs:
    """Everything the gate measures a model on (``measure.gate_record``)."""

    test_xy: tuple[torch.Tensor, torch.Tensor]
    suite: PreparedSuite
    description: dict
    plain_suite: PreparedSuite | None = None
    """The same pictures through the plain preprocessing (not needed to compare)."""
    pixel_regression_correct: int | None = None


def gate_inputs(root: Path, train_xy, test_xy) -> GateInputs:
    """The gate's inputs from the verified data under ``root``."""
    from mnist_model.gate.measure import pixel_regression_correct

    return GateInputs(
        test_xy=test_xy,
        suite=prepared_suite(root, test_xy),
        description=suite_description(),
        plain_suite=prepared_suite(root, test_xy, "plain"),
        pixel_regression_correct=pixel_regression_correct(train_xy, test_xy),
    )


def paired_inputs(root: Path, test_xy) -> GateInputs:
    """What the paired comparison and a baseline record need: the test split and the
    suite through predict's preprocessing."""
    return GateInputs(test_xy, prepared_suite(root, test_xy), suite_description())


def provenance(path: Path, loaded: Loaded, arithmetic: str | None = None) -> dict:
    """Where a model came from: for this project's checkpoint its seed, threads,
    arithmetic and its class, recipe, torch, the CPU here and the file's SHA-256.
    ``arithmetic`` (the class) defaults to the one its precision has on this machine
    under this process's ISA limits. Any other model has no recorded recipe or seed: it
    is named by its architecture (``formats.foreign_recipe``) and its file's name."""
    if not (loaded.mnistnet and loaded.payload):
        return {
            "seed": Path(path).stem,
            "format": loaded.format,
            "model": loaded.name,
            "arithmetic_class": arithmetic or "unstated",
            "recipe": foreign_recipe(loaded),
            "torch": str(torch.__version__),
            "cpu": cpu_model(),
            "checkpoint_sha256": sha256_file(path),
        }
    payload = loaded.payload
    train_config, metrics = payload.get("train_config") or {}, payload.get("metrics") or {}
    chosen = metrics.get("arithmetic") or {}
    precision = chosen.get("precision", train_config.get("precision"))
    device = str(metrics.get("device", "cpu"))
    return {
        "seed": train_config.get("seed"),
        # older checkpoints kept the machine's settings in the train config
        "threads": (metrics.get("machine") or train_config).get("threads"),
        "precision": precision,
        "layout": chosen.get("layout"),
        "arithmetic_class": arithmetic or arithmetic_class(precision or "fp32", device),
        "recipe": recipe_fingerprint(train_config, payload["model_config"]),
        "torch": (payload.get("versions") or {}).get("torch"),
        "cpu": cpu_model(),
        "checkpoint_sha256": sha256_file(path),
    }


# --- logits computed elsewhere (JAX, TensorFlow, scikit-learn...) -----------------------------
PREDICTIONS_HELP = (
    "inputs.npz holds, per set, uint8 pictures (N, 28, 28), white digits on black, as "
    "MNIST stores them. Give each to your model as it was trained (this project normalises "
    "x / 255 to mean 0.1307 and std 0.3081) and save its (N, 10) logits under the same "
    "names: numpy.savez('predictions.npz', test=..., shift_up=..., ...). Then: mnist-model "
    "gate --predictions predictions.npz"
)


def write_inputs(folder: Path, inputs: GateInputs) -> Path:
    """Every picture the gate judges (``measure.judged_images``) as ``inputs.npz``, and
    ``inputs.json`` saying what it holds and how to hand back logits; returns the npz."""
    import numpy as np

    from mnist_model.atomic import atomic_path, atomic_write_json
    from mnist_model.gate.measure import judged_images

    sets = {name: x.numpy() for name, x in judged_images(inputs).items()}
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "inputs.npz"
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **sets)
    atomic_write_json(
        folder / "inputs.json",
        {
            "sets": {name: list(x.shape) for name, x in sets.items()},
            "suite": inputs.description,
            "how": PREDICTIONS_HELP,
        },
    )
    return out


def read_predictions(path: Path, inputs: GateInputs) -> dict[str, torch.Tensor]:
    """Logits computed elsewhere, one (N, 10) float array a set of ``measure.SETS``, checked
    before use; a MnistModelError names what is wrong, in one line."""
    import zipfile

    import numpy as np

    from mnist_model.errors import MnistModelError
    from mnist_model.gate.measure import SETS, judged_images

    try:
        if zipfile.is_zipfile(path):  # sizes as declared, before anything is allocated
            ood.declared_sizes(path)
        with open(path, "rb") as fh:
            archive = np.load(fh, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("one array, not named arrays")
            with archive:
                found = {name: archive[name] for name in archive.files if name in SETS}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise MnistModelError(
            f"--predictions {path}: not a readable .npz ({first}){it_is(path)}"
        ) from None
    missing = [name for name in SETS if name not in found]
    if missing:
        raise MnistModelError(
            f"--predictions {path}: no logits for {missing}{it_is(path)} ({PREDICTIONS_HELP})"
        )
    sizes = {name: len(x) for name, x in judged_images(inputs).items()}
    logits = {}
    for name in SETS:
        array = found[name]
        if array.shape != (sizes[name], 10) or array.dtype.kind != "f":
            raise MnistModelError(
                f"--predictions {path}: {name} is {array.dtype} {array.shape}, the gate needs "
                f"float ({sizes[name]}, 10) logits"
            )
        if not np.isfinite(array).all():
            raise MnistModelError(f"--predictions {path}: {name} holds NaN or infinite logits")
        logits[name] = torch.from_numpy(array.astype(np.float32))
    return logits
