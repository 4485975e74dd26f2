"""Grid versions as use cases: publish (from files or frames), activate, move open incidents
with them, and KPIs under any version.

Publishing stores admin units, grids, roads and the address library as one version; display
geometry is simplified per zoom band here (:mod:`gridmap.rules.display`), so the map answers
fast later. Publishing or activating a version re-homes every open incident into its grid under
that version (its history kept, the move recorded) and reports field tokens bound to codes the
version does not have.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.errors import InputError
from gridmap.model import ADDRESS_COMPONENTS, STORAGE_CRS
from gridmap.rules import kpi as kpi_rules
from gridmap.rules.display import display_texts
from gridmap.rules.grid_index import GridIndex
from gridmap.rules.kpi import KpiCounts
from gridmap.services.locating import VersionLocator
from gridmap.store import Address, Location, NewFeature, Store, Version
from gridmap.tiles.cache import warm_tiles

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Activation:
    """What making a version current did: incidents moved, tokens that no longer fit."""

    version_id: int
    open_incidents: int  # open incidents located under the version
    moved: int  # of them, how many changed grid
    outside: int  # open incidents outside every grid of the version (kept where they were)
    stale_tokens: list[dict] = field(default_factory=list)  # {id, name, role, codes}

    def as_json(self) -> dict:
        return {
            "version_id": self.version_id,
            "open_incidents": self.open_incidents,
            "moved": self.moved,
            "outside": self.outside,
            "stale_tokens": self.stale_tokens,
        }


def publish(
    store: Store,
    grids: gpd.GeoDataFrame,
    boundaries: gpd.GeoDataFrame,
    addresses: pd.DataFrame,
    barriers: gpd.GeoDataFrame | None = None,
    *,
    micro_grids: gpd.GeoDataFrame | None = None,
    note: str = "",
    city: str | None = None,
    published_by: str = "",
    progress=None,
) -> dict:
    """Store a grid version, make it current and re-home open incidents into it; returns a
    summary dict (``version_id``, counts, and ``activation``: see :class:`Activation`).

    ``micro_grids`` (the partitioner's ``micro_grids`` layer: micro_code, grid_code, households,
    population, flags) is stored as layer ``micro_grid`` when given.

    ``progress`` is an optional callable ``progress(step_name)`` for a CLI progress bar.
    """
    tick = progress or (lambda _name: None)
    _require(grids, "grids", ("grid_code", "kind", "community_code"))
    _require(boundaries, "boundaries", ("code", "name", "level"))
    _require(addresses, "addresses", ("address_id", "address", "lon", "lat"))
    grids = _to_storage(grids, "grids")
    boundaries = _to_storage(boundaries, "boundaries")

    features: list[dict] = []
    for level in ("district", "street", "community"):
        units = boundaries[boundaries["level"].astype(str) == level]
        props = [
            {
                "code": str(r.code),
                "name": str(r.name),
                "level": level,
                "parent_code": _text(getattr(r, "parent_code", None)),
            }
            for r in units.itertuples()
        ]
        features += _features(level, units.geometry.values, props, coverage=True)
        tick(level)
    if not any(f.layer == "district" for f in features):
        raise InputError.one(
            "boundaries", "no district-level unit: the city outline is unknown", field="level"
        )

    grid_props = [_grid_props(r) for r in grids.itertuples()]
    kinds = grids["kind"].astype(str).to_numpy()
    for layer, kind in (("grid", "comprehensive"), ("exclusive", "exclusive")):
        mask = kinds == kind
        features += _features(
            layer,
            grids.geometry.values[mask],
            [p for p, m in zip(grid_props, mask, strict=True) if m],
            coverage=(layer == "grid"),
        )
        tick(layer)

    if barriers is not None and len(barriers):
        barriers = _to_storage(barriers, "barriers")
        props = [
            {"name": _text(getattr(r, "name", None)) or "", "kind": _text(getattr(r, "kind", None))}
            for r in barriers.itertuples()
        ]
        features += _features("roads", barriers.geometry.values, props, coverage=False)
        tick("roads")

    if micro_grids is not None and len(micro_grids):
        _require(micro_grids, "micro_grids", ("micro_code", "grid_code"))
        micro_grids = _to_storage(micro_grids, "micro_grids")
        props = [
            {
                "micro_code": str(r.micro_code),
                "grid_code": str(r.grid_code),
                "households": _number(getattr(r, "households", 0), int) or 0,
                "population": _number(getattr(r, "population", 0), int) or 0,
                "flags": _text(getattr(r, "flags", None)) or "",
            }
            for r in micro_grids.itertuples()
        ]
        features += _features(
            "micro_grid", micro_grids.geometry.values, props, coverage=True, code_key="micro_code"
        )

    address_rows, grid_of_address = _address_rows(addresses, grids)
    tick("addresses")
    districts = boundaries[boundaries["level"].astype(str) == "district"]
    bounds = tuple(float(v) for v in districts.total_bounds)
    city_name = city if city is not None else _city_name(addresses)
    summary = {
        "districts": int((boundaries["level"] == "district").sum()),
        "streets": int((boundaries["level"] == "street").sum()),
        "communities": int((boundaries["level"] == "community").sum()),
        "grids": int((kinds == "comprehensive").sum()),
        "exclusive_grids": int((kinds == "exclusive").sum()),
        "roads": 0 if barriers is None else len(barriers),
        "micro_grids": 0 if micro_grids is None else len(micro_grids),
        "addresses": len(address_rows),
        "addresses_without_grid": int(sum(g is None for g in grid_of_address)),
    }
    version_id = store.add_version(
        note=note,
        city=city_name,
        bounds=bounds,
        features=features,
        addresses=address_rows,
        summary=summary,
        published_by=published_by,
    )
    tick("stored")
    # The vector tiles of a version never change: cut them once, now (map's gridmap.tiles).
    warm_tiles(store, version_id, progress=progress)
    activation = rehome(store, version_id, actor=published_by or "publish")
    return {
        "version_id": version_id,
        "city": city_name,
        "bounds": bounds,
        **summary,
        "activation": activation.as_json(),
    }


def _require(frame: pd.DataFrame, name: str, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError.one(name, f"missing column(s) {', '.join(missing)}", field=missing[0])


def _to_storage(frame: gpd.GeoDataFrame, name: str) -> gpd.GeoDataFrame:
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry is None:
        raise InputError.one(name, "has no geometry")
    if frame.crs is None:
        return frame.set_crs(STORAGE_CRS)
    return frame if frame.crs.to_epsg() == 4490 else frame.to_crs(STORAGE_CRS)


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    text = str(value)
    return text or None


def _number(value, cast):
    try:
        return None if pd.isna(value) else cast(value)
    except (TypeError, ValueError):
        return None


def _grid_props(r) -> dict:
    area = getattr(r, "area_m2", None)
    return {
        "grid_code": str(r.grid_code),
        "kind": str(r.kind),
        "community_code": _text(r.community_code),
        "host_grid_code": _text(getattr(r, "host_grid_code", None)),
        "households": _number(getattr(r, "households", 0), int) or 0,
        "population": _number(getattr(r, "population", 0), int) or 0,
        "area_m2": None if area is None else _number(area, lambda v: round(float(v), 1)),
        # The partitioner's own violation names (below_min, above_max, ...): the planner panel
        # lists them instead of guessing from a household band.
        "flags": _text(getattr(r, "flags", None)) or "",
        # What a re-partition from this version needs (gridmap.services.plans): the site an
        # exclusive grid stands for, and whether a planner pinned the grid.
        "site_id": _text(getattr(r, "site_id", None)) or "",
        "site_category": _text(getattr(r, "site_category", None)) or "",
        "locked": bool(_number(getattr(r, "locked", 0), int) or 0),
    }


def _features(
    layer: str, geoms: np.ndarray, props: list[dict], *, coverage: bool, code_key: str | None = None
) -> list[NewFeature]:
    """Features with full geometry and one GeoJSON text per zoom band."""
    geoms = np.asarray(geoms, dtype=object)
    if len(geoms) == 0:
        return []
    geoms = shapely.make_valid(geoms)
    texts = display_texts(geoms, coverage=coverage)
    return [
        NewFeature(
            layer=layer,
            code=p[code_key] if code_key else (p.get("grid_code") or p.get("code")),
            name=p.get("name"),
            props=p,
            geometry=geoms[i],
            display={band: texts[band][i] for band in texts},
        )
        for i, p in enumerate(props)
    ]


def _address_rows(addresses: pd.DataFrame, grids: gpd.GeoDataFrame) -> tuple[list[Address], list]:
    """The library's addresses; grid_code from the file or by the edge rule."""
    lon = pd.to_numeric(addresses["lon"], errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(addresses["lat"], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero(~(np.isfinite(lon) & np.isfinite(lat)))
    if len(bad):
        raise InputError.one(
            "addresses", "lon/lat is not a number", row=int(bad[0]) + 2, field="lon"
        )
    if "grid_code" in addresses.columns:
        grid_codes = [_text(v) for v in addresses["grid_code"]]
    else:
        grid_codes = list(GridIndex.from_frame(grids).locate_many(lon, lat))
    components = [c for c in ADDRESS_COMPONENTS if c in addresses.columns]
    rows = []
    for i, r in enumerate(addresses.itertuples(index=False)):
        comp = {c: _text(getattr(r, c)) for c in components}
        rows.append(
            Address(
                address_id=str(r.address_id),
                address=str(r.address),
                lon=float(lon[i]),
                lat=float(lat[i]),
                households=_number(getattr(r, "households", 0), int) or 0,
                population=_number(getattr(r, "population", 0), int) or 0,
                community_code=_text(getattr(r, "community_code", None)),
                grid_code=grid_codes[i],
                components={k: v for k, v in comp.items() if v},
            )
        )
    return rows, grid_codes


def _city_name(addresses: pd.DataFrame) -> str:
    if "city" not in addresses.columns:
        return ""
    counts = Counter(v for v in addresses["city"].dropna().astype(str) if v)
    return counts.most_common(1)[0][0] if counts else ""


def read_files(
    grids: str | Path,
    boundaries: str | Path,
    addresses: str | Path,
    barriers: str | Path | None = None,
    *,
    crs: str | None = None,
) -> dict:
    """The frames :func:`publish` takes, read from files (any format :mod:`gridmap.io` reads);
    InputError names the file, row and field of bad input."""
    paths = {"grids": grids, "boundaries": boundaries, "addresses": addresses}
    frames = {name: read_file(name, path, crs=crs) for name, path in paths.items()}
    frames["barriers"] = read_file("barriers", barriers, crs=crs) if barriers else None
    frames["micro_grids"] = read_micro_grids(grids)
    return frames


def read_micro_grids(grids_path: str | Path):
    """The ``micro_grids`` layer `gridmap partition` writes beside the grids in a GeoPackage,
    or None when the file has none."""
    import pyogrio

    if not str(grids_path).lower().endswith(".gpkg"):
        return None
    layers = [str(name) for name, _kind in pyogrio.list_layers(grids_path)]
    if "micro_grids" not in layers:
        return None
    return pyogrio.read_dataframe(grids_path, layer="micro_grids")


def read_file(name: str, path: str | Path, *, crs: str | None = None):
    """One input of a version (``name``: grids, boundaries, addresses or barriers)."""
    from gridmap import io

    if name == "grids":
        return io.read_grids(path)
    reader = {
        "boundaries": io.read_boundaries,
        "addresses": io.read_addresses,
        "barriers": io.read_barriers,
    }[name]
    return reader(path, crs=crs)


def publish_files(
    store: Store,
    grids: str | Path,
    boundaries: str | Path,
    addresses: str | Path,
    barriers: str | Path | None = None,
    *,
    crs: str | None = None,
    note: str = "",
    published_by: str = "",
    progress: Progress | None = None,
) -> dict:
    """:func:`publish` from files (see :func:`read_files`)."""
    frames = read_files(grids, boundaries, addresses, barriers, crs=crs)
    if progress:
        progress("read")
    return publish(store, **frames, note=note, published_by=published_by, progress=progress)


def activate(store: Store, version_id: int, actor: str = "") -> Activation:
    """Make a published version current and re-home open incidents into it (NotFound)."""
    store.set_current(version_id)
    return rehome(store, version_id, actor=actor or "activate")


def rehome(store: Store, version_id: int, actor: str = "") -> Activation:
    """Put every open incident into its grid under ``version_id`` (history kept; a move is
    recorded as a 'rehome' entry) and list field tokens bound to codes the version lacks.

    Incidents outside every grid and district of the version keep their old location.
    """
    locator = VersionLocator(store, version_id)
    positions = store.incident_positions(open_only=True)
    located = locator.locate_many([p.lon for p in positions], [p.lat for p in positions])
    pairs = [(p.id, loc) for p, loc in zip(positions, located, strict=True) if loc is not None]
    moved = store.save_locations(version_id, pairs, rehome=True, actor=actor)
    return Activation(
        version_id=version_id,
        open_incidents=len(positions),
        moved=moved,
        outside=len(positions) - len(pairs),
        stale_tokens=stale_tokens(store, version_id, locator),
    )


def stale_tokens(store: Store, version_id: int, locator: VersionLocator | None = None) -> list:
    """Active field tokens bound to a code that names no grid or division of the version."""
    locator = locator or VersionLocator(store, version_id)
    known = set(locator.grids) | set(store.names(version_id))
    out = []
    for token in store.tokens():
        if token.revoked_at is not None or not token.grids:
            continue
        # A prefix code (community, street, district) is fine when some unit carries it.
        missing = [c for c in token.grids if c not in known]
        if missing:
            out.append({"id": token.id, "name": token.name, "role": token.role, "codes": missing})
    return out


def kpis(store: Store, level: str, version: Version | None = None, **filters) -> list[KpiCounts]:
    """Counts per unit of ``level``. Without ``version``: by the grid each incident is in now
    (open ones follow the current version; finished ones stay in the grid that handled them).
    With a version (current or not): every incident by where it lies under that version; an
    incident never located there is located once and kept."""
    if version is None:
        return store.kpis(level, **filters)
    missing = store.incident_positions(missing_version=version.id)
    if missing:
        located = VersionLocator(store, version.id).locate_many(
            [p.lon for p in missing], [p.lat for p in missing]
        )
        # Outside the version: an empty location, so the point is not located again.
        nowhere = Location(None, None, None, None)
        store.save_locations(
            version.id,
            [(p.id, loc or nowhere) for p, loc in zip(missing, located, strict=True)],
        )
    return store.kpis(level, version_id=version.id, **filters)


def city_total(rows: list[KpiCounts]) -> KpiCounts:
    """The whole city: the sum of its districts (rates from the sums, see gridmap.rules.kpi)."""
    return kpi_rules.total(rows, code="city")
