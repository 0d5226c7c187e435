"""The package's import graph, read from the source. The folders are layers, and each
imports only the layers below it (``LAYERS``, the rule stated once): the recipe at the
top level imports nothing outside itself, and only ``cli`` may import everything. No
module reaches itself through its imports, at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import mnist_model

PACKAGE = Path(mnist_model.__file__).parent
RECIPE = {
    "config",
    "model",
    "augment",
    "optim",
    "train",
    "evaluate",
    "inference",
    "checkpoint",
    "errors",
    "atomic",
    "schema",
}
"""The top-level modules: the recipe a reader learns the method from, with the three helpers
it shares (errors, atomic writes, the schema of what it reads). ``mnist_model/__init__``
and ``__main__`` are the package's doors and belong to ``cli``'s layer."""
LAYERS = {
    "recipe": set(),
    "formats": {"recipe"},
    "data": {"recipe"},
    "predict": {"recipe", "formats"},
    "gate": {"recipe", "formats", "data", "predict"},
    "report": {"recipe", "formats", "data", "predict", "gate"},
    "run": {"recipe", "formats", "data", "predict", "gate", "report"},
    "bench": {"recipe", "formats", "data", "predict", "gate", "report", "run"},
    "cli": {"recipe", "formats", "data", "predict", "gate", "report", "run", "bench"},
}
"""Each layer and the layers it may import (besides itself)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> str:
    """``mnist_model.gate.ood`` -> gate; ``mnist_model.train`` -> recipe; the package's
    ``__init__`` and ``__main__`` (which re-export and dispatch) -> cli."""
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "cli"
    return "recipe" if parts[1] in RECIPE else parts[1]


def imports_of(path: Path) -> set[str]:
    """Every mnist_model module ``path`` imports, wherever in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "mnist_model":
                found.add(node.module)
                # `from mnist_model.gate import ood` imports the module mnist_model.gate.ood
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "mnist_model")
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}


def test_every_module_is_in_a_layer() -> None:
    unknown = sorted(m for m in graph() if layer_of(m) not in LAYERS)
    assert not unknown, f"modules outside every layer (add a folder to LAYERS): {unknown}"
    top = {m.split(".")[1] for m in graph() if m.count(".") == 1}
    assert top - {"__main__"} - set(LAYERS) == RECIPE, sorted(top - set(LAYERS) - RECIPE)


def test_each_layer_imports_only_the_layers_below_it() -> None:
    crossing = {}
    for module, targets in graph().items():
        allowed = LAYERS[layer_of(module)] | {layer_of(module)}
        wrong = sorted(t for t in targets if layer_of(t) not in allowed)
        # a layer's package __init__ is its own; importing the root package re-exports
        wrong = [t for t in wrong if t != "mnist_model"]
        if wrong:
            crossing[module] = wrong
    assert not crossing, f"imports against the layers: {crossing}"


def test_the_root_package_is_imported_for_its_version_only() -> None:
    # `from mnist_model import __version__` is the one import of the package's door
    # allowed below cli: the door re-exports the layers, so any other name would reach up.
    for module, path in {module_name(p): p for p in PACKAGE.rglob("*.py")}.items():
        if layer_of(module) == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "mnist_model":
                names = {a.name for a in node.names}
                assert names <= {"__version__"}, f"{module} imports {names} from mnist_model"


def test_there_is_no_import_cycle() -> None:
    edges = graph()
    cycles = []

    def visit(node: str, path: list[str]) -> None:
        for target in sorted(edges[node]):
            if target in path:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in done:
                visit(target, [*path, target])
        done.add(node)

    done: set[str] = set()
    for start in sorted(edges):
        if start not in done:
            visit(start, [start])
    assert not cycles, f"import cycles: {cycles[:3]}"


def test_the_graph_reader_sees_local_imports(tmp_path) -> None:
    # the oracle for the tests above: a function-local import counts
    source = tmp_path / "x.py"
    body = "def f():\n    from mnist_model.gate.ood import score\n    import mnist_model.cli\n"
    source.write_text(body)
    found = imports_of(source)
    assert found == {"mnist_model.gate.ood", "mnist_model.gate.ood.score", "mnist_model.cli"}


def test_the_layer_rule_catches_an_upward_import() -> None:
    # the oracle for the layer test: the recipe importing the gate is against the rule
    assert layer_of("mnist_model.train") == "recipe"
    assert layer_of("mnist_model.gate.ood") == "gate"
    assert "gate" not in LAYERS[layer_of("mnist_model.train")]
    assert "cli" not in LAYERS["bench"]
