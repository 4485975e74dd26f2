"""Where a point is under a grid version: the edge rule of :mod:`gridmap.rules.grid_index`
over what the store holds.

One point (a report) asks the store's spatial index for the few features whose box holds it and
lets :func:`~gridmap.rules.grid_index.locate_in` decide; many points (re-homing every open
incident), or a server that keeps a version's grids in memory (the web app's
:class:`VersionLocator`, so a report reads no geometry), build one
:class:`~gridmap.rules.grid_index.GridIndex` per layer group. Both give the same answer: the
same edge rule over the same features.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gridmap.rules.grid_index import GridIndex, locate_in
from gridmap.store import FeatureGeometry, Location, Store

GRID_LAYERS = ("grid", "exclusive")
ADMIN_LAYERS = ("district", "street", "community")


def _kinds(features: list[FeatureGeometry]) -> list[str]:
    return [
        f.props.get("kind") or ("exclusive" if f.layer == "exclusive" else "") for f in features
    ]


def _from_grid(feature: FeatureGeometry) -> Location:
    community = feature.props.get("community_code") or feature.code[:12]
    return Location(feature.code, community, community[:9], community[:6])


def locate(store: Store, version_id: int, lon: float, lat: float) -> Location | None:
    """The location of one point, or None when it lies outside every grid and district."""
    grids = store.candidate_features(version_id, GRID_LAYERS, lon, lat)
    code = locate_in([f.code for f in grids], _kinds(grids), [f.geometry for f in grids], lon, lat)
    if code is not None:
        return _from_grid(next(f for f in grids if f.code == code))
    admin = store.candidate_features(version_id, ADMIN_LAYERS, lon, lat)
    found = {}
    for level in ADMIN_LAYERS:
        units = [f for f in admin if f.layer == level]
        found[level] = locate_in(
            [f.code for f in units], None, [f.geometry for f in units], lon, lat
        )
    return _admin_location(found)


def _admin_location(found: dict[str, str | None]) -> Location | None:
    """A point in no grid: where it is by its admin units (level -> code), None outside every
    district."""
    if found["district"] is None:
        return None
    return Location(None, found["community"], found["street"], found["district"])


class VersionLocator:
    """Locates many points under one version (built once: every grid and admin unit)."""

    def __init__(self, store: Store, version_id: int):
        grids = store.layer_geometries(version_id, GRID_LAYERS)
        self.grids = {f.code: f for f in grids}
        self.grid_index = GridIndex(
            [f.code for f in grids], _kinds(grids), [f.geometry for f in grids]
        )
        admin = store.layer_geometries(version_id, ADMIN_LAYERS)
        self.admin_index = {
            level: GridIndex(
                [f.code for f in admin if f.layer == level],
                None,
                [f.geometry for f in admin if f.layer == level],
            )
            for level in ADMIN_LAYERS
        }

    def locate(self, lon: float, lat: float) -> Location | None:
        """One point, as :func:`locate` answers it."""
        code = self.grid_index.locate(lon, lat)
        if code is not None:
            return _from_grid(self.grids[code])
        return _admin_location(
            {level: index.locate(lon, lat) for level, index in self.admin_index.items()}
        )

    def locate_many(self, lons: Sequence[float], lats: Sequence[float]) -> list[Location | None]:
        codes = self.grid_index.locate_many(lons, lats)
        out: list[Location | None] = [None] * len(codes)
        missing = [i for i, c in enumerate(codes) if c is None]
        for i, code in enumerate(codes):
            if code is not None:
                out[i] = _from_grid(self.grids[code])
        if missing:
            lo = np.asarray(lons, dtype=float)[missing]
            la = np.asarray(lats, dtype=float)[missing]
            admin = {lvl: idx.locate_many(lo, la) for lvl, idx in self.admin_index.items()}
            for k, i in enumerate(missing):
                if admin["district"][k] is not None:
                    out[i] = Location(
                        None, admin["community"][k], admin["street"][k], admin["district"][k]
                    )
        return out
