"""Job handlers for tests/test_jobs.py (importable by name, so a worker process can run them)."""

from __future__ import annotations

import os
import time

from gridmap.services.jobs import Progress, read_file, save_file
from gridmap.store import Job, Store


def count_lines(store: Store, job: Job, progress: Progress) -> dict:
    """Count the lines of the uploaded ``in.txt`` and write them back numbered."""
    lines = (read_file(store, job.id, "in.txt") or b"").decode("utf-8").splitlines()
    progress(0.5, "计数")
    numbered = "\n".join(f"{n}\t{line}" for n, line in enumerate(lines, 1))
    save_file(store, job.id, "out.txt", numbered.encode("utf-8"))
    return {"lines": len(lines), "pid": os.getpid()}


def bad_input(store: Store, job: Job, progress: Progress) -> dict:
    raise ValueError("in.txt: row 3: field address: 地址为空")


def crash(store: Store, job: Job, progress: Progress) -> dict:
    return {"ratio": 1 / 0}


def slow(store: Store, job: Job, progress: Progress) -> dict:
    """Runs until cancelled (reports progress every few milliseconds), or 30 s."""
    deadline = time.monotonic() + 30
    step = 0
    while time.monotonic() < deadline:
        step += 1
        progress(min(step / 1000, 0.9), f"第 {step} 步")
        time.sleep(0.01)
    return {"steps": step}


def die(store: Store, job: Job, progress: Progress) -> dict:
    os._exit(9)  # the worker process vanishes (killed, out of memory)
