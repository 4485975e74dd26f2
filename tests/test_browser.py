"""The map in a real browser: Debian's chromium (headless) driven through chromedriver.

It loads the page over HTTP from the real app on a synthetic city and checks what a person at the
wall would see: grids drawn, an incident posted through the API appearing live (SSE) within 2 s,
HTML/script in a description staying inert text, and no request leaving 127.0.0.1. Screenshots
go to build/screenshots/ (git-ignored). Skipped, with the reason, where chromium is not installed;
under ``CI=true`` (.ci/run installs it) a missing chromium fails every browser test instead.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from backends import in_ci

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>井盖<b>破损</b>'

HAVE_CHROMIUM = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()
MISSING = (
    "Debian chromium and chromium-driver are not installed "
    "(apt-get install chromium chromium-driver; .ci/run does it)"
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not HAVE_CHROMIUM and not in_ci(), reason=MISSING),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from synthetic_city import synthetic_app
    from werkzeug.serving import make_server

    db = tmp_path_factory.mktemp("browser") / "store.sqlite"
    app, city = synthetic_app(db, 12, 10, 60)
    store = app.extensions["gridmap_store"]
    tokens = {
        "planner": store.create_token("planner", name="规划员"),
        "dispatcher": store.create_token("dispatcher", name="调度员"),
    }
    served: list[str] = []

    def recording(environ, start_response):
        # What the server was asked for, workers included (DevTools' log misses worker fetches).
        served.append(environ.get("PATH_INFO", ""))
        return app(environ, start_response)

    httpd = make_server("127.0.0.1", 0, recording, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {
        "base": f"http://127.0.0.1:{httpd.server_port}",
        "tokens": tokens,
        "city": city,
        "served": served,
        "db": str(db),
    }
    httpd.shutdown()


def chrome_driver(tmp_path_factory, mobile: dict | None = None):
    """Headless Debian chromium at 1920x1080, or emulating the phone ``mobile`` describes
    (chromedriver's ``mobileEmulation``); it can reach 127.0.0.1 only and logs every request."""
    if not HAVE_CHROMIUM:
        pytest.fail(f"CI=true but the browser tests cannot run: {MISSING}")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is in the test extras")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-extensions",
        "--lang=zh-CN",
        # Any name but 127.0.0.1 fails to resolve: a request to the outside (from a worker too,
        # which DevTools' network log does not show) would fail and be reported by the page.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    if mobile is None:
        options.add_argument("--window-size=1920,1080")
    else:
        options.add_experimental_option("mobileEmulation", mobile)
    # Every request the page makes, from the DevTools protocol's Network domain.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    return driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    driver = chrome_driver(tmp_path_factory)
    yield driver
    driver.quit()


def wait_for(driver, script: str, timeout: float = 15.0, interval: float = 0.05):
    """Poll a JS expression until it is truthy; its value, or fail saying what was awaited."""
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return ({script});")
        if value:
            return value
        time.sleep(interval)
    stats = driver.execute_script("return window.GridMap && JSON.stringify(GridMap.stats)")
    pytest.fail(f"timed out after {timeout}s waiting for {script!r}; page stats: {stats}")


def api(base: str, token: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        base + path,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="GET" if body is None else "POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def requested_urls(driver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def settled(driver, timeout: float = 20.0) -> None:
    """Wait until MapLibre has every tile of the view loaded and drawn."""
    done = "GridMap.map && !GridMap.map.isMoving() && GridMap.map.areTilesLoaded()"
    wait_for(driver, done, timeout)
    time.sleep(0.3)


def rendered(driver, layer: str, field: str = "code") -> list[str]:
    """Distinct values of one property of a style layer's features drawn on screen now."""
    return driver.execute_script(
        f"""return [...new Set(GridMap.map.queryRenderedFeatures({{layers: [{layer!r}]}})
            .map(function (f) {{ return f.properties[{field!r}]; }}))];"""
    )


def test_the_map_live_in_chromium(server, browser):
    base = server["base"]
    driver = browser
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    seen: list[str] = []

    # Without a session the map sends us to the login page; a token logs in.
    driver.get(base + "/")
    assert urlsplit(driver.current_url).path == "/login"
    driver.find_element("id", "token").send_keys(server["tokens"]["planner"])
    driver.find_element("css selector", "button[type=submit]").click()
    wait_for(driver, "document.body.getAttribute('data-ready') === '1'", timeout=30)
    settled(driver)
    assert (
        driver.execute_script("return document.getElementById('gm-city').textContent") == "嘉兴市"
    )
    assert wait_for(driver, "GridMap.stats.counters && GridMap.stats.counters.total") == 60
    states = driver.execute_script("return document.querySelectorAll('#gm-status input').length")
    assert states >= 9

    # The whole mosaic at zoom 11 and single grids at 16, from vector tiles.
    all_grids = set(server["city"].grids.query("kind == 'comprehensive'")["grid_code"])
    driver.execute_script("GridMap.map.jumpTo({center: GridMap.map.getCenter(), zoom: 11})")
    settled(driver)
    at11 = set(rendered(driver, "grids-fill"))
    assert at11 == all_grids, (len(at11), len(all_grids))
    driver.save_screenshot(str(SCREENSHOTS / "map-z11.png"))
    driver.execute_script("GridMap.map.jumpTo({zoom: 16})")
    settled(driver)
    at16 = set(rendered(driver, "grids-fill"))
    assert 0 < len(at16) < len(all_grids) and at16 <= all_grids
    # Grid codes are labelled where they fit; road names along the roads.
    codes = wait_for(driver, "GridMap.map.queryRenderedFeatures({layers: ['grids-label']}).length")
    assert codes > 0
    driver.save_screenshot(str(SCREENSHOTS / "map-z16.png"))
    b = server["city"].boundaries
    driver.execute_script(
        "var b = GridMap.tilesInfo.bounds; GridMap.map.fitBounds([[b[0], b[1]], [b[2], b[3]]],"
        " {padding: GridMap.padding(), animate: false})"
    )
    settled(driver)
    names = set(rendered(driver, "communities-label", "name"))
    names |= set(rendered(driver, "streets-label", "name"))
    assert names and names <= set(b["name"]), names
    time.sleep(0.5)
    driver.save_screenshot(str(SCREENSHOTS / "map.png"))

    # A new incident posted through the API shows up on the open page, without reloading.
    grid = server["city"].grids.iloc[25]
    centre = grid.geometry.centroid
    driver.execute_script("window.__xss = undefined;")
    before = driver.execute_script("return GridMap.stats.figureUpdates")
    created = api(
        base,
        server["tokens"]["dispatcher"],
        "/api/incidents",
        {"type": "manhole", "description": PAYLOAD, "lon": centre.x, "lat": centre.y},
    )
    posted = time.time()  # committed from here on (wall clock: the page stamps with Date.now())
    incident_id = created["id"]
    wait_for(driver, f"GridMap.incidents.features.has({incident_id})", timeout=10)
    # The page stamps the moment its stream handler had the event: polling it from here would
    # add the wait for a busy renderer thread to answer WebDriver.
    latency = driver.execute_script(f"return GridMap.stats.eventAt[{incident_id}]") / 1000 - posted
    assert latency < 2.0, f"incident took {latency:.2f}s to appear"
    # Its grid's figures follow without any tile being fetched again.
    wait_for(driver, f"GridMap.stats.figureUpdates > {before}", timeout=5)
    code = created["grid_code"]
    wait_for(driver, f"GridMap.figures.grid[{code!r}] && GridMap.figures.grid[{code!r}][0] >= 1")
    # Its description arrives as text, markup and all; the feed names the place.
    wait_for(driver, f"document.getElementById('gm-feed').textContent.includes({PAYLOAD!r})")
    feed = driver.find_element("id", "gm-feed").text
    assert "社区" in feed and code not in feed

    # Open its popup: the description is shown verbatim and nothing in it ran.
    driver.execute_script(
        f"GridMap.map.jumpTo({{center: [{centre.x}, {centre.y}], zoom: 16}});"
        f"GridMap.incidents.popup({incident_id}, [{centre.x}, {centre.y}]);"
    )
    shown = wait_for(
        driver,
        "document.querySelector('.maplibregl-popup .gm-desc') && "
        "document.querySelector('.maplibregl-popup .gm-desc').innerText",
        timeout=10,
    )
    assert shown == PAYLOAD
    assert (
        driver.execute_script("return document.querySelectorAll('.maplibregl-popup img').length")
        == 0
    )
    wait_for(driver, "document.querySelector('.maplibregl-popup .gm-steps li')")
    settled(driver)
    driver.save_screenshot(str(SCREENSHOTS / "map-incident.png"))

    # A state change travels the same way.
    api(
        base,
        server["tokens"]["dispatcher"],
        f"/api/incidents/{incident_id}/transition",
        {"action": "accept", "note": "<script>window.__xss=3</script>"},
    )
    wait_for(
        driver,
        f"GridMap.incidents.features.get({incident_id}).properties.status === 'accepted'",
        timeout=5,
    )
    assert driver.execute_script("return window.__xss") is None

    # Filter by grid: only that grid's incidents stay.
    driver.execute_script(
        f"""var box = document.getElementById('gm-grid'); box.value = {code!r};
        box.dispatchEvent(new Event('change'));"""
    )
    wait_for(
        driver,
        f"""GridMap.incidents.features.size > 0 &&
        [...GridMap.incidents.features.values()].every(function (f) {{
            return f.properties.grid_code === {code!r}; }})""",
    )
    driver.execute_script("document.getElementById('gm-grid-clear').click()")

    # Address search: zoom to the address, the match level shown by name.
    driver.find_element("id", "gm-q").send_keys("嘉兴市南湖区建国路3号")
    driver.find_element("css selector", "#gm-search button").click()
    wait_for(driver, "GridMap.stats.lastGeocode")
    wait_for(driver, "GridMap.map.querySourceFeatures('search').length > 0")
    result = driver.find_element("id", "gm-search-result").text
    assert "100%" in result, result
    settled(driver)
    driver.save_screenshot(str(SCREENSHOTS / "map-search.png"))

    # Choropleth switch, heat map with its legend, the planner's panel, a KPI row zooms.
    driver.execute_script("document.querySelector('input[value=closure_rate]').click()")
    legend = driver.find_element("id", "gm-legend").text
    assert "结案率" in legend and "≥ 100%" not in legend and "95% – 100%" in legend
    driver.execute_script(
        """document.querySelectorAll('#gm-layer-control label').forEach(function (label) {
            if (label.textContent.includes('热力')) label.querySelector('input').click();
        });"""
    )
    wait_for(driver, "GridMap.stats.heatPoints > 0")
    wait_for(driver, "document.getElementById('gm-legend').textContent.includes('事件热力')")
    assert driver.find_element("id", "gm-planner").is_displayed()
    assert "共" in driver.find_element("id", "gm-kpi-pager").text
    zoom = driver.execute_script("return GridMap.map.getZoom()")
    driver.execute_script("document.querySelector('#gm-kpi-rows tr').click()")
    wait_for(driver, f"Math.abs(GridMap.map.getZoom() - {zoom}) > 0.2", timeout=5)
    settled(driver)
    driver.save_screenshot(str(SCREENSHOTS / "map-choropleth-heat.png"))

    # Nothing the page did went anywhere but this server.
    seen += requested_urls(driver)
    assert_local_only(seen)
    tiles = [p for p in server["served"] if p.startswith("/tiles/") and p.endswith(".mvt")]
    assert len(tiles) >= 10
    errors = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and "favicon.ico" not in entry["message"]
        and "/api/meta" not in entry["message"]  # until the server has it (answers 404)
    ]
    assert errors == []
    assert driver.execute_script("return GridMap.stats.errors") == []
    assert driver.execute_script("return window.__xss") is None


def assert_local_only(urls: list[str]) -> None:
    # (chrome://, data: and blob: URLs are the browser's own; anything on the network counts.)
    network = [url for url in urls if urlsplit(url).scheme in ("http", "https", "ws", "wss", "ftp")]
    hosts = {urlsplit(url).hostname for url in network}
    assert len(network) > 10 and hosts == {"127.0.0.1"}, hosts


def test_wall_mode_refreshes_itself_on_a_new_incident(server, browser):
    base = server["base"]
    driver = browser
    driver.get(base + "/?wall=1")
    if urlsplit(driver.current_url).path == "/login":
        driver.find_element("id", "token").send_keys(server["tokens"]["planner"])
        driver.find_element("css selector", "button[type=submit]").click()
        driver.get(base + "/?wall=1")
    wait_for(driver, "document.body.getAttribute('data-ready') === '1'", timeout=30)
    wait_for(driver, "GridMap.stats.wallRefreshes >= 1")
    assert driver.find_element("id", "gm-wall-panel").is_displayed()
    assert not driver.find_element("id", "gm-left").is_displayed()
    assert driver.execute_script("return document.getElementById('gm-kpi-level').value") == "street"
    settled(driver)
    count = driver.execute_script("return GridMap.stats.wallRefreshes")
    total = driver.execute_script("return GridMap.stats.counters.total")
    grid = server["city"].grids.iloc[40].geometry.centroid
    api(
        base,
        server["tokens"]["dispatcher"],
        "/api/incidents",
        {"type": "noise", "description": "夜间施工噪音", "lon": grid.x, "lat": grid.y},
    )
    # Nobody touches the wall: the list and the counters refresh by themselves.
    wait_for(driver, f"GridMap.stats.wallRefreshes > {count}", timeout=10)
    wait_for(driver, f"GridMap.stats.counters.total === {total + 1}", timeout=10)
    wall = driver.find_element("id", "gm-wall-list").text
    assert "超期" in wall or "当前没有" in wall
    assert "noise" not in wall and "manhole" not in wall  # types by name
    time.sleep(0.5)
    driver.save_screenshot(str(SCREENSHOTS / "wall.png"))
    assert_local_only(requested_urls(driver) + [base + "/"])


def test_offline_package_opens_with_no_gridmap_server(server, browser, tmp_path):
    """`gridmap export-tiles` output, opened by web/static/offline.html served by a plain static
    file server (Python's http.server): grids and names drawn, nothing fetched elsewhere."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from gridmap.store import open_store
    from gridmap.tiles.pmtiles import export_pmtiles
    from web.map import STATIC_DIR

    app_store = open_store(server["db"])
    try:
        package = export_pmtiles(
            app_store, app_store.current_version().id, tmp_path / "city.pmtiles"
        )
    finally:
        app_store.close()
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(STATIC_DIR))
    handler.log_message = lambda *args: None
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        driver = browser
        driver.get(f"http://127.0.0.1:{httpd.server_address[1]}/offline.html")
        driver.find_element("id", "gm-file").send_keys(str(package.path))
        wait_for(driver, "document.body.getAttribute('data-ready') === '1'", timeout=30)
        settled(driver)
        grids = set(rendered(driver, "grids-fill"))
        assert grids and grids <= set(server["city"].grids["grid_code"])
        assert driver.find_element("id", "gm-city").text == "嘉兴市"
        names = set(rendered(driver, "communities-label", "name"))
        names |= set(rendered(driver, "streets-label", "name"))
        assert names and names <= set(server["city"].boundaries["name"])
        driver.save_screenshot(str(SCREENSHOTS / "offline.png"))
        assert driver.execute_script("return GridMap.stats.errors") == []
        assert_local_only(requested_urls(driver) + ["http://127.0.0.1/"] * 11)
    finally:
        httpd.shutdown()
