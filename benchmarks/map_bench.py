"""The one map at city scale: vector tiles, the first whole-city view, panning frame times, and a
folium page with the same grids and points for comparison.

A synthetic city of 10,000 comprehensive grids (plus 1,000 exclusive) and 100,000 incidents is
published into a temporary SQLite store, its tiles are cut into the store's blob cache as the
publish service does (``gridmap.tiles.cache.warm_tiles``), and the real app is served on
127.0.0.1. Then:

1. **Tile sizes**: every tile of every layer over the city, zoom 0-16, gzipped as sent:
   p50 / p95 / max (targets: max <= 150 KB, p95 <= 60 KB).
2. **Tile times over HTTP** (gzip accepted, as MapLibre asks), a sample of tiles at each zoom:
   *cold* = the first request of each tile in a freshly started app (the tile comes from the
   store's blob cache, nothing in memory), *warm* = the same tiles asked again
   (targets: warm p95 < 30 ms, cold p95 < 150 ms). Also the encoder alone (no cache).
3. **Chromium 1920x1080** (when installed): the page's first whole-city view with grids drawn,
   counted at the server (a WSGI wrapper sums every answer, worker tile fetches included, which
   the page's resource timing cannot see): bytes on the wire and decoded (target < 1.5 MB on the
   wire). Then frame times while panning (requestAnimationFrame intervals during animated pans).
4. **The peer**: a folium page with the same grids (GeoJson) and points (FastMarkerCluster)
   inline: its HTML raw vs our decoded bytes, gzipped vs our wire bytes. The libraries folium links
   from CDNs are not counted (that favours folium). With ``--leaflet`` the same 10,000 grids are
   also drawn by Leaflet 1.9.4 (taken from this repository's history) to compare frame times.

    python benchmarks/map_bench.py [--side 100] [--incidents 100000] [--no-browser] [--leaflet]

Timings on a machine shared with other work are noisy; the last line is the headline.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import shutil
import statistics
import subprocess
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
TILE_MAX, TILE_P95 = 150 * 1024, 60 * 1024
WARM_P95_MS, COLD_P95_MS = 30.0, 150.0
FIRST_VIEW_WIRE = 1.5 * 1024 * 1024
PAN_STEPS = [[500, 0], [0, 300], [-500, 0], [0, -300]]
LEAFLET_COMMIT = "6f1428d"  # the last commit that vendored Leaflet 1.9.4
BROWSER_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--enable-unsafe-swiftshader",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-extensions",
    f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
    "--lang=zh-CN",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


def build_store(db: Path, side: int, incidents: int):
    from gridmap.store import open_store
    from gridmap.tiles.cache import warm_tiles

    city = synthetic_city(side, side, seed=7)
    store = open_store(db)
    publish_city(store, city, note="map_bench")
    version = store.current_version().id
    if not store.get_blob(f"tiles/v{version}/"):  # the publish service may have warmed them
        t0 = time.perf_counter()
        count = warm_tiles(store, version)
        warm_s = time.perf_counter() - t0
    else:
        count, warm_s = -1, 0.0
    with (
        store.transaction(),
        tqdm(total=incidents, desc="incidents", unit="inc", leave=False) as bar,
    ):
        add_incidents(store, city, incidents, seed=7, progress=bar.update, moved_share=0.05)
    store.close()
    return city, count, warm_s


class Meter:
    """WSGI wrapper: bytes of every answer (as sent, and decoded), by path."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.rows: list[tuple[str, int, int]] = []

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/api/stream":  # never ends: passed through, not counted
            return self.app(environ, start_response)
        state = {}

        def start(status, headers, exc_info=None):
            state["gzip"] = any(k.lower() == "content-encoding" and v == "gzip" for k, v in headers)
            return start_response(status, headers, exc_info)

        body = b"".join(self.app(environ, start))
        decoded = len(gzip.decompress(body)) if state.get("gzip") and body else len(body)
        with self.lock:
            self.rows.append((path, len(body), decoded))
        return [body]

    def take(self) -> list[tuple[str, int, int]]:
        with self.lock:
            rows, self.rows = self.rows, []
        return rows


def serve(app):
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_port}"


def get(base: str, token: str, path: str) -> tuple[float, int]:
    request = urllib.request.Request(
        base + path, headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(request, timeout=60) as answer:
        body = answer.read()
    return (time.perf_counter() - t0) * 1000, len(body)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else 0.0


def tile_sizes(db: Path) -> tuple[list[int], dict[str, int]]:
    """Gzipped size of every non-empty tile in the blob cache, and the largest per layer."""
    import sqlite3

    conn = sqlite3.connect(db)
    sizes, largest = [], {}
    for key, size in conn.execute("SELECT key, length(value) FROM blobs WHERE key LIKE 'tiles/%'"):
        if size:
            sizes.append(size)
            layer = key.split("/")[4]
            largest[layer] = max(largest.get(layer, 0), size)
    conn.close()
    return sizes, largest


def tile_times(db: Path, token: str, bounds, per_zoom: int) -> dict:
    """Cold (fresh app, first ask) and warm (asked again) HTTP times of a sample of tiles."""
    import random

    from gridmap.tiles import TILE_LAYERS
    from gridmap.tiles.tiling import tiles_covering
    from web import create_app

    rng = random.Random(3)
    sample = []
    for z in range(10, 17):
        cells = list(tiles_covering(bounds, z))
        for tile in rng.sample(cells, min(per_zoom, len(cells))):
            sample.append(
                (rng.choice(["grids", "communities", "roads", "exclusive", "streets"]), tile)
            )
    app = create_app({"DB": str(db), "SECRET_KEY": "bench"})
    httpd, base = serve(app)
    try:
        cold = [get(base, token, f"/tiles/{n}/{t.z}/{t.x}/{t.y}.mvt?v=1")[0] for n, t in sample]
        warm = [get(base, token, f"/tiles/{n}/{t.z}/{t.x}/{t.y}.mvt?v=1")[0] for n, t in sample]
    finally:
        httpd.shutdown()
    # The encoder alone, no cache (what a request would cost without the publish warm-up).
    from gridmap.store import open_store
    from gridmap.tiles import VersionTiles

    store = open_store(db)
    tiles = VersionTiles(store, 1)
    encode = []
    for name, tile in sample:
        if tile.z >= TILE_LAYERS[name].min_zoom:
            t0 = time.perf_counter()
            tiles.tile_gzip(name, tile)
            encode.append((time.perf_counter() - t0) * 1000)
    store.close()
    return {"cold": cold, "warm": warm, "encode": encode, "n": len(sample)}


def chromium(options_extra=()):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="map-bench-chromium-")
    for flag in (*BROWSER_FLAGS, f"--user-data-dir={profile}", *options_extra):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options), profile


def settle(driver, condition: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script(f"return !!({condition});"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"page did not reach {condition!r} in {timeout}s")


FRAMES_JS = """
const done = arguments[arguments.length - 1];
const panScript = arguments[0];  // [dx, dy] pixel offsets (no eval: the page's CSP forbids it)
const stamps = [];
let running = true;
function tick(t) { stamps.push(t); if (running) requestAnimationFrame(tick); }
requestAnimationFrame(tick);
(async () => {
  for (const step of panScript) {
    GridMap.map.panBy(step, { duration: 1000 });
    await new Promise((r) => setTimeout(r, 1100));
  }
  running = false;
  const gaps = [];
  for (let i = 1; i < stamps.length; i++) gaps.push(stamps[i] - stamps[i - 1]);
  done(gaps);
})().catch((error) => done('error: ' + error));
"""


def frame_times(driver, steps: list[str]) -> list[float]:
    driver.set_script_timeout(120)
    gaps = driver.execute_async_script(FRAMES_JS, steps)
    if isinstance(gaps, str):
        raise RuntimeError(gaps)
    return gaps


def page_figures(base: str, token: str, meter: Meter) -> dict:
    driver, profile = chromium()
    try:
        driver.get(base + "/login")
        driver.find_element("id", "token").send_keys(token)
        driver.find_element("css selector", "button[type=submit]").click()
        meter.take()  # the login exchange is not the map
        driver.get(base + "/")
        t0 = time.perf_counter()
        settle(driver, "document.body.getAttribute('data-ready') === '1'")
        settle(driver, "GridMap.map.areTilesLoaded() && !GridMap.map.isMoving()")
        ready_s = time.perf_counter() - t0
        time.sleep(1.0)
        first = meter.take()
        drawn = driver.execute_script(
            "return new Set(GridMap.map.queryRenderedFeatures({layers: ['grids-fill']})"
            ".map(f => f.properties.code)).size"
        )
        zoom = driver.execute_script("return GridMap.map.getZoom()")
        steps = PAN_STEPS
        city_frames = frame_times(driver, steps)
        driver.execute_script("GridMap.map.jumpTo({zoom: 15})")
        settle(driver, "GridMap.map.areTilesLoaded() && !GridMap.map.isMoving()")
        street_frames = frame_times(driver, steps)
        return {
            "first": first,
            "drawn": drawn,
            "zoom": zoom,
            "ready_s": ready_s,
            "frames_city": city_frames,
            "frames_street": street_frames,
        }
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def leaflet_frames(city, out_dir: Path) -> dict | None:
    """Leaflet 1.9.4 drawing the same 10,000 grids (SVG and canvas), frame times while panning."""
    try:
        leaflet_js = subprocess.run(
            ["git", "show", f"{LEAFLET_COMMIT}:static/vendor/leaflet/leaflet.js"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
        leaflet_css = subprocess.run(
            ["git", "show", f"{LEAFLET_COMMIT}:static/vendor/leaflet/leaflet.css"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    (out_dir / "leaflet.js").write_bytes(leaflet_js)
    (out_dir / "leaflet.css").write_bytes(leaflet_css)
    grids = city.grids[["grid_code", "geometry"]]
    (out_dir / "grids.js").write_text("window.GRIDS = " + grids.to_json() + ";", encoding="utf-8")
    w, s, e, n = grids.total_bounds
    out = {}
    for renderer in ("svg", "canvas"):
        page = out_dir / f"leaflet_{renderer}.html"
        page.write_text(
            f"""<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="leaflet.css"><style>html,body,#m{{margin:0;height:100%}}</style>
<script src="leaflet.js"></script><script src="grids.js"></script></head><body><div id="m"></div>
<script>
window.GridMap = {{}};
const map = L.map('m', {{preferCanvas: {str(renderer == "canvas").lower()}}});
L.geoJSON(window.GRIDS, {{style: {{color: '#35d0ff', weight: 1, fillOpacity: 0.06}}}}).addTo(map);
map.fitBounds([[{s}, {w}], [{n}, {e}]]);
GridMap.map = {{ panBy: (p, o) => map.panBy(p, {{duration: o.duration / 1000}}) }};
document.body.setAttribute('data-ready', '1');
</script></body></html>""",
            encoding="utf-8",
        )
        driver, profile = chromium(["--allow-file-access-from-files"])
        try:
            driver.get(page.as_uri())
            settle(driver, "document.body.getAttribute('data-ready') === '1'")
            time.sleep(1.0)
            steps = PAN_STEPS
            out[renderer] = frame_times(driver, steps)
        finally:
            driver.quit()
            shutil.rmtree(profile, ignore_errors=True)
    return out


def folium_peer(city, db: Path, out_dir: Path) -> tuple[int, int]:
    """(raw, gzip) bytes of a folium page with the same grids and incident points inline."""
    import sqlite3

    import folium
    from folium.plugins import FastMarkerCluster

    conn = sqlite3.connect(db)
    points = [[lat, lon] for lon, lat in conn.execute("SELECT lon, lat FROM incidents")]
    conn.close()
    grids = city.grids[["grid_code", "kind", "households", "geometry"]]
    w, s, e, n = grids.total_bounds
    page = folium.Map(location=[(s + n) / 2, (w + e) / 2], zoom_start=12, tiles=None)
    folium.GeoJson(
        grids, name="grids", tooltip=folium.GeoJsonTooltip(["grid_code", "households"])
    ).add_to(page)
    FastMarkerCluster(points, name="incidents").add_to(page)
    path = out_dir / "folium_same_data.html"
    page.save(str(path))
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, compresslevel=6))


def kb(n: float) -> str:
    return f"{n / 1024:,.0f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.2f} MB"


def frames(gaps: list[float]) -> str:
    if not gaps:
        return "no frames"
    return (
        f"p50 {statistics.median(gaps):.1f} ms, p95 {pct(gaps, 0.95):.1f} ms, "
        f"max {max(gaps):.0f} ms over {len(gaps)} frames"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=100, help="grids per side (100: 10,000)")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--per-zoom", type=int, default=30, help="tiles timed per zoom")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument(
        "--leaflet", action="store_true", help="also time Leaflet drawing the grids"
    )
    args = parser.parse_args(argv)

    from gridmap.store import open_store
    from web import create_app

    work = Path(tempfile.mkdtemp(prefix="map-bench-"))
    db = work / "store.sqlite"
    try:
        print(
            f"city: {args.side * args.side:,} grids, {args.incidents:,} incidents "
            "(machine shared: timings noisy)"
        )
        city, warmed, warm_s = build_store(db, args.side, args.incidents)
        if warmed >= 0:
            print(f"warm-up (as the publish service does): {warmed:,} tiles in {warm_s:.1f} s")
        store = open_store(db)
        token = store.create_token("admin", name="bench")
        bounds = store.current_version().bounds
        store.close()

        sizes, largest = tile_sizes(db)
        print(
            f"tile size (gzip), {len(sizes):,} non-empty tiles z0-16: "
            f"p50 {kb(statistics.median(sizes))}, "
            f"p95 {kb(pct(sizes, 0.95))}, max {kb(max(sizes))} "
            f"(targets: max <= {kb(TILE_MAX)}, p95 <= {kb(TILE_P95)})"
        )
        print(
            "  largest per layer: " + ", ".join(f"{k} {kb(v)}" for k, v in sorted(largest.items()))
        )

        times = tile_times(db, token, bounds, args.per_zoom)
        cold95, warm95 = pct(times["cold"], 0.95), pct(times["warm"], 0.95)
        print(
            f"tile time over HTTP, {times['n']} tiles z10-16: "
            f"cold p50 {statistics.median(times['cold']):.1f} ms p95 {cold95:.1f} ms; "
            f"warm p50 {statistics.median(times['warm']):.1f} ms p95 {warm95:.1f} ms "
            f"(targets: warm p95 < {WARM_P95_MS:.0f}, cold p95 < {COLD_P95_MS:.0f})"
        )
        print(
            f"  encoder alone, no cache: p50 {statistics.median(times['encode']):.1f} ms, "
            f"p95 {pct(times['encode'], 0.95):.0f} ms, max {max(times['encode']):.0f} ms"
        )

        raw, gz = folium_peer(city, db, work)
        page = None
        if not args.no_browser and shutil.which("chromium") and shutil.which("chromedriver"):
            meter = Meter(create_app({"DB": str(db), "SECRET_KEY": "bench"}))
            httpd, base = serve(meter)
            try:
                page = page_figures(base, token, meter)
            finally:
                httpd.shutdown()
            wire = sum(r[1] for r in page["first"])
            decoded = sum(r[2] for r in page["first"])
            tiles = [
                r for r in page["first"] if r[0].startswith("/tiles/") and r[0].endswith(".mvt")
            ]
            print(
                f"first whole-city view (zoom {page['zoom']:.1f}, {page['drawn']:,} grids drawn, "
                f"ready in {page['ready_s']:.1f} s): {kb(wire)} on the wire, "
                f"{kb(decoded)} decoded, "
                f"{len(page['first'])} requests "
                f"({len(tiles)} tiles, {kb(sum(r[1] for r in tiles))})"
            )
            print(
                f"folium page, same grids and points inline: {kb(gz)} gzip, {kb(raw)} raw "
                "(CDN libraries not counted)"
            )
            print(
                f"  gzip vs gzip: folium / ours = {gz / wire:.2f}; "
                f"raw vs raw: folium / ours = {raw / decoded:.2f}"
            )
            print(
                "frame time panning (MapLibre, software GL), whole city: "
                + frames(page["frames_city"])
            )
            print(
                "frame time panning (MapLibre, software GL), zoom 15: "
                + frames(page["frames_street"])
            )
            if args.leaflet:
                leaflet = leaflet_frames(city, work)
                for renderer, gaps in (leaflet or {}).items():
                    print(
                        f"frame time panning (Leaflet 1.9.4 {renderer}, same grids): {frames(gaps)}"
                    )
        else:
            print(f"folium page, same grids and points inline: {kb(gz)} gzip, {kb(raw)} raw")
        met = max(sizes) <= TILE_MAX and pct(sizes, 0.95) <= TILE_P95
        met = met and warm95 < WARM_P95_MS and cold95 < COLD_P95_MS
        if page:
            met = met and wire < FIRST_VIEW_WIRE and page["drawn"] > 0
        print(f"all targets met: {met}")
        headline = (
            f"headline: tiles p95 {kb(pct(sizes, 0.95))} max {kb(max(sizes))}; "
            f"tile p95 warm {warm95:.0f} ms cold {cold95:.0f} ms"
        )
        if page:
            headline += (
                f"; whole city with grids {kb(wire)} wire vs folium {kb(gz)} gzip; "
                f"pan frame p50 {statistics.median(page['frames_city']):.0f} ms"
            )
        print(headline)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
