"""``gridmap serve --workers N``: N server processes answering on one listening socket.

One process runs Python code on one core at a time (the interpreter lock), so a single
``gridmap serve`` tops out at one core however many threads it has. With ``--workers N`` the
command binds N sockets to the port (``SO_REUSEPORT``), then forks N processes that each build
the app and serve one of them: the kernel spreads the connections over the workers. Everything
the workers share lives in the store (incidents, the event table the streams poll, sessions'
secret, tokens, jobs); what each keeps in memory is a cache of it (the geocoder of the
published version: memory times N).

The parent only watches: SIGTERM or Ctrl-C stops every worker; a worker that dies stops the rest
and the command exits with its code (a service manager restarts the whole server), so a server
never runs on fewer workers than it was started with without saying so. Unix only (``os.fork``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import tempfile
import traceback
from collections.abc import Callable
from functools import partial
from pathlib import Path

import click

from gridmap.errors import InputError


def listen(host: str, port: int, count: int, backlog: int = 1024) -> list[socket.socket]:
    """One listening socket per worker on the same port (``SO_REUSEPORT``): the kernel spreads
    new connections over them evenly. (One shared socket let whichever worker woke first take
    every connection of a burst: 35 of 50 clients on one worker, 15 on the other.)

    A second server on a port in use is refused, however many workers either has: a first
    socket is bound without ``SO_REUSEPORT`` (which a listener already there refuses, even one
    that shares its port with its siblings) and closed before the shared ones are bound. Without
    it, a second ``serve --workers 2`` joined the first and took half of its connections.
    InputError naming the address when it is taken.
    """
    sockets: list[socket.socket] = []
    shared = count > 1
    try:
        if shared:
            with socket.create_server((host, port), backlog=backlog) as probe:
                port = probe.getsockname()[1]  # port 0: the one the probe got
        for _ in range(count):
            sockets.append(socket.create_server((host, port), backlog=backlog, reuse_port=shared))
    except (OSError, ValueError) as error:
        for sock in sockets:
            sock.close()
        reason = getattr(error, "strerror", None) or str(error)
        raise InputError.one(f"{host}:{port}", f"cannot listen: {reason}") from None
    return sockets


def run_workers(
    listeners: list[socket.socket], serve_one: Callable[[int, socket.socket], None]
) -> int:
    """Fork a process per listening socket running ``serve_one(index, its socket)`` (the
    others closed in it); wait for them; the exit code.

    (The parent keeps every listening socket open, so a connection the kernel gives a worker
    that has just died waits for the shutdown that follows instead of being refused.)

    0 when stopped by SIGTERM/SIGINT; otherwise the code of the first worker that stopped by
    itself: 2 for bad input, whose problems the parent prints once (every worker meets the
    same ones; the first to stop leaves them in a file, since the others are stopped before
    they could say anything); a signal's -N becomes 1.
    """
    sys.stdout.flush()  # a child must not print the parent's buffered lines again
    sys.stderr.flush()
    with tempfile.TemporaryDirectory(prefix="gridmap-workers-") as said:
        children: dict[int, int] = {}
        for index, listener in enumerate(listeners):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child (tests/test_serve.py drives it)
                for other in listeners:
                    if other is not listener:
                        other.close()  # each worker answers on its own socket
                os._exit(_child(partial(serve_one, index, listener), Path(said, str(index))))
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
