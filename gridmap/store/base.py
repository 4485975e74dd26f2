"""What every storage backend provides: the :class:`Store` protocol and the records it trades.

The web app, the CLI and the services use only these methods and records, so a backend is one
package implementing them (:mod:`gridmap.store.sqlite`, :mod:`gridmap.store.postgis`) plus a URL
scheme in :func:`gridmap.store.open_store`. Nothing backend-shaped crosses this boundary: no
driver rows, no JSON text to splice; every answer is a frozen dataclass below (or a list of them).

Conventions: times are UTC ISO 8601 text (``YYYY-MM-DDTHH:MM:SSZ``, sorts as time does);
coordinates are EPSG:4490 lon/lat; codes are the 6/9/12/15-digit division and grid codes.
Rules (the edge rule, the workflow, KPI formulas) live in :mod:`gridmap.rules`; a backend stores
what they decide and never re-decides it.

>>> Location.of_grid("330402001002007").community_code
'330402001002'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from gridmap.rules.kpi import KpiCounts
from gridmap.rules.workflow import TimeLimits, Transition
from gridmap.store.jobs import Job, JobStore

DEFAULT_BUSY_TIMEOUT = 15.0  # seconds a write waits for another writer's lock, then StoreBusy

# -- errors -------------------------------------------------------------------------------------


class NotFound(LookupError):
    """No such incident, version or token."""


class StoreBusy(RuntimeError):
    """The database stayed locked by another writer for longer than the store's busy timeout.

    Nothing was written; the caller may try again after ``retry_after`` seconds (the web app
    answers 503 with ``Retry-After``).
    """

    def __init__(self, message: str = "the database is busy", retry_after: int = 5):
        super().__init__(message)
        self.retry_after = retry_after


# -- grid versions and their features -----------------------------------------------------------


@dataclass(frozen=True)
class Version:
    """A published grid version (``current``: the one the app serves)."""

    id: int
    note: str
    city: str
    published_at: str
    published_by: str
    current: bool
    bounds: tuple[float, float, float, float]
    summary: Mapping[str, int]

    def as_json(self) -> dict:
        return asdict(self) | {"bounds": list(self.bounds), "summary": dict(self.summary)}


@dataclass(frozen=True)
class NewFeature:
    """One feature handed to :meth:`Store.add_version`.

    ``geometry`` is the full-precision shapely geometry (EPSG:4490); ``display`` holds, per zoom
    band (see :data:`gridmap.rules.display.BANDS`), the simplified GeoJSON geometry text the map is
    sent. ``props`` is the layer's attribute dict.
    """

    layer: str
    code: str | None
    name: str | None
    props: Mapping[str, Any]
    geometry: Any  # shapely.Geometry
    display: Mapping[int, str]


@dataclass(frozen=True)
class LayerFeature:
    """A feature as the map draws it: ``geojson`` is its geometry text at the asked detail."""

    id: int
    code: str | None
    name: str | None
    props: Mapping[str, Any]
    geojson: str


@dataclass(frozen=True)
class FeatureGeometry:
    """A feature at full precision (for the grid index, the geocoder and exports)."""

    layer: str
    code: str | None
    props: Mapping[str, Any]
    geometry: Any  # shapely.Geometry


@dataclass(frozen=True)
class Location:
    """Where a point is in the division hierarchy under one grid version."""

    grid_code: str | None
    community_code: str | None
    street_code: str | None
    district_code: str | None

    @classmethod
    def of_grid(cls, grid_code: str) -> Location:
        """The location a grid code implies (its parents are its code prefixes)."""
        return cls(grid_code, grid_code[:12], grid_code[:9], grid_code[:6])


@dataclass(frozen=True)
class Address:
    """One standard address of a version's library."""

    address_id: str
    address: str
    lon: float
    lat: float
    households: int = 0
    population: int = 0
    community_code: str | None = None
    grid_code: str | None = None
    components: Mapping[str, str] = field(default_factory=dict)


# -- incidents ----------------------------------------------------------------------------------


@dataclass
class IncidentFilter:
    """Filters of an incident query; every field optional. bbox is (w, s, e, n) in EPSG:4490."""

    bbox: tuple[float, float, float, float] | None = None
    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    since: str | None = None  # created at or after (ISO text)
    until: str | None = None  # created at or before
    grid: str | None = None  # grid or division code: everything under it
    channels: tuple[str, ...] = ()  # report channels (the incident's source)
    ids: tuple[int, ...] | None = None  # only these incidents (None: no restriction)
    not_ids: tuple[int, ...] = ()  # never these


@dataclass(frozen=True)
class Incident:
    """An incident as stored, with ``overdue`` computed at the asked moment."""

    id: int
    type: str
    description: str
    address: str
    lon: float
    lat: float
    grid_code: str | None
    community_code: str | None
    street_code: str | None
    district_code: str | None
    status: str
    created_at: str
    updated_at: str
    due_at: str | None
    expected_at: str | None
    closed_at: str | None
    late_steps: int
    rework: int
    reporter: str
    source: str
    version_id: int | None
    overdue: bool
    match_level: str = ""  # geocoder level of an address report ("" for a point report)
    approximate: bool = False  # the point stands for an area (road, compound, ...), not a door


@dataclass(frozen=True)
class IncidentPosition:
    """The few columns re-homing needs: where an incident is and whether it is still open."""

    id: int
    lon: float
    lat: float
    status: str
    grid_code: str | None


@dataclass(frozen=True)
class HistoryEntry:
    """One step of an incident's history (its creation included)."""

    state: str
    action: str
    actor: str
    at: str
    note: str
    late: bool


@dataclass(frozen=True)
class Event:
    """One incident event for the live stream, with the incident's state now."""

    event_id: int
    incident_id: int
    event: str  # created | transition | rehomed
    status: str  # state the event led to
    current_status: str
    type: str
    lon: float
    lat: float
    grid_code: str | None
    overdue: bool
    at: str


@dataclass(frozen=True)
class Cluster:
    """Incidents aggregated to one square cell: centroid of the members, counts."""

    lon: float
    lat: float
    count: int
    overdue: int


# -- callers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """A caller as the store knows it (the token itself is never kept)."""

    id: int
    name: str
    role: str
    grids: tuple[str, ...]


@dataclass(frozen=True)
class TokenRecord:
    """A token as listed for an administrator (never its value)."""

    id: int
    name: str
    role: str
    grids: tuple[str, ...]
    created_at: str
    revoked_at: str | None


__all__ = [
    "DEFAULT_BUSY_TIMEOUT",
    "Address",
    "Cluster",
    "Event",
    "FeatureGeometry",
    "HistoryEntry",
    "Incident",
    "IncidentFilter",
    "IncidentPosition",
    "Job",
    "JobStore",
    "KpiCounts",
    "LayerFeature",
    "Location",
    "NewFeature",
    "NotFound",
    "Store",
    "StoreBusy",
    "Token",
    "TokenRecord",
    "Transition",
    "Version",
]

# -- the protocol -------------------------------------------------------------------------------


@runtime_checkable
class Store(JobStore, Protocol):
    """The storage boundary. Every write commits before it returns (or raises StoreBusy).

    Background jobs' methods come from :class:`gridmap.store.jobs.JobStore`."""

    time_limits: TimeLimits
    url: str  # what open_store was given (a path or URL), for messages

    # housekeeping
    def close(self) -> None:
        """Release this thread's connection (the next call opens another)."""

    def dispose(self) -> None:
        """Release everything for good (a pool's connections); the store is not used again."""

    def transaction(self) -> AbstractContextManager[Any]:
        """Group writes into one commit; nested use joins the outer transaction."""

    def remember(self) -> None:
        """Read the current version and taxonomy revision once until :meth:`forget` or a
        write, in this thread (one web request: :mod:`gridmap.store.memo`)."""

    def forget(self) -> None:
        """Stop keeping this thread's reads (the end of a request)."""

    def schema_version(self) -> int: ...
    def secret_key(self) -> str:
        """A random key kept in the store (created once), for signing browser sessions."""

    # grid versions and what they hold
    def add_version(
        self,
        *,
        note: str,
        city: str,
        bounds: tuple[float, float, float, float],
        features: Iterable[NewFeature],
        addresses: Iterable[Address],
        summary: Mapping[str, int],
        published_by: str = "",
        make_current: bool = True,
    ) -> int:
        """Store a whole version in one transaction; returns its id."""

    def set_current(self, version_id: int) -> None:
        """Make a version current (NotFound when there is none with that id)."""

    def versions(self) -> list[Version]: ...
    def version(self, version_id: int) -> Version:
        """One version (NotFound when absent)."""

    def current_version(self) -> Version | None: ...
    def layer_features(
        self,
        version_id: int,
        layer: str,
        bbox: tuple[float, float, float, float] | None,
        zoom: float | None,
    ) -> list[LayerFeature]:
        """Features of a layer meeting ``bbox`` with the geometry of ``zoom``'s band; features
        smaller than a pixel at ``zoom`` are left out."""

    def layer_feature_ids(
        self,
        version_id: int,
        layer: str,
        bbox: tuple[float, float, float, float] | None,
        zoom: float | None,
    ) -> list[int]:
        """The ids of the features :meth:`layer_features` returns, ascending (the map's cache
        of feature texts is looked up by them)."""

    def feature(self, version_id: int, layer: str, code: str) -> LayerFeature | None:
        """One feature by code, at full display detail."""

    def names(self, version_id: int) -> dict[str, str]:
        """code -> name of every admin unit of a version."""

    def layer_geometries(self, version_id: int, layers: tuple[str, ...]) -> list[FeatureGeometry]:
        """Every feature of ``layers`` at full precision, in publish order."""

    def candidate_features(
        self, version_id: int, layers: tuple[str, ...], lon: float, lat: float
    ) -> list[FeatureGeometry]:
        """Features of ``layers`` whose bounding box holds the point (a spatial index query;
        :func:`gridmap.rules.grid_index.locate_in` decides among them)."""

    def addresses(self, version_id: int) -> list[Address]:
        """The version's whole address library, ordered by address_id."""

    def find_address(self, version_id: int, text: str) -> Address | None:
        """The library address whose standard text is exactly ``text``."""

    def random_addresses(self, version_id: int, count: int, seed: int) -> list[Address]:
        """``count`` addresses inside a grid, drawn with replacement (demo data)."""

    # incidents and their loop
    def create_incident(
        self,
        *,
        type: str,
        description: str,
        lon: float,
        lat: float,
        location: Location,
        actor: str,
        address: str = "",
        source: str = "api",
        version_id: int | None = None,
        at: datetime | None = None,
        match_level: str = "",
        approximate: bool = False,
    ) -> int:
        """Insert a reported incident and its 'created' event; committed when this returns."""

    def transition(
        self, incident_id: int, action: str, actor: str, note: str = "", at: datetime | None = None
    ) -> Incident:
        """Take ``action`` (IllegalTransition when the state forbids it; NotFound)."""

    def incident(self, incident_id: int, now: datetime | None = None) -> Incident: ...
    def history(self, incident_id: int) -> list[HistoryEntry]: ...
    def count_incidents(self, flt: IncidentFilter, limit: int | None = None) -> int:
        """How many incidents match (with ``limit``: counting stops there, so the answer is
        ``min(count, limit)``)."""

    def incidents(
        self,
        flt: IncidentFilter,
        limit: int | None = None,
        offset: int = 0,
        now: datetime | None = None,
    ) -> list[Incident]:
        """Incidents matching ``flt``, newest first."""

    def incident_clusters(
        self, flt: IncidentFilter, cell_degrees: float, now: datetime | None = None
    ) -> list[Cluster]: ...
    def events_since(
        self, last_id: int, limit: int = 500, now: datetime | None = None
    ) -> list[Event]: ...
    def last_event_id(self) -> int: ...
    def kpis(
        self,
        level: str,
        now: datetime | None = None,
        code: str | None = None,
        codes: Iterable[str] | None = None,
        version_id: int | None = None,
    ) -> list[KpiCounts]:
        """Counts per grid/community/street/district (only ``code``/``codes`` when given).

        ``version_id`` None: by each incident's current location. Otherwise by its location
        under that version as saved with :meth:`save_locations` (incidents without one are
        left out: the versions service fills them first).
        """

    # incidents across grid versions
    def incident_positions(
        self, open_only: bool = False, missing_version: int | None = None
    ) -> list[IncidentPosition]:
        """Every incident's point (``open_only``: not closed or rejected; ``missing_version``:
        only those without a saved location under that version)."""

    def save_locations(
        self,
        version_id: int,
        locations: Iterable[tuple[int, Location]],
        rehome: bool = False,
        actor: str = "",
    ) -> int:
        """Record incidents' locations under ``version_id``. With ``rehome`` the incidents move
        there too (their grid columns and version become these) and each one whose grid changed
        gets a 'rehomed' history entry; returns how many changed grid."""

    # tokens and sessions
    def create_token(self, role: str, name: str = "", grids: Iterable[str] = ()) -> str:
        """Store a new token's hash and return the token (shown once, never stored)."""

    def check_token(self, token: str) -> Token | None: ...
    def token_by_id(self, token_id: int) -> Token | None: ...
    def tokens(self) -> list[TokenRecord]: ...
    def revoke_token(self, token_id: int) -> None:
        """Revoke a token (NotFound when no active token has that id); its sessions end."""

    def create_session(self, token_id: int) -> str:
        """Start a server-side session for a token; returns its id (kept hashed)."""

    def check_session(self, session_id: str) -> Token | None:
        """The token of a live session (None when ended, unknown or its token is revoked)."""

    def end_session(self, session_id: str) -> None:
        """End a session (logout); unknown ids are ignored."""

    # a generic cache of bytes (vector tiles filled at publish, ...), keys like paths
    def get_blob(self, key: str) -> bytes | None: ...
    def put_blobs(self, items: Iterable[tuple[str, bytes]]) -> None:
        """Store (replace) ``(key, value)`` pairs in one transaction."""

    def drop_blobs(self, prefix: str) -> int:
        """Forget every blob whose key starts with ``prefix``; returns how many."""
