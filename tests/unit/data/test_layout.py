"""Data root precedence (arg > env > user cache, never cwd) and input normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_model.data import resolve_data_root
from mnist_model.model import MNIST_MEAN, MNIST_STD, normalize


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean environment: fake HOME, no XDG/MNIST variables, cwd in an unrelated folder."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv("MNIST_MODEL_DATA", raising=False)
    monkeypatch.chdir(cwd)
    return monkeypatch, home, cwd


def test_explicit_argument_beats_env(env, tmp_path) -> None:
    monkeypatch, _, _ = env
    monkeypatch.setenv("MNIST_MODEL_DATA", str(tmp_path / "from-env"))
    assert resolve_data_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_data_root(str(tmp_path / "explicit")) == tmp_path / "explicit"


def test_env_beats_cache(env, tmp_path) -> None:
    monkeypatch, _, _ = env
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("MNIST_MODEL_DATA", str(tmp_path / "from-env"))
    assert resolve_data_root(None) == tmp_path / "from-env"


def test_xdg_cache_then_home_cache(env, tmp_path) -> None:
    monkeypatch, home, _ = env
    assert resolve_data_root(None) == home / ".cache" / "mnist-model"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_data_root(None) == tmp_path / "xdg" / "mnist-model"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/xdg")  # XDG says: ignore relative values
    assert resolve_data_root(None) == home / ".cache" / "mnist-model"


def test_empty_values_count_as_unset_and_never_mean_cwd(env) -> None:
    monkeypatch, home, cwd = env
    monkeypatch.setenv("MNIST_MODEL_DATA", "")
    for arg in (None, ""):
        root = resolve_data_root(arg)
        assert root == home / ".cache" / "mnist-model"
        assert root != cwd and cwd not in root.parents


def test_results_are_absolute_and_nothing_is_created(env, tmp_path) -> None:
    monkeypatch, home, cwd = env
    monkeypatch.setenv("MNIST_MODEL_DATA", "~/data/../mnist")
    assert resolve_data_root(None) == home / "mnist"
    assert resolve_data_root("rel") == cwd / "rel"  # an explicit relative path is the user's
    assert isinstance(resolve_data_root(None), Path) and resolve_data_root(None).is_absolute()
    assert not (home / "mnist").exists() and not (cwd / "rel").exists()
    assert not (home / ".cache").exists()


def test_normalize_shape_dtype_and_values() -> None:
    images = torch.zeros(2, 28, 28, dtype=torch.uint8)
    images[:, :, 1] = 255
    out = normalize(images)
    assert out.dtype == torch.float32 and out.shape == (2, 1, 28, 28)
    assert out[0, 0, 0, 0].item() == pytest.approx(-MNIST_MEAN / MNIST_STD)
    assert out[0, 0, 0, 1].item() == pytest.approx((1 - MNIST_MEAN) / MNIST_STD)
    assert torch.equal(normalize(images.unsqueeze(1)), out)


def test_normalize_constants() -> None:
    assert (MNIST_MEAN, MNIST_STD) == (0.1307, 0.3081)


@pytest.mark.parametrize(
    "bad",
    [
        torch.zeros(1, 28, 28),
        torch.zeros(1, 28, 28, dtype=torch.int64),
        np.zeros((1, 28, 28), dtype=np.uint8),
    ],
)
def test_normalize_refuses_non_uint8(bad) -> None:
    with pytest.raises(ValueError, match="uint8"):
        normalize(bad)


def test_normalize_refuses_wrong_shape() -> None:
    with pytest.raises(ValueError, match="got"):
        normalize(torch.zeros(2, 3, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="got"):
        normalize(torch.zeros(28, 28, dtype=torch.uint8))
