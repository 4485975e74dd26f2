"""Input checks and preparation for the partitioner: every problem named by file, row and field.

Communities must have valid 12-digit codes, valid non-empty polygons and must not overlap;
addresses need whole households/population >= 0 and a point inside some community; barriers
are reduced to lines (polygon barriers such as water count by their outline).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gridmap.codes import is_valid_code
from gridmap.errors import InputError, Problem
from gridmap.model import STORAGE_CRS
from gridmap.partition.config import PartitionConfig
from gridmap.partition.keep import PreviousGrid
from gridmap.partition.measure import area_m2
from gridmap.partition.units import unique_rows

_MAX_PROBLEMS_LISTED = 20


def communities_of(boundaries: gpd.GeoDataFrame, config: PartitionConfig, file: str):
    if "code" not in boundaries.columns:
        raise InputError.one(file, "required column is missing", field="code")
    frame = boundaries
    if "level" in frame.columns:
        frame = frame[frame["level"].astype(str) == "community"]
    if len(frame) == 0:
        raise InputError.one(file, "no community rows (level = community)", field="level")
    problems = []
    codes_ = frame["code"].astype(str).to_numpy()
    geoms = np.array(frame.geometry.to_numpy(), dtype=object)
    rows = frame.index.to_numpy()
    seen: dict[str, int] = {}
    for k, (code, geom) in enumerate(zip(codes_, geoms, strict=True)):
        where = {"feature": int(rows[k]) if np.issubdtype(type(rows[k]), np.integer) else k}
        if not is_valid_code(code, "community"):
            problems.append(
                Problem(file, f"{code!r} is not a 12-digit community code", field="code", **where)
            )
        if code in seen:
            problems.append(
                Problem(file, f"community code {code} appears twice", field="code", **where)
            )
        seen[code] = k
        if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(
                Problem(file, f"community {code} has no polygon", field="geometry", **where)
            )
            continue
        if not geom.is_valid:
            if config.repair:
                fixed = shapely.make_valid(geom)
                parts = [p for p in shapely.get_parts(fixed) if p.geom_type == "Polygon"]
                geoms[k] = shapely.union_all(parts) if parts else fixed
            else:
                problems.append(
                    Problem(
                        file,
                        f"community {code} has an invalid polygon "
                        f"({shapely.is_valid_reason(geom)}); fix it or pass --repair",
                        field="geometry",
                        **where,
                    )
                )
                continue
        if shapely.area(geoms[k]) <= 1e-14:  # ~1 cm2 in degrees: a degenerate polygon
            problems.append(
                Problem(file, f"community {code} has (almost) zero area", field="geometry", **where)
            )
    if problems:
        raise InputError(problems)
    communities = gpd.GeoDataFrame(
        {
            "code": codes_,
            "name": frame.get("name", pd.Series("", index=frame.index)).astype(str).to_numpy(),
        },
        geometry=gpd.GeoSeries(geoms, crs=boundaries.crs or STORAGE_CRS),
    ).to_crs(STORAGE_CRS)
    communities = communities.sort_values("code", kind="stable").reset_index(drop=True)
    check_overlaps(communities, file)
    return communities


def check_overlaps(communities: gpd.GeoDataFrame, file: str) -> None:
    geoms = communities.geometry.to_numpy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = left < right
    left, right = left[pairs], right[pairs]
    if len(left) == 0:
        return
    overlap = shapely.intersection(geoms[left], geoms[right])
    areas = area_m2(gpd.GeoSeries(overlap, crs=STORAGE_CRS))
    bad = np.flatnonzero(areas > 1.0)
    if len(bad):
        codes_ = communities["code"].to_numpy()
        problems = [
            Problem(
                file,
                f"communities {codes_[left[b]]} and {codes_[right[b]]} overlap by "
                f"{areas[b]:.1f} m2",
                field="geometry",
            )
            for b in bad[:_MAX_PROBLEMS_LISTED]
        ]
        raise InputError(problems)


def row_number(frame, position: int) -> int:
    """The number a person finds the row at ``position`` of ``frame`` under: the reader's
    (``attrs["first_row"]``: a CSV's line, header counted, or a feature's number), else 1-based.

    >>> frame = pd.DataFrame({"x": [1, 2]})
    >>> row_number(frame, 0)
    1
    >>> frame.attrs["first_row"] = 2
    >>> row_number(frame, 1)
    3
    """
    return int(position) + int(frame.attrs.get("first_row", 1))


def address_points(addresses, file: str):
    """Distinct address points with their summed households/population, and each row's point."""
    problems = []
    for column in ("households", "population"):
        if column not in addresses.columns:
            problems.append(Problem(file, "required column is missing", field=column))
    if problems:
        raise InputError(problems)
    if isinstance(addresses, gpd.GeoDataFrame) and addresses.geometry.name in addresses:
        geoseries = addresses.geometry
        if geoseries.crs is not None and not geoseries.crs.equals(STORAGE_CRS):
            geoseries = geoseries.to_crs(STORAGE_CRS)
        bad = shapely.is_missing(geoseries.values) | shapely.is_empty(geoseries.values)
        coords = np.full((len(addresses), 2), np.nan)
        ok = ~bad & (shapely.get_type_id(geoseries.values) == 0)
        coords[ok] = shapely.get_coordinates(geoseries.values[ok])
    else:
        for column in ("lon", "lat"):
            if column not in addresses.columns:
                problems.append(Problem(file, "required column is missing", field=column))
        if problems:
            raise InputError(problems)
        coords = addresses[["lon", "lat"]].to_numpy(dtype=float)
    for column in ("households", "population"):
        values = pd.to_numeric(addresses[column], errors="coerce").to_numpy(dtype=float)
        wrong = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values)))
        for position in wrong[:_MAX_PROBLEMS_LISTED]:
            problems.append(
                Problem(
                    file,
                    f"{addresses[column].iloc[position]!r} is not a whole number >= 0",
                    row=row_number(addresses, position),
                    field=column,
                )
            )
    missing = np.flatnonzero(~np.isfinite(coords).all(axis=1))
    for position in missing[:_MAX_PROBLEMS_LISTED]:
        problems.append(
            Problem(
                file, "address has no point", row=row_number(addresses, position), field="lon/lat"
            )
        )
    if problems:
        raise InputError(problems)
    points, inverse = unique_rows(coords)
    hh = np.bincount(
        inverse, weights=addresses["households"].to_numpy(float), minlength=len(points)
    ).astype(np.int64)
    pop = np.bincount(
        inverse, weights=addresses["population"].to_numpy(float), minlength=len(points)
    ).astype(np.int64)
    return points, hh, pop, inverse


# Address components naming one building (its units 单元 and rooms below it are left out).
BUILDING_COMPONENTS = ("community", "road", "roadno", "poi", "subpoi", "houseno")


BUILDING_COLUMN = "_building"  # what compact_buildings() leaves of the components


class BuildingKeys:
    """Building ids of address rows, numbered in order of first appearance over every chunk it
    is given: rows with the same components down to ``houseno`` share an id; -1 where a row
    names no ``houseno``. Called on a chunk, it returns the chunk with the components replaced
    by one integer column (a reader's ``transform``: a multi-million-row library never holds
    six text columns the partitioner only compares).

    >>> keys = BuildingKeys()
    >>> first = pd.DataFrame({"road": ["a", "b", "a"], "houseno": ["1幢", "1幢", None]})
    >>> second = pd.DataFrame({"road": ["b", "c"], "houseno": ["1幢", "2幢"]})
    >>> keys(first)[BUILDING_COLUMN].tolist(), keys(second)[BUILDING_COLUMN].tolist()
    ([0, 1, -1], [1, 2])
    """

    def __init__(self) -> None:
        self.codes: dict[str, dict[str, int]] = {c: {} for c in BUILDING_COMPONENTS}
        self.keys: dict[tuple[int, ...], int] = {}

    def ids(self, chunk: pd.DataFrame) -> np.ndarray:
        present = [c for c in BUILDING_COMPONENTS if c in chunk.columns]
        has_house = (chunk["houseno"].fillna("").astype(str).str.strip() != "").to_numpy()
        # Each column's values as integer codes (one Python string per distinct value, never
        # one per row), then the tuple of codes of each row numbered in file order.
        columns = []
        for column in present:
            codes, uniques = pd.factorize(chunk[column].fillna(""))
            known = self.codes[column]
            numbered = [known.setdefault(value, len(known)) for value in uniques.tolist()]
            columns.append(np.asarray(numbered, np.int64)[codes][has_house])
        result = np.full(len(chunk), -1, np.int64)
        if not has_house.any():
            return result
        rows, first, inverse = np.unique(
            np.column_stack(columns), axis=0, return_index=True, return_inverse=True
        )
        numbers = np.empty(len(rows), np.int64)
        for k in np.argsort(first, kind="stable"):
            numbers[k] = self.keys.setdefault(tuple(rows[k].tolist()), len(self.keys))
        result[has_house] = numbers[inverse.ravel()]
        return result

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        if "houseno" not in chunk.columns or BUILDING_COLUMN in chunk.columns:
            return chunk
        ids = self.ids(chunk)
        compact = chunk.drop(columns=[c for c in BUILDING_COMPONENTS if c in chunk.columns])
        compact[BUILDING_COLUMN] = ids
        return compact

    def texts(self) -> list[tuple[str, ...]]:
        """Each building id's components (in id order), as text: what names a building
        across separately numbered parts (see :meth:`CompactAddresses.merge`)."""
        values = {c: list(known) for c, known in self.codes.items()}
        present = [c for c in BUILDING_COMPONENTS if values[c]]
        return [
            tuple(values[c][code] for c, code in zip(present, key, strict=True))
            for key in self.keys
        ]


COMMUNITY_COLUMN = "_community"  # what CompactAddresses leaves of community_code


@dataclass
class CompactPart:
    """A part's compacted frame and what its ids stand for: ``communities[i]`` is the code of
    community number i, ``buildings[j]`` the components of building j."""

    frame: pd.DataFrame
    communities: list[str]
    buildings: list[tuple[str, ...]]


class CompactAddresses:
    """A reader's ``transform`` for the partitioner: each chunk's building components become
    one building id (:class:`BuildingKeys`) and its ``community_code`` texts integer codes
    numbered over every chunk; :meth:`finish` turns the codes back into a categorical
    ``community_code`` column (a few bytes a row instead of a string each).

    >>> compact = CompactAddresses()
    >>> first = pd.DataFrame({"community_code": ["a", "b", None], "houseno": ["1", "2", "3"]})
    >>> second = pd.DataFrame({"community_code": ["b", "c"], "houseno": ["1", "1"]})
    >>> whole = compact.finish(pd.concat([compact(first), compact(second)], ignore_index=True))
    >>> whole["community_code"].tolist()
    ['a', 'b', nan, 'b', 'c']
    """

    def __init__(self) -> None:
        self.buildings = BuildingKeys()
        self.communities: dict[str, int] = {}

    def __call__(self, chunk: pd.DataFrame) -> pd.DataFrame:
        chunk = self.buildings(chunk)
        if "community_code" in chunk.columns:
            codes, uniques = pd.factorize(chunk["community_code"])
            known = self.communities
            numbered = [known.setdefault(str(value), len(known)) for value in uniques.tolist()]
            mapped = np.append(np.asarray(numbered, np.int32), np.int32(-1))
            chunk = chunk.drop(columns="community_code")
            chunk[COMMUNITY_COLUMN] = mapped[codes]  # -1 (a missing code) picks the last
        return chunk

    def part(self, chunk: pd.DataFrame) -> CompactPart:
        """One part of a file compacted on its own (e.g. on a Dask worker): its frame with
        ids numbered within the part, and the texts they stand for."""
        return CompactPart(self(chunk), list(self.communities), self.buildings.texts())

    def merge(self, part: CompactPart) -> pd.DataFrame:
        """The frame of a part compacted elsewhere, renumbered as if this object had read it:
        parts merged in file order number everything exactly as one reader would."""
        frame = part.frame
        if COMMUNITY_COLUMN in frame.columns:
            known = self.communities
            numbers = [known.setdefault(code, len(known)) for code in part.communities]
            mapped = np.append(np.asarray(numbers, np.int32), np.int32(-1))
            frame[COMMUNITY_COLUMN] = mapped[frame[COMMUNITY_COLUMN].to_numpy()]
        if BUILDING_COLUMN in frame.columns:
            keys = self.buildings.keys
            numbers = [keys.setdefault(texts, len(keys)) for texts in part.buildings]
            mapped = np.append(np.asarray(numbers, np.int64), np.int64(-1))
            frame[BUILDING_COLUMN] = mapped[frame[BUILDING_COLUMN].to_numpy()]
        return frame

    def finish(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The read frame with its ``community_code`` column back (categorical)."""
        if COMMUNITY_COLUMN not in frame.columns:
            return frame
        codes = frame.pop(COMMUNITY_COLUMN).to_numpy()
        frame["community_code"] = pd.Categorical.from_codes(
            codes, categories=list(self.communities)
        )
        return frame


# What the partitioner reads of an address library: the text, components and id are never read
# (on a multi-million-row library they were most of the command's memory; an address outside
# every community is named by its row), and of the building components only which building a
# row is (see CompactAddresses).
ADDRESS_COLUMNS = ["lon", "lat", "households", "population", "community_code"]
ADDRESS_COLUMNS += BUILDING_COMPONENTS  # micro-grids keep buildings whole (absent ones: skipped)


def read_addresses(path, *, crs: str | None = None, client=None) -> pd.DataFrame:
    """The address columns the partitioner needs, compacted (see :class:`CompactAddresses`);
    with a Dask ``client``, a CSV is read in parts on its workers. Raises InputError."""
    from gridmap import io
    from gridmap.io.parts import PartsCheck, layer_parts

    compact = CompactAddresses()
    parts = layer_parts(path, lazy=True) if client is not None else None
    if parts is None:
        frame = io.read_addresses(
            path, crs=crs, columns=ADDRESS_COLUMNS, points=False, transform=compact
        )
        return compact.finish(frame)
    from gridmap.distributed import ordered_map

    check = PartsCheck(path, "addresses")
    frames = []
    for report in ordered_map(client, compact_part, parts, crs=crs):
        piece = check.add(report)
        if piece is not None:
            frames.append(compact.merge(piece))
    check.finish()
    return compact.finish(pd.concat(frames, ignore_index=True))


def compact_part(part, crs: str | None = None):
    """One part of an address CSV read, checked and compacted on its own (a worker's task)."""
    from gridmap.io.parts import check_part

    return check_part(
        part,
        "addresses",
        crs=crs,
        columns=ADDRESS_COLUMNS,
        points=False,
        work=lambda frame: CompactAddresses().part(frame),
    )


def row_buildings(addresses) -> np.ndarray | None:
    """Building id of each address row (see :class:`BuildingKeys`); None when the library has
    no ``houseno`` column."""
    if BUILDING_COLUMN in addresses.columns:
        return addresses[BUILDING_COLUMN].to_numpy(np.int64)
    if "houseno" not in addresses.columns:
        return None
    return BuildingKeys().ids(addresses)


def building_ids(addresses, inverse: np.ndarray, n_points: int) -> np.ndarray:
    """Building of each distinct address point (see :func:`row_buildings`); -1: alone.

    >>> frame = pd.DataFrame({"road": ["a", "a", "a"], "houseno": ["1幢", "1幢", None]})
    >>> building_ids(frame, np.array([0, 1, 2]), 3).tolist()
    [0, 0, -1]
    """
    result = np.full(n_points, -1, np.int64)
    per_row = row_buildings(addresses) if n_points else None
    if per_row is None:
        return result
    rows = np.flatnonzero(per_row >= 0)
    # one address of each point names its building (the first one listed)
    order = np.argsort(inverse[rows], kind="stable")
    first = np.ones(len(order), bool)
    first[1:] = inverse[rows][order][1:] != inverse[rows][order][:-1]
    result[inverse[rows][order][first]] = per_row[rows][order][first]
    return result


@dataclass(frozen=True)
class PointCommunities:
    """Which community partitions each distinct point, and the points on shared borders."""

    index: np.ndarray  # community (row of the communities frame) of each point
    border: np.ndarray  # the points that lie in more than one community, once each, ascending


def point_communities(
    points, communities, inverse, addresses, names, exclusive: dict | None = None
) -> PointCommunities:
    """Community index of each distinct point; points outside every community are an error.

    A point on a shared border follows the edge rule of :mod:`gridmap.rules.grid_index` as far
    as it can be known before grids exist: a community whose exclusive site (``exclusive``:
    community code -> sites) covers the point first, then the lower community code (grid codes
    extend community codes, so the lower code holds the smaller grid code). An exclusive grid
    can grow past its site to the border; :mod:`gridmap.partition.borders` settles those points
    once the grids exist.
    """
    result = np.full(len(points), -1, np.int64)
    if len(points) == 0:
        return PointCommunities(result, np.zeros(0, np.int64))
    tree = shapely.STRtree(communities.geometry.to_numpy())
    shapes = shapely.points(points)
    pt, com = tree.query(shapes, predicate="intersects")
    on_site = np.zeros(len(pt), bool)
    codes = communities["code"].to_numpy()
    shared = np.bincount(pt, minlength=len(points))[pt] > 1
    border = np.unique(pt[shared])
    for k in np.flatnonzero(shared):
        sites = (exclusive or {}).get(codes[com[k]], [])
        on_site[k] = any(shapely.covers(site.geometry, shapes[pt[k]]) for site in sites)
    order = np.lexsort((com, ~on_site, pt))  # on a shared border: a site first, then lower code
    pt, com = pt[order], com[order]
    first = np.ones(len(pt), bool)
    first[1:] = pt[1:] != pt[:-1]
    result[pt[first]] = com[first]
    outside = np.flatnonzero(result[inverse] < 0)
    if len(outside):
        ids = addresses["address_id"].astype(str).to_numpy() if "address_id" in addresses else None
        problems = []
        for position in outside[:_MAX_PROBLEMS_LISTED]:
            lon, lat = points[inverse[position]]
            label = f"address {ids[position]} " if ids is not None else "address "
            problems.append(
                Problem(
                    names["addresses"],
                    f"{label}at {lon:.6f},{lat:.6f} lies outside every community "
                    f"of {names['boundaries']}",
                    row=row_number(addresses, position),
                    field="lon/lat",
                )
            )
        if len(outside) > _MAX_PROBLEMS_LISTED:
            problems.append(
                Problem(
                    names["addresses"],
                    f"... {len(outside)} addresses in all lie outside every community",
                )
            )
        raise InputError(problems)
    return PointCommunities(result, border)


def mislabelled(addresses, communities, row_community: np.ndarray) -> int:
    """Addresses whose community_code names another community than the one they lie in.

    Compared as integer codes (a categorical column's own, or factorized), never as a Python
    string per row: a multi-million-row library would hold them all at once.

    >>> frame = pd.DataFrame({"community_code": ["a", "b", "", None, "zz"]})
    >>> mislabelled(frame, pd.DataFrame({"code": ["a", "b"]}), np.array([0, 0, 0, 0, 1]))
    2
    """
    if "community_code" not in addresses.columns:
        return 0
    codes, given = pd.factorize(addresses["community_code"])
    located = {str(code): k for k, code in enumerate(communities["code"])}
    # each given text as the index of the community it names (-2: none of them, -1: no text)
    named = np.array([located.get(str(text), -2) if str(text) != "" else -1 for text in given])
    named = np.append(named, -1).astype(np.int64)[codes]  # codes -1 (missing) -> the last
    return int(((named != -1) & (named != row_community)).sum())


def barrier_lines(barriers) -> np.ndarray:
    """Barrier geometries as lines (polygon barriers such as water count by their outline)."""
    if barriers is None or len(barriers) == 0:
        return np.zeros(0, dtype=object)
    geoms = barriers.geometry
    if geoms.crs is not None and not geoms.crs.equals(STORAGE_CRS):
        geoms = geoms.to_crs(STORAGE_CRS)
    geoms = geoms.to_numpy()
    geoms = geoms[~shapely.is_missing(geoms)]
    geoms = geoms[~shapely.is_empty(geoms)]
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    geoms = np.where(polygonal, shapely.boundary(geoms), geoms)
    lines = []
    for geom in geoms:  # keep the line parts of collections; points cannot cut anything
        for part in shapely.get_parts(geom):
            if (
                part.geom_type in ("LineString", "LinearRing", "MultiLineString")
                and part.length > 0
            ):
                lines.append(part)
    return np.array(lines, dtype=object)


def previous_by_community(
    previous, file: str, communities=None, locks: tuple[str, ...] = ()
) -> dict[str, list[PreviousGrid]]:
    """Earlier grids by community code, locked ones marked (``--lock`` or a ``locked`` column).

    A lock must name an earlier grid, lie inside its community and overlap no other locked grid:
    anything else is an input error naming the code.
    """
    locks = tuple(str(code) for code in locks)
    if previous is None or len(previous) == 0:
        if locks:
            raise InputError.one(
                "--lock", "locks need the earlier grids (--previous) they name", field="lock"
            )
        return {}
    for column in ("grid_code", "community_code"):
        if column not in previous.columns:
            raise InputError.one(file, "required column is missing", field=column)
    frame = previous.to_crs(STORAGE_CRS) if previous.crs is not None else previous
    n = len(frame)

    def column(name, default):
        return frame[name].to_numpy() if name in frame else np.full(n, default, dtype=object)

    codes_ = frame["grid_code"].astype(str).to_numpy()
    unknown = sorted(set(locks) - set(codes_))
    if unknown:
        raise InputError(
            [
                Problem("--lock", f"{code} is not a grid of {file}", field="lock")
                for code in unknown[:_MAX_PROBLEMS_LISTED]
            ]
        )
    locked = np.isin(codes_, locks) | _truthy(column("locked", 0))
    households, population = column("households", None), column("population", None)
    flags = column("flags", None) if "flags" in frame else None
    out: dict[str, list[PreviousGrid]] = {}
    for k, (community, kind, site_id, category, host, geom) in enumerate(
        zip(
            frame["community_code"].astype(str),
            frame["kind"].astype(str) if "kind" in frame else ["comprehensive"] * n,
            column("site_id", ""),
            column("site_category", ""),
            column("host_grid_code", ""),
            frame.geometry,
            strict=True,
        )
    ):
        if geom is None or geom.is_empty:
            continue
        out.setdefault(community, []).append(
            PreviousGrid(
                code=codes_[k],
                kind=kind,
                geometry=geom,
                households=_whole(households[k]),
                population=_whole(population[k]),
                site_id="" if pd.isna(site_id) else str(site_id),
                site_category="" if pd.isna(category) else str(category),
                host="" if pd.isna(host) else str(host),
                locked=bool(locked[k]),
                flagged=None if flags is None else _text_of(flags[k]) != "",
            )
        )
    if communities is not None and locked.any():
        _check_locks(out, communities, file)
    return out


def _text_of(value) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _truthy(values) -> np.ndarray:
    text = pd.Series(values, dtype=object).fillna("").astype(str).str.strip().str.lower()
    return text.isin(["1", "true", "yes", "y", "t", "locked", "1.0"]).to_numpy()


def _whole(value) -> int | None:
    if value is None or pd.isna(value):
        return None
    return int(value)


def _check_locks(previous: dict[str, list[PreviousGrid]], communities, file: str) -> None:
    problems = []
    geoms = dict(zip(communities["code"], communities.geometry, strict=True))
    for community, grids in previous.items():
        locked = [g for g in grids if g.locked]
        if not locked:
            continue
        area = geoms.get(community)
        for grid in locked:
            if area is None:
                problems.append(
                    Problem(
                        file,
                        f"locked grid {grid.code} names community {community}, "
                        "which is not in the boundaries",
                        field="community_code",
                    )
                )
                continue
            outside = shapely.area(shapely.difference(grid.geometry, area))
            if outside > 1e-9 * grid.geometry.area:
                problems.append(
                    Problem(
                        file,
                        f"locked grid {grid.code} reaches outside community {community} "
                        "(its boundary changed): unlock it or redraw it",
                        field="geometry",
                    )
                )
        for k, a in enumerate(locked):
            for b in locked[k + 1 :]:
                shared = shapely.area(shapely.intersection(a.geometry, b.geometry))
                if shared > 1e-9 * min(a.geometry.area, b.geometry.area):
                    problems.append(
                        Problem(
                            file,
                            f"locked grids {a.code} and {b.code} overlap",
                            field="geometry",
                        )
                    )
    if problems:
        raise InputError(problems[:_MAX_PROBLEMS_LISTED])
