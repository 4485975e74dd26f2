"""The geocoder of the published version, built once (lazily) and kept on the app.

It is :class:`gridmap.geocode.Geocoder` built from the version's address library, grids and admin
units as the store holds them. When the geocoder package is not installed, an address is found only
when it is exactly a standard address of the library. Built with it: the version's
:class:`~gridmap.services.locating.VersionLocator` (its grids and admin units in memory), so a
point report locates without reading any geometry from the store.
"""

from __future__ import annotations

import json

from flask import current_app

from gridmap.model import Match
from gridmap.services.library import frames
from gridmap.services.locating import VersionLocator, locate
from gridmap.services.reporting import Places
from gridmap.store import Location


def geocoder(version_id: int):
    """The version's Geocoder (built on first use), or None when the geocoder is not installed."""
    cache = current_app.extensions["gridmap_cache"]
    key = ("geocoder", version_id)
    if key in cache:
        return cache[key]
    with current_app.extensions["gridmap_lock"]:
        if key not in cache:
            store = current_app.extensions["gridmap_store"]
            try:
                from gridmap.geocode import Geocoder
            except ImportError:
                built = None
            else:
                addresses, grids, boundaries = frames(store, version_id)
                built = Geocoder.from_frames(addresses, grids, boundaries)
                # Its nearest-address index too, before it is shared: a point report then
                # never builds it (several report threads at once each built their own).
                built.prepare_reverse()
            located = VersionLocator(store, version_id)
            # One version in memory: the geocoder and locator of earlier versions go.
            for old in [k for k in cache if isinstance(k, tuple) and k[0] in _PER_VERSION]:
                del cache[old]
            cache[("locator", version_id)] = located
            cache[key] = built
    return cache[key]


_PER_VERSION = ("geocoder", "locator")


def locate_point(version_id: int, lon: float, lat: float) -> Location | None:
    """Where a point (EPSG:4490) is under the version: from the version's grids in memory when
    the geocoder has been built with them, else from the store's spatial index (the same edge
    rule, the same answer). Like :func:`nearest_address`, never waits for a build."""
    located = current_app.extensions["gridmap_cache"].get(("locator", version_id))
    if located is None:
        return locate(current_app.extensions["gridmap_store"], version_id, lon, lat)
    return located.locate(lon, lat)


def nearest_address(version_id: int, lon: float, lat: float, radius_m: float = 50.0) -> str:
    """The standard address nearest a point (EPSG:4490) within ``radius_m``, or "".

    Only when the geocoder is already built: a report must never wait for it to load.
    """
    found = current_app.extensions["gridmap_cache"].get(("geocoder", version_id))
    if found is None:
        return ""
    nearest = found.nearest_address(lon, lat, radius_m)
    return nearest["address"] if nearest else ""


def answer(found: Match, datum) -> dict:
    """The JSON shape of a geocoder answer for the browser, points in ``datum``'s display CRS.

    ``level``, ``confidence`` (0-1), ``reason``, ``address_id`` (only when the place is one
    library entry), ``address``/``label``, ``lon``/``lat`` with ``approximate`` (a road midpoint
    or a compound centroid, not an entry's own point), ``highlight`` (GeoJSON geometry of the
    road line or compound outline to draw, or null) and ``candidates`` (up to 5 places an
    ambiguous query may mean, each with level, confidence, reason, label and point).
    """

    def point(lon, lat):
        if lon is None or lat is None:
            return None, None
        return tuple(round(float(v), 7) for v in datum.to_display(lon, lat))

    lon, lat = point(found.lon, found.lat)
    highlight = None
    if found.highlight is not None:
        highlight = json.loads(datum.geojson_to_display([json.dumps(found.highlight)])[0])
    candidates = []
    for candidate in found.candidates:
        c_lon, c_lat = point(candidate.lon, candidate.lat)
        candidates.append(
            {
                "level": candidate.level,
                "confidence": round(float(candidate.confidence), 4),
                "reason": candidate.reason,
                "label": candidate.label,
                "address_id": candidate.address_id,
                "lon": c_lon,
                "lat": c_lat,
                "grid_code": candidate.grid_code,
                "approximate": candidate.approximate,
            }
        )
    return {
        "query": found.query,
        "level": found.level,
        "confidence": round(float(found.confidence), 4),
        "reason": found.reason,
        "address_id": found.address_id,
        "address": found.address,
        "label": found.label,
        "lon": lon,
        "lat": lat,
        "approximate": found.approximate,
        "grid_code": found.grid_code,
        "highlight": highlight,
        "candidates": candidates,
    }


def match(version_id: int, text: str) -> Match:
    """The best library match of ``text`` (level "none" when nothing fits)."""
    found = geocoder(version_id)
    if found is not None:
        return found.match(text)
    store = current_app.extensions["gridmap_store"]
    row = store.find_address(version_id, text)
    if row is None:
        return Match(query=text, level="none", confidence=0.0)
    return Match(
        query=text,
        level="door",
        confidence=1.0,
        address_id=row.address_id,
        address=row.address,
        lon=row.lon,
        lat=row.lat,
        grid_code=row.grid_code,
    )


def places() -> Places:
    """The current version's geocoder as the reporting service takes it (409 without one is
    the service's to say: it is asked only when a version exists)."""
    version = current_app.extensions["gridmap_store"].current_version()
    if version is None:
        return Places(
            match=lambda text: Match(query=text, level="none", confidence=0.0),
            nearest_address=lambda lon, lat: "",
        )
    return Places(
        match=lambda text: match(version.id, text),
        nearest_address=lambda lon, lat: nearest_address(version.id, lon, lat),
        locate=locate_point,
    )
