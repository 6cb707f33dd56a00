"""The layering rules of DESIGN.md, enforced on the source tree.

Analytics (factory, fleet, customer, loop, ml) never import the twin, and nothing but
the twin itself and ``loop.score`` touches the scenario's truth.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gigaloop"

#: package → the packages of ours it may import (errors and itself are always allowed).
ALLOWED: dict[str, set[str]] = {
    "schema": set(),
    "store": {"schema"},
    "ingest": {"schema", "store"},
    "actuate": {"schema"},
    "twin": {"schema", "ingest", "actuate"},
    "ml": {"schema"},
    "factory": {"schema", "store", "ml", "actuate"},
    "fleet": {"schema", "store", "ml", "actuate"},
    "customer": {"schema", "store", "ml", "actuate"},
    "loop": {"schema", "store", "ml", "actuate", "factory", "fleet", "customer"},
}
ALWAYS = {"errors", "config"}


def _imports(path: Path, package: str) -> set[str]:
    """The gigaloop packages ``path`` (a module of ``package``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against this package
                names = [f"gigaloop.{package}" if node.level == 1 else "gigaloop.?"]
            else:
                names = [node.module or ""]
        else:
            continue
        found.update(n.split(".")[1] for n in names if n.startswith("gigaloop.") and "." in n)
    return found


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_design_allows(package: str) -> None:
    for path in _modules(package):
        extra = _imports(path, package) - ALLOWED[package] - ALWAYS - {package}
        assert not extra, f"{path.relative_to(SRC)} imports gigaloop.{sorted(extra)}"


def _truth_references(path: Path) -> list[str]:
    """Names, attributes and string literals (docstrings aside) that mention truth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    hits = []
    for node in ast.walk(tree):
        text = (node.id if isinstance(node, ast.Name) else node.attr
                if isinstance(node, ast.Attribute) else node.value
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
                and id(node) not in docstrings else "")
        if "truth" in text.lower():
            hits.append(text)
    return hits


def test_only_twin_and_score_touch_truth() -> None:
    readers = {}
    for package in ("schema", "store", "ingest", "ml", "factory", "fleet", "customer", "loop"):
        for path in _modules(package):
            if path.relative_to(SRC) == Path("loop/score.py"):
                continue
            if hits := _truth_references(path):
                readers[str(path.relative_to(SRC))] = hits
    assert not readers, f"analytics touch the truth: {readers}"


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from gigaloop.twin import Twin\nimport gigaloop.store.queries\n"
                   "from . import sibling\n")
    assert _imports(bad, "loop") == {"twin", "store", "loop"}
    peek = tmp_path / "peek.py"
    peek.write_text('"""Docs may say truth."""\nx = json.load(open("out/truth/truth.json"))\n')
    assert _truth_references(peek) == ["out/truth/truth.json"]
