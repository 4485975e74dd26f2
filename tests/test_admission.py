"""``gridmap serve --active N`` (web/admission.py): a few requests run the app at once, the rest
wait their turn in the order they came; reads and writes queue apart."""

from __future__ import annotations

import threading
import time

import pytest

from web.admission import Admission, TurnGate


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.001)


def test_waiters_get_their_turn_in_arrival_order():
    gate = TurnGate(1)
    entered: list[int] = []

    def request(n: int) -> None:
        with gate:
            entered.append(n)

    gate.__enter__()  # the one turn is taken
    threads = []
    for n in range(8):
        thread = threading.Thread(target=request, args=(n,))
        thread.start()
        threads.append(thread)
        _wait_for(lambda n=n: len(gate._waiting) == n + 1)  # queued before the next arrives
    # A request arriving as the turn frees up must not overtake the queue (a Semaphore lets it).
    late = threading.Thread(target=request, args=(99,))
    gate.__exit__(None, None, None)
    late.start()
    for thread in [*threads, late]:
        thread.join(5)
    assert entered[:8] == list(range(8)) and entered[8] == 99


def test_no_more_than_n_run_at_once_and_every_turn_comes_back():
    gate = TurnGate(3)
    inside, most = 0, 0
    lock = threading.Lock()

    def request() -> None:
        nonlocal inside, most
        with gate:
            with lock:
                inside += 1
                most = max(most, inside)
            time.sleep(0.002)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=request) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert most == 3 and gate.active == 0
    with pytest.raises(RuntimeError), gate:
        raise RuntimeError("a failing request")
    assert gate.active == 0 and gate._free == 3  # its turn came back


def test_a_gate_needs_a_turn():
    with pytest.raises(ValueError):
        TurnGate(0)


def test_reads_pass_while_every_write_turn_waits_for_a_busy_database():
    """Writers stuck on a locked database (up to --busy-timeout) hold the write turns only:
    the map's reads still run, and the queued writer runs once a turn frees up."""
    release = threading.Event()

    def app(environ, start_response):
        if environ["REQUEST_METHOD"] == "POST":
            release.wait(10)  # a write waiting for the database's lock
        start_response("200 OK", [])
        return [environ["REQUEST_METHOD"].encode()]

    admission = Admission(app, 1)

    def call(method: str) -> list[bytes]:
        return admission({"REQUEST_METHOD": method}, lambda *a: None)

    writer = threading.Thread(target=call, args=("POST",))
    writer.start()
    _wait_for(lambda: admission.writes.active == 1)
    queued = threading.Thread(target=call, args=("PUT",))
    queued.start()
    _wait_for(lambda: len(admission.writes._waiting) == 1)
    assert call("GET") == [b"GET"] and call("HEAD") == [b"HEAD"]  # not held up
    release.set()
    writer.join(5)
    queued.join(5)
    assert admission.writes.active == 0 and admission.reads.active == 0


def test_a_streamed_answer_holds_no_turn():
    """An event stream's body is produced while it is sent, after the app call returned: a
    live viewer never keeps a turn from the requests behind it."""

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/event-stream")])

        def events():
            yield b"retry: 1000\n\n"
            yield b"data: {}\n\n"

        return events()

    admission = Admission(app, 1)
    stream = admission({"REQUEST_METHOD": "GET"}, lambda *a: None)
    assert admission.reads.active == 0
    assert next(iter(stream)) == b"retry: 1000\n\n"
