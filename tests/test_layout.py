"""The package layout stays as docs/layout.md describes it: every folder is a package, imports run downwards
(no ``motion ↔ schema`` or ``weights ↔ metrics`` cycle; media I/O and the core below the data and metric
packages), the library never prints, and modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "macedance"


def _imports(path: Path) -> set[str]:
    """Every ``macedance.*`` module imported anywhere in the file (top level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("macedance"):
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("macedance"))
    return out


def _files(sub: str) -> list[Path]:
    p = PKG / sub
    return [p] if p.suffix == ".py" else sorted(p.rglob("*.py"))


def test_every_folder_is_a_package():
    missing = [str(d.relative_to(PKG)) for d in PKG.rglob("*") if d.is_dir() and d.name != "__pycache__"
               and any(d.glob("*.py")) and not (d / "__init__.py").is_file()]
    assert not missing


@pytest.mark.parametrize(("lower", "forbidden"), [
    ("motion", ("macedance.schema",)),
    ("weights.py", ("macedance.metrics",)),
    ("io", ("macedance.music", "macedance.datasets", "macedance.metrics", "macedance.methods")),
    ("schema", ("macedance.datasets", "macedance.metrics", "macedance.methods", "macedance.benchmark")),
    ("datasets", ("macedance.appearance", "macedance.methods", "macedance.benchmark", "macedance.cli")),
    ("metrics", ("macedance.benchmark", "macedance.leaderboard", "macedance.cli")),
])
def test_imports_run_downwards(lower, forbidden):
    bad = [(str(f.relative_to(PKG)), m) for f in _files(lower) for m in _imports(f) if m.startswith(forbidden)]
    assert not bad


def test_dataset_kinds_share_the_engine_not_each_other():
    video = [m for f in _files("datasets/from_video") for m in _imports(f) if "from_motion" in m]
    motion = [m for f in _files("datasets/from_motion") for m in _imports(f) if "from_video" in m]
    assert not video and not motion


def test_only_the_cli_prints():
    """The library logs; it may build a rich table for the CLI to show (the terminal form of a board) but never
    prints, opens a console or parses a command line."""
    printing = [str(f.relative_to(PKG)) for f in PKG.rglob("*.py") if "cli" not in f.parts
                and any(m in f.read_text() for m in ("import typer", "print(", "Console("))]
    assert not printing


def test_modules_stay_small():
    big = {str(f.relative_to(PKG)): n for f in PKG.rglob("*.py") if (n := len(f.read_text().splitlines())) > 420}
    assert not big
