"""The layering rules of DESIGN.md, enforced on the source tree.

Every package and top-level module of ``gigaloop`` must be known here; each may import
only what DESIGN.md allows, whatever the import's form (``import gigaloop.x``, ``from
gigaloop import x``, ``from gigaloop.x import y``, relative imports, ``importlib``). Of
``loop``, the domains (factory, fleet, customer) may import only its module contract.
Nothing reads the scenario's truth but the twin (which writes it) and ``gigaloop score``;
the report (``web``) may be handed truth rows by ``gigaloop score`` but reads none itself.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gigaloop"
EVERYTHING = "*"
DOMAIN = {"schema", "store", "ml", "actuate", "loop.contract"}

#: package or top-level module → the parts of ours it may import (``errors`` always).
ALLOWED: dict[str, set[str]] = {
    "schema": set(),
    "store": {"schema"},
    "ingest": {"schema", "store", "appstate"},  # a connector process keeps its offsets
    "actuate": {"schema"},
    "twin": {"schema", "ingest", "actuate"},
    "ml": {"schema"},
    "factory": DOMAIN,
    "fleet": DOMAIN,
    "customer": DOMAIN,
    "loop": {"schema", "store", "ingest", "ml", "actuate", "factory", "fleet", "customer"},
    "web": {"schema", "store", "ml", "factory", "fleet", "customer", "loop"},
    "appstate": set(),  # users, tokens, verdicts, offsets, outbox: below everything
    "api": {EVERYTHING},
    "run": {EVERYTHING},
    "decide": {"schema", "store", "actuate", "loop", "run", "__version__"},  # batch: no twin
    "cli": {EVERYTHING},
    "__init__": set(),
    "errors": set(),
}
ALWAYS = {"errors"}
#: Files that may name the truth, and why.
TRUTH_ALLOWED = {
    Path("loop/score.py"): "gigaloop score: compares findings with the truth",
    Path("loop/drift_harm.py"): "gigaloop score: the units a drift fault harmed",
    Path("loop/offer_scoring.py"): "gigaloop score: targeted offers on the twin's hidden "
                                   "uplift",
    Path("cli/__init__.py"): "the score command",
    Path("run.py"): "tells the twin where to write its truth; never reads it",
    Path("factory/inspection/mvtec.py"): "MVTec AD's ground_truth/ folder: a public data set's "
                                         "own masks, not the scenario's truth",
}


def _parts() -> list[str]:
    """Every package and top-level module of gigaloop."""
    return sorted(p.stem if p.is_file() else p.name for p in SRC.iterdir()
                  if (p.is_dir() and (p / "__init__.py").exists()) or p.suffix == ".py")


def _imports(path: Path, module: str) -> set[str]:
    """What ``path`` (module ``module``, dotted, e.g. ``loop.cycle``) imports of ours: the
    top-level part, or ``loop.<module>`` for ``loop``'s modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                prefix = ".".join(["gigaloop", *base, *(node.module or "").split(".")])
                prefix = prefix.rstrip(".")
            else:
                prefix = node.module or ""
            targets = [f"{prefix}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Call) and _is_dynamic_import(node) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                targets = [first.value]  # a computed name (errors.require's extras) is not ours
        for target in targets:
            names = target.split(".")
            if names[0] != "gigaloop" or len(names) < 2:
                continue
            if names[1] == "loop" and len(names) > 2:
                found.add(f"loop.{names[2]}")
            else:
                found.add(names[1])
    return found


def _is_dynamic_import(node: ast.Call) -> bool:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in ("import_module", "__import__")


def _modules(part: str) -> list[tuple[Path, str]]:
    root = SRC / part
    if root.is_dir():
        return [(p, ".".join((p.relative_to(SRC).with_suffix("")).parts))
                for p in sorted(root.rglob("*.py"))]
    return [(SRC / f"{part}.py", part)]


def _allowed(part: str, imported: str) -> bool:
    allowed = ALLOWED[part]
    top = imported.split(".")[0]
    return (EVERYTHING in allowed or imported in allowed or top in allowed
            or top in ALWAYS or top == part)


def test_every_part_of_gigaloop_has_a_rule() -> None:
    unknown = set(_parts()) - set(ALLOWED)
    assert not unknown, f"add {sorted(unknown)} to ALLOWED (and to DESIGN.md's layering)"
    stale = set(ALLOWED) - set(_parts())
    assert not stale, f"ALLOWED lists parts that do not exist: {sorted(stale)}"


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_part_imports_only_what_design_allows(part: str) -> None:
    for path, module in _modules(part):
        extra = {i for i in _imports(path, module) if not _allowed(part, i)}
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
        if isinstance(node, ast.alias):
            text = node.asname or node.name
        elif isinstance(node, ast.ImportFrom):
            text = node.module or ""
        else:
            text = (node.id if isinstance(node, ast.Name) else node.attr
                    if isinstance(node, ast.Attribute) else node.value
                    if isinstance(node, ast.Constant) and isinstance(node.value, str)
                    and id(node) not in docstrings else "")
        if "truth" in text.lower():
            hits.append(text)
    return hits


def _truth_reads(path: Path) -> list[str]:
    """Imports of truth readers and truth file names: what reading the truth takes."""
    return [hit for hit in _truth_references(path) if "truth" in hit and (
        "read" in hit.lower() or "truth.json" in hit or "truth/" in hit
        or hit in ("TRUTH_PATH", "truth_timeline"))]


def test_only_the_twin_and_score_touch_the_truth() -> None:
    readers = {}
    for part in _parts():
        if part == "twin":
            continue
        for path, _ in _modules(part):
            if path.relative_to(SRC) in TRUTH_ALLOWED:
                continue
            check = _truth_reads if part == "web" else _truth_references
            if hits := check(path):
                readers[str(path.relative_to(SRC))] = hits
    assert not readers, f"these read the scenario's truth: {readers}"


def test_the_checker_sees_every_import_form(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import gigaloop.twin.world\nfrom gigaloop import twin\nfrom gigaloop.store import Store\n"
        "from . import sibling\nfrom ... import web\nfrom ...loop.cycle import DailyCycle\n"
        "import importlib\nimportlib.import_module('gigaloop.api')\n"
        "from gigaloop.loop.contract import Decision\n"
    )
    assert _imports(bad, "factory.energy.bad") == {
        "twin", "store", "factory", "web", "loop.cycle", "api", "loop.contract"}
    assert not _allowed("factory", "loop.cycle") and _allowed("factory", "loop.contract")
    assert not _allowed("fleet", "twin") and _allowed("cli", "twin")
    peek = tmp_path / "peek.py"
    peek.write_text('"""Docs may say truth."""\nfrom gigaloop.loop.score import read_truth\n'
                    'x = json.load(open("out/truth/truth.json"))\n')
    assert _truth_references(peek) == ["read_truth", "out/truth/truth.json"]
    assert _truth_reads(peek) == ["read_truth", "out/truth/truth.json"]
    given = tmp_path / "given.py"
    given.write_text("def timeline(truth_rows):\n    return [r['day'] for r in truth_rows]\n")
    assert _truth_references(given) and _truth_reads(given) == []
