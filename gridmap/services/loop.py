"""Use cases of the loop beyond taking a report: splitting a duplicate off, loading a taxonomy.

Like every service: no SQL, no Flask; the doors (``web/api/loop.py``, the CLI) call these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gridmap.rules.workflow import utc_now
from gridmap.services.locating import locate
from gridmap.store import Incident, Location, NotFound, Store


@dataclass(frozen=True)
class Split:
    """A duplicate report split off into its own ``incident`` (``parent``: where it was)."""

    incident: Incident
    parent: int
    duplicate_id: int


def split_duplicate(
    store: Store, incident_id: int, duplicate_id: int, actor: str, at: datetime | None = None
) -> Split:
    """Open the linked duplicate report ``duplicate_id`` of ``incident_id`` as an incident of
    its own (same subclass, its own point, reporter and channel). NotFound when that report is
    not (or no longer) linked to that incident."""
    moment = at or utc_now()
    parent = store.incident(incident_id, now=moment)
    report = next((d for d in store.duplicates(incident_id) if d.id == duplicate_id), None)
    if report is None:
        raise NotFound(f"incident {incident_id} has no linked duplicate report {duplicate_id}")
    version = store.current_version()
    location = None
    if version is not None:
        location = locate(store, version.id, report.lon, report.lat)
    if location is None:  # the grids changed under it: keep the incident's own place
        location = Location(
            parent.grid_code, parent.community_code, parent.street_code, parent.district_code
        )
    with store.transaction():
        new_id = store.create_incident(
            type=parent.type,
            description=report.description,
            lon=report.lon,
            lat=report.lat,
            location=location,
            actor=report.reporter or actor,
            address=report.address,
            source=report.source,
            version_id=version.id if version is not None else None,
            at=moment,
        )
        store.unlink_duplicate(duplicate_id, new_id)
    return Split(store.incident(new_id, now=moment), incident_id, duplicate_id)
