"""Packaging: what the code imports is what ``setup.cfg`` declares, and a plain install works.

``test_imports_are_declared`` reads every module of ``gridmap/`` and ``web/`` with :mod:`ast` and
compares the third-party imports with ``install_requires`` (and the extras, for imports guarded by
``except ImportError``), so the two cannot drift apart. ``test_fresh_install_runs_the_pipeline``
installs the checkout non-editable into a new virtualenv with no extras and runs every command of
the README's pipeline there, then serves the result and asks for a page.
"""

from __future__ import annotations

import ast
import configparser
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import venv
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
FIRST_PARTY = {"gridmap", "web"}


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> tuple[set[str], set[str]]:
    """(install_requires, every extra) as normalised distribution names."""
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")

    def names(text: str) -> set[str]:
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return {_normal(Requirement(line).name) for line in lines if line}

    required = names(config["options"]["install_requires"])
    extras: set[str] = set()
    for _extra, text in config["options.extras_require"].items():
        extras |= names(text)
    return required, extras


def _guarded(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    # An import inside ``try: ... except ImportError`` is optional: an extra may provide it.
    while node in parents:
        child, node = node, parents[node]
        if isinstance(node, ast.Try) and child in node.body:
            for handler in node.handlers:
                caught = handler.type
                names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
                if any(
                    isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
                    for n in names
                ):
                    return True
    return False


def _imports() -> dict[str, tuple[bool, str]]:
    """Top-level module -> (always needed, first place seen) for gridmap/ and web/."""
    found: dict[str, tuple[bool, str]] = {}
    for package in sorted(FIRST_PARTY):
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            parents = {c: p for p in ast.walk(tree) for c in ast.iter_child_nodes(p)}
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    modules = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules = [node.module]
                else:
                    continue
                for module in modules:
                    top = module.split(".")[0]
                    if top in FIRST_PARTY or top in sys.stdlib_module_names:
                        continue
                    needed = not _guarded(node, parents)
                    where = f"{path.relative_to(ROOT)}:{node.lineno}"
                    old = found.get(top)
                    if old is None or (needed and not old[0]):
                        found[top] = (needed, where)
    return found


def test_imports_are_declared():
    required, extras = _declared()
    owners = packages_distributions()
    problems = []
    used: set[str] = set()
    for module, (needed, where) in sorted(_imports().items()):
        dists = {_normal(d) for d in owners.get(module, [])}
        if not dists:
            problems.append(f"{module} ({where}): no installed distribution provides it")
            continue
        used |= dists
        allowed = required if needed else required | extras
        if not dists & allowed:
            what = "install_requires" if needed else "install_requires or an extra"
            problems.append(f"{module} ({where}): {sorted(dists)} missing from {what}")
    unused = required - used
    problems += [f"{name}: in install_requires but imported nowhere" for name in sorted(unused)]
    assert not problems, "setup.cfg and the imports disagree:\n" + "\n".join(problems)


def test_imports_check_finds_a_missing_requirement(tmp_path):
    # The check above must be able to fail: scipy (the bug of issue 10) is found and owned.
    owners = packages_distributions()
    imports = _imports()
    assert imports["scipy"][0], "scipy is imported unguarded by the partitioner"
    assert "scipy" in {_normal(d) for d in owners["scipy"]}
    required, _ = _declared()
    assert "scipy" in required


def test_package_data_is_listed():
    # Files a non-editable install needs at run time are inside the packages (not the checkout).
    assert (ROOT / "gridmap/sample/boundaries/jiaxing_districts.geojson").is_file()
    assert (ROOT / "gridmap/sample/boundaries/jiaxing_divisions.csv").is_file()
    manifest = (ROOT / "MANIFEST.in").read_text(encoding="utf-8")
    assert "recursive-include gridmap" in manifest and "recursive-include web" in manifest


# -- a fresh virtualenv with `pip install .` ----------------------------------------------------


def _copy_source(target: Path) -> Path:
    # Build from a copy: pip builds in the source tree (build/, *.egg-info) and must not see
    # the checkout's virtualenv or caches.
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache",
        ".hypothesis", "data", "benchmarks", "node_modules",
    )  # fmt: skip
    source = target / "src"
    shutil.copytree(ROOT, source, ignore=ignore)
    return source


def _run(args: list, cwd: Path, env: dict, timeout: float = 300) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, args))} exited {done.returncode}\n{done.stdout[-3000:]}\n"
        f"{done.stderr[-3000:]}"
    )
    return done.stdout


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.install
def test_fresh_install_runs_the_pipeline(tmp_path):
    """``pip install .`` (no extras, normal build isolation) then sample .. serve in that venv."""
    source = _copy_source(tmp_path)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python, gridmap = env_dir / "bin" / "python", env_dir / "bin" / "gridmap"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # --no-compile: byte-compiling scipy and pandas would double the time; imports compile lazily.
    _run([python, "-m", "pip", "install", "--quiet", "--no-compile", str(source)], tmp_path, env,
         timeout=900)  # fmt: skip

    work = tmp_path / "work"  # a directory without the checkout: only the installed package
    work.mkdir()
    # The installed package, not the copy, answers the import.
    where = _run([python, "-c", "import gridmap, web; print(gridmap.__file__, web.__file__)"],
                 work, env)  # fmt: skip
    assert str(env_dir) in where and str(source) not in where, where

    city = work / "city"
    _run([gridmap, "sample", "--out", city, "--households", "3000"], work, env)
    _run([gridmap, "validate", city / "boundaries.gpkg", city / "addresses.csv"],
         work, env)  # fmt: skip
    _run([gridmap, "partition", "--boundaries", city / "boundaries.gpkg",
          "--addresses", city / "addresses.csv", "--barriers", city / "barriers.gpkg",
          "--sites", city / "sites.gpkg", "--out", city / "grids.gpkg"], work, env)  # fmt: skip
    _run([gridmap, "assign", "--grids", city / "grids.gpkg", "--addresses",
          city / "addresses.csv", "--out", city / "assigned.csv"], work, env)  # fmt: skip
    queries = city / "queries.csv"
    queries.write_text("id,address\n1,浙江省嘉兴市南湖区\n", encoding="utf-8")
    _run([gridmap, "geocode", "--library", city / "addresses.csv", "--grids",
          city / "grids.gpkg", "--in", queries, "--out", city / "geocoded.csv"],
         work, env)  # fmt: skip
    db = work / "gridmap.sqlite"
    _run([gridmap, "publish", "--grids", city / "grids.gpkg", "--boundaries",
          city / "boundaries.gpkg", "--addresses", city / "addresses.csv",
          "--db", db], work, env)  # fmt: skip
    token = _run([gridmap, "token", "create", "--role", "viewer", "--name", "t", "--db", db],
                 work, env).strip().splitlines()[-1]  # fmt: skip

    port = _free_port()
    server = subprocess.Popen(
        [str(gridmap), "serve", "--db", str(db), "--port", str(port)],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=5) as answer:
                    assert answer.status == 200
                    assert "<form" in answer.read().decode("utf-8")
                    # The real server names neither itself nor Python with a version.
                    assert answer.headers["Server"] == "gridmap", answer.headers["Server"]
                    assert "Content-Security-Policy" in answer.headers
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode("utf-8", "replace")
                assert time.monotonic() < deadline, "the server did not answer within 60 s"
                time.sleep(0.5)
        ask = urllib.request.Request(
            f"{base}/api/config", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(ask, timeout=30) as answer:
            config = json.loads(answer.read())
        assert config["version"], config
        login = urllib.request.Request(
            f"{base}/login", data=json.dumps({"token": token}).encode(), method="POST",
            headers={"Content-Type": "application/json", "Origin": base},
        )  # fmt: skip
        with urllib.request.urlopen(login, timeout=30) as answer:
            cookie = answer.headers["Set-Cookie"].split(";", 1)[0]
        page = urllib.request.Request(f"{base}/", headers={"Cookie": cookie})
        with urllib.request.urlopen(page, timeout=60) as answer:
            html = answer.read().decode("utf-8")
        assert answer.status == 200 and "<html" in html.lower()
        # Every script and stylesheet the page names is served by the installed package.
        assets = re.findall(r'(?:src|href)="(/static/[^"?]+)', html)
        assert assets, "the map page names no static assets"
        for asset in sorted(set(assets)):
            with urllib.request.urlopen(f"{base}{asset}", timeout=30) as answer:
                assert answer.status == 200, asset
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
