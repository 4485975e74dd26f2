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

from gridmap.rules.taxonomy import Taxonomy
from gridmap.rules.workflow import iso, utc_now
from gridmap.store.base import NotFound
from gridmap.store.loop import DuplicateReport, TaxonomyLimits, taxonomy_json

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
]


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
        """Apply every loop migration not yet recorded in ``loop_schema_version``."""
        from gridmap.store.sqlite.store import _statements

        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS loop_schema_version "
            "(version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        with self.transaction() as tx:
            done = {row[0] for row in tx.execute("SELECT version FROM loop_schema_version")}
            for number, script in LOOP_MIGRATIONS:
                if number in done:
                    continue
                for statement in _statements(script):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO loop_schema_version VALUES (?, ?)", (number, iso(utc_now()))
                )
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


def _json_list(values) -> str:
    return "[" + ",".join(str(int(v)) for v in values) + "]"
