"""Take a report (上报): the one use case behind every door that creates incidents.

The JSON API, Open311, the field page and imports parse their own request format into a
:class:`Report` and call :func:`take_report`, which validates it, geocodes an address, locates
the point with the edge rule, checks that field staff report inside their own grids, and
creates the incident. A problem is a :class:`ReportError` whose ``kind`` each door maps to its
own answer (the JSON API: 400/422/403/409; Open311: its error list).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gridmap.model import Match
from gridmap.rules import duplicates, labels
from gridmap.rules.taxonomy import resolve_type
from gridmap.rules.workflow import OPEN_STATES, in_own_grids, iso, parse_iso, utc_now
from gridmap.services.locating import locate
from gridmap.store import Incident, IncidentDetail, IncidentFilter, Location, Store

MAX_DESCRIPTION = 4000
MAX_ADDRESS = 500
# An address matched only to an area this large cannot say which grid must act: the report is
# refused with a request to name a road, compound or door (a road or compound is taken, its
# representative point marked approximate).
TOO_VAGUE_LEVELS = frozenset({"district", "town", "community"})


class Reporter(Protocol):
    """Who reports (a store Token, the web app's signed-in user, an import's operator)."""

    name: str
    role: str
    grids: tuple[str, ...]


class ReportError(ValueError):
    """Why a report was not taken. ``kind``: ``invalid`` (the request is malformed),
    ``unlocatable`` (the address or point names no place in the city), ``forbidden`` (outside
    the caller's grids), ``unavailable`` (no grid version is published)."""

    def __init__(self, kind: str, message: str, field: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Report:
    """A report as a door parsed it. ``lon``/``lat`` are EPSG:4490 (the door converts its CRS);
    without them ``address`` is geocoded."""

    type: str  # code or Chinese name of an incident type
    description: str
    lon: float | None = None
    lat: float | None = None
    address: str = ""
    source: str = "api"  # the door (api, open311, field, ...)
    channel: str = ""  # where the report came from (hotline, patrol, ...): overrides source


@dataclass(frozen=True)
class Places:
    """The geocoder of the current version as the service needs it (the web app passes its
    warm one; a batch import can pass one it built). ``locate(version_id, lon, lat)``: where a
    point is under that version, when the caller keeps its grids in memory (the web app's
    :class:`~gridmap.services.locating.VersionLocator`); None: the store's spatial index is
    asked (:func:`~gridmap.services.locating.locate`, the same answer)."""

    match: Callable[[str], Match]
    nearest_address: Callable[[float, float], str]
    locate: Callable[[int, float, float], Location | None] | None = None


@dataclass(frozen=True)
class Taken:
    """What became of a report: a new incident, or (``duplicate_of`` set) the open incident it
    was linked to as duplicate report ``duplicate_id``; ``detail`` is that incident as it now
    stands, with all its full view shows (the door answering with it reads nothing again)."""

    detail: IncidentDetail
    duplicate_of: int | None = None
    duplicate_id: int | None = None

    @property
    def incident(self) -> Incident:
        return self.detail.incident


def incident_type(value: object, taxonomy=None) -> str:
    """An incident type (a taxonomy subclass or built-in type) given as code or Chinese name
    -> code.

    >>> incident_type("垃圾堆放"), incident_type("noise")
    ('garbage', 'noise')
    """
    code = resolve_type(value, taxonomy)
    if code is None:
        raise ReportError(
            "invalid",
            f"unknown incident category {value!r}: give a subclass code or name from "
            "GET /api/taxonomy",
            field="type",
        )
    return code


def channel(value: object) -> str:
    """A report channel code (hotline, patrol, app, petition, police, open311, ...).

    >>> channel("hotline")
    'hotline'
    """
    if isinstance(value, str) and value in labels.CHANNELS:
        return value
    raise ReportError(
        "invalid",
        f"unknown channel {value!r}; one of {', '.join(labels.CHANNELS)}",
        field="channel",
    )


def _text(value: str, name: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ReportError("invalid", f"{name} must be text", field=name)
    if len(value) > limit:
        raise ReportError("invalid", f"{name} is longer than {limit} characters", field=name)
    return value.strip()


def take_report(
    store: Store,
    report: Report,
    reporter: Reporter,
    places: Places,
    at: datetime | None = None,
) -> Taken:
    """Validate, geocode, locate, authorise, deduplicate and create.

    A report of a taxonomy subclass within 50 m and 24 h of an open incident of the same
    subclass (:mod:`gridmap.rules.duplicates`) is linked to it instead of opening another.
    Everything is committed when this returns (the door may acknowledge it).
    """
    moment = at or utc_now()
    taxonomy = store.taxonomy()
    kind = incident_type(report.type, taxonomy)
    source = channel(report.channel) if report.channel else report.source
    description = _text(report.description, "description", MAX_DESCRIPTION)
    if not description:
        raise ReportError("invalid", "missing field description", field="description")
    address = _text(report.address, "address", MAX_ADDRESS)
    version = store.current_version()
    if version is None:
        raise ReportError(
            "unavailable", "no grid version is published yet: run `gridmap publish` first"
        )
    level, approximate = "", False
    if report.lon is not None or report.lat is not None:
        if report.lon is None or report.lat is None:
            raise ReportError("invalid", "give both lon and lat", field="lon")
        lon, lat = float(report.lon), float(report.lat)
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise ReportError("invalid", "lon/lat must be finite numbers", field="lon")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ReportError("unlocatable", "lon/lat out of range", field="lon")
        level = "point"
    elif address:
        found = places.match(address)
        if found.level == "none" or found.lon is None:
            # Below the review threshold, or ambiguous: never guess a location. Name what the
            # reporter may have meant so they can say it again more precisely.
            maybe = [c.label for c in found.candidates if c.label]
            hint = f"; did you mean: {' / '.join(maybe)}" if maybe else ""
            raise ReportError(
                "unlocatable",
                f"address not found in the library: {address}{hint}",
                field="address",
            )
        if found.level in TOO_VAGUE_LEVELS:
            raise ReportError(
                "unlocatable",
                f"address {address!r} names only a {found.level}: give a road, compound or door",
                field="address",
            )
        lon, lat = found.lon, found.lat
        level = found.level
        # A road, compound or area match stands at a representative point, not at a door.
        approximate = found.approximate
        # A vague address keeps the reporter's words; a door-level match names the library's.
        if not approximate:
            address = found.address or address
    else:
        raise ReportError("invalid", "give lon and lat, or an address", field="lon")
    if places.locate is not None:
        location = places.locate(version.id, lon, lat)
    else:
        location = locate(store, version.id, lon, lat)
    if location is None:
        raise ReportError("unlocatable", "the point is outside the city", field="lon")
    if reporter.role == "field" and not in_own_grids(location.grid_code, reporter.grids):
        raise ReportError(
            "forbidden", "field staff report only inside their own grids", field="lon"
        )
    if not address:  # a point report: name the standard address it is at, when one is close
        address = places.nearest_address(lon, lat)
    if kind in taxonomy:
        joined = _open_duplicate(store, kind, lon, lat, moment)
        if joined is not None:
            duplicate_id = store.add_duplicate(
                joined.id,
                description=description,
                address=address,
                lon=lon,
                lat=lat,
                reporter=reporter.name,
                source=source,
                at=iso(moment),
            )
            return Taken(store.incident_detail(joined.id, now=moment), joined.id, duplicate_id)
    incident_id = store.create_incident(
        type=kind,
        description=description,
        lon=lon,
        lat=lat,
        location=location,
        actor=reporter.name,
        address=address,
        source=source,
        version_id=version.id,
        at=moment,
        match_level=level,
        approximate=approximate,
    )
    return Taken(store.incident_detail(incident_id, now=moment))


def _open_duplicate(
    store: Store, kind: str, lon: float, lat: float, moment: datetime
) -> Incident | None:
    """The open incident of ``kind`` a report at (lon, lat) repeats: the nearest, then oldest."""
    flt = IncidentFilter(
        bbox=duplicates.search_box(lon, lat),
        statuses=OPEN_STATES,
        types=(kind,),
        since=iso(moment - duplicates.DUPLICATE_WINDOW),
        until=iso(moment),
    )
    found = []
    for incident in store.incidents(flt, now=moment):
        distance = duplicates.distance_m(lon, lat, incident.lon, incident.lat)
        if duplicates.is_duplicate(distance, moment - parse_iso(incident.created_at)):
            found.append((distance, incident.id, incident))
    return min(found)[2] if found else None
