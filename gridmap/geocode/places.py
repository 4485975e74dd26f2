"""A matched place and what an answer says about it: label, point, grid, highlight.

A :class:`Place` is what the matcher found: a level and the library anchors it spans (doors,
compounds, a road's doors, an admin unit's doors), plus the building/unit/room group below them.
:class:`Describer` turns it into what a caller sees:

* ``address_id`` only when one library entry *is* that place (a room, a door with its own
  entry); a road or a compound is no one room, so it has none;
* a point: the entry's own, else the place's representative point, ``approximate``: a road's
  midpoint along its line, a compound's or admin unit's centroid, a building's centroid;
* ``label``: the place written out down to its level, a query that finds it again;
* ``highlight`` for a road or a compound: the road line (from a roads layer when the geocoder has
  one, else through the road's door points in order), the compound outline (the hull around its
  entries' points).

>>> import pandas as pd
>>> from gridmap.geocode.library import AddressLibrary
>>> rows = pd.DataFrame({"address_id": ["a", "b"], "address": ["x", "y"],
...     "lon": [120.70, 120.71], "lat": [30.70, 30.70], "district": ["南湖区"] * 2,
...     "road": ["中山路"] * 2, "roadno": ["1号", "9号"], "houseno": ["1幢", "1幢"],
...     "roomno": ["101室", "101室"]})
>>> lib = AddressLibrary(rows)
>>> road = Place("road", lib.road_anchors["中山路"])
>>> about = Describer(lib).describe(road)
>>> about.label, about.address_id, about.approximate, about.highlight["type"]
('南湖区中山路', None, True, 'LineString')
>>> round(about.lon, 3), round(about.lat, 3)
(120.705, 30.7)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.geocode.library import AddressLibrary, Groups
from gridmap.model import APPROXIMATE_LEVELS

LEVEL_DEPTH = {
    "none": -1,
    "district": 0,
    "town": 1,
    "community": 2,
    "road": 3,
    "compound": 4,
    "door": 5,
    "building": 6,
    "unit": 7,
    "room": 8,
}
OUTLINE_PAD = 0.0002  # degrees (about 20 m) around a compound's entries: its drawn outline
SAME_POINT = 1e-6  # degrees: rows of a building closer than this stand at one point


@dataclass(frozen=True)
class Place:
    """A matched place: its level, the anchors it spans, the door-part group below them."""

    level: str
    anchors: frozenset[int]
    table: str | None = None  # "building", "unit", "room", "room_nounit" (library groups)
    group: int | None = None  # index into that table
    parts: tuple[str | None, ...] = ()  # (building, unit, room) numbers that found the group

    @property
    def key(self) -> tuple:
        """Equal for the same place however it was reached."""
        if self.group is not None:
            return (self.level, self.table, self.group)
        return (self.level, self.anchors)


@dataclass(frozen=True)
class About:
    """What an answer says about a place."""

    address_id: str | None
    address: str | None
    label: str
    lon: float | None
    lat: float | None
    approximate: bool
    grid_code: str | None
    highlight: dict | None


class Describer:
    """Labels, points, grids and highlights of places in one library (see module docstring).

    ``roads`` (optional) maps a road name (as the library spells it, normalised) to its line
    geometry (EPSG:4490); without it a road is drawn through its door points.
    """

    def __init__(self, library: AddressLibrary, roads: dict | None = None) -> None:
        self.library = library
        self.roads = roads or {}
        order = np.argsort(library.anchor_of_row, kind="stable")
        bounds = np.searchsorted(
            library.anchor_of_row[order], np.arange(len(library.anchor_rep) + 1)
        )
        self._rows_order, self._rows_bounds = order, bounds
        # every compound's outline as GeoJSON text, drawn at once with the index (one vectorised
        # GEOS pass costs less than the first answer of a few hundred compounds drawn one by one)
        self._outlines = _compound_outlines(library)
        self._highlights: dict[tuple, dict | None] = {}
        self._about: dict[tuple, About] = {}
        self._heads: dict[tuple, str] = {}  # (anchors, depth down to the door) -> label head

    def table(self, name: str) -> Groups:
        lib = self.library
        return {
            "building": lib.building_groups,
            "unit": lib.unit_groups,
            "room": lib.room_groups,
            "room_nounit": lib.room_nounit_groups,
        }[name]

    # --- pieces ---------------------------------------------------------------------------
    def row(self, place: Place) -> int:
        """The representative library row of a place."""
        if place.group is not None:
            return int(self.table(place.table).rep[place.group])
        return self.library.anchors_summary(place.anchors)[0]

    def grid(self, place: Place) -> str | None:
        """The grid when every entry of the place lies in one, else None."""
        lib = self.library
        if place.group is not None:
            groups = self.table(place.table)
            return lib.grid_of_ranks(
                int(groups.grid_lo[place.group]), int(groups.grid_hi[place.group])
            )
        return lib.anchors_summary(place.anchors)[1]

    def exact_row(self, place: Place) -> int | None:
        """The library entry that *is* the place (its deepest component is the place), if any."""
        row = self.row(place)
        if int(self.library.row_level[row]) != LEVEL_DEPTH[place.level]:
            return None  # e.g. a building known only by its rooms: no room stands for it
        return row

    def rows(self, anchors) -> np.ndarray:
        """Every library row under ``anchors``."""
        order, bounds = self._rows_order, self._rows_bounds
        return np.concatenate([order[bounds[a] : bounds[a + 1]] for a in anchors])

    def label(self, place: Place) -> str:
        """The place written out: shared admin units, road and door, compound, door parts."""
        depth = LEVEL_DEPTH[place.level]
        # the part down to the door is the same for every building and room of a compound
        key = (place.anchors, min(depth, 5))
        head = self._heads.get(key)
        if head is None:
            head = self._head(place.anchors, place.level)
            if len(self._heads) > 100_000:
                self._heads.clear()
            self._heads[key] = head
        if depth < 6 or not place.parts:
            return head
        pieces = [head]
        for number, word in zip(place.parts, ("幢", "单元", "室"), strict=False):
            if number is not None:
                pieces.append(number + word)
        return "".join(pieces)

    def _head(self, anchors: frozenset[int], level: str) -> str:
        """:meth:`label` down to ``level`` or the door, whichever is shallower."""
        fields = self.library.anchor_fields
        place = Place(level, anchors)
        if len(place.anchors) == 1:
            (only,) = place.anchors

            def common(column: str) -> str:
                return fields[column][only]
        else:
            index = np.fromiter(place.anchors, dtype=np.int64, count=len(place.anchors))

            def common(column: str) -> str:
                values = fields[column][index]
                first = values[0]
                return first if (values == first).all() else ""

        depth = LEVEL_DEPTH[place.level]
        pieces = [common("district")]
        if depth >= 1:
            pieces.append(common("town"))
        if depth >= 2:
            pieces.append(common("community"))
        if depth >= 3:
            road = common("road")
            if place.level in ("road", "compound", "door") or depth >= 5:
                pieces.append(road)
                number = common("roadno") if depth >= 5 or place.level == "compound" else ""
                if number:
                    pieces.append(number if number.endswith("弄") else number + "号")
            if depth >= 4:
                pieces.append(common("poi"))
        return "".join(p for p in pieces if p)

    def point(self, place: Place, highlight: dict | None) -> tuple[float, float, bool]:
        """(lon, lat, approximate): the entry's own point, else the representative point."""
        lib = self.library
        exact = self.exact_row(place)
        vague = place.level in APPROXIMATE_LEVELS
        if exact is not None:
            return float(lib.lon[exact]), float(lib.lat[exact]), vague
        if place.level == "road" and highlight is not None:
            line = shapely.from_geojson(_json(highlight))
            if isinstance(line, shapely.LineString | shapely.MultiLineString):
                if isinstance(line, shapely.MultiLineString):
                    line = max(line.geoms, key=lambda g: g.length)
                middle = line.interpolate(0.5, normalized=True)
                return float(middle.x), float(middle.y), True
        if place.group is not None:
            groups = self.table(place.table)
            g = place.group
            spread = float(groups.spread[g])
            return float(groups.lon[g]), float(groups.lat[g]), vague or spread > SAME_POINT
        index = np.fromiter(place.anchors, dtype=np.int64, count=len(place.anchors))
        weight = lib.anchor_count[index].astype(np.float64)
        lon = float(np.dot(lib.anchor_lon[index], weight) / weight.sum())
        lat = float(np.dot(lib.anchor_lat[index], weight) / weight.sum())
        spread = len(index) > 1 or float(lib.anchor_spread[index[0]]) > SAME_POINT
        return lon, lat, vague or spread

    def highlight(self, place: Place) -> dict | None:
        """GeoJSON geometry of a road line or a compound outline (None for other levels)."""
        if place.level not in ("road", "compound"):
            return None
        key = (place.level, place.anchors)
        if key in self._highlights:
            return self._highlights[key]
        lib = self.library
        index = np.fromiter(place.anchors, dtype=np.int64, count=len(place.anchors))
        if place.level == "road":
            geometry = self._road_line(place, index)
            out = None if geometry is None else _mapping(geometry)
        elif place.anchors in self._outlines:
            out = json.loads(self._outlines[place.anchors])
        else:  # a part of a compound (narrowed by road or admin unit): drawn now
            rows = self.rows(index)
            hull = shapely.multipoints(_distinct_points(lib.lon[rows], lib.lat[rows])).convex_hull
            out = _mapping(hull.buffer(OUTLINE_PAD, quad_segs=4))
        if len(self._highlights) > 10_000:
            self._highlights.clear()
        self._highlights[key] = out
        return out

    def _road_line(self, place: Place, index: np.ndarray):
        lib = self.library
        points = _distinct_points(lib.anchor_lon[index], lib.anchor_lat[index])
        names = {lib.anchor_fields["road"][a] for a in place.anchors}
        lines = [self.roads[n] for n in names if n in self.roads]
        if lines:
            # the named lines near the road's doors (a name may repeat in another district)
            near = shapely.box(*points.min(axis=0), *points.max(axis=0)).buffer(0.005)
            kept = [line for line in lines if line.intersects(near)]
            if kept:
                merged = shapely.line_merge(shapely.union_all(kept))
                return merged
        if len(points) == 1:
            return shapely.points(points[0])
        # door points in order along the road's main direction
        centred = points - points.mean(axis=0)
        _, _, axes = np.linalg.svd(centred, full_matrices=False)
        order = np.argsort(centred @ axes[0])
        return shapely.linestrings(points[order])

    # --- all at once ----------------------------------------------------------------------
    def describe(self, place: Place, *, outline: bool = True) -> About:
        """What an answer says about ``place`` (remembered for places of several anchors:
        roads, compounds and admin units come back often and cost the most).

        ``outline=False``: no compound outline (a candidate shows a point, not a shape); a road
        keeps its line, which places its point.
        """
        many = place.group is None and len(place.anchors) > 1
        key = (place.key, outline or place.level != "compound")
        if many:
            known = self._about.get(key)
            if known is not None:
                return known
        about = self._describe(place, key[1])
        if many:
            if len(self._about) > 10_000:
                self._about.clear()
            self._about[key] = about
        return about

    def _describe(self, place: Place, outline: bool) -> About:
        lib = self.library
        highlight = self.highlight(place) if outline else None
        lon, lat, approximate = self.point(place, highlight)
        exact = self.exact_row(place)
        label = self.label(place)
        return About(
            address_id=None if exact is None else str(lib.ids[exact]),
            address=label if exact is None else str(lib.address[exact]),
            label=label,
            lon=lon,
            lat=lat,
            approximate=approximate,
            grid_code=self.grid(place),
            highlight=highlight,
        )


def _distinct_points(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """The distinct (lon, lat) pairs, ordered by lon then lat (one 1-D sort of complex numbers:
    a compound's thousands of rooms stand at a few dozen points).

    >>> _distinct_points(np.array([1.0, 0.0, 1.0]), np.array([2.0, 5.0, 2.0])).tolist()
    [[0.0, 5.0], [1.0, 2.0]]
    """
    unique = np.unique(lon + 1j * lat)
    return np.column_stack([unique.real, unique.imag])


def _compound_outlines(library: AddressLibrary) -> dict[frozenset[int], str]:
    """GeoJSON text of each compound's outline (the padded hull around its entries' distinct
    points), keyed by the compound's anchors: the same geometry :meth:`Describer.highlight`
    draws for one compound, drawn for all of them in one vectorised pass."""
    out: dict[frozenset[int], str] = {}
    # an anchor has one compound name and one sub-compound name: two passes, one per column
    for part in (library.poi_anchors.values(), library.subpoi_anchors.values()):
        sets = list(part)
        if not sets:
            continue
        of_anchor = np.full(len(library.anchor_rep), -1, dtype=np.int64)
        for k, anchors in enumerate(sets):
            of_anchor[list(anchors)] = k
        compound = of_anchor[library.anchor_of_row]
        rows = np.flatnonzero(compound >= 0)
        k, lon, lat = compound[rows], library.lon[rows], library.lat[rows]
        # per compound, distinct points by lon then lat (the order _distinct_points gives)
        order = np.lexsort((lat, lon, k))
        k, lon, lat = k[order], lon[order], lat[order]
        first = np.r_[True, (k[1:] != k[:-1]) | (lon[1:] != lon[:-1]) | (lat[1:] != lat[:-1])]
        k, lon, lat = k[first], lon[first], lat[first]
        points = shapely.multipoints(np.column_stack([lon, lat]), indices=k)
        hulls = shapely.buffer(shapely.convex_hull(points), OUTLINE_PAD, quad_segs=4)
        texts = shapely.to_geojson(shapely.set_precision(hulls, 1e-7))
        out.update(zip(sets, texts.tolist(), strict=True))
    return out


def _mapping(geometry) -> dict:
    return json.loads(shapely.to_geojson(shapely.set_precision(geometry, 1e-7)))


def _json(geometry: dict) -> str:
    return json.dumps(geometry)
