"""What every storage backend provides: the :class:`Store` protocol and the records it trades.

The web app, the CLI and the simulator use only these methods, so a PostgreSQL + PostGIS backend
is one new module implementing them (and a URL scheme in :func:`gridmap.store.open_store`).
Times are UTC ISO 8601 text (``YYYY-MM-DDTHH:MM:SSZ``); coordinates are EPSG:4490 lon/lat.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from gridmap.store.workflow import TimeLimits


class NotFound(LookupError):
    """No such incident, version or token."""


@dataclass(frozen=True)
class Token:
    """A caller as the store knows it (the token itself is never kept)."""

    id: int
    name: str
    role: str
    grids: tuple[str, ...]


@dataclass
class IncidentFilter:
    """Filters of an incident query; every field optional. bbox is (w, s, e, n) in EPSG:4490."""

    bbox: tuple[float, float, float, float] | None = None
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    since: str | None = None  # created at or after (ISO text)
    until: str | None = None  # created at or before
    grid: str | None = None  # grid or division code: everything under it


@runtime_checkable
class Store(Protocol):
    """The storage boundary (implemented by :class:`gridmap.store.sqlite.SQLiteStore`)."""

    time_limits: TimeLimits

    # housekeeping
    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[Any]: ...
    def schema_version(self) -> int: ...
    def secret_key(self) -> str: ...

    # grid versions and what they hold
    def add_version(self, **parts: Any) -> int: ...
    def set_current(self, version_id: int) -> None: ...
    def versions(self) -> list[dict]: ...
    def current_version(self) -> dict | None: ...
    def layer_features(
        self, version_id: int, layer: str, bbox: tuple | None, zoom: float | None
    ) -> list[tuple]: ...
    def feature(self, version_id: int, layer: str, code: str) -> dict | None: ...
    def names(self, version_id: int) -> dict[str, str]: ...
    def locate(self, version_id: int, lon: float, lat: float) -> dict | None: ...
    def layer_wkb(self, version_id: int, layers: tuple[str, ...]) -> list[tuple]: ...
    def address_rows(self, version_id: int) -> list: ...
    def find_address(self, version_id: int, text: str) -> Any: ...
    def random_addresses(self, version_id: int, count: int, seed: int) -> list: ...

    # incidents and their loop
    def create_incident(self, **fields: Any) -> int: ...
    def transition(
        self, incident_id: int, action: str, actor: str, note: str = "", at: datetime | None = None
    ) -> dict: ...
    def incident(self, incident_id: int, now: datetime | None = None) -> dict: ...
    def history(self, incident_id: int) -> list[dict]: ...
    def count_incidents(self, flt: IncidentFilter) -> int: ...
    def incidents(
        self,
        flt: IncidentFilter,
        limit: int | None = None,
        offset: int = 0,
        now: datetime | None = None,
    ) -> list[dict]: ...
    def incident_clusters(
        self, flt: IncidentFilter, cell_degrees: float, now: datetime | None = None
    ) -> list[tuple]: ...
    def events_since(
        self, last_id: int, limit: int = 500, now: datetime | None = None
    ) -> list[dict]: ...
    def last_event_id(self) -> int: ...
    def kpis(
        self,
        level: str,
        now: datetime | None = None,
        code: str | None = None,
        codes: Iterable[str] | None = None,
    ) -> list[dict]: ...

    # tokens
    def create_token(self, role: str, name: str = "", grids: Iterable[str] = ()) -> str: ...
    def check_token(self, token: str) -> Token | None: ...
    def token_by_id(self, token_id: int) -> Token | None: ...
    def tokens(self) -> list[dict]: ...
    def revoke_token(self, token_id: int) -> None: ...
