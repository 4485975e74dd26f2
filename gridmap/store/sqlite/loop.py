"""The SQLite side of :class:`gridmap.store.loop.LoopStore`: taxonomy and duplicate reports.

A mixin :class:`SQLiteStore` inherits. Its tables have their own migration list (recorded in
``loop_schema_version``, so core's numbering in :mod:`gridmap.store.sqlite.migrations` stays
its own).

>>> from gridmap.store.sqlite import SQLiteStore
>>> store = SQLiteStore(":memory:")
>>> store.taxonomy().subclass("S0101").name
'邻里纠纷'
>>> store.time_limits.hours("S0101", "handling")
40.0
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from gridmap.rules.kpi import EvaluationCounts
from gridmap.rules.taxonomy import Taxonomy
from gridmap.rules.workflow import FINAL_STATES, iso, utc_now
from gridmap.store.base import NotFound
from gridmap.store.loop import (
    Department,
    DuplicateReport,
    FollowUp,
    IncidentDetail,
    IncidentLoop,
    Overdue,
    StaffMember,
    TaxonomyLimits,
    taxonomy_json,
)

LOOP_MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE loop_settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        -- Reports linked to an open incident as duplicates (same subclass, near, recent);
        -- split_into is set when a dispatcher splits one off into its own incident.
        CREATE TABLE duplicate_reports (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            description TEXT NOT NULL,
            address TEXT NOT NULL DEFAULT '',
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            reporter TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL DEFAULT 'api',
            at TEXT NOT NULL,
            split_into INTEGER REFERENCES incidents(id) ON DELETE SET NULL
        );
        CREATE INDEX duplicate_reports_incident ON duplicate_reports(incident_id, split_into);
        """,
    ),
    (
        2,
        # Departments and the tokens bound to them; each incident's department and escalation
        # level; follow-ups; grid staff and the codes they cover.
        """
        CREATE TABLE departments (
            code TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            level TEXT NOT NULL DEFAULT 'district',
            created_at TEXT NOT NULL
        );
        CREATE TABLE token_departments (
            token_id INTEGER PRIMARY KEY REFERENCES tokens(id) ON DELETE CASCADE,
            department_code TEXT NOT NULL REFERENCES departments(code)
        );
        CREATE TABLE incident_loop (
            incident_id INTEGER PRIMARY KEY REFERENCES incidents(id) ON DELETE CASCADE,
            department TEXT REFERENCES departments(code),
            escalation_level INTEGER NOT NULL DEFAULT 0,
            escalated_due TEXT
        );
        CREATE INDEX incident_loop_department ON incident_loop(department);
        CREATE TABLE follow_ups (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents(id) ON DELETE CASCADE,
            method TEXT NOT NULL,
            satisfied INTEGER NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            actor TEXT NOT NULL DEFAULT '',
            at TEXT NOT NULL
        );
        CREATE INDEX follow_ups_incident ON follow_ups(incident_id, id);
        CREATE TABLE staff (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            phone TEXT NOT NULL DEFAULT '',
            grids TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE staff_grids (
            staff_id INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
            code TEXT NOT NULL,
            PRIMARY KEY (code, staff_id)
        ) WITHOUT ROWID;
        """,
    ),
    (
        3,
        # Patrol check-ins (巡查签到): a point and a time, located like an incident.
        """
        CREATE TABLE patrols (
            id INTEGER PRIMARY KEY,
            actor TEXT NOT NULL,
            lon REAL NOT NULL,
            lat REAL NOT NULL,
            grid_code TEXT,
            community_code TEXT,
            street_code TEXT,
            district_code TEXT,
            at TEXT NOT NULL
        );
        CREATE INDEX patrols_at ON patrols(at, grid_code);
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


class SQLiteLoop(TaxonomyLimits):
    """Loop tables and queries for :class:`gridmap.store.sqlite.SQLiteStore`.

    Its migrations run at the first loop call of a store object (the store's own ``migrate``
    has run by then: the loop's tables refer to incidents).
    """

    _loop_migrated = False

    @property
    def loop_conn(self):
        """This thread's connection, the loop's tables migrated."""
        if not self._loop_migrated:
            self.migrate_loop()
        return self.conn

    def migrate_loop(self) -> None:
        """Apply every loop migration not yet recorded in ``loop_schema_version`` (a read when
        they all are: a read request never waits for the write lock)."""
        from gridmap.store.sqlite import migrations

        if not migrations.up_to_date(self.conn, "loop_schema_version", LOOP_MIGRATIONS):
            with self.transaction() as tx:
                migrations.apply(tx, "loop_schema_version", LOOP_MIGRATIONS)
        self._loop_migrated = True

    def _loop_tx(self):
        if not self._loop_migrated:
            self.migrate_loop()
        return self.transaction()

    # -- taxonomy ------------------------------------------------------------------------------

    def _taxonomy_revision(self) -> str | None:
        row = self.loop_conn.execute(
            "SELECT value FROM loop_settings WHERE key='taxonomy_revision'"
        ).fetchone()
        return row[0] if row else None

    def _taxonomy_text(self) -> str:
        return self.loop_conn.execute(
            "SELECT value FROM loop_settings WHERE key='taxonomy'"
        ).fetchone()[0]

    def save_taxonomy(self, taxonomy: Taxonomy, actor: str = "") -> None:
        with self._loop_tx() as tx:
            previous = tx.execute(
                "SELECT value FROM loop_settings WHERE key='taxonomy_revision'"
            ).fetchone()
            number = int(previous[0].split(":")[0]) + 1 if previous else 1
            values = {
                "taxonomy": taxonomy_json(taxonomy),
                "taxonomy_revision": f"{number}:{iso(utc_now())}:{actor}",
            }
            tx.executemany(
                "INSERT OR REPLACE INTO loop_settings VALUES (?, ?)", list(values.items())
            )

    # -- duplicates ----------------------------------------------------------------------------

    _DUPLICATE_SQL = (
        "SELECT id, incident_id, description, address, lon, lat, reporter, source, at "
        "FROM duplicate_reports"
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
                "reporter, source, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (incident_id, description, address, lon, lat, reporter, source, at),
            ).lastrowid

    def duplicates(self, incident_id: int) -> list[DuplicateReport]:
        rows = self.loop_conn.execute(
            f"{self._DUPLICATE_SQL} WHERE incident_id=? AND split_into IS NULL ORDER BY id",
            (incident_id,),
        )
        return [DuplicateReport(*r) for r in rows]

    def duplicate_counts(self, incident_ids: list[int]) -> dict[int, int]:
        if not incident_ids:
            return {}
        rows = self.loop_conn.execute(
            "SELECT incident_id, COUNT(*) FROM duplicate_reports WHERE split_into IS NULL "
            "AND incident_id IN (SELECT value FROM json_each(?)) GROUP BY incident_id",
            (_json_list(incident_ids),),
        )
        return dict(rows.fetchall())

    def unlink_duplicate(self, duplicate_id: int, split_into: int) -> DuplicateReport:
        with self._loop_tx() as tx:
            row = tx.execute(
                f"{self._DUPLICATE_SQL} WHERE id=? AND split_into IS NULL",
                (duplicate_id if 0 < duplicate_id < 2**63 else 0,),
            ).fetchone()
            if row is None:
                raise NotFound(f"no linked duplicate report {duplicate_id}")
            tx.execute(
                "UPDATE duplicate_reports SET split_into=? WHERE id=?", (split_into, duplicate_id)
            )
        return DuplicateReport(*row)

    # -- departments ---------------------------------------------------------------------------

    def add_department(self, code: str, name: str, level: str = "district") -> None:
        try:
            with self._loop_tx() as tx:
                tx.execute(
                    "INSERT INTO departments VALUES (?, ?, ?, ?)",
                    (code, name, level, iso(utc_now())),
                )
        except sqlite3.IntegrityError:
            raise ValueError(f"a department with code {code!r} or name {name!r} exists") from None

    def departments(self) -> list[Department]:
        rows = self.loop_conn.execute("SELECT code, name, level FROM departments ORDER BY code")
        return [Department(*r) for r in rows]

    def department(self, code_or_name: str) -> Department | None:
        row = self.loop_conn.execute(
            "SELECT code, name, level FROM departments WHERE code=? OR name=? "
            "ORDER BY code=? DESC LIMIT 1",
            (code_or_name, code_or_name, code_or_name),
        ).fetchone()
        return Department(*row) if row else None

    def bind_token_department(self, token_id: int, code: str) -> None:
        with self._loop_tx() as tx:
            tx.execute("INSERT OR REPLACE INTO token_departments VALUES (?, ?)", (token_id, code))

    def token_department(self, token_id: int) -> str | None:
        row = self.loop_conn.execute(
            "SELECT department_code FROM token_departments WHERE token_id=?", (token_id,)
        ).fetchone()
        return row[0] if row else None

    # -- the loop's state of incidents -----------------------------------------------------------

    def incident_loops(self, incident_ids: list[int]) -> dict[int, IncidentLoop]:
        out = {i: IncidentLoop(i, None, 0, None) for i in incident_ids}
        if incident_ids:
            rows = self.loop_conn.execute(
                "SELECT incident_id, department, escalation_level, escalated_due "
                "FROM incident_loop WHERE incident_id IN (SELECT value FROM json_each(?))",
                (_json_list(incident_ids),),
            )
            out.update({r[0]: IncidentLoop(*r) for r in rows})
        return out

    def incident_detail(self, incident_id: int, now: datetime | None = None) -> IncidentDetail:
        # SQLite answers in-process: five small reads cost less than one joined query
        incident = self.incident(incident_id, now)
        return IncidentDetail(
            incident,
            self.history(incident_id),
            self.duplicate_counts([incident_id]).get(incident_id, 0),
            self.incident_loops([incident_id])[incident_id],
            self.follow_ups(incident_id),
        )

    def set_department(self, incident_id: int, code: str | None) -> None:
        with self._loop_tx() as tx:
            tx.execute(
                "INSERT INTO incident_loop (incident_id, department) VALUES (?, ?) "
                "ON CONFLICT (incident_id) DO UPDATE SET department=excluded.department",
                (incident_id, code),
            )

    def loop_incident_ids(
        self, department: str | None = None, escalated: bool | None = None
    ) -> list[int]:
        sql, params = "SELECT incident_id FROM incident_loop WHERE 1=1", []
        if department is not None:
            sql += " AND department=?"
            params.append(department)
        if escalated is not None:
            sql += " AND escalation_level > 0" if escalated else " AND escalation_level = 0"
        return [r[0] for r in self.loop_conn.execute(sql + " ORDER BY incident_id", params)]

    def add_follow_up(
        self, incident_id: int, method: str, satisfied: bool, note: str, actor: str, at: str
    ) -> int:
        with self._loop_tx() as tx:
            return tx.execute(
                "INSERT INTO follow_ups (incident_id, method, satisfied, note, actor, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (incident_id, method, int(satisfied), note, actor, at),
            ).lastrowid

    def follow_ups(self, incident_id: int) -> list[FollowUp]:
        rows = self.loop_conn.execute(
            "SELECT id, incident_id, method, satisfied, note, actor, at FROM follow_ups "
            "WHERE incident_id=? ORDER BY id",
            (incident_id,),
        )
        return [FollowUp(r[0], r[1], r[2], bool(r[3]), r[4], r[5], r[6]) for r in rows]

    def overdue_unescalated(self, now: str) -> list[Overdue]:
        final = tuple(sorted(FINAL_STATES))
        rows = self.loop_conn.execute(
            "SELECT i.id, i.status, i.due_at, COALESCE(l.escalation_level, 0) FROM incidents i "
            "LEFT JOIN incident_loop l ON l.incident_id = i.id "
            f"WHERE i.status NOT IN {final!r} AND i.due_at IS NOT NULL AND i.due_at < ? "
            "AND (l.escalated_due IS NULL OR l.escalated_due <> i.due_at) ORDER BY i.id",
            (now,),
        )
        return [Overdue(*r) for r in rows]

    def record_escalation(
        self, incident_id: int, due_at: str, level: int, at: str, note: str
    ) -> bool:
        with self._loop_tx() as tx:
            row = tx.execute(
                "SELECT i.status, i.due_at, l.escalated_due FROM incidents i LEFT JOIN "
                "incident_loop l ON l.incident_id = i.id WHERE i.id=?",
                (incident_id,),
            ).fetchone()
            if row is None or row[1] != due_at or row[2] == due_at:
                return False  # moved on meanwhile, or escalated by another sweeper
            tx.execute(
                "INSERT INTO incident_loop (incident_id, escalation_level, escalated_due) "
                "VALUES (?, ?, ?) ON CONFLICT (incident_id) DO UPDATE SET "
                "escalation_level=excluded.escalation_level, escalated_due=excluded.escalated_due",
                (incident_id, level, due_at),
            )
            tx.execute(
                "INSERT INTO incident_events (incident_id, event, action, from_state, to_state, "
                "actor, at, note, late) VALUES (?, 'escalated', 'escalate', ?, ?, 'system', ?, "
                "?, 1)",
                (incident_id, row[0], row[0], at, note),
            )
        return True

    # -- grid staff ------------------------------------------------------------------------------

    def replace_staff(self, members: list[StaffMember]) -> int:
        with self._loop_tx() as tx:
            tx.execute("DELETE FROM staff_grids")
            tx.execute("DELETE FROM staff")
            for m in members:
                sid = tx.execute(
                    "INSERT INTO staff (name, role, phone, grids) VALUES (?, ?, ?, ?)",
                    (m.name, m.role, m.phone, json.dumps(list(m.grids))),
                ).lastrowid
                tx.executemany(
                    "INSERT OR IGNORE INTO staff_grids VALUES (?, ?)",
                    [(sid, code) for code in m.grids],
                )
        return len(members)

    def staff(self, grid: str | None = None) -> list[StaffMember]:
        sql = "SELECT s.id, s.name, s.role, s.phone, s.grids FROM staff s"
        params: list = []
        if grid is not None:
            # A member covers a code when one of theirs lies under it or it lies under theirs
            # (a micro-grid under the asked grid, the asked grid under a community's head).
            sql += (
                " WHERE s.id IN (SELECT staff_id FROM staff_grids WHERE "
                "(code >= ? AND code < ?) OR ? LIKE code || '%')"
            )
            params += [grid, grid + "\U0010ffff", grid]
        rows = self.loop_conn.execute(sql + " ORDER BY s.id", params)
        return [StaffMember(r[0], r[1], r[2], r[3], tuple(json.loads(r[4]))) for r in rows]

    # -- patrols and evaluation -------------------------------------------------------------------

    def add_patrol(self, actor: str, lon: float, lat: float, location, at: str) -> int:
        with self._loop_tx() as tx:
            return tx.execute(
                "INSERT INTO patrols (actor, lon, lat, grid_code, community_code, street_code, "
                "district_code, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    actor,
                    lon,
                    lat,
                    location.grid_code,
                    location.community_code,
                    location.street_code,
                    location.district_code,
                    at,
                ),
            ).lastrowid

    def patrolled_grids(self, since: str, until: str) -> list[str]:
        rows = self.loop_conn.execute(
            "SELECT DISTINCT grid_code FROM patrols WHERE at >= ? AND at < ? "
            "AND grid_code IS NOT NULL ORDER BY grid_code",
            (since, until),
        )
        return [r[0] for r in rows]

    def evaluation_counts(self, level: str, since: str, until: str) -> list[EvaluationCounts]:
        unit = _EVALUATION_UNITS[level]
        sql = f"""
            WITH base AS (
                SELECT {unit} AS code, i.status, i.created_at, i.closed_at, i.rework,
                    EXISTS (SELECT 1 FROM incident_events e WHERE e.incident_id = i.id
                            AND e.action = 'accept') AS registered,
                    (SELECT COUNT(*) FROM incident_events e WHERE e.incident_id = i.id
                     AND e.action = 'resolve') AS resolves,
                    (SELECT COUNT(*) FROM incident_events e WHERE e.incident_id = i.id
                     AND e.action = 'resolve' AND e.late = 1) AS late_resolves,
                    (SELECT COUNT(*) FROM follow_ups f WHERE f.incident_id = i.id) AS fu,
                    (SELECT COUNT(*) FROM follow_ups f WHERE f.incident_id = i.id
                     AND f.satisfied = 1) AS fu_ok
                FROM incidents i LEFT JOIN incident_loop l ON l.incident_id = i.id
                WHERE i.created_at >= ? AND i.created_at < ? AND {unit} IS NOT NULL
            )
            SELECT code, COUNT(*), SUM(registered), SUM(resolves > 0),
                SUM(resolves > 0 AND late_resolves = 0), SUM(status = 'closed'),
                SUM(resolves > 0 AND rework > 0), SUM(fu), SUM(fu_ok),
                SUM(CASE WHEN status = 'closed'
                    THEN (julianday(closed_at) - julianday(created_at)) * 24 ELSE 0 END)
            FROM base GROUP BY code ORDER BY code
        """
        rows = self.loop_conn.execute(sql, (since, until))
        return [EvaluationCounts(*r[:9], round(float(r[9] or 0.0), 4), 0, 0) for r in rows]


def _json_list(values) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"
