"""The batch geocoding page in a real browser (Debian chromium, the harness of test_browser.py): a
clerk logs in, uploads a GBK CSV with a bad row, watches the progress bar, sees the counts and
the bad row, and downloads the results. Screenshot: build/screenshots/batch-geocode.png."""

from __future__ import annotations

import csv
import io
import random
import threading
from urllib.parse import urlsplit

import pytest
from test_browser import SCREENSHOTS, browser, requested_urls, wait_for  # noqa: F401
from test_browser import pytestmark as browser_marks

from gridmap.geocode.cli import RESULT_COLUMNS

pytestmark = browser_marks
ROWS = 20_000  # matching takes seconds even on a quiet machine: several progress reports


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from synthetic_city import synthetic_app
    from werkzeug.serving import make_server

    db = tmp_path_factory.mktemp("batch-browser") / "store.sqlite"
    app, _city = synthetic_app(db, 6, 5, 0)
    store = app.extensions["gridmap_store"]
    token = store.create_token("viewer", name="街道文员")
    library = store.addresses(store.current_version().id)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{httpd.server_port}", "token": token, "library": library}
    httpd.shutdown()
    app.extensions["gridmap_jobs"].shutdown()


def gbk_upload(path, library) -> None:
    """A clerk's list: Chinese headers, GBK, library addresses (some without the province and
    city), and one row that lost its address (row 5)."""
    rng = random.Random(3)
    lines = ["编号,地址"]
    for number in range(1, ROWS + 1):
        address = rng.choice(library).address
        if number % 3 == 0:
            address = address.replace("浙江省", "").replace("嘉兴市", "")
        lines.append(f"Q{number:05d},{address}")
    lines[4] = "Q00004"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))


def test_a_clerk_uploads_a_gbk_csv_and_downloads_the_results(server, browser, tmp_path):  # noqa: F811
    driver = browser
    base = server["base"]
    driver.set_window_size(1280, 1000)
    driver.get(base + "/batch")
    assert urlsplit(driver.current_url).path == "/login"
    driver.find_element("id", "token").send_keys(server["token"])
    driver.find_element("css selector", "button[type=submit]").click()
    wait_for(driver, "document.body.getAttribute('data-ready') === '1'", timeout=30)
    assert urlsplit(driver.current_url).path == "/batch"
    hint = driver.find_element("id", "gb-hint").text
    assert "20 MB" in hint and "编号" in hint  # the limit as the server states it

    upload = tmp_path / "街道名单.csv"
    gbk_upload(upload, server["library"])
    driver.find_element("id", "gb-file").send_keys(str(upload))
    driver.find_element("id", "gb-submit").click()
    uploaded = wait_for(driver, "GridMap.batch.uploaded", timeout=30)
    assert (uploaded["rows"], uploaded["bad_rows"], uploaded["encoding"]) == (ROWS, 1, "GBK")

    # The bar moves: the page saw the job before it was done, then done at 100%.
    wait_for(driver, "GridMap.batch.job && GridMap.batch.job.status === 'done'", timeout=300)
    seen = driver.execute_script("return GridMap.batch.progressSeen")
    assert seen[-1] == 1.0 and any(0 < value < 1 for value in seen), seen
    assert driver.find_element("id", "gb-progress").get_attribute("value") == "1"
    assert driver.find_element("id", "gb-state").text == "已完成"
    assert driver.find_element("id", "gb-percent").text == "100%"

    counts = driver.find_element("id", "gb-counts").text
    assert f"总行数 {ROWS:,}" in counts and "格式错误 1" in counts and "GBK" in counts
    problem = driver.find_element("css selector", "#gb-problems tr[data-row='5']").text
    assert "address" in problem and "1 field(s)" in problem

    # The download links work in the page's session: UTF-8 with BOM, every row, in order.
    href = driver.find_element("id", "gb-download-results").get_attribute("href")
    text = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {"
        "  const bytes = new Uint8Array(b);"
        "  done([bytes[0], bytes[1], bytes[2], new TextDecoder().decode(b)]);"
        "});",
        href,
    )
    assert text[:3] == [0xEF, 0xBB, 0xBF]
    rows = list(csv.reader(io.StringIO(text[3].lstrip("\ufeff"))))
    assert tuple(rows[0]) == RESULT_COLUMNS
    assert [r[0] for r in rows[1:]] == [f"Q{n:05d}" for n in range(1, ROWS + 1)]
    statuses = [r[-1] for r in rows[1:]]
    assert statuses[3] == "bad_row" and statuses.count("ok") > ROWS * 0.9
    history = driver.find_element("id", "gb-history").text
    assert "街道名单.csv" in history and "已完成" in history

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / "batch-geocode.png"))
    web = [urlsplit(u) for u in requested_urls(driver) if urlsplit(u).scheme in ("http", "https")]
    outside = [u.geturl() for u in web if u.hostname != "127.0.0.1"]
    assert outside == [], outside
