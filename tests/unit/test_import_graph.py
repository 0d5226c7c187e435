"""The package's import graph, read from the source: the spine (what a reader learns the
method from) imports nothing from the edges around it, and no module reaches itself
through its imports, at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import mnist_model

PACKAGE = Path(mnist_model.__file__).parent
SPINE = {
    "mnist_model",
    "mnist_model.config",
    "mnist_model.model",
    "mnist_model.augment",
    "mnist_model.optim",
    "mnist_model.evaluate",
    "mnist_model.inference",  # evaluate() judges the folded form that predict runs
    "mnist_model.checkpoint",
    "mnist_model.train",
    "mnist_model.data",
    "mnist_model.data.load",
    "mnist_model.data.idx",
    "mnist_model.data.layout",
    "mnist_model.data.checksums",
    "mnist_model.errors",
    "mnist_model.atomic",
}
"""config, model, augment, optim, evaluate, checkpoint, data reading and train(), with the
two helpers they share (errors, atomic writes)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every mnist_model module ``path`` imports, wherever in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] == "mnist_model":
                found.add(node.module)
                # `from mnist_model import ood` imports the module mnist_model.ood
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "mnist_model")
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path) & set(modules) - {name} for name, path in modules.items()}


def test_the_spine_exists_and_imports_no_edge() -> None:
    edges = graph()
    assert SPINE <= set(edges), sorted(SPINE - set(edges))
    crossing = {m: sorted(edges[m] - SPINE) for m in SPINE if edges[m] - SPINE}
    assert not crossing, f"spine modules importing edge modules: {crossing}"


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
    # the oracle for the two tests above: a function-local import counts
    source = tmp_path / "x.py"
    body = "def f():\n    from mnist_model.ood import score\n    import mnist_model.cli\n"
    source.write_text(body)
    assert imports_of(source) == {"mnist_model.ood", "mnist_model.ood.score", "mnist_model.cli"}
