"""What a store keeps of background jobs: the :class:`Job` record and the :class:`JobStore`
protocol every backend fills (SQLite: :mod:`gridmap.store.sqlite.jobs`, PostgreSQL:
:mod:`gridmap.store.postgis.jobs`).

A job's inputs and outputs (an uploaded CSV, a plan's GeoPackage) are bytes in the store's blob
table under ``jobs/<id>/``; :mod:`gridmap.services.jobs` reads and writes them.

>>> from gridmap.store import open_store
>>> store = open_store(":memory:")
>>> job_id = store.create_job("plan", "张三", {"max_households": 450})
>>> store.update_job(job_id, status="running", progress=0.5, message="正在划分")
>>> job = store.job(job_id)
>>> job.status, job.progress, job.params["max_households"], job.started_at is not None
('running', 0.5, 450, True)
>>> store.fail_unfinished_jobs("服务重启"), store.job(job_id).status
(1, 'failed')
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Job:
    """A background job: what it was asked (``params``), how far it got, what it found."""

    id: int
    kind: str  # gridmap.rules.jobs.KINDS
    owner: str  # the name of the token that submitted it
    status: str  # gridmap.rules.jobs.STATES
    progress: float  # 0..1
    message: str  # the current step, for a person
    params: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)
    error: str = ""
    created_at: str = ""
    started_at: str | None = None
    finished_at: str | None = None

    def as_json(self) -> dict:
        return asdict(self)


def job_changes(
    status: str | None = None,
    progress: float | None = None,
    message: str | None = None,
    summary: dict | None = None,
    error: str | None = None,
) -> dict[str, object]:
    """The columns an :meth:`JobStore.update_job` call changes (what is not None), for the
    backends to write.

    >>> job_changes(progress=0.5, message="")
    {'progress': 0.5, 'message': ''}
    """
    given = {
        "status": status,
        "progress": progress,
        "message": message,
        "summary": summary,
        "error": error,
    }
    return {column: value for column, value in given.items() if value is not None}


@runtime_checkable
class JobStore(Protocol):
    """The jobs' storage methods (beside :class:`gridmap.store.base.Store`)."""

    def create_job(self, kind: str, owner: str, params: dict) -> int:
        """A new queued job; returns its id."""

    def job(self, job_id: int) -> Job:
        """The job, or :class:`~gridmap.store.base.NotFound`."""

    def jobs(self, kind: str | None = None, limit: int = 50) -> list[Job]:
        """The newest jobs first (of one kind when given)."""

    def update_job(
        self,
        job_id: int,
        *,
        status: str | None = None,
        progress: float | None = None,
        message: str | None = None,
        summary: dict | None = None,
        error: str | None = None,
    ) -> None:
        """Change what is given. Entering ``running`` stamps ``started_at``; entering a final
        state stamps ``finished_at``. A job already in a final state is never changed again (a
        cancelled job stays cancelled whatever its worker reports after)."""

    def fail_unfinished_jobs(self, error: str) -> int:
        """Mark every queued or running job failed with ``error`` (a server start: their
        workers are gone); returns how many."""
