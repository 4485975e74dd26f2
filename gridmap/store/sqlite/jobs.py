"""The SQLite side of :class:`gridmap.store.jobs.JobStore` (table ``jobs``, migration 4)."""

from __future__ import annotations

import json

from gridmap.rules import jobs as rules
from gridmap.rules.workflow import iso, utc_now
from gridmap.store.base import NotFound
from gridmap.store.jobs import Job, job_changes

_COLUMNS = (
    "id, kind, owner, status, progress, message, params, summary, error, created_at, "
    "started_at, finished_at"
)
_FINAL = tuple(sorted(rules.FINAL))
_UNFINISHED = tuple(sorted(rules.UNFINISHED))


def _job(row) -> Job:
    values = list(row)
    values[6] = json.loads(values[6])
    values[7] = json.loads(values[7])
    return Job(*values)


class SQLiteJobs:
    """Job queries for :class:`gridmap.store.sqlite.SQLiteStore`."""

    def create_job(self, kind: str, owner: str, params: dict) -> int:
        with self.transaction() as tx:
            return tx.execute(
                "INSERT INTO jobs (kind, owner, status, params, created_at) "
                "VALUES (?, ?, 'queued', ?, ?)",
                (kind, owner, json.dumps(params, ensure_ascii=False), iso(utc_now())),
            ).lastrowid

    def job(self, job_id: int) -> Job:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id}")
        return _job(row)

    def jobs(self, kind: str | None = None, limit: int = 50) -> list[Job]:
        where, params = ("WHERE kind=?", [kind]) if kind else ("", [])
        rows = self.conn.execute(
            f"SELECT {_COLUMNS} FROM jobs {where} ORDER BY id DESC LIMIT ?", [*params, limit]
        )
        return [_job(row) for row in rows]

    def update_job(self, job_id: int, **given) -> None:
        changes = job_changes(**given)
        if "summary" in changes:
            changes["summary"] = json.dumps(changes["summary"], ensure_ascii=False)
        status = changes.get("status")
        sets = [f"{column}=?" for column in changes]
        params = list(changes.values())
        now = iso(utc_now())
        if status == "running":
            sets.append("started_at=COALESCE(started_at, ?)")
            params.append(now)
        if status in rules.FINAL:
            sets.append("finished_at=?")
            params.append(now)
        if not sets:
            return
        with self.transaction() as tx:
            if tx.execute("SELECT 1 FROM jobs WHERE id=?", (job_id,)).fetchone() is None:
                raise NotFound(f"no job {job_id}")
            tx.execute(
                f"UPDATE jobs SET {', '.join(sets)} WHERE id=? AND status NOT IN {_FINAL!r}",
                [*params, job_id],
            )

    def fail_unfinished_jobs(self, error: str) -> int:
        with self.transaction() as tx:
            return tx.execute(
                "UPDATE jobs SET status='failed', error=?, finished_at=? "
                f"WHERE status IN {_UNFINISHED!r}",
                (error, iso(utc_now())),
            ).rowcount
