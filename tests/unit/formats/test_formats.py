"""Any model in (``mnist_model.formats``): the format is read from the file's content, every
format gives the same function behind the gate's contract, and every refusal is one line
that says what is accepted."""

from __future__ import annotations

import pickle
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from mnist_model.checkpoint import save_checkpoint
from mnist_model.errors import CheckpointError
from mnist_model.evaluate import predict_logits
from mnist_model.formats import (
    ACCEPTED,
    Foreign,
    as_loaded,
    detect,
    foreign_recipe,
    load_any,
    rescale,
)
from mnist_model.formats.export import export_model
from mnist_model.model import MNIST_MEAN, MNIST_STD, MnistNet, normalize

USER_MODULE = textwrap.dedent(
    """
    import torch
    from torch import nn

    class TinyNet(nn.Module):  # not an MnistNet: a linear head
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 5, stride=3)
            self.fc = nn.Linear(4 * 8 * 8, 10)

        def forward(self, x):
            return self.fc(torch.relu(self.conv(x)).flatten(1))

    def make():
        return TinyNet()

    class Five(TinyNet):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4 * 8 * 8, 5)

    class Pair(TinyNet):
        def forward(self, x):
            return super().forward(x), x

    NOT_A_MODULE = dict
    """
)


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    """A folder holding the user's own module, as the current directory."""
    (tmp_path / "usernet.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import usernet

    yield tmp_path, usernet
    import sys

    sys.modules.pop("usernet", None)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One TinyNet in every format, each under a name that says nothing ("model.bin"),
    and the module itself."""
    import importlib.util

    folder = tmp_path_factory.mktemp("formats")
    (folder / "usernet.py").write_text(USER_MODULE)
    spec = importlib.util.spec_from_file_location("usernet_saved", folder / "usernet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    net = module.TinyNet().eval()
    paths = {}
    for kind in ("state_dict", "torchscript", "export", "onnx"):
        path = folder / kind / "model.bin"
        path.parent.mkdir()
        if kind == "state_dict":
            torch.save(net.state_dict(), path)
        else:
            export_model(net, kind, path)
        paths[kind] = path
    static = folder / "static.bin"  # a program exported for batches of exactly 2
    program = torch.export.export(net, (torch.zeros(2, 1, 28, 28),))
    import io

    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    static.write_bytes(buffer.getvalue())
    paths["static"] = static
    return paths, net, folder


def _images(n: int = 7) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return normalize(torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=generator))


@pytest.mark.parametrize("kind", ["state_dict", "torchscript", "export", "onnx", "static"])
def test_every_format_is_read_from_its_content_and_computes_the_same_function(
    saved, kind, monkeypatch
) -> None:
    paths, net, folder = saved
    monkeypatch.chdir(folder)
    loaded = load_any(paths[kind], model_class="usernet:TinyNet" if kind == "state_dict" else None)
    assert loaded.format == ("export" if kind == "static" else kind)
    assert loaded.parameters == sum(p.numel() for p in net.parameters()) == 2_674
    assert isinstance(loaded.model, Foreign) and not loaded.mnistnet
    with torch.inference_mode():
        expected = net(_images())
    got = predict_logits(loaded.model, _images())  # 7 images: a batch of 2 is padded
    assert got.shape == (7, 10)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_detection_reads_the_bytes_not_the_name(saved, tmp_path) -> None:
    paths, _, _ = saved
    assert detect(paths["state_dict"]) == "torch"
    assert detect(paths["torchscript"]) == "torchscript"
    assert detect(paths["export"]) == "export"
    assert detect(paths["onnx"]) == "onnx"
    fake = tmp_path / "model.onnx"
    fake.write_text("print('not a model')")
    with pytest.raises(CheckpointError, match="not a model file"):
        detect(fake)


def test_the_projects_checkpoint_is_an_mnistnet_run_as_is(tmp_path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", MnistNet(), train_config={}, metrics={}, data_md5={})
    loaded = load_any(path)
    assert loaded.format == "checkpoint" and loaded.mnistnet and loaded.payload
    assert loaded.parameters == sum(p.numel() for p in MnistNet().parameters())
    scaled = load_any(path, input_scale="unit")  # told otherwise: wrapped, no more an MnistNet
    assert isinstance(scaled.model, Foreign) and not scaled.mnistnet


def test_the_projects_dict_with_a_users_state_dict_loads_with_its_class(
    user_folder,
) -> None:
    folder, usernet = user_folder
    path = folder / "theirs.pt"
    payload = {"schema_version": 2, "model_config": {"width": 3}}
    torch.save({**payload, "state_dict": usernet.TinyNet().state_dict()}, path)
    with pytest.raises(CheckpointError, match="--model-class MODULE:NAME"):
        load_any(path)
    loaded = load_any(path, model_class="usernet:make")  # a factory works as a class does
    assert loaded.format == "checkpoint" and loaded.name == "TinyNet"


@given(st.lists(st.integers(0, 255), min_size=1, max_size=64))
def test_the_input_scales_give_the_pixels_a_model_was_trained_on(pixels) -> None:
    raw = torch.tensor(pixels, dtype=torch.uint8)
    gate_input = (raw.float() / 255 - MNIST_MEAN) / MNIST_STD
    assert torch.equal(rescale(gate_input, "mnist"), gate_input)
    torch.testing.assert_close(rescale(gate_input, "unit"), raw.float() / 255, atol=1e-6, rtol=0)
    torch.testing.assert_close(rescale(gate_input, "byte"), raw.float(), atol=1e-4, rtol=0)


def test_a_module_in_memory_and_its_architecture_name() -> None:
    loaded = as_loaded(MnistNet())
    assert loaded.format == "module" and loaded.mnistnet
    assert as_loaded(loaded) is loaded
    other = as_loaded(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
    assert foreign_recipe(other) == foreign_recipe(
        as_loaded(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
    )
    assert foreign_recipe(other) != foreign_recipe(
        as_loaded(nn.Sequential(nn.Flatten(), nn.Linear(784, 10, bias=False)))
    )


# --- refusals: one line each, saying what is accepted or what is wrong ----------------------
def _refused(path, **kwargs) -> str:
    with pytest.raises(CheckpointError) as caught:
        load_any(path, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "\x1b" not in message, message
    return message


def test_a_pickled_whole_module_is_refused_without_running_it(user_folder) -> None:
    folder, usernet = user_folder
    path = folder / "whole.pt"
    torch.save(usernet.TinyNet(), path)
    message = _refused(path, model_class="usernet:TinyNet")
    assert "torch.save(model)" in message and "state_dict" in message and "ONNX" in message


def test_a_state_dict_without_its_class_says_how_to_give_it(user_folder) -> None:
    folder, usernet = user_folder
    torch.save(usernet.TinyNet().state_dict(), folder / "sd.pt")
    assert "give --model-class MODULE:NAME" in _refused(folder / "sd.pt")


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("usernet", "write MODULE:NAME"),
        ("nowhere:Net", "cannot build it (ModuleNotFoundError"),
        ("usernet:Absent", "cannot build it (AttributeError"),
        ("usernet:NOT_A_MODULE", "not a torch.nn.Module"),
        ("usernet:Five", "does not fit Five"),
    ],
)
def test_a_bad_model_class_is_one_line(user_folder, spec, says) -> None:
    folder, usernet = user_folder
    torch.save(usernet.TinyNet().state_dict(), folder / "sd.pt")
    assert says in _refused(folder / "sd.pt", model_class=spec)


@pytest.mark.parametrize(
    ("cls", "says"), [("Five", "gives shape (3, 5)"), ("Pair", "returned a tuple")]
)
def test_the_contract_is_checked_on_a_probe_batch(user_folder, cls, says) -> None:
    folder, usernet = user_folder
    torch.save(getattr(usernet, cls)().state_dict(), folder / "sd.pt")
    assert says in _refused(folder / "sd.pt", model_class=f"usernet:{cls}")


def test_non_finite_weights_are_refused(user_folder) -> None:
    folder, usernet = user_folder
    state = usernet.TinyNet().state_dict()
    state["fc.bias"][3] = float("nan")
    torch.save(state, folder / "sd.pt")
    assert "fc.bias holds NaN" in _refused(folder / "sd.pt", model_class="usernet:TinyNet")


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"PK\x03\x04 truncated zip",
        b"\x08\x07 looks like protobuf but is not",
        pickle.dumps({"a": 1}, protocol=2),
        np.arange(10).tobytes(),
    ],
    ids=["empty", "zip", "protobuf", "pickle", "bytes"],
)
def test_garbage_is_one_line_naming_what_is_accepted(tmp_path, content) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    message = _refused(path)
    assert "accepted" in message or "cannot read" in message or "refusing" in message


def test_an_unknown_input_scale_and_a_missing_file_are_refused(tmp_path) -> None:
    assert "not found" in _refused(tmp_path / "absent.pt")
    (tmp_path / "x.pt").write_bytes(b"x")
    assert "input scale" in _refused(tmp_path / "x.pt", input_scale="percent")
    assert "ONNX" in ACCEPTED and "--model-class" in ACCEPTED
