"""The PostgreSQL side of :class:`gridmap.store.loop.LoopStore` (taxonomy, duplicates,
departments, follow-ups, escalation, staff, patrols, evaluation counts).

A mixin :class:`PostGISStore` inherits; same tables as :mod:`gridmap.store.sqlite.loop` with
PostgreSQL types (``timestamptz``, arrays), its own migration list in ``loop_schema_version``,
applied at the first loop call under an advisory lock. Every rule stays in :mod:`gridmap.rules`.
"""

from __future__ import annotations

import threading

import psycopg

from gridmap.rules.kpi import EvaluationCounts
from gridmap.rules.taxonomy import Taxonomy
from gridmap.rules.workflow import FINAL_STATES, iso, parse_iso, utc_now
from gridmap.store.base import NotFound
from gridmap.store.loop import (
    Department,
    DuplicateReport,
    FollowUp,
    IncidentLoop,
    Overdue,
    StaffMember,
    TaxonomyLimits,
    taxonomy_json,
)

LOOP_LOCK = 0x6C6F6F70  # "loop": advisory lock key of the loop's migrations
_FINAL = ", ".join(f"'{state}'" for state in sorted(FINAL_STATES))

LOOP_MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE loop_settings (key text PRIMARY KEY, value text NOT NULL);
        CREATE TABLE duplicate_reports (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            incident_id bigint NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            description text NOT NULL,
            address text NOT NULL DEFAULT '',
            lon double precision NOT NULL,
            lat double precision NOT NULL,
            reporter text NOT NULL DEFAULT '',
            source text NOT NULL DEFAULT 'api',
            at timestamptz NOT NULL,
            split_into bigint REFERENCES incidents(id) ON DELETE SET NULL
        );
        CREATE INDEX duplicate_reports_incident ON duplicate_reports (incident_id, split_into);
        """,
    ),
    (
        2,
        """
        CREATE TABLE departments (
            code text PRIMARY KEY,
            name text NOT NULL UNIQUE,
            level text NOT NULL DEFAULT 'district',
            created_at timestamptz NOT NULL
        );
        CREATE TABLE token_departments (
            token_id bigint PRIMARY KEY REFERENCES tokens(id) ON DELETE CASCADE,
            department_code text NOT NULL REFERENCES departments(code)
        );
        CREATE TABLE incident_loop (
            incident_id bigint PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
            department text REFERENCES departments(code),
            escalation_level integer NOT NULL DEFAULT 0,
            escalated_due timestamptz
        );
        CREATE INDEX incident_loop_department ON incident_loop (department);
        CREATE TABLE follow_ups (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            incident_id bigint NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            method text NOT NULL,
            satisfied boolean NOT NULL,
            note text NOT NULL DEFAULT '',
            actor text NOT NULL DEFAULT '',
            at timestamptz NOT NULL
        );
        CREATE INDEX follow_ups_incident ON follow_ups (incident_id, id);
        CREATE TABLE staff (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name text NOT NULL,
            role text NOT NULL,
            phone text NOT NULL DEFAULT '',
            grids text[] NOT NULL DEFAULT '{}'
        );
        CREATE TABLE staff_grids (
            staff_id bigint NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
            code text NOT NULL,
            PRIMARY KEY (code, staff_id)
        );
        """,
    ),
    (
        3,
        """
        CREATE TABLE patrols (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            actor text NOT NULL,
            lon double precision NOT NULL,
            lat double precision NOT NULL,
            grid_code text,
            community_code text,
            street_code text,
            district_code text,
            at timestamptz NOT NULL
        );
        CREATE INDEX patrols_at ON patrols (at, grid_code);
        """,
    ),
]

_EVALUATION_UNITS = {
    "grid": "i.grid_code",
    "community": "i.community_code",
    "street": "i.street_code",
    "district": "i.district_code",
    "department": "l.department",
}


def iso_text(column: str) -> str:
    """SQL turning a timestamptz column into the protocol's UTC ISO text."""
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


# Reads of the incidents given as an array (%s), shared by the one-by-one methods and the
# pipelined incident_detail of gridmap.store.postgis.store.
DUPLICATE_COUNTS_SQL = (
    "SELECT incident_id, count(*) FROM duplicate_reports WHERE split_into IS NULL "
    "AND incident_id = ANY(%s) GROUP BY incident_id"
)
# the fields of IncidentLoop and FollowUp, in order
LOOP_COLUMNS = f"incident_id, department, escalation_level, {iso_text('escalated_due')}"
FOLLOW_UP_COLUMNS = f"id, incident_id, method, satisfied, note, actor, {iso_text('at')}"
INCIDENT_LOOPS_SQL = f"SELECT {LOOP_COLUMNS} FROM incident_loop WHERE incident_id = ANY(%s)"
FOLLOW_UPS_SQL = f"SELECT {FOLLOW_UP_COLUMNS} FROM follow_ups WHERE incident_id = %s ORDER BY id"


class PostGISLoop(TaxonomyLimits):
    """Loop tables and queries for :class:`gridmap.store.postgis.store.PostGISStore`."""

    _loop_migrated = False
    _loop_lock = threading.Lock()

    def _ensure_loop(self) -> None:
        if self._loop_migrated:
            return
        with self._loop_lock, self.transaction() as tx:
            tx.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema())::int)", (LOOP_LOCK,)
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS loop_schema_version "
                "(version integer PRIMARY KEY, applied_at timestamptz NOT NULL)"
            )
            done = {r[0] for r in tx.execute("SELECT version FROM loop_schema_version")}
            for number, script in LOOP_MIGRATIONS:
                if number not in done:
                    tx.execute(script)
                    tx.execute("INSERT INTO loop_schema_version VALUES (%s, now())", (number,))
        self._loop_migrated = True

    def _loop_read(self, sql: str, params=()) -> list[tuple]:
        self._ensure_loop()
        with self._conn() as conn:
            return conn.execute(sql, params).fetchall()

    def _loop_tx(self):
        self._ensure_loop()
        return self.transaction()

    # -- taxonomy ------------------------------------------------------------------------------

    _REVISION_SQL = "SELECT value FROM loop_settings WHERE key = 'taxonomy_revision'"

    def _taxonomy_revision(self) -> str | None:
        rows = self._loop_read(self._REVISION_SQL)
        return rows[0][0] if rows else None

    def _taxonomy_text(self) -> str:
        return self._loop_read("SELECT value FROM loop_settings WHERE key = 'taxonomy'")[0][0]

    def save_taxonomy(self, taxonomy: Taxonomy, actor: str = "") -> None:
        with self._loop_tx() as tx:
            tx.execute("LOCK TABLE loop_settings IN EXCLUSIVE MODE")
            previous = tx.execute(
                "SELECT value FROM loop_settings WHERE key = 'taxonomy_revision'"
            ).fetchone()
            number = int(previous[0].split(":")[0]) + 1 if previous else 1
            for key, value in (
                ("taxonomy", taxonomy_json(taxonomy)),
                ("taxonomy_revision", f"{number}:{iso(utc_now())}:{actor}"),
            ):
                tx.execute(
                    "INSERT INTO loop_settings VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (key, value),
                )

    # -- duplicates ----------------------------------------------------------------------------

    _DUPLICATE_SQL = (
        "SELECT id, incident_id, description, address, lon, lat, reporter, source, "
        f"{iso_text('at')} FROM duplicate_reports"
    )

    def add_duplicate(
        self,
        incident_id: int,
        *,
        description: str,
        address: str,
        lon: float,
        lat: float,
        reporter: str,
        source: str,
        at: str,
    ) -> int:
        with self._loop_tx() as tx:
            return tx.execute(
                "INSERT INTO duplicate_reports (incident_id, description, address, lon, lat, "
                "reporter, source, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (incident_id, description, address, lon, lat, reporter, source, parse_iso(at)),
            ).fetchone()[0]

    def duplicates(self, incident_id: int) -> list[DuplicateReport]:
        rows = self._loop_read(
            f"{self._DUPLICATE_SQL} WHERE incident_id = %s AND split_into IS NULL ORDER BY id",
            (incident_id,),
        )
        return [DuplicateReport(*r) for r in rows]

    def duplicate_counts(self, incident_ids: list[int]) -> dict[int, int]:
        if not incident_ids:
            return {}
        rows = self._loop_read(DUPLICATE_COUNTS_SQL, ([int(i) for i in incident_ids],))
        return {r[0]: r[1] for r in rows}

    def unlink_duplicate(self, duplicate_id: int, split_into: int) -> DuplicateReport:
        with self._loop_tx() as tx:
            row = tx.execute(
                f"{self._DUPLICATE_SQL} WHERE id = %s AND split_into IS NULL FOR UPDATE",
                (duplicate_id if 0 < duplicate_id < 2**63 else 0,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no linked duplicate report {duplicate_id}")
            tx.execute(
                "UPDATE duplicate_reports SET split_into = %s WHERE id = %s",
                (split_into, duplicate_id),
            )
        return DuplicateReport(*row)

    # -- departments ---------------------------------------------------------------------------

    def add_department(self, code: str, name: str, level: str = "district") -> None:
        try:
            with self._loop_tx() as tx:
                tx.execute(
                    "INSERT INTO departments VALUES (%s, %s, %s, now())", (code, name, level)
                )
        except psycopg.errors.UniqueViolation:
            raise ValueError(f"a department with code {code!r} or name {name!r} exists") from None

    def departments(self) -> list[Department]:
        rows = self._loop_read("SELECT code, name, level FROM departments ORDER BY code")
        return [Department(*r) for r in rows]

    def department(self, code_or_name: str) -> Department | None:
        rows = self._loop_read(
            "SELECT code, name, level FROM departments WHERE code = %s OR name = %s "
            "ORDER BY (code = %s) DESC LIMIT 1",
            (code_or_name, code_or_name, code_or_name),
        )
        return Department(*rows[0]) if rows else None

    def bind_token_department(self, token_id: int, code: str) -> None:
        with self._loop_tx() as tx:
            tx.execute(
                "INSERT INTO token_departments VALUES (%s, %s) ON CONFLICT (token_id) "
                "DO UPDATE SET department_code = excluded.department_code",
                (token_id, code),
            )

    def token_department(self, token_id: int) -> str | None:
        rows = self._loop_read(
            "SELECT department_code FROM token_departments WHERE token_id = %s", (token_id,)
        )
        return rows[0][0] if rows else None

    # -- the loop's state of incidents ---------------------------------------------------------

    def incident_loops(self, incident_ids: list[int]) -> dict[int, IncidentLoop]:
        out = {i: IncidentLoop(i, None, 0, None) for i in incident_ids}
        if incident_ids:
            rows = self._loop_read(INCIDENT_LOOPS_SQL, ([int(i) for i in incident_ids],))
            out.update({r[0]: IncidentLoop(*r) for r in rows})
        return out

    def set_department(self, incident_id: int, code: str | None) -> None:
        with self._loop_tx() as tx:
            tx.execute(
                "INSERT INTO incident_loop (incident_id, department) VALUES (%s, %s) "
                "ON CONFLICT (incident_id) DO UPDATE SET department = excluded.department",
                (incident_id, code),
            )

    def loop_incident_ids(
        self, department: str | None = None, escalated: bool | None = None
    ) -> list[int]:
        sql, params = "SELECT incident_id FROM incident_loop WHERE true", []
        if department is not None:
            sql += " AND department = %s"
            params.append(department)
        if escalated is not None:
            sql += " AND escalation_level > 0" if escalated else " AND escalation_level = 0"
        return [r[0] for r in self._loop_read(sql + " ORDER BY incident_id", params)]

    def add_follow_up(
        self, incident_id: int, method: str, satisfied: bool, note: str, actor: str, at: str
    ) -> int:
        with self._loop_tx() as tx:
            return tx.execute(
                "INSERT INTO follow_ups (incident_id, method, satisfied, note, actor, at) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (incident_id, method, satisfied, note, actor, parse_iso(at)),
            ).fetchone()[0]

    def follow_ups(self, incident_id: int) -> list[FollowUp]:
        rows = self._loop_read(FOLLOW_UPS_SQL, (incident_id,))
        return [FollowUp(*r) for r in rows]

    def overdue_unescalated(self, now: str) -> list[Overdue]:
        rows = self._loop_read(
            f"SELECT i.id, i.status, {iso_text('i.due_at')}, coalesce(l.escalation_level, 0) "
            "FROM incidents i LEFT JOIN incident_loop l ON l.incident_id = i.id "
            f"WHERE i.status NOT IN ({_FINAL}) AND i.due_at IS NOT NULL AND i.due_at < %s "
            "AND (l.escalated_due IS NULL OR l.escalated_due <> i.due_at) ORDER BY i.id",
            (parse_iso(now),),
        )
        return [Overdue(*r) for r in rows]

    def record_escalation(
        self, incident_id: int, due_at: str, level: int, at: str, note: str
    ) -> bool:
        due = parse_iso(due_at)
        with self._loop_tx() as tx:
            row = tx.execute(
                "SELECT i.status, i.due_at, l.escalated_due FROM incidents i LEFT JOIN "
                "incident_loop l ON l.incident_id = i.id WHERE i.id = %s FOR UPDATE OF i",
                (incident_id,),
            ).fetchone()
            if row is None or row[1] != due or row[2] == due:
                return False  # moved on meanwhile, or escalated by another sweeper
            tx.execute(
                "INSERT INTO incident_loop (incident_id, escalation_level, escalated_due) "
                "VALUES (%s, %s, %s) ON CONFLICT (incident_id) DO UPDATE SET "
                "escalation_level = excluded.escalation_level, "
                "escalated_due = excluded.escalated_due",
                (incident_id, level, due),
            )
            self._event_lock(tx)
            tx.execute(
                "INSERT INTO incident_events (incident_id, event, action, from_state, to_state, "
                "actor, at, note, late) VALUES (%s, 'escalated', 'escalate', %s, %s, 'system', "
                "%s, %s, true)",
                (incident_id, row[0], row[0], parse_iso(at), note),
            )
        return True

    # -- grid staff ----------------------------------------------------------------------------

    def replace_staff(self, members: list[StaffMember]) -> int:
        with self._loop_tx() as tx:
            tx.execute("DELETE FROM staff_grids")
            tx.execute("DELETE FROM staff")
            for m in members:
                sid = tx.execute(
                    "INSERT INTO staff (name, role, phone, grids) VALUES (%s, %s, %s, %s) "
                    "RETURNING id",
                    (m.name, m.role, m.phone, list(m.grids)),
                ).fetchone()[0]
                for code in dict.fromkeys(m.grids):
                    tx.execute("INSERT INTO staff_grids VALUES (%s, %s)", (sid, code))
        return len(members)

    def staff(self, grid: str | None = None) -> list[StaffMember]:
        sql = "SELECT s.id, s.name, s.role, s.phone, s.grids FROM staff s"
        params: list = []
        if grid is not None:
            # A member covers a code when one of theirs lies under it or it lies under theirs.
            sql += (
                " WHERE s.id IN (SELECT staff_id FROM staff_grids WHERE "
                "starts_with(code, %s) OR starts_with(%s, code))"
            )
            params += [grid, grid]
        rows = self._loop_read(sql + " ORDER BY s.id", params)
        return [StaffMember(r[0], r[1], r[2], r[3], tuple(r[4])) for r in rows]

    # -- patrols and evaluation ----------------------------------------------------------------

    def add_patrol(self, actor: str, lon: float, lat: float, location, at: str) -> int:
        with self._loop_tx() as tx:
            return tx.execute(
                "INSERT INTO patrols (actor, lon, lat, grid_code, community_code, street_code, "
                "district_code, at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                (
                    actor,
                    lon,
                    lat,
                    location.grid_code,
                    location.community_code,
                    location.street_code,
                    location.district_code,
                    parse_iso(at),
                ),
            ).fetchone()[0]

    def patrolled_grids(self, since: str, until: str) -> list[str]:
        rows = self._loop_read(
            "SELECT DISTINCT grid_code FROM patrols WHERE at >= %s AND at < %s "
            "AND grid_code IS NOT NULL ORDER BY grid_code",
            (parse_iso(since), parse_iso(until)),
        )
        return [r[0] for r in rows]

    def evaluation_counts(self, level: str, since: str, until: str) -> list[EvaluationCounts]:
        unit = _EVALUATION_UNITS[level]
        sql = f"""
            WITH base AS (
                SELECT {unit} AS code, i.status, i.created_at, i.closed_at, i.rework,
                    EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id
                            AND e.action = 'accept') AS registered,
                    (SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id
                     AND e.action = 'resolve') AS resolves,
                    (SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id
                     AND e.action = 'resolve' AND e.late) AS late_resolves,
                    (SELECT count(*) FROM follow_ups f WHERE f.incident_id = i.id) AS fu,
                    (SELECT count(*) FROM follow_ups f WHERE f.incident_id = i.id
                     AND f.satisfied) AS fu_ok
                FROM incidents i LEFT JOIN incident_loop l ON l.incident_id = i.id
                WHERE i.created_at >= %s AND i.created_at < %s AND {unit} IS NOT NULL
            )
            SELECT code, count(*), count(*) FILTER (WHERE registered),
                count(*) FILTER (WHERE resolves > 0),
                count(*) FILTER (WHERE resolves > 0 AND late_resolves = 0),
                count(*) FILTER (WHERE status = 'closed'),
                count(*) FILTER (WHERE resolves > 0 AND rework > 0),
                coalesce(sum(fu), 0), coalesce(sum(fu_ok), 0),
                coalesce(sum(extract(epoch FROM closed_at - created_at) / 3600)
                    FILTER (WHERE status = 'closed'), 0)
            FROM base GROUP BY code ORDER BY code
        """
        rows = self._loop_read(sql, (parse_iso(since), parse_iso(until)))
        return [
            EvaluationCounts(r[0], *(int(v) for v in r[1:9]), round(float(r[9]), 4), 0, 0)
            for r in rows
        ]
