"""Background jobs: a planner's partition run, a clerk's batch geocoding.

A job is a row in the store (:class:`gridmap.store.jobs.Job`) plus its files (blobs under
``jobs/<id>/``). :class:`JobRunner` runs each in a worker process that opens the store by its URL
and writes its progress there, so the web process stays responsive, a page reload finds the job
where it is, several planners can queue jobs, and a server start marks the jobs whose worker is
gone failed (:func:`recover`) — never half-done.

A handler is a function ``run(store, job, progress) -> summary``, named in :data:`HANDLERS` as
``"module:function"`` (a string, so a worker process can import it). It calls
``progress(fraction, message)`` as it goes; that raises :class:`JobCancelled` once the job was
cancelled. Bad input is raised as :class:`ValueError` or :class:`gridmap.errors.InputError` with
a message for a person; the job then fails with that message.

>>> from gridmap.store import open_store
>>> store = open_store(":memory:")
>>> runner = JobRunner(":memory:", handlers={"plan": "gridmap.services.jobs:echo"})
>>> job_id = runner.submit(store, "plan", "张三", {"text": "你好"}, {"in.txt": b"abc"})
>>> runner.wait(job_id, store).status, store.job(job_id).summary
('done', {'text': '你好', 'bytes': 3})
>>> runner.shutdown()
"""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor

from gridmap.errors import InputError
from gridmap.rules import jobs as rules
from gridmap.store import Job, Store, open_store

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
Handler = Callable[[Store, Job, Progress], dict]

HANDLERS: dict[str, str] = {
    "plan": "gridmap.services.plans:run_plan",
    "geocode": "gridmap.services.batch_geocode:run_batch",
}
PROGRESS_EVERY = 0.5  # seconds between progress writes (and cancellation checks)


class JobCancelled(Exception):
    """Raised by ``progress()`` in a job that was cancelled: the handler stops where it is."""


# -- files --------------------------------------------------------------------------------------


def file_key(job_id: int, name: str) -> str:
    return f"jobs/{job_id}/{name}"


def save_file(store: Store, job_id: int, name: str, data: bytes) -> None:
    """Keep ``data`` as the job's file ``name`` (an upload, a result)."""
    store.put_blobs([(file_key(job_id, name), data)])


def read_file(store: Store, job_id: int, name: str) -> bytes | None:
    """The job's file ``name``, or None."""
    return store.get_blob(file_key(job_id, name))


# -- running one job ------------------------------------------------------------------------------


class _Progress:
    """``progress(fraction, message)`` for one job: writes at most every PROGRESS_EVERY
    seconds (a tight loop must not hammer the store) and notices a cancellation."""

    def __init__(self, store: Store, job_id: int):
        self.store, self.job_id = store, job_id
        self.last = 0.0

    def __call__(self, fraction: float, message: str = "") -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY:
            return
        self.last = now
        if self.store.job(self.job_id).status == "cancelled":
            raise JobCancelled
        fraction = min(max(float(fraction), 0.0), 0.99)  # 1.0 is for a finished job
        self.store.update_job(self.job_id, progress=fraction, message=message)


def resolve(kind: str, handlers: Mapping[str, str] | None = None) -> Handler:
    """The handler function of a job kind."""
    module, _, name = (handlers or HANDLERS)[kind].partition(":")
    return getattr(importlib.import_module(module), name)


def execute(store: Store, job_id: int, handlers: Mapping[str, str] | None = None) -> Job:
    """Run a queued job to its end in this process; returns it as it ended."""
    job = store.job(job_id)
    if job.status != "queued":  # cancelled before it started
        return job
    store.update_job(job_id, status="running", progress=0.0, message="开始")
    try:
        summary = resolve(job.kind, handlers)(store, store.job(job_id), _Progress(store, job_id))
    except JobCancelled:
        pass  # the job is cancelled already; whatever the handler made is not published
    except (InputError, ValueError) as error:
        store.update_job(job_id, status="failed", error=str(error))
    except Exception as error:  # a bug: the job fails, the server stays up
        log.exception("job %s (%s) failed", job_id, job.kind)
        store.update_job(job_id, status="failed", error=f"内部错误：{type(error).__name__}")
    else:
        store.update_job(job_id, status="done", progress=1.0, message="完成", summary=summary)
    return store.job(job_id)


def run_job(store_url: str, job_id: int, handlers: Mapping[str, str] | None = None) -> str:
    """A worker process's entry: open the store, run the job, close; returns its status."""
    store = open_store(store_url)
    try:
        return execute(store, job_id, handlers).status
    finally:
        store.dispose()


def recover(store: Store) -> int:
    """At a server start: every job still queued or running lost its worker; fail them."""
    return store.fail_unfinished_jobs(rules.INTERRUPTED)


# -- the runner -----------------------------------------------------------------------------------


class JobRunner:
    """Runs jobs in ``workers`` worker processes (threads for an in-memory store, which
    another process cannot open). Created by the web app; nothing starts until a job does."""

    def __init__(
        self,
        store_url: str,
        workers: int = 1,
        *,
        handlers: Mapping[str, str] | None = None,
        use_threads: bool | None = None,
    ):
        self.store_url = store_url
        self.workers = max(1, int(workers))
        self.handlers = dict(handlers or HANDLERS)
        self.use_threads = store_url == ":memory:" if use_threads is None else use_threads
        self._executor: Executor | None = None
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()

    def _pool(self) -> Executor:
        with self._lock:
            if self._executor is None:
                if self.use_threads:
                    self._executor = ThreadPoolExecutor(self.workers, "gridmap-job")
                else:
                    # spawn, not fork: the web process has threads and open connections
                    context = multiprocessing.get_context("spawn")
                    self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
            return self._executor

    def submit(
        self,
        store: Store,
        kind: str,
        owner: str,
        params: dict,
        files: Mapping[str, bytes] | None = None,
    ) -> int:
        """Queue a job with its input files; returns its id at once."""
        if kind not in self.handlers:
            raise ValueError(f"unknown job kind {kind!r}")
        job_id = store.create_job(kind, owner, params)
        for name, data in (files or {}).items():
            save_file(store, job_id, name, data)
        if self.use_threads:
            future = self._pool().submit(execute, store, job_id, self.handlers)
        else:
            future = self._pool().submit(run_job, self.store_url, job_id, self.handlers)
        self._futures[job_id] = future
        future.add_done_callback(lambda done: self._finished(store, job_id, done))
        return job_id

    def _finished(self, store: Store, job_id: int, future: Future) -> None:
        self._futures.pop(job_id, None)
        if future.cancelled() or future.exception() is None:
            return
        # the worker died (killed, out of memory): the job must not stay "running" for ever
        log.error("job %s: worker failed: %r", job_id, future.exception())
        try:
            store.update_job(job_id, status="failed", error="任务进程异常退出")
        except Exception:  # the store itself is gone (shutdown): recover() does it at start
            log.exception("job %s: could not record the failure", job_id)

    def cancel(self, store: Store, job_id: int) -> Job:
        """Cancel a queued or running job (a finished one stays as it is); returns it."""
        store.update_job(job_id, status="cancelled", message=rules.CANCELLED)
        future = self._futures.get(job_id)
        if future is not None:
            future.cancel()  # a job not started yet never starts
        return store.job(job_id)

    def wait(self, job_id: int, store: Store, timeout: float = 600.0) -> Job:
        """Block until the job ends (the CLI and tests; a browser polls instead)."""
        deadline = time.monotonic() + timeout
        while True:
            job = store.job(job_id)
            if rules.is_final(job.status):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout:g} s")
            time.sleep(0.05)

    def shutdown(self) -> None:
        """Stop taking jobs and stop the workers (their running jobs are failed by the next
        server start: :func:`recover`)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        executor.shutdown(wait=False, cancel_futures=True)
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            process.terminate()  # a partition run must not keep a stopped server alive


def echo(store: Store, job: Job, progress: Progress) -> dict:
    """A job that echoes its params and the size of its file ``in.txt`` (the doctest above)."""
    progress(0.5, "读取文件")
    data = read_file(store, job.id, "in.txt") or b""
    return {**job.params, "bytes": len(data)}


__all__ = [
    "HANDLERS",
    "JobCancelled",
    "JobRunner",
    "execute",
    "read_file",
    "recover",
    "run_job",
    "save_file",
]
