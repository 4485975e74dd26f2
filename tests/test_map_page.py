"""The map page (blueprint web.map:bp): login gate, assets all local, no outside host named.

The live behaviour in a real browser (grids, live incidents, inert HTML) is in test_browser.py.
"""

from __future__ import annotations

import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from synthetic_city import synthetic_app

from web.map import STATIC_DIR

ROOT = Path(__file__).resolve().parents[1]
STATIC = STATIC_DIR

ABSOLUTE_URL = re.compile(r"""(?i)\b(?:https?|wss?|ftp):?//[^\s'"<>)\\]*""")
# //host.tld right after a quote, a parenthesis or '=' (src=//cdn..., url(//...), "//cdn...").
PROTOCOL_RELATIVE = re.compile(r"""(?<=["'(=])\s*//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+[^\s'"<>)]*""")
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
# Strings in vendored code that look like URLs but are never requested, each with its reason.
NEVER_FETCHED = {
    # XML namespace name passed to createElementNS: an identifier, not a location.
    "http://www.w3.org/2000/svg": "SVG namespace",
}


class _Links(HTMLParser):
    """Every src/href in a page (assets: what the browser loads by itself; anchors: links)."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.anchors: list[str] = []
        self.inline: list[str] = []
        self._in_code = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value:
                (self.anchors if tag == "a" else self.links).append(value)
        self._in_code = tag in ("script", "style")

    def handle_endtag(self, tag):
        self._in_code = False

    def handle_data(self, data):
        if self._in_code:
            self.inline.append(data)


def outside_references(text: str) -> list[str]:
    """URLs naming a host in ``text``, licence/block comments removed, known non-fetches allowed."""
    text = BLOCK_COMMENT.sub("", text)
    found = [m.group(0) for m in ABSOLUTE_URL.finditer(text)]
    found += [m.group(0).strip() for m in PROTOCOL_RELATIVE.finditer(text)]
    return [url for url in found if url.rstrip("/") not in NEVER_FETCHED]


def test_outside_reference_scanner_finds_what_it_must():
    assert outside_references('<script src="https://cdn.example.com/x.js">') == [
        "https://cdn.example.com/x.js"
    ]
    assert outside_references("<link href='//cdn.example.com/x.css'>") == [
        "//cdn.example.com/x.css"
    ]
    assert outside_references("a{background:url(//tiles.example.org/a.png)}")
    assert outside_references("fetch('http://10.0.0.1/api')")
    assert outside_references("/* (c) https://github.com/x licence */ var a = 1;") == []
    assert outside_references('ns("http://www.w3.org/2000/svg")') == []
    assert outside_references("// a line comment, then x = y // z") == []


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app, _city = synthetic_app(tmp_path_factory.mktemp("map") / "store.sqlite", 10, 10, 30)
    return app


@pytest.fixture
def viewer(app):
    client = app.test_client()
    token = app.extensions["gridmap_store"].create_token("viewer", name="值班员")
    answer = client.post("/login", json={"token": token})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return client


def test_map_page_needs_a_session(app):
    answer = app.test_client().get("/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")


def test_map_page_renders_the_wall_screen_frame(viewer):
    answer = viewer.get("/")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html
    for part in ("gm-map", "gm-header", "gm-open", "gm-overdue", "gm-closure", "gm-time"):
        assert f'id="{part}"' in html, part
    assert 'type="module"' in html and "js/gm-main.js" in html
    # No data and no inline script: a few tens of kB whatever the city's size.
    assert len(answer.data) < 40_000
    assert "330402" not in html
    assert "<script>" not in html and '<script type="module">' not in html
    wall = viewer.get("/?wall=1").get_data(as_text=True)
    assert 'class="gm-wall"' in wall and 'id="gm-wall-list"' in wall


@pytest.mark.parametrize(
    ("role", "path"), [("viewer", "/"), ("dispatcher", "/field"), ("viewer", "/batch")]
)
def test_every_element_id_of_a_page_is_unique(app, role, path):
    # getElementById finds the first of two: a block included twice breaks the second silently
    client = app.test_client()
    token = app.extensions["gridmap_store"].create_token(role, name="值班员")
    assert client.post("/login", json={"token": token}).status_code == 200
    html = client.get(path).get_data(as_text=True)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert ids and len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


def test_every_referenced_asset_and_module_is_served(viewer):
    page = _Links()
    page.feed(viewer.get("/").get_data(as_text=True))
    assets = [link for link in page.links if not link.startswith("data:")]
    assert {link.split("?")[0] for link in assets} == {
        "/static/vendor/maplibre-gl/maplibre-gl.css",
        "/static/css/map.css",
        "/static/js/gm-main.js",
        "/static/css/planner.css",  # the planner workspace (issue 9)
        "/static/js/gm-planner.js",
    }
    # ES module imports, followed from the entry points.
    todo = ["/static/js/gm-main.js", "/static/js/gm-planner.js"]
    seen = set()
    while todo:
        link = todo.pop()
        if link in seen:
            continue
        seen.add(link)
        answer = viewer.get(link)
        assert answer.status_code == 200, link
        assert answer.mimetype == "text/javascript", link
        folder = link.rsplit("/", 1)[0]
        for target in re.findall(r"from\s+'(\.[^']+)'", answer.get_data(as_text=True)):
            todo.append(posixpath.normpath(f"{folder}/{target}"))
    assert "/static/vendor/maplibre-gl/maplibre-gl.mjs" in seen
    assert viewer.get("/static/vendor/maplibre-gl/maplibre-gl-worker.mjs").status_code == 200
    for link in assets:
        assert viewer.get(link).status_code == 200, link


def test_static_files_are_gzipped_and_revalidated(viewer):
    first = viewer.get(
        "/static/vendor/maplibre-gl/maplibre-gl.mjs", headers={"Accept-Encoding": "gzip"}
    )
    assert first.headers["Content-Encoding"] == "gzip"
    assert len(first.data) < 400_000  # 1.1 MB raw
    again = viewer.get(
        "/static/vendor/maplibre-gl/maplibre-gl.mjs",
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304
    assert viewer.get("/static/../web/__init__.py").status_code == 404
    assert viewer.get("/static/nope.js").status_code == 404


def test_no_served_page_or_script_refers_to_an_outside_host(viewer):
    html = viewer.get("/").get_data(as_text=True)
    problems = {"/": outside_references(html)}
    # Every script and stylesheet of ours in static/ (the vendored MapLibre names its own web
    # site in messages and docs; what it requests is checked in the browser test).
    for path in sorted(STATIC.rglob("*")):
        if path.suffix in (".js", ".css", ".html") and "vendor" not in path.parts:
            relative = path.relative_to(STATIC).as_posix()
            problems[relative] = outside_references(path.read_text(encoding="utf-8"))
    login = viewer.get("/login").get_data(as_text=True)
    problems["/login"] = outside_references(login)
    assert {where: urls for where, urls in problems.items() if urls} == {}


def test_style_asks_for_no_glyphs_or_sprites():
    """Labels use the machine's fonts: a glyphs or sprite URL would be a request to somewhere."""
    source = (STATIC / "js" / "gm-map.js").read_text(encoding="utf-8")
    assert "glyphs:" not in source and "sprite:" not in source
    assert "localIdeographFontFamily" in (STATIC / "js" / "gm-main.js").read_text(encoding="utf-8")


def test_default_base_map_has_no_tiles(viewer):
    config = viewer.get("/api/config").get_json()
    assert config["basemap"]["url"] == ""


def test_scripts_never_insert_markup():
    # Text reaches the page only through textContent/createTextNode; these would parse HTML.
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|setHTML|\.html\(")
    for path in (STATIC / "js").glob("*.js"):
        source = path.read_text(encoding="utf-8")
        assert not sinks.findall(source), path.name


def test_no_server_rule_is_copied_into_the_scripts():
    """States, their names and the closure formula come from /api/meta and the KPI API."""
    for path in (STATIC / "js").glob("*.js"):
        source = path.read_text(encoding="utf-8")
        for copy in ("'rework'", "STATUS_NAMES", "'不予受理'", "'上报'", "'结案'", "minHouseholds"):
            assert copy not in source, (path.name, copy)


def test_vendored_libraries_carry_licences_and_versions():
    readme = (STATIC / "vendor" / "README.md").read_text(encoding="utf-8")
    for folder, version, marker in (
        ("maplibre-gl", "6.17.0", "maplibre-gl.mjs"),
        ("pmtiles", "4.5.0", "pmtiles.js"),
    ):
        files = {p.name.lower() for p in (STATIC / "vendor" / folder).iterdir()}
        assert any("licen" in name for name in files), folder
        assert marker in files
        assert f"| {version} |" in readme, folder


def test_wall_list_answers_overdue_first(viewer):
    answer = viewer.get("/wall/incidents.json").get_json()
    items = answer["items"]
    assert answer["overdue"] == sum(1 for i in items if i["overdue"]) or len(items) == 40
    flags = [i["overdue"] for i in items]
    assert flags == sorted(flags, reverse=True)
