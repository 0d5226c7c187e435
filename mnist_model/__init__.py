"""mnist_model: a <8k-parameter MNIST CNN whose quality is proven by tests.

The recipe is the top level (``config``, ``model``, ``augment``, ``optim``, ``train``,
``evaluate``, ``inference``, ``checkpoint``); around it one folder per role: ``data``,
``predict``, ``gate``, ``report``, ``run``, ``bench`` and ``cli``. The public names below
are imported from their module when first asked for, so ``import mnist_model`` stays
cheap. Nothing runs at import time: no directories are created, no logging is
configured, no random state is touched.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_HOMES = {
    "MnistNet": "mnist_model.model",
    "ModelConfig": "mnist_model.config",
    "TrainConfig": "mnist_model.config",
    "Machine": "mnist_model.config",
    "train": "mnist_model.train",
    "evaluate": "mnist_model.evaluate",
    "load_checkpoint": "mnist_model.checkpoint",
    "save_checkpoint": "mnist_model.checkpoint",
    "load_model": "mnist_model.predict",
    "load_any": "mnist_model.formats",
    "export_model": "mnist_model.formats.export",
    "predict": "mnist_model.predict",
    "predict_files": "mnist_model.predict",
    "judge": "mnist_model.gate.verdict",
    "gate_record": "mnist_model.gate.measure",
}
"""Each public name and the module it lives in."""

__all__ = ["__version__", *sorted(_HOMES)]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
