"""What the field page (``/field``) costs a phone on a slow line: bytes on the wire.

A synthetic city (12 x 10 grids) is published into a temporary SQLite store and the real app is
served on 127.0.0.1 behind a WSGI wrapper that counts every answer's body as sent (gzip
included, worker tile fetches included; HTTP headers are not counted). Debian's chromium, as a
390 x 844 phone, logs in as a field worker and then:

1. **first screen**: ``/field`` until my tasks are shown (page, style, scripts, config, labels,
   categories, my grids, my tasks) - what a field worker waits for before they can work;
2. **with the map**: the first opening of the map tab (MapLibre, its worker and style sheet,
   the tile layers and the tiles of my grids' view), which the page loads only then.

    python benchmarks/field_payload.py

Needs chromium + chromium-driver and selenium (the test extras). The last line is the headline.
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PHONE = {"width": 390, "height": 844, "pixelRatio": 3.0}


class Meter:
    """A WSGI wrapper summing the body bytes of every answer (as sent) since the last take."""

    def __init__(self, app):
        self.app, self.bytes, self.requests, self.lock = app, 0, 0, threading.Lock()
        self.paths: list[str] = []

    def __call__(self, environ, start_response):
        with self.lock:
            self.requests += 1
            self.paths.append(environ.get("PATH_INFO", ""))
        for chunk in self.app(environ, start_response):
            with self.lock:
                self.bytes += len(chunk)
            yield chunk

    def take(self) -> tuple[int, int]:
        with self.lock:
            out = (self.bytes, self.requests)
            self.bytes, self.requests, self.paths = 0, 0, []
        return out


def wait(driver, script: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if driver.execute_script(f"return ({script});"):
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {script}")


def main() -> int:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from synthetic_city import synthetic_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="field-payload-"))
    try:
        app, city = synthetic_app(work / "store.sqlite", 12, 10, 60)
        store = app.extensions["gridmap_store"]
        community = city.grids.iloc[0]["community_code"]
        token = store.create_token("field", name="网格员", grids=(community,))
        store.close()
        meter = Meter(app)
        httpd = make_server("127.0.0.1", 0, meter, threaded=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_port}"

        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-extensions",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            f"--user-data-dir={work / 'profile'}",
        ):
            options.add_argument(flag)
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": PHONE})
        service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.get(base + "/login?next=/field")
            driver.find_element("id", "token").send_keys(token)
            meter.take()  # the login page is not the field page
            driver.find_element("css selector", "button[type=submit]").click()
            wait(driver, "document.body.getAttribute('data-ready') === '1'")
            time.sleep(1.0)
            first, first_n = meter.take()
            driver.find_element("css selector", ".f-tab[data-tab=map]").click()
            wait(driver, "document.body.getAttribute('data-map-ready') === '1'")
            wait(driver, "GridMap.map.areTilesLoaded() && !GridMap.map.isMoving()")
            time.sleep(1.0)
            with_map, map_n = meter.take()
        finally:
            driver.quit()
            httpd.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    kb = 1024
    print(f"first screen (tasks, look-up): {first / kb:.1f} KB in {first_n} answers")
    print(f"opening the map (MapLibre + tiles): {with_map / kb:.1f} KB in {map_n} answers")
    total = first + with_map
    print(
        f"field page: {first / kb:.0f} KB before the worker can act, "
        f"{total / kb:.0f} KB with the map (gzip, on the wire, 390x844)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
