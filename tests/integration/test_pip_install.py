""".ci/pip_install.py: PyTorch's CPU index when it answers, the default index when not."""

from __future__ import annotations

import importlib.util
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).parents[2] / ".ci" / "pip_install.py"


@pytest.fixture(scope="module")
def pip_install():
    spec = importlib.util.spec_from_file_location("pip_install", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def index(tmp_path):
    """A simple index on loopback that serves a torch page."""
    (tmp_path / "torch").mkdir()
    (tmp_path / "torch" / "index.html").write_text("<html></html>")
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_reachable_index_is_added_for_torch(pip_install, index) -> None:
    pip, line = pip_install.command(["-e", ".[test]"], index)
    assert pip == [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--extra-index-url",
        index,
        "-e",
        ".[test]",
    ]
    assert line == f"torch: CPU-only build from {index}"


@pytest.mark.parametrize("where", ["none", "", "http://127.0.0.1:9/cpu", "not a url"])
def test_an_unreachable_index_falls_back_to_the_default(pip_install, where) -> None:
    pip, line = pip_install.command(["-e", ".[test]"], where)
    assert pip == [sys.executable, "-m", "pip", "install", "-e", ".[test]"]
    assert "not reachable, so the default index's build" in line


def test_an_index_without_torch_is_not_used(pip_install, index) -> None:
    assert not pip_install.reachable(index + "elsewhere")
