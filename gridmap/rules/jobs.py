"""Background jobs (a planner's partition run, a clerk's batch geocoding): their states.

One home for the state names; their Chinese labels are in :mod:`gridmap.rules.labels`
(``JOB_STATES``) and reach the browser through ``GET /api/meta``.

>>> STATES
('queued', 'running', 'done', 'failed', 'cancelled')
>>> sorted(UNFINISHED), is_final("cancelled")
(['queued', 'running'], True)
"""

from __future__ import annotations

STATES: tuple[str, ...] = ("queued", "running", "done", "failed", "cancelled")
UNFINISHED = frozenset({"queued", "running"})
FINAL = frozenset(STATES) - UNFINISHED
KINDS: tuple[str, ...] = ("plan", "geocode")

# What a job that a server restart interrupted says (the job is failed, nothing half-published).
INTERRUPTED = "服务重启，任务中断，请重新提交"
CANCELLED = "已取消"


def is_final(status: str) -> bool:
    """Whether a job in ``status`` will not change any more."""
    return status in FINAL
