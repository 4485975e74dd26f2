"""Build the map page's HTML with folium: the Leaflet map skeleton, every library from ``static/``.

folium renders the page frame and the ``L.map`` call; its default CDN links are replaced by the
vendored copies, and the page's own panels (a Jinja template) and scripts are added to it. No
data is put in the page: the scripts load it from the API by bounding box and zoom.

>>> html = render_page(panels_html="<div id='gm-panels'></div>", version="1")
>>> "/static/vendor/leaflet/leaflet.js" in html and "GridMap.start(" in html
True
>>> "cdn." in html or "https://" in html
False
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import folium
from branca.element import CssLink, Element, JavascriptLink, MacroElement
from jinja2 import Template

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"

# Jiaxing; the page moves to the configured bounds as soon as /api/config answers.
DEFAULT_CENTER = (30.75, 120.76)

EXTRA_CSS = [
    "vendor/leaflet/leaflet.css",
    "vendor/leaflet.markercluster/MarkerCluster.css",
    "vendor/leaflet.markercluster/MarkerCluster.Default.css",
    "css/map.css",
]
EXTRA_JS = [
    "vendor/leaflet/leaflet.js",
    "vendor/leaflet.markercluster/leaflet.markercluster.js",
    "vendor/leaflet.heat/leaflet-heat.js",
    "js/gm-util.js",
    "js/gm-layers.js",
    "js/gm-incidents.js",
    "js/gm-panels.js",
    "js/gm-main.js",
]


class _StartGridMap(MacroElement):
    """Hands the Leaflet map folium created to GridMap.start once the page scripts are loaded."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        window.GridMap.start({{ this._parent.get_name() }});
        {% endmacro %}"""
    )


def asset_version(static_dir: Path = STATIC_DIR) -> str:
    """A short hash of the page's own scripts and styles, appended to their URLs so that a wall
    screen left running picks up new files after a deploy instead of a stale cache."""
    digest = hashlib.sha1()
    for relative in EXTRA_CSS + EXTRA_JS:
        path = static_dir / relative
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def render_page(panels_html: str, version: str, static_url: str = "/static/") -> str:
    """The whole page: folium's Leaflet frame plus ``panels_html`` and the local scripts."""
    figure = folium.Figure()
    fmap = folium.Map(
        location=DEFAULT_CENTER,
        zoom_start=11,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,
        zoom_snap=0.5,
        min_zoom=8,
        max_zoom=19,
    )
    # folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs by default: drop them
    # all; our own copy of Leaflet is linked below, ahead of the plugins that need it.
    fmap.default_js = []
    fmap.default_css = []
    fmap.add_to(figure)
    head = figure.header
    head.add_child(Element('<link rel="icon" href="data:,">'), name="gm_icon")
    head.add_child(Element('<meta name="robots" content="noindex">'), name="gm_robots")
    head.add_child(Element("<title>网格化治理一张图</title>"), name="gm_title")
    for i, path in enumerate(EXTRA_CSS):
        head.add_child(
            CssLink(f"{static_url}{path}?v={version}", download=False), name=f"gm_css{i}"
        )
    for i, path in enumerate(EXTRA_JS):
        url = f"{static_url}{path}" + ("" if path.startswith("vendor/") else f"?v={version}")
        head.add_child(JavascriptLink(url, download=False), name=f"gm_js{i}")
    figure.html.add_child(Element(panels_html), name="gm_panels")
    fmap.add_child(_StartGridMap(), name="gm_start")
    html = figure.render()
    return html.replace("<html>", '<html lang="zh-CN">', 1)
