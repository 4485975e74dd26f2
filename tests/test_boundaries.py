"""The store boundary: web/ and the CLI import only gridmap.store (the protocol and
open_store), never a backend; rules and services import neither Flask nor a backend."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("gridmap.store.sqlite", "gridmap.store.postgis")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _offenders(files, forbidden, root: Path = ROOT) -> list[str]:
    out = []
    for path in files:
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(root)} imports {name}")
    return out


def _py(*folders: str) -> list[Path]:
    return [p for folder in folders for p in (ROOT / folder).rglob("*.py")]


def test_web_and_cli_never_import_a_backend():
    files = _py("web", "gridmap/services", "gridmap/rules") + [
        ROOT / "gridmap/cli.py",
        ROOT / "gridmap/store/cli.py",
    ]
    assert len(files) > 20
    assert _offenders(files, BACKENDS) == []


def test_rules_and_services_know_no_web_and_no_sql():
    files = _py("gridmap/services", "gridmap/rules")
    assert _offenders(files, ("flask", "werkzeug", "web", "sqlite3", "psycopg")) == []


def test_the_check_itself_catches_a_backend_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from gridmap.store.sqlite.store import SQLiteStore\n", encoding="utf-8")
    good = tmp_path / "good.py"
    good.write_text("from gridmap.store import open_store\n", encoding="utf-8")
    assert _offenders([bad, good], BACKENDS, root=tmp_path) == [
        "bad.py imports gridmap.store.sqlite.store",
        "bad.py imports gridmap.store.sqlite.store.SQLiteStore",
    ]
