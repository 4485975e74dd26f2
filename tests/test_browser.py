"""The map in a real browser: Debian's chromium (headless) driven through chromedriver.

It loads the page over HTTP from the real app on a synthetic city and checks what a person at the
wall would see: grids drawn, an incident posted through the API appearing live (SSE) within 2 s,
HTML/script in a description staying inert text, and no request leaving 127.0.0.1. Screenshots
go to build/screenshots/ (git-ignored). Skipped, with the reason, where chromium is not installed
(.ci/run installs it, so CI runs it).
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

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[1] / "build" / "screenshots"
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>井盖<b>破损</b>'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()),
        reason="Debian chromium and chromium-driver are not installed "
        "(apt-get install chromium chromium-driver; .ci/run does it)",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from synthetic_city import synthetic_app
    from werkzeug.serving import make_server

    app, city = synthetic_app(tmp_path_factory.mktemp("browser") / "store.sqlite", 12, 10, 60)
    store = app.extensions["gridmap_store"]
    tokens = {
        "planner": store.create_token("planner", name="规划员"),
        "dispatcher": store.create_token("dispatcher", name="调度员"),
    }
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{httpd.server_port}", "tokens": tokens, "city": city}
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
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
        "--window-size=1920,1080",
        "--lang=zh-CN",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    # Every request the page makes, from the DevTools protocol's Network domain.
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
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
    wait_for(driver, "document.body.getAttribute('data-ready') === '1'")
    seen += requested_urls(driver)

    # Grids are drawn: the layer counted them and their SVG paths are in the grid pane.
    grids = wait_for(driver, "GridMap.stats.grids")
    paths = driver.execute_script(
        "return document.querySelectorAll('.leaflet-gm-grid-pane path').length"
    )
    assert grids >= 50 and paths >= 50, (grids, paths)
    assert (
        driver.execute_script("return document.getElementById('gm-city').textContent") == "嘉兴市"
    )
    assert wait_for(driver, "GridMap.stats.counters && GridMap.stats.counters.total") == 60
    assert driver.execute_script("return document.querySelectorAll('#gm-status input').length") == 9
    time.sleep(0.5)  # let the last paint settle before the picture
    driver.save_screenshot(str(SCREENSHOTS / "map.png"))

    # A new incident posted through the API shows up on the open page, without reloading.
    grid = server["city"].grids.iloc[25]
    centre = grid.geometry.centroid
    driver.execute_script("window.__xss = undefined;")
    posted = time.monotonic()
    created = api(
        base,
        server["tokens"]["dispatcher"],
        "/api/incidents",
        {"type": "manhole", "description": PAYLOAD, "lon": centre.x, "lat": centre.y},
    )
    incident_id = created["id"]
    wait_for(driver, f"!!GridMap.incidents.markers[{incident_id}]", timeout=5)
    latency = time.monotonic() - posted
    assert latency < 2.0, f"incident took {latency:.2f}s to appear"
    # Its description arrives as text, markup and all.
    wait_for(driver, f"document.getElementById('gm-feed').textContent.includes({PAYLOAD!r})")

    # Open its popup: the description is shown verbatim and nothing in it ran.
    driver.execute_script(
        f"""var m = GridMap.incidents.markers[{incident_id}];
        GridMap.incidents.cluster.zoomToShowLayer(m, function () {{ m.openPopup(); }});"""
    )
    # innerText: what is rendered on screen (empty until the popup is shown).
    shown = wait_for(
        driver,
        "document.querySelector('.leaflet-popup .gm-desc') && "
        "document.querySelector('.leaflet-popup .gm-desc').innerText",
        timeout=10,
    )
    assert shown == PAYLOAD
    assert (
        driver.execute_script("return document.querySelectorAll('.leaflet-popup img').length") == 0
    )
    # Its history and the dispatcher's buttons load into it; reloads behind it keep it open.
    wait_for(driver, "document.querySelector('.leaflet-popup .gm-steps li')")
    time.sleep(1.0)
    assert driver.execute_script("return document.querySelectorAll('.leaflet-popup').length") == 1
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
        f"GridMap.incidents.markers[{incident_id}].gmProps.status === 'accepted'",
        timeout=5,
    )
    assert driver.execute_script("return window.__xss") is None

    # Filter by grid: only that grid's incidents stay.
    grid_code = created["grid_code"]
    driver.execute_script(
        f"""var box = document.getElementById('gm-grid'); box.value = {grid_code!r};
        box.dispatchEvent(new Event('change'));"""
    )
    wait_for(
        driver,
        f"""Object.keys(GridMap.incidents.markers).length > 0 &&
        Object.values(GridMap.incidents.markers).every(function (m) {{
            return m.gmProps.grid_code === {grid_code!r}; }})""",
    )
    driver.execute_script("document.getElementById('gm-grid-clear').click()")

    # Address search: zoom to the address, its grid highlighted, the match level shown.
    driver.find_element("id", "gm-q").send_keys("嘉兴市南湖区建国路3号")
    driver.find_element("css selector", "#gm-search button").click()
    wait_for(driver, "GridMap.search.highlight && GridMap.stats.lastGeocode")
    result = driver.find_element("id", "gm-search-result").text
    assert "门牌" in result and "100%" in result, result
    assert driver.execute_script("return GridMap.stats.lastGeocode.grid_code") == (
        driver.execute_script(
            "return GridMap.search.highlight.getLayers()[0].feature.properties.grid_code"
        )
    )
    time.sleep(0.8)
    driver.save_screenshot(str(SCREENSHOTS / "map-search.png"))

    # Choropleth switch, heat map and the planner's panel.
    driver.execute_script("document.querySelector('input[value=households]').click()")
    assert "户数" in driver.find_element("id", "gm-legend").text
    driver.execute_script(
        """document.querySelectorAll('#gm-layer-control label').forEach(function (label) {
            if (label.textContent.includes('热力')) label.querySelector('input').click();
        });"""
    )
    wait_for(driver, "GridMap.stats.heatPoints > 0")
    assert driver.find_element("id", "gm-planner").is_displayed()
    time.sleep(0.5)
    driver.save_screenshot(str(SCREENSHOTS / "map-choropleth-heat.png"))

    # Nothing the page did went anywhere but this server.
    seen += requested_urls(driver)
    # (chrome://, data: and blob: URLs are the browser's own; anything on the network counts.)
    network = [url for url in seen if urlsplit(url).scheme in ("http", "https", "ws", "wss", "ftp")]
    hosts = {urlsplit(url).hostname for url in network}
    assert len(network) > 15 and hosts == {"127.0.0.1"}, hosts
    # Map data comes by bounding box and zoom, never as the whole city at once.
    data_calls = [
        urlsplit(url) for url in network if urlsplit(url).path.startswith("/api/layers/")
    ] + [urlsplit(url) for url in network if urlsplit(url).path == "/api/incidents"]
    assert len(data_calls) >= 7
    assert all("bbox=" in call.query and "zoom=" in call.query for call in data_calls)
    errors = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]
    assert errors == []
    assert driver.execute_script("return GridMap.stats.errors") == []
    assert driver.execute_script("return window.__xss") is None
