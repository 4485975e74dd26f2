"""``gridmap serve --workers N``: N server processes answering on one listening socket.

One process runs Python code on one core at a time (the interpreter lock), so a single
``gridmap serve`` tops out at one core however many threads it has. With ``--workers N`` the
command binds the port once, then forks N processes that each build the app and serve the same
socket, taking new connections in turn (:class:`AcceptTurns`: the worker holding the fewest
connections takes the next). Everything the workers share lives in the store (incidents, the
event table the streams poll, sessions' secret, tokens, jobs); what each keeps in memory is a
cache of it (the geocoder of the published version: memory times N).

The parent only watches: SIGTERM or Ctrl-C stops every worker; a worker that dies stops the rest
and the command exits with its code (a service manager restarts the whole server), so a server
never runs on fewer workers than it was started with without saying so. Unix only (``os.fork``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from functools import partial
from multiprocessing.sharedctypes import RawArray
from pathlib import Path

import click

from gridmap.errors import InputError


def listen(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """The server's listening socket, shared by every worker. InputError naming the address
    when it is taken (the same clear error for one worker as for several)."""
    try:
        return socket.create_server((host, port), backlog=backlog)
    except (OSError, ValueError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError.one(f"{host}:{port}", f"cannot listen: {reason}") from None


class AcceptTurns:
    """Which worker takes a new connection: one holding no more connections than any other.

    Every worker watches the one listening socket, and a keep-alive connection stays with the
    worker that accepted it. Left to the kernel, the split was luck: with a socket each
    (``SO_REUSEPORT``), 50 clients came out 19 / 31 and 24 / 26, and the clients of the larger
    half waited 1.5 times as long (a report p95 of 150 ms where the smaller half's was 100);
    with one socket and no turns, whichever worker woke first took a whole burst (35 / 15).
    Here each worker keeps its count of open connections in memory shared with the others
    (counted before each turn of its loop and after each accept); a worker ahead of another
    leaves a waiting connection to it, unless nobody has taken it for ``patience`` seconds (a
    stuck worker holds up no one). A worker still starting (building its app) counts as
    nobody: until its loop runs, the others take every connection without waiting for it.
    """

    NOT_SERVING = -1

    def __init__(self, workers: int, patience: float = 0.25) -> None:
        # Made before the fork: the workers share these counts (shared memory, no lock: each
        # writes only its own).
        self._open = RawArray(ctypes.c_long, [self.NOT_SERVING] * workers)
        self.patience = patience

    def take_turns(self, index: int, listener) -> None:
        """Make waitress's listening dispatcher ``listener``, in worker ``index``, accept in
        turn with the other workers."""
        connections = listener._map  # every dispatcher of this worker's loop, as many in each
        readable, accept = listener.readable, listener.handle_accept
        waiting_since = last_left = 0.0

        def counted_readable() -> bool:
            self._open[index] = len(connections)
            return readable()

        def accept_in_turn() -> None:
            nonlocal waiting_since, last_left
            serving = [n for i, n in enumerate(self._open) if i != index and n >= 0]
            if serving and len(connections) > min(serving):
                now = time.monotonic()
                if now - last_left > 0.02:  # a new wait, not the same connection again
                    waiting_since = now
                last_left = now
                if now - waiting_since < self.patience:
                    time.sleep(0.001)  # the socket stays readable: do not spin on it
                    return
            accept()
            self._open[index] = len(connections)

        listener.readable = counted_readable
        listener.handle_accept = accept_in_turn


def run_workers(count: int, serve_one: Callable[[int, AcceptTurns], None]) -> int:
    """Fork ``count`` processes running ``serve_one(index, turns)`` (the listening socket is
    inherited; ``turns`` is their :class:`AcceptTurns`); wait for them; the exit code.

    0 when stopped by SIGTERM/SIGINT; otherwise the code of the first worker that stopped by
    itself: 2 for bad input, whose problems the parent prints once (every worker meets the
    same ones; the first to stop leaves them in a file, since the others are stopped before
    they could say anything); a signal's -N becomes 1.
    """
    sys.stdout.flush()  # a child must not print the parent's buffered lines again
    sys.stderr.flush()
    turns = AcceptTurns(count)
    with tempfile.TemporaryDirectory(prefix="gridmap-workers-") as said:
        children: dict[int, int] = {}
        for index in range(count):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child (tests/test_serve.py drives it)
                os._exit(_child(partial(serve_one, index, turns), Path(said, str(index))))
            children[pid] = index
        return _watch(children, Path(said))


def _watch(children: dict[int, int], said: Path) -> int:
    """Wait for the workers (see :func:`run_workers`); the exit code."""
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True
        _signal_all(children)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    code = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid)
        exit_code = os.waitstatus_to_exitcode(status)
        if stopping:
            continue
        stopping = True
        code = exit_code if exit_code > 0 else 1
        _signal_all(children)
        problems = said / str(index)
        if exit_code == 2 and problems.exists():
            for problem in json.loads(problems.read_text(encoding="utf-8")):
                click.echo(f"error: {problem}", err=True)
        else:
            click.echo(
                f"error: worker {index} (pid {pid}) stopped with exit code {exit_code}: "
                "stopping the others",
                err=True,
            )
    return code


def _signal_all(children: dict[int, int]) -> None:
    for pid in children:
        with contextlib.suppress(ProcessLookupError):  # already gone
            os.kill(pid, signal.SIGTERM)


def _child(serve: Callable[[], None], said: Path) -> int:  # pragma: no cover - the child
    """Run one worker; its exit code. SIGTERM stops it as Ctrl-C does (waitress shuts down its
    threads, the app's background jobs stop). Bad input is left in ``said`` for the parent."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    code = 0
    try:
        serve()
    except InputError as error:
        said.write_text(json.dumps([str(p) for p in error.problems]), encoding="utf-8")
        code = 2
    except KeyboardInterrupt:
        code = 0
    except SystemExit as error:
        code = error.code if isinstance(error.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def _interrupt(signum, frame) -> None:  # pragma: no cover - child
    raise KeyboardInterrupt
