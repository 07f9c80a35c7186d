"""The package layering: every import (module- or function-level) points down, never up or around.

    ring_core -> spn -> sandbox -> evaluators -> trainer -> dashboard -> ring_serve

A package may import itself and any package to its left (``spn``, the SPN MAP solvers, needs only
ring_core; the CLI on top serves it). The test parses the source (nothing is
imported), so a lazy import inside a function counts the same as one at the top of a module.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["ring_core", "spn", "sandbox", "evaluators", "trainer", "dashboard", "ring_serve"]
RANK = {name: i for i, name in enumerate(LAYERS)}


def imported_packages(path: Path) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import of one of our packages in ``path``."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue  # relative imports stay inside their own package
        out += [(node.lineno, n.split(".")[0]) for n in names if n.split(".")[0] in RANK]
    return out


def package_graph() -> dict[str, dict[str, list[str]]]:
    """package -> imported package -> ["file:line", ...] (self-imports left out)."""
    graph: dict[str, dict[str, list[str]]] = {p: {} for p in LAYERS}
    for package in LAYERS:
        for path in sorted((REPO / package).rglob("*.py")):
            for line, target in imported_packages(path):
                if target != package:
                    graph[package].setdefault(target, []).append(f"{path.relative_to(REPO)}:{line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Every elementary cycle between packages, each listed once from its smallest name."""
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in graph.get(node, {}):
            if nxt == start:
                found.add(tuple(path))
            elif nxt not in path and nxt > start:
                walk(start, nxt, path + [nxt])

    for start in sorted(graph):
        walk(start, start, [start])
    return sorted(list(c) for c in found)


def test_every_product_package_is_a_layer():
    tops = {p.parent.name for p in REPO.glob("*/__init__.py")} - {"tests", "benchmarks", "scripts"}
    assert tops <= set(LAYERS), f"packages outside the layering: {sorted(tops - set(LAYERS))}"


def test_imports_only_point_down():
    upward = [f"{pkg} -> {target} ({where})"
              for pkg, targets in package_graph().items() for target, places in targets.items()
              if RANK[target] > RANK[pkg] for where in places]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_cycles_between_packages():
    assert cycles(package_graph()) == []


def test_checker_sees_function_level_and_cyclic_imports(tmp_path):
    lazy = tmp_path / "m.py"
    lazy.write_text("import os\n\ndef f():\n    from ring_serve.cli import app\n    import trainer.rl as rl\n")
    assert imported_packages(lazy) == [(4, "ring_serve"), (5, "trainer")]
    assert cycles({"a": {"b": ["x"]}, "b": {"c": ["y"]}, "c": {"a": ["z"]}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b": ["x"]}, "b": {}}) == []


@pytest.mark.parametrize("package", LAYERS)
def test_package_has_a_docstring_saying_its_job(package):
    init = REPO / package / "__init__.py"
    assert ast.get_docstring(ast.parse(init.read_text())), f"{package}/__init__.py needs a docstring"
