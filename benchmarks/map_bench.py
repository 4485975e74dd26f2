"""Payload sizes and response times of the one map at city scale, against a plain folium page.

A synthetic city of 10,000 comprehensive grids (plus 1,000 exclusive) and 100,000 incidents is
published into a temporary SQLite store and served by the real app on 127.0.0.1. Then:

1. Endpoint answer times: each data endpoint the page calls, over HTTP with gzip accepted as a
   browser does, for views at zooms 11-17 around the city; p50/p95 and the largest answer.
2. The page in headless chromium (when installed): bytes of the first load (HTML, scripts,
   styles and the data calls the page makes before it is ready) and of each pan or zoom, read
   from the browser's own resource timing (transferSize: on the wire; decodedBodySize: after
   gzip). The live stream (/api/stream) never finishes and is not counted.
3. The peer: a plain folium page holding the same data inline (grids as GeoJson, incidents as a
   FastMarkerCluster), and one with 10,000 folium.Marker, rendered in this process.

    python benchmarks/map_bench.py [--side 100] [--incidents 100000] [--no-browser]
                                   [--show-requests]

Last line: the headline figure.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synthetic_city import add_incidents, publish_city, synthetic_city  # noqa: E402
from tqdm import tqdm  # noqa: E402

VIEWPORT = (1920, 1080)
LIMIT_FIRST_LOAD = 1_000_000
LIMIT_PAN = 2_000_000
LIMIT_MS = 300.0


def build_store(db: Path, side: int, incidents: int):
    from gridmap.store import open_store

    city = synthetic_city(side, side, seed=7)
    store = open_store(db)
    t0 = time.perf_counter()
    publish_city(store, city, note="map_bench")
    publish_s = time.perf_counter() - t0
    # A throwaway store: no fsync per incident, or 100,000 inserts take minutes.
    store.conn.execute("PRAGMA synchronous=OFF")
    with tqdm(total=incidents, desc="incidents", unit="inc", leave=False) as bar:
        add_incidents(store, city, incidents, seed=7, progress=bar.update, moved_share=0.05)
    store.conn.execute("PRAGMA synchronous=FULL")
    store.close()
    return city, publish_s


def serve(app):
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request

    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}"


def fetch(base: str, token: str, path: str) -> tuple[float, int, int]:
    """(milliseconds, bytes on the wire, bytes decoded) of one GET as a browser would send it."""
    request = urllib.request.Request(
        base + path, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as answer:
        body = answer.read()
        encoded = answer.headers.get("Content-Encoding") == "gzip"
    ms = (time.perf_counter() - t0) * 1000
    decoded = len(gzip.decompress(body)) if encoded else len(body)
    return ms, len(body), decoded


def page_settings() -> tuple[float, int]:
    """(view padding, grid minimum zoom) as static/js/gm-layers.js sets them, to ask as it asks."""
    source = (ROOT / "static" / "js" / "gm-layers.js").read_text(encoding="utf-8")
    pad = float(re.search(r"GM\.VIEW_PAD = ([0-9.]+)", source).group(1))
    grid_zoom = int(re.search(r"GM\.MIN_ZOOM = \{[^}]*\bgrid: (\d+)", source).group(1))
    return pad, grid_zoom


def view_bbox(lon: float, lat: float, zoom: float) -> str:
    """The bbox a 1920x1080 screen shows at ``zoom`` around a point, padded as the page pads."""
    import math

    pad, _grid_zoom = page_settings()
    degrees_per_px = 360 / (256 * 2**zoom)
    half_w = VIEWPORT[0] / 2 * degrees_per_px * (1 + 2 * pad)
    half_h = VIEWPORT[1] / 2 * degrees_per_px * (1 + 2 * pad) * math.cos(math.radians(lat))
    return f"{lon - half_w:.5f},{lat - half_h:.5f},{lon + half_w:.5f},{lat + half_h:.5f}"


def endpoint_times(base: str, token: str, bounds, rounds: int) -> dict[str, dict]:
    import random

    rng = random.Random(3)
    _pad, grid_zoom = page_settings()
    w, s, e, n = bounds
    calls: dict[str, list[str]] = {}
    for _ in range(rounds):
        zoom = rng.choice([11, 12, 13, 14, 15, 16, 17])
        lon, lat = rng.uniform(w, e), rng.uniform(s, n)
        bbox = view_bbox(lon, lat, zoom)
        q = f"?bbox={bbox}&zoom={zoom}"
        for name in ("district", "street", "community", "roads"):
            calls.setdefault(f"layers/{name}", []).append(f"/api/layers/{name}{q}")
        if zoom >= grid_zoom:
            for name in ("grid", "exclusive"):
                calls.setdefault(f"layers/{name}", []).append(f"/api/layers/{name}{q}")
        calls.setdefault("incidents", []).append(f"/api/incidents{q}")
        calls.setdefault("incidents (filtered)", []).append(
            f"/api/incidents{q}&status=reported,accepted&since=2000-01-01T00:00:00Z"
        )
        calls.setdefault("incidents/heat", []).append(f"/api/incidents/heat{q}")
    calls["config"] = ["/api/config"] * 5
    calls["kpi district"] = ["/api/kpi?level=district"] * 5
    calls["kpi street"] = ["/api/kpi?level=street"] * 5
    results = {}
    for label, paths in tqdm(calls.items(), desc="endpoints", leave=False):
        fetch(base, token, paths[0])  # warm caches once, as a running server has them
        samples = [fetch(base, token, p) for p in paths]
        ms = sorted(x[0] for x in samples)
        results[label] = {
            "n": len(ms),
            "p50": statistics.median(ms),
            "p95": ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))],
            "max_wire": max(x[1] for x in samples),
            "max_decoded": max(x[2] for x in samples),
        }
    return results


BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
)

RESOURCES_JS = """
return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .filter(function (e) { return e.name.indexOf('/api/stream') < 0; })
  .map(function (e) { return [e.name, e.transferSize, e.decodedBodySize]; });
"""


def browser_figures(base: str, token: str, show: bool = False) -> dict | None:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        return None
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    profile = tempfile.mkdtemp(prefix="map-bench-chromium-")
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(base + "/login")
        driver.execute_script("performance.setResourceTimingBufferSize(100000)")
        driver.find_element("id", "token").send_keys(token)
        driver.find_element("css selector", "button[type=submit]").click()
        settle(driver, "document.body.getAttribute('data-ready') === '1'")
        time.sleep(0.5)  # anything the first moveend still asks for counts as first load
        settle(driver, "GridMap.stats.inflight === 0")
        driver.execute_script("performance.setResourceTimingBufferSize(100000)")
        counted: set[str] = set()
        first = take(driver, counted, debug="first load" if show else None)
        zoom0 = driver.execute_script("return GridMap.map.getZoom()")
        steps = []
        # A duty officer's session: into the city centre, along it, down to street level, out.
        centre = "GridMap.map.getBounds().getCenter()"
        moves = [
            ("zoom to 14 at the centre", f"GridMap.map.setView({centre}, 14, {{animate: false}})"),
            ("pan east half a screen", "GridMap.map.panBy([960, 0], {animate: false})"),
            ("pan south half a screen", "GridMap.map.panBy([0, 540], {animate: false})"),
            ("zoom in to 15", "GridMap.map.setZoom(15, {animate: false})"),
            ("zoom in to 16", "GridMap.map.setZoom(16, {animate: false})"),
            ("pan west a screen", "GridMap.map.panBy([-1920, 0], {animate: false})"),
            ("zoom out to 13", "GridMap.map.setZoom(13, {animate: false})"),
            ("zoom out to 12", "GridMap.map.setZoom(12, {animate: false})"),
            ("heat map on", "GridMap.incidents.heat.addTo(GridMap.map)"),
            ("choropleth: open incidents", "document.querySelector('input[value=open]').click()"),
        ]
        for label, script in moves:
            driver.execute_script(script)
            time.sleep(0.4)  # the page waits 150 ms after a move before it asks
            settle(driver, "GridMap.stats.inflight === 0")
            wire, decoded, calls = take(driver, counted, debug=label if show else None)
            steps.append((label, wire, decoded, calls))
        stats = driver.execute_script("return GridMap.stats")
        return {"first": first, "zoom": zoom0, "steps": steps, "stats": stats}
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def settle(driver, condition: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script(f"return ({condition});"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"page did not reach {condition!r} in {timeout}s")


def take(driver, counted: set[str], debug: str | None = None) -> tuple[int, int, int]:
    """Bytes (wire, decoded) and count of the requests not counted yet."""
    wire = decoded = calls = 0
    for i, (name, transfer, body) in enumerate(driver.execute_script(RESOURCES_JS)):
        key = f"{i}:{name}"
        if key in counted:
            continue
        counted.add(key)
        if debug:
            path = name.split("/", 3)[-1]
            print(f"    {debug:<28} {transfer:>9,} {body:>10,}  /{path[:100]}")
        wire += transfer
        decoded += body
        calls += 1
    return wire, decoded, calls


def folium_peers(city, store_db: Path, out_dir: Path) -> dict:
    """Plain folium pages with the data inline: the same grids and incidents, and 10,000 markers."""
    import sqlite3

    import folium
    from folium.plugins import FastMarkerCluster

    conn = sqlite3.connect(store_db)
    points = [[lat, lon] for lon, lat in conn.execute("SELECT lon, lat FROM incidents")]
    conn.close()
    grids = city.grids.copy()
    grids["area_m2"] = grids["area_m2"].round(1)
    w, s, e, n = grids.total_bounds
    results = {}

    t0 = time.perf_counter()
    same = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=12, tiles=None)
    folium.GeoJson(
        grids[["grid_code", "kind", "households", "population", "area_m2", "geometry"]],
        name="grids",
        tooltip=folium.GeoJsonTooltip(["grid_code", "households"]),
    ).add_to(same)
    FastMarkerCluster(points, name="incidents").add_to(same)
    folium.LayerControl().add_to(same)
    path = out_dir / "folium_same_data.html"
    same.save(str(path))
    results["same data inline"] = (path.stat().st_size, _gzip_size(path), time.perf_counter() - t0)

    t0 = time.perf_counter()
    markers = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=12, tiles=None)
    for lat, lon in points[:10_000]:
        folium.Marker([lat, lon], popup="incident").add_to(markers)
    path = out_dir / "folium_10000_markers.html"
    markers.save(str(path))
    results["10,000 folium.Marker"] = (
        path.stat().st_size,
        _gzip_size(path),
        time.perf_counter() - t0,
    )
    return results


def _gzip_size(path: Path) -> int:
    return len(gzip.compress(path.read_bytes(), compresslevel=5))


def kb(n: float) -> str:
    return f"{n / 1024:,.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.2f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=100, help="grids per side (100: 10,000)")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=40, help="random views per endpoint")
    parser.add_argument("--no-browser", action="store_true", help="skip the chromium figures")
    parser.add_argument(
        "--show-requests", action="store_true", help="list every request the page makes, by step"
    )
    args = parser.parse_args(argv)

    from web import create_app

    with tempfile.TemporaryDirectory(prefix="map-bench-") as tmp:
        tmp_path = Path(tmp)
        db = tmp_path / "store.sqlite"
        t0 = time.perf_counter()
        city, publish_s = build_store(db, args.side, args.incidents)
        n_grids = int((city.grids["kind"] == "comprehensive").sum())
        n_exclusive = len(city.grids) - n_grids
        print(
            f"city: {n_grids:,} grids + {n_exclusive:,} exclusive, {args.incidents:,} incidents "
            f"(published in {publish_s:.1f} s, store built in {time.perf_counter() - t0:.1f} s)"
        )
        app = create_app({"DB": str(db), "SECRET_KEY": "bench"})
        token = app.extensions["gridmap_store"].create_token("viewer", name="bench")
        httpd, base = serve(app)
        try:
            times = endpoint_times(base, token, tuple(city.grids.total_bounds), args.rounds)
            page = None if args.no_browser else browser_figures(base, token, args.show_requests)
        finally:
            httpd.shutdown()
        peers = folium_peers(city, db, tmp_path)

    pad, grid_zoom = page_settings()
    print(
        "\nendpoint answers over HTTP (gzip accepted), random 1920x1080 views at zoom 11-17, "
        f"padded {pad:.0%} each side as the page asks; grids from zoom {grid_zoom}"
    )
    print(f"{'endpoint':<24}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'largest wire':>15}{'decoded':>12}")
    worst_p95 = 0.0
    for label, r in times.items():
        worst_p95 = max(worst_p95, r["p95"])
        print(
            f"{label:<24}{r['n']:>5}{r['p50']:>9.1f}{r['p95']:>9.1f}"
            f"{kb(r['max_wire']):>15}{kb(r['max_decoded']):>12}"
        )
    print(f"slowest p95: {worst_p95:.1f} ms (target < {LIMIT_MS:.0f} ms)")

    print("\nplain folium pages, data inline (rendered here)")
    for label, (size, zipped, seconds) in peers.items():
        print(f"{label:<24}{kb(size):>12}  gzip {kb(zipped):>10}  built in {seconds:.1f} s")
    peer_bytes = peers["same data inline"][0]

    if page is None:
        print("\npage figures: chromium/chromedriver not installed (or --no-browser): not measured")
        print(f"headline: slowest endpoint p95 {worst_p95:.0f} ms; folium peer {kb(peer_bytes)}")
        return 0

    wire, decoded, calls = page["first"]
    print(f"\nthe map page in chromium {VIEWPORT[0]}x{VIEWPORT[1]} (resource timing)")
    print(f"{'step':<30}{'requests':>9}{'on the wire':>14}{'decoded':>12}")
    first_label = f"first load (zoom {page['zoom']:.1f})"
    print(f"{first_label:<30}{calls:>9}{kb(wire):>14}{kb(decoded):>12}")
    worst_step = 0
    for label, s_wire, s_decoded, s_calls in page["steps"]:
        worst_step = max(worst_step, s_wire)
        print(f"{label:<30}{s_calls:>9}{kb(s_wire):>14}{kb(s_decoded):>12}")
    worst_decoded = max(s[2] for s in page["steps"])
    print(
        f"first load {kb(wire)} on the wire / {kb(decoded)} decoded (target < 1 MB); "
        f"largest pan/zoom {kb(worst_step)} / {kb(worst_decoded)} decoded (target < 2 MB)"
    )
    ok = (
        wire < LIMIT_FIRST_LOAD
        and worst_step < LIMIT_PAN
        and worst_p95 < LIMIT_MS
        and not page["stats"]["errors"]
    )
    print(f"page errors: {page['stats']['errors'] or 'none'}; all targets met: {ok}")
    print(
        f"headline: first load {kb(wire)} vs {kb(peer_bytes)} folium page with the same data "
        f"({peer_bytes / wire:.0f}x less); largest pan/zoom {kb(worst_step)}; "
        f"slowest endpoint p95 {worst_p95:.0f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
