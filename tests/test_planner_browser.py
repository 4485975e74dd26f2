"""A planner at work in a real browser (Debian chromium, the harness of test_browser.py): log in,
open the workspace, lock a grid by clicking it, start a plan with a changed household band,
watch its progress (across a page reload), see the diff on the map and the per-community report,
publish with a note, roll back to the earlier version. Screenshots: build/screenshots/planner-*.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import pytest
import shapely
from conftest import publish_plan_city
from test_browser import SCREENSHOTS, browser, pytestmark, settled, wait_for

from gridmap.rules.labels import FLAGS, PLAN_DIFF

__all__ = ["browser", "pytestmark"]  # the fixture and marks, shared with test_browser.py


@pytest.fixture(scope="module")
def server(tmp_path_factory, plan_city):
    from werkzeug.serving import make_server

    from gridmap.store import open_store
    from web import create_app

    db = tmp_path_factory.mktemp("planner-browser") / "store.sqlite"
    store = open_store(str(db))
    publish_plan_city(store, plan_city, note="初始划分")
    token = store.create_token("planner", name="规划员")
    store.close()
    app = create_app({"DB": str(db), "SECRET_KEY": "planner-browser", "TESTING": True})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{httpd.server_port}", "token": token, "app": app}
    httpd.shutdown()
    app.extensions["gridmap_jobs"].shutdown()
    app.extensions["gridmap_store"].dispose()


def shot(driver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    time.sleep(0.4)
    driver.save_screenshot(str(SCREENSHOTS / f"planner-{name}.png"))


def text(driver, selector: str) -> str:
    return driver.execute_script(
        "var n = document.querySelector(arguments[0]); return n ? n.textContent : null;", selector
    )


def click(driver, selector: str) -> None:
    driver.execute_script(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'})", selector
    )
    driver.find_element("css selector", selector).click()


def set_value(driver, selector: str, value) -> None:
    field = driver.find_element("css selector", selector)
    field.clear()
    field.send_keys(str(value))


def reloaded_on(driver, version: int, timeout: float = 90.0) -> None:
    """Wait through the page's own reload until it shows grid version ``version``."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    script = (
        "return document.body && document.body.getAttribute('data-ready') === '1' && "
        "document.getElementById('gm-statusbar-version').textContent"
    )
    while time.monotonic() < deadline:
        try:
            if driver.execute_script(script) == f"网格版本 {version}":
                return
        except WebDriverException:
            pass  # the page is being replaced
        time.sleep(0.2)
    pytest.fail(f"the page did not come back on version {version} within {timeout} s")


def page_ready(driver) -> None:
    wait_for(driver, "document.body.getAttribute('data-ready') === '1'", timeout=40)
    wait_for(driver, "GridMap.workspace && GridMap.workspace.started === true", timeout=20)


def test_a_planner_replans_publishes_and_rolls_back(server, browser, plan_city):
    driver = browser
    base = server["base"]
    driver.get(base + "/")
    assert urlsplit(driver.current_url).path == "/login"
    driver.find_element("id", "token").send_keys(server["token"])
    driver.find_element("css selector", "button[type=submit]").click()
    page_ready(driver)
    settled(driver)
    assert text(driver, "#gm-statusbar-version") == "网格版本 1"

    # The workspace: defaults from the server, site categories by their Chinese names.
    click(driver, "#gm-ws-open")
    wait_for(driver, "!document.getElementById('gm-ws').hidden")
    assert (
        driver.execute_script("return document.getElementById('gm-ws-min_households').value")
        == "300"
    )
    categories = text(driver, "#gm-ws-categories")
    assert "医院" in categories and "学校" in categories

    # Lock a grid by clicking it on the map.
    grids = plan_city["result"].grids
    target = grids[grids["kind"] == "comprehensive"].iloc[3]
    centre = shapely.point_on_surface(target.geometry)
    driver.execute_script(
        "GridMap.map.jumpTo({center: [arguments[0], arguments[1]], zoom: 16})", centre.x, centre.y
    )
    settled(driver)
    click(driver, "#gm-ws-lock-mode")
    x, y = driver.execute_script(
        "var p = GridMap.map.project([arguments[0], arguments[1]]); return [p.x, p.y];",
        centre.x,
        centre.y,
    )
    canvas = driver.find_element("css selector", "#gm-map canvas")
    from selenium.webdriver import ActionChains

    width, height = canvas.size["width"], canvas.size["height"]
    ActionChains(driver).move_to_element_with_offset(
        canvas, x - width / 2, y - height / 2
    ).click().perform()
    wait_for(driver, "GridMap.workspace.locks.size === 1")
    assert driver.execute_script("return [...GridMap.workspace.locks]") == [target.grid_code]
    assert target.grid_code in text(driver, "#gm-ws-locks")
    click(driver, "#gm-ws-lock-mode")  # done choosing
    shot(driver, "lock")

    # A changed band, run as a background job; the progress bar follows it.
    set_value(driver, "#gm-ws-min_households", 200)
    set_value(driver, "#gm-ws-max_households", 400)
    click(driver, "#gm-ws-run")
    wait_for(driver, "document.getElementById('gm-ws-job').getAttribute('data-status')")
    plan_id = wait_for(driver, "GridMap.workspace.plan && GridMap.workspace.plan.id")
    shot(driver, "progress")
    # A reload while it runs: the page finds the plan again and keeps following it.
    driver.refresh()
    page_ready(driver)
    wait_for(driver, f"GridMap.workspace.plan && GridMap.workspace.plan.id === {plan_id}")
    # ... with the form as the plan was started (band and lock) and its parameters spelled out.
    assert (
        driver.execute_script("return document.getElementById('gm-ws-max_households').value")
        == "400"
    )
    assert driver.execute_script("return [...GridMap.workspace.locks]") == [target.grid_code]
    assert "户数 200–400" in text(driver, "#gm-ws-params")
    wait_for(
        driver,
        "['done', 'failed'].includes("
        "document.getElementById('gm-ws-job').getAttribute('data-status'))",
        timeout=180,
    )
    assert text(driver, "#gm-ws-job .gm-ws-status") == driver.execute_script(
        "return GridMap.meta.labels.job_states.done"
    )
    assert (
        driver.execute_script("return document.getElementById('gm-ws-bar-fill').style.width")
        == "100%"
    )

    # The diff: counts by status with the server's labels, the report per community.
    wait_for(driver, "GridMap.workspace.diff && GridMap.workspace.diff.grids.length > 0")
    diff = driver.execute_script("return GridMap.workspace.diff")
    assert target.grid_code in diff["kept"]  # the lock held
    assert diff["counts"]["changed"] + diff["counts"]["new"] > 0
    counts = text(driver, "#gm-ws-counts")
    for status, name in PLAN_DIFF.items():
        assert f"{name} {diff['counts'][status]}" in counts.replace(",", "")
    rows = driver.execute_script(
        "return document.querySelectorAll('#gm-ws-report tbody tr').length"
    )
    assert rows == grids["community_code"].nunique()
    flags = text(driver, "#gm-ws-report")
    assert any(label in flags for label in FLAGS.values())
    changes = driver.execute_script(
        "return document.querySelectorAll('#gm-ws-changes li[data-status]').length"
    )
    assert changes == sum(1 for g in diff["grids"] if g["status"] != "kept")

    # The plan on the map beside the current version, coloured by status.
    click(driver, "#gm-ws-preview")
    wait_for(driver, "GridMap.workspace.features && GridMap.workspace.features.length > 0")
    driver.execute_script(
        "var b = GridMap.tilesInfo.bounds; GridMap.map.fitBounds([[b[0], b[1]], [b[2], b[3]]],"
        " {padding: GridMap.padding(), animate: false})"
    )
    settled(driver)
    drawn = driver.execute_script(
        "return [...new Set(GridMap.map.queryRenderedFeatures({layers: ['ws-plan-fill']})"
        ".map(function (f) { return f.properties.status; }))]"
    )
    assert "kept" in drawn and ({"changed", "new"} & set(drawn)), drawn
    assert (
        driver.execute_script(
            "return GridMap.map.queryRenderedFeatures({layers: ['grids-line']}).length"
        )
        > 0
    )
    shot(driver, "diff")

    # Publish with a note: the page reloads on version 2.
    click(driver, "#gm-ws-note")
    set_value(driver, "#gm-ws-note", "2027年度网格调整（户数200-400）")
    click(driver, "#gm-ws-publish")
    reloaded_on(driver, 2)
    page_ready(driver)
    wait_for(
        driver, "document.querySelector('#gm-ws-versions li[data-version=\"2\"].gm-ws-current')"
    )
    assert "2027年度网格调整" in text(driver, "#gm-ws-versions")
    wait_for(driver, "document.getElementById('gm-ws-published')")
    assert text(driver, "#gm-ws-published") == "已发布为第 2 版"
    # The page came back with the history in view (what the publish changed).
    assert driver.execute_script(
        "var r = document.getElementById('gm-ws-history').getBoundingClientRect();"
        "return r.top >= 0 && r.top < window.innerHeight;"
    )
    settled(driver)
    shot(driver, "published")

    # Roll back: version 1 is current again.
    click(driver, '#gm-ws-versions li[data-version="1"] .gm-ws-activate')
    driver.switch_to.alert.accept()
    reloaded_on(driver, 1)
    page_ready(driver)
    wait_for(
        driver, "document.querySelector('#gm-ws-versions li[data-version=\"1\"].gm-ws-current')"
    )
    settled(driver)
    shot(driver, "rolled-back")
    errors = driver.execute_script("return GridMap.stats.errors")
    assert not [e for e in errors if "失败" in e], errors
