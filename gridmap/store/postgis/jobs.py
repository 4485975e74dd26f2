"""The PostgreSQL side of :class:`gridmap.store.jobs.JobStore` (table ``jobs``, migration 4)."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from gridmap.rules import jobs as rules
from gridmap.rules.workflow import utc_now
from gridmap.store.base import NotFound
from gridmap.store.jobs import Job, job_changes
from gridmap.store.postgis.loop import iso_text

_COLUMNS = (
    "id, kind, owner, status, progress, message, params, summary, error, "
    f"{iso_text('created_at')}, {iso_text('started_at')}, {iso_text('finished_at')}"
)
_FINAL = ", ".join(f"'{state}'" for state in sorted(rules.FINAL))
_UNFINISHED = ", ".join(f"'{state}'" for state in sorted(rules.UNFINISHED))


class PostGISJobs:
    """Job queries for :class:`gridmap.store.postgis.store.PostGISStore`."""

    def create_job(self, kind: str, owner: str, params: dict) -> int:
        with self.transaction() as tx:
            return tx.execute(
                "INSERT INTO jobs (kind, owner, status, params, created_at) "
                "VALUES (%s, %s, 'queued', %s, %s) RETURNING id",
                (kind, owner, Jsonb(params), utc_now()),
            ).fetchone()[0]

    def job(self, job_id: int) -> Job:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = %s", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job {job_id}")
        return Job(*row)

    def jobs(self, kind: str | None = None, limit: int = 50) -> list[Job]:
        where, params = ("WHERE kind = %s", [kind]) if kind else ("", [])
        with self._conn() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM jobs {where} ORDER BY id DESC LIMIT %s", [*params, limit]
            ).fetchall()
        return [Job(*row) for row in rows]

    def update_job(self, job_id: int, **given) -> None:
        changes = job_changes(**given)
        if "summary" in changes:
            changes["summary"] = Jsonb(changes["summary"])
        status = changes.get("status")
        sets = [f"{column} = %s" for column in changes]
        params = list(changes.values())
        if status == "running":
            sets.append("started_at = coalesce(started_at, now())")
        if status in rules.FINAL:
            sets.append("finished_at = now()")
        if not sets:
            return
        with self.transaction() as tx:
            if tx.execute("SELECT 1 FROM jobs WHERE id = %s", (job_id,)).fetchone() is None:
                raise NotFound(f"no job {job_id}")
            tx.execute(
                f"UPDATE jobs SET {', '.join(sets)} WHERE id = %s AND status NOT IN ({_FINAL})",
                [*params, job_id],
            )

    def fail_unfinished_jobs(self, error: str) -> int:
        with self.transaction() as tx:
            return tx.execute(
                "UPDATE jobs SET status = 'failed', error = %s, finished_at = now() "
                f"WHERE status IN ({_UNFINISHED})",
                (error,),
            ).rowcount
