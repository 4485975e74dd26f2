"""The map page (blueprint web.map:bp): login gate, assets all local, no outside host named.

The live behaviour in a real browser (grids, live incidents, inert HTML) is in test_browser.py.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from synthetic_city import synthetic_app

from web.map.page import EXTRA_CSS, EXTRA_JS

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"

ABSOLUTE_URL = re.compile(r"""(?i)\b(?:https?|wss?|ftp):?//[^\s'"<>)\\]*""")
# //host.tld right after a quote, a parenthesis or '=' (src=//cdn..., url(//...), "//cdn...").
PROTOCOL_RELATIVE = re.compile(r"""(?<=["'(=])\s*//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+[^\s'"<>)]*""")
BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
# Strings in vendored code that look like URLs but are never requested, each with its reason.
NEVER_FETCHED = {
    # XML namespace name passed to createElementNS: an identifier, not a location.
    "http://www.w3.org/2000/svg": "SVG namespace",
    # Leaflet's attribution prefix link; gm-main.js removes it with setPrefix(false) (tested).
    "https://leafletjs.com": "Leaflet attribution link, disabled by the page",
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
    for part in ("gm-header", "gm-open", "gm-overdue", "gm-closure", "gm-time", "gm-legend"):
        assert f'id="{part}"' in html, part
    assert "L.map(" in html and "GridMap.start(" in html  # folium's map handed to our scripts
    # No data inline: a few tens of kB whatever the city's size.
    assert len(answer.data) < 40_000
    assert "330402" not in html


def test_every_referenced_asset_is_served_from_static(viewer):
    page = _Links()
    page.feed(viewer.get("/").get_data(as_text=True))
    assets = [link for link in page.links if not link.startswith("data:")]
    expected = {f"/static/{path}" for path in EXTRA_CSS + EXTRA_JS}
    assert {link.split("?")[0] for link in assets} == expected
    assert page.anchors and all(a.startswith("/") and not a.startswith("//") for a in page.anchors)
    for link in assets:
        answer = viewer.get(link)
        assert answer.status_code == 200, link
        assert len(answer.data) > 100, link
        if link.split("?")[0].endswith(".css"):
            # Images the stylesheets point at are there too.
            folder = link.split("?")[0].rsplit("/", 1)[0]
            for target in re.findall(r"url\(['\"]?([^'\")]+)", answer.get_data(as_text=True)):
                if target.startswith(("data:", "#")):  # #default#VML: old IE behaviour
                    continue
                image = viewer.get(f"{folder}/{target}")
                assert image.status_code == 200, (link, target)


def test_no_served_page_or_script_refers_to_an_outside_host(viewer):
    html = viewer.get("/").get_data(as_text=True)
    page = _Links()
    page.feed(html)
    problems = {"/": outside_references(html)}
    for link in page.links:
        if link.startswith("/static/"):
            problems[link] = outside_references(viewer.get(link).get_data(as_text=True))
    # Every script and stylesheet in static/, served or not yet.
    for path in sorted(STATIC.rglob("*")):
        if path.suffix in (".js", ".css", ".html"):
            relative = path.relative_to(STATIC).as_posix()
            problems[relative] = outside_references(path.read_text(encoding="utf-8"))
    login = viewer.get("/login").get_data(as_text=True)
    problems["/login"] = outside_references(login)
    assert {where: urls for where, urls in problems.items() if urls} == {}


def test_allowed_leaflet_link_stays_disabled():
    assert "setPrefix(false)" in (STATIC / "js" / "gm-main.js").read_text(encoding="utf-8")


def test_default_base_map_has_no_tiles(viewer):
    config = viewer.get("/api/config").get_json()
    assert config["basemap"]["url"] == ""


def test_scripts_never_insert_markup():
    # Text reaches the page only through textContent/createTextNode; these would parse HTML.
    sinks = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\.html\(")
    for path in (STATIC / "js").glob("*.js"):
        source = path.read_text(encoding="utf-8")
        assert not sinks.findall(source), path.name
        # Leaflet popups/tooltips/icons given strings would be parsed as HTML: ours get elements.
        for call in re.finditer(r"bind(?:Popup|Tooltip)\(\s*(['\"`]|[^f(])", source):
            pytest.fail(f"{path.name}: {call.group(0)!r} passes a string to Leaflet")


def test_vendored_libraries_carry_licences_and_versions():
    readme = (STATIC / "vendor" / "README.md").read_text(encoding="utf-8")
    for folder, version, marker in (
        ("leaflet", "1.9.4", "leaflet.js"),
        ("leaflet.markercluster", "1.5.3", "leaflet.markercluster.js"),
        ("leaflet.heat", "0.2.0", "leaflet-heat.js"),
    ):
        files = {p.name.lower() for p in (STATIC / "vendor" / folder).iterdir()}
        assert any("licen" in name for name in files), folder
        assert marker in files
        assert f"| {version} |" in readme, folder
    assert "Leaflet 1.9.4" in (STATIC / "vendor" / "leaflet" / "leaflet.js").read_text()[:400]
