"""``gridmap serve`` as an operator runs it: waitress in a child process on a free port.

It starts on an empty store (the page says to publish first), announces no server version, and
the live event stream really streams through it (an event arrives while the stream is open).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import webcity

ROOT = Path(__file__).resolve().parents[1]


def _serve_env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT)}


def _serve_command(db: Path | str, port: int, *options: str) -> list[str]:
    """``gridmap serve --db DB --port PORT OPTIONS...`` as this interpreter runs it."""
    serve = ["-m", "gridmap.cli", "serve", "--db", str(db), "--port", str(port)]
    return [sys.executable, *serve, *options]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def serve(tmp_path):
    """Start ``gridmap serve --db <db>``; returns (port, process). Stopped afterwards."""
    started = []

    def start(db: Path | str, *options: str):
        port = _free_port()
        proc = subprocess.Popen(
            _serve_command(db, port, *options),
            cwd=tmp_path,
            env=_serve_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(proc)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited {proc.returncode}: {proc.stdout.read()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return port, proc
            except OSError:
                time.sleep(0.1)
        raise AssertionError("serve did not start listening within 60 s")

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(timeout=10)


def _get(port, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response, response.read()


def test_serve_on_an_empty_store_starts_and_says_publish_first(serve, tmp_path):
    from gridmap.store import open_store

    db = tmp_path / "empty.sqlite"
    token = open_store(db).create_token("viewer", "值班员")
    port, proc = serve(db)
    response, body = _get(port, "/api/config", {"Authorization": f"Bearer {token}"})
    assert response.status == 200
    config = json.loads(body)
    assert config["version"] is None and "gridmap publish" in config["notice"]
    for path in ("/api/config", "/nonexistent"):
        response, _ = _get(port, path)
        server = response.getheader("Server") or ""
        # Neither waitress nor Python nor any version is announced.
        assert not any(word in server.lower() for word in ("waitress", "python", "werkzeug"))
        assert not any(ch.isdigit() for ch in server), server
    proc.terminate()
    out = proc.communicate(timeout=10)[0]
    assert "run `gridmap publish` first" in out and "Traceback" not in out


def test_event_stream_streams_through_the_server(serve, tmp_path):
    from gridmap.services.locating import locate
    from gridmap.store import open_store

    db = tmp_path / "city.sqlite"
    store = open_store(db)
    webcity.publish_city(store)
    token = store.create_token("viewer", "值班员")
    port, _proc = serve(db)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", "/api/stream?max_seconds=15", headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    assert response.status == 200 and response.getheader("Content-Type").startswith(
        "text/event-stream"
    )
    assert response.readline().startswith(b"retry:")  # the first chunk arrives at once
    vid = store.current_version().id
    reported = time.monotonic()
    store.create_incident(
        type="noise",
        description="live",
        lon=120.71,
        lat=30.71,
        location=locate(store, vid, 120.71, 30.71),
        actor="t",
    )
    line = b""
    while not line.startswith(b"data:"):
        line = response.readline()
    waited = time.monotonic() - reported
    assert json.loads(line[5:])["event"] == "created"
    assert waited < 5  # delivered while the stream is open, not when it ends (15 s)
    conn.close()


def test_access_log_stars_tokens_in_the_query(caplog):
    from web.cli import AccessLog

    def app(environ, start_response):
        start_response("201 CREATED", [])
        return [b""]

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/open311/v2/requests.json",
        "QUERY_STRING": "api%5Fkey=s3cret&service_code=noise",
        "REMOTE_ADDR": "10.0.0.1",
    }
    with caplog.at_level("INFO", logger="gridmap.access"):
        AccessLog(app)(environ, lambda status, headers, exc_info=None: None)
    (line,) = caplog.messages
    assert "s3cret" not in line and "api%5Fkey=***" in line and " 201 " in line


def test_answers_arrive_whole_while_a_slow_reader_and_reporters_share_the_server(serve, tmp_path):
    """The server's connections (web.cli: a worker sends its own answer, the main loop only
    what the worker could not send): a 1 MB file read slowly through a small receive buffer
    arrives whole and in order while other clients report over keep-alive connections."""
    import threading

    from gridmap.store import open_store

    db = tmp_path / "city.sqlite"
    store = open_store(db)
    webcity.publish_city(store)
    token = store.create_token("dispatcher", "值班员")
    port, _proc = serve(db)
    big = ROOT / "web" / "static" / "vendor" / "maplibre-gl" / "maplibre-gl.mjs"
    slow = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    slow.sock = socket.socket()
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sock.settimeout(30)
    slow.sock.connect(("127.0.0.1", port))
    slow.request("GET", "/static/vendor/maplibre-gl/maplibre-gl.mjs")
    response = slow.getresponse()
    answers: list[tuple[int, dict]] = []

    def report(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for k in range(8):
            body = {"type": "garbage", "description": f"并发 {n}-{k}", "lon": 120.71, "lat": 30.71}
            conn.request(
                "POST",
                "/api/incidents",
                body=json.dumps(body),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
            answer = conn.getresponse()
            answers.append((answer.status, json.loads(answer.read())))
        conn.close()

    reporters = [threading.Thread(target=report, args=(n,)) for n in range(6)]
    for thread in reporters:
        thread.start()
    received = bytearray()
    while chunk := response.read(16384):
        received += chunk
        time.sleep(0.001)
    for thread in reporters:
        thread.join(30)
    assert response.status == 200 and bytes(received) == big.read_bytes()
    assert len(answers) == 48 and all(status in (200, 201) and a["id"] for status, a in answers)


def _children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _report(port: int, token: str, description: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = {"type": "garbage", "description": description, "lon": 120.71, "lat": 30.71}
    conn.request(
        "POST",
        "/api/incidents",
        body=json.dumps(body, ensure_ascii=False).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    answer = conn.getresponse()
    assert answer.status == 201, answer.read()
    incident_id = json.loads(answer.read())["id"]
    conn.close()
    return incident_id


@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs os.fork")
def test_workers_share_the_port_and_every_report_is_stored_once(serve, store_url):
    """``--workers 2``: two processes answer on one port and take its connections in turn
    (20 kept-alive connections: 10 each, or 11 / 9 on a busy machine; the kernel's split had
    been 19 / 31 for 50);
    reports sent over many connections are each stored exactly once, whichever worker took
    them; SIGTERM stops the workers and the parent, exit 0."""
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    from gridmap.store import IncidentFilter, open_store

    store = open_store(store_url)
    webcity.publish_city(store)
    token = store.create_token("dispatcher", "值班员")
    port, proc = serve(store_url, "--workers", "2")
    deadline = time.monotonic() + 30
    while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(workers) == 2
    answered_by = set()
    for _ in range(100):  # until both are serving: a worker still starting takes no turn
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/meta")
        assert conn.getresponse().read()
        answered_by.add(_owner_of(conn.sock.getsockname(), workers))
        conn.close()
        if len(answered_by) == 2:
            break
    assert answered_by == set(workers)
    held, owners = [], Counter()
    for _ in range(20):  # kept open, as a map page's or a client's keep-alive connection is
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/meta")
        assert conn.getresponse().read()  # answered: a worker holds the connection
        owners[_owner_of(conn.sock.getsockname(), workers)] += 1
        held.append(conn)
    for conn in held:
        conn.close()
    # 10 / 10 when each worker is quick to take its turn; a worker the machine keeps waiting
    # past `patience` lets the other take one (the kernel's split was 12 / 8 in 2 runs of 3)
    assert set(owners) == set(workers) and max(owners.values()) <= 11, owners
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda n: _report(port, token, f"多进程 {n}"), range(40)))
    assert len(set(ids)) == 40
    stored = [
        i.description
        for i in store.incidents(IncidentFilter(types=("garbage",)))
        if i.description.startswith("多进程")
    ]
    assert sorted(stored) == sorted(f"多进程 {n}" for n in range(40))
    proc.terminate()
    out = proc.communicate(timeout=20)[0]
    assert proc.returncode == 0, out
    assert "Traceback" not in out and "2 worker processes" in out
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def _owner_of(local: tuple, pids: list[int]) -> int | None:
    """Which of ``pids`` holds the server end of the TCP connection whose client end is
    ``local`` (matched through /proc/net/tcp inodes)."""
    port_hex = f"{local[1]:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote = fields[2]  # the server side's view: its peer is our client socket
        if remote.endswith(f":{port_hex}") and fields[3] == "01":  # ESTABLISHED
            inode = fields[9]
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed meanwhile
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
    return None


def _serve_until_it_stops(cwd: Path, db: Path, port: int, *options: str):
    """``gridmap serve`` expected to stop by itself (bad input): its exit code and output."""
    return subprocess.run(
        _serve_command(db, port, *options),
        cwd=cwd,
        env=_serve_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(not hasattr(os, "fork"), reason="--workers needs os.fork")
def test_workers_on_a_bad_store_say_so_once_and_exit_2(tmp_path):
    not_a_db = tmp_path / "notes.sqlite"
    not_a_db.write_text("这不是数据库" * 100, encoding="utf-8")
    done = _serve_until_it_stops(tmp_path, not_a_db, _free_port(), "--workers", "3")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "notes.sqlite" in errors[0], done.stderr


def test_a_worker_ahead_leaves_a_new_connection_to_one_behind():
    """AcceptTurns: a worker holding more connections than another leaves the next one to it
    (waitress's listening dispatcher is told to accept nothing yet); the one behind takes it at
    once; and one that waits in vain past ``patience`` takes it itself (a stuck worker holds
    up no one); a worker still starting is waited for by no one."""
    from web.workers import AcceptTurns

    class Listener:  # what AcceptTurns uses of waitress's listening dispatcher
        def __init__(self, connections: int) -> None:
            self._map = dict.fromkeys(range(connections))
            self.accepted = 0

        def readable(self) -> bool:
            return True

        def handle_accept(self) -> None:
            self.accepted += 1
            self._map[len(self._map)] = None  # the new channel joins the loop's map

    turns = AcceptTurns(2, patience=0.2)
    ahead, behind = Listener(5), Listener(3)
    turns.take_turns(0, ahead)
    turns.take_turns(1, behind)
    assert ahead.readable()
    ahead.handle_accept()  # the other is still starting (its loop has not run): no wait
    assert ahead.accepted == 1
    del ahead._map[5]  # that connection closed again
    assert ahead.readable() and behind.readable()  # each counts its connections
    ahead.handle_accept()
    assert ahead.accepted == 1  # left to the worker behind
    behind.handle_accept(), behind.handle_accept()
    assert behind.accepted == 2  # 3 -> 5: level, then ahead by one
    ahead.handle_accept()
    assert ahead.accepted == 2  # level again: either may take it; ahead did (6 against 5)
    behind.handle_accept(), behind.handle_accept()
    assert behind.accepted == 4  # 5 -> 6 -> 7: now behind is ahead, 7 against 6
    start = time.monotonic()
    behind.handle_accept()
    assert behind.accepted == 4  # its turn has passed to the other worker
    while behind.accepted == 4:
        behind.handle_accept()  # the connection stays waiting; the loop comes back to it
    assert time.monotonic() - start >= 0.2  # ... until nobody took it for `patience`


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_port_is_named_and_exits_2(tmp_path, workers):
    """One worker or several, the port is taken the same way (it was a traceback for one)."""
    if workers != "1" and not hasattr(os, "fork"):
        pytest.skip("--workers needs os.fork")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve_until_it_stops(tmp_path, tmp_path / "s.sqlite", port, "--workers", workers)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"127.0.0.1:{port}" in done.stderr and "cannot listen" in done.stderr
