"""Background jobs: the store's job table and the runner that executes jobs in worker processes.

Jobs run in real worker processes (spawned) that open the store by its URL, on both backends.
"""

from __future__ import annotations

import time

import pytest

from gridmap.rules import jobs as rules
from gridmap.services.jobs import JobRunner, execute, read_file, recover
from gridmap.store import NotFound, open_store

HANDLERS = {
    "plan": "tests.jobs_helpers:count_lines",
    "geocode": "tests.jobs_helpers:slow",
}


@pytest.fixture
def store(store_url):
    store = open_store(store_url)
    yield store
    store.dispose()


@pytest.fixture
def runner(store_url):
    runner = JobRunner(store_url, workers=2, handlers=HANDLERS)
    yield runner
    runner.shutdown()


def test_a_new_job_is_queued_with_its_params(store):
    job_id = store.create_job("plan", "规划员", {"max_households": 450, "locks": ["001"]})
    job = store.job(job_id)
    assert (job.kind, job.owner, job.status, job.progress) == ("plan", "规划员", "queued", 0.0)
    assert job.params == {"max_households": 450, "locks": ["001"]}
    assert job.started_at is None and job.finished_at is None and job.created_at


def test_running_and_finishing_stamp_their_times(store):
    job_id = store.create_job("plan", "", {})
    store.update_job(job_id, status="running", progress=0.25, message="划分社区 1/4")
    running = store.job(job_id)
    assert running.started_at and running.finished_at is None
    store.update_job(job_id, status="done", progress=1.0, summary={"grids": 12})
    done = store.job(job_id)
    assert done.finished_at and done.summary == {"grids": 12} and done.message == "划分社区 1/4"


def test_a_final_job_never_changes_again(store):
    job_id = store.create_job("plan", "", {})
    store.update_job(job_id, status="cancelled", message=rules.CANCELLED)
    store.update_job(job_id, status="done", progress=1.0, summary={"late": True})
    job = store.job(job_id)
    assert (job.status, job.progress, job.summary) == ("cancelled", 0.0, {})


def test_unknown_job_is_not_found(store):
    with pytest.raises(NotFound):
        store.job(999)
    with pytest.raises(NotFound):
        store.update_job(999, progress=0.5)


def test_jobs_lists_newest_first_by_kind(store):
    ids = [store.create_job(kind, "", {}) for kind in ("plan", "geocode", "plan")]
    assert [job.id for job in store.jobs()] == ids[::-1]
    assert [job.id for job in store.jobs("plan")] == [ids[2], ids[0]]
    assert len(store.jobs(limit=1)) == 1


def test_a_server_start_fails_the_jobs_left_unfinished(store):
    queued = store.create_job("plan", "", {})
    running = store.create_job("plan", "", {})
    finished = store.create_job("plan", "", {})
    store.update_job(running, status="running")
    store.update_job(finished, status="done", summary={"ok": 1})
    assert recover(store) == 2
    assert store.job(queued).status == store.job(running).status == "failed"
    assert store.job(running).error == rules.INTERRUPTED
    assert store.job(finished).status == "done"


def test_a_job_runs_in_a_worker_process_with_its_files(store, runner):
    import os

    job_id = runner.submit(store, "plan", "规划员", {}, {"in.txt": "甲\n乙\n丙".encode()})
    job = runner.wait(job_id, store, timeout=120)
    assert job.status == "done", job.error
    assert job.progress == 1.0 and job.summary["lines"] == 3
    assert job.summary["pid"] != os.getpid()  # a worker process, not the web process
    assert read_file(store, job_id, "out.txt").decode() == "1\t甲\n2\t乙\n3\t丙"


def test_a_cancelled_job_stops_and_stays_cancelled(store, runner):
    job_id = runner.submit(store, "geocode", "", {})
    for _ in range(2400):  # until the worker has reported progress
        if store.job(job_id).progress > 0:
            break
        time.sleep(0.05)
    assert runner.cancel(store, job_id).status == "cancelled"
    job = runner.wait(job_id, store, timeout=60)
    assert job.status == "cancelled" and job.summary == {}


def test_bad_input_fails_the_job_with_its_message(store):
    job_id = store.create_job("plan", "", {})
    job = execute(store, job_id, {"plan": "tests.jobs_helpers:bad_input"})
    assert (job.status, job.error) == ("failed", "in.txt: row 3: field address: 地址为空")


def test_a_bug_fails_the_job_without_a_traceback_for_the_user(store):
    job_id = store.create_job("plan", "", {})
    job = execute(store, job_id, {"plan": "tests.jobs_helpers:crash"})
    assert (job.status, job.error) == ("failed", "内部错误：ZeroDivisionError")


def test_a_worker_that_dies_fails_its_job(store_url, store):
    runner = JobRunner(store_url, handlers={"plan": "tests.jobs_helpers:die"})
    try:
        job = runner.wait(runner.submit(store, "plan", "", {}), store, timeout=120)
    finally:
        runner.shutdown()
    assert (job.status, job.error) == ("failed", "任务进程异常退出")


def test_an_unknown_kind_is_refused_before_anything_is_stored(store, runner):
    with pytest.raises(ValueError, match="unknown job kind"):
        runner.submit(store, "survey", "", {})
    assert store.jobs() == []


def test_job_states_and_labels_reach_the_browser():
    from gridmap.rules import labels

    assert set(labels.JOB_STATES) == set(rules.STATES)
    assert set(labels.JOB_KINDS) == set(rules.KINDS)
