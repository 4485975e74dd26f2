"""The standard address library as lookup tables: built once, then every match is dict lookups.

A standard address is a path down the hierarchy (DOMAIN.md): district / town / community /
road + door number / compound (poi, subpoi) / building / unit / floor / room. The index splits it
in two:

* an **anchor**: one distinct (district, town, community, road, roadno, poi, subpoi), i.e. a door
  or a compound in its admin units. Names point to anchors: ``road -> anchors``,
  ``(road, roadno) -> anchors``, ``poi -> anchors``, ``(admin kind, name) -> anchors``;
* the **door part** below it, as small integer codes of the building, unit and room numbers
  (``3幢`` / ``3号楼`` / ``三号楼`` all give building ``3``). Deeper levels are keyed
  ``anchor -> building -> unit -> room`` (plus ``building -> room`` for queries that leave out
  the unit), each key mapping to a *group* of library rows.

Every group and anchor knows its representative row (the row at exactly that level when the
library has one, else its first row) and its grid when all its rows share one (else ``None``:
a road crossing three grids has no single grid). Building a 1,000,000-row library takes a few
seconds: values are canonicalised once per distinct value, keys are numpy integer arithmetic.

>>> import pandas as pd
>>> rows = pd.DataFrame({"address_id": ["a1", "a2"], "address": ["x", "y"],
...     "lon": [120.7, 120.7], "lat": [30.7, 30.7], "district": ["南湖区", "南湖区"],
...     "road": ["中山路", "中山路"], "roadno": ["58号", "58号"], "houseno": ["3号楼", "3幢"],
...     "cellno": ["2单元", "2单元"], "roomno": ["1303室", "1304室"]})
>>> lib = AddressLibrary(rows)
>>> [anchor] = lib.door_anchors[("中山路", "58")]
>>> lib.ids[lib.room_groups.rep[lib.room_groups.find(anchor, "3", "2", "1304")]]
'a2'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridmap.errors import InputError, Problem
from gridmap.geocode.components import fill_missing_components
from gridmap.geocode.normalize import normalize

ADMIN_KINDS = ("prov", "city", "district", "town", "community")
ANCHOR_COLUMNS = ("district", "town", "community", "road", "roadno", "poi", "subpoi")
DOOR_PART_COLUMNS = ("houseno", "cellno", "floorno", "roomno")
_NUMBER_VALUE = re.compile(
    r"^(-?(?:[A-Z]?\d+(?:-\d+)?[A-Z甲乙丙丁]?|[A-Z]))(幢|单元|层|室|号|组)?$"
)


def number_key(value: str) -> str:
    """The comparable key of a door/building/unit/floor/room number in any spelling.

    The unit word goes (the column or the query's unit word already says what the number is),
    except ``弄``: lane 58 and door 58 of one road are different places.

    >>> [number_key(v) for v in ("3号楼", "三幢", "K18", "1303户", "58号", "58弄", "58弄11号")]
    ['3', '3', 'K18', '1303', '58', '58弄', '58弄11']
    """
    text = normalize(str(value))
    match = _NUMBER_VALUE.match(text)
    if match:
        return match.group(1)
    return text[:-1] if text.endswith("号") else text


def name_key(value: str) -> str:
    """Canonical spelling of a name (road, compound, admin unit).

    >>> name_key(" 中山 路 "), name_key("幸福一村")
    ('中山路', '幸福一村')
    """
    return normalize(str(value))


def _canonical_column(values: pd.Series, convert) -> np.ndarray:
    """Apply ``convert`` once per distinct value (a library has few distinct room numbers)."""
    filled = values.fillna("").astype(str)
    codes, uniques = pd.factorize(filled)
    canon = np.array([convert(u) if u.strip() else "" for u in uniques], dtype=object)
    return canon[codes] if len(uniques) else np.full(len(filled), "", dtype=object)


@dataclass
class Groups:
    """Rows grouped by an integer key: representative row and single grid of each group."""

    index: dict[int, int]  # key -> group number
    rep: np.ndarray  # group -> representative row
    count: np.ndarray  # group -> number of rows
    grid_lo: np.ndarray  # group -> smallest grid rank of its rows (-1 none)
    grid_hi: np.ndarray  # group -> largest grid rank
    lon: np.ndarray  # group -> mean lon of its rows (its representative point)
    lat: np.ndarray  # group -> mean lat
    spread: np.ndarray  # group -> largest lon or lat extent of its rows (degrees; 0: one point)
    radix: tuple[int, ...] = ()
    codes: tuple[dict[str, int], ...] = ()
    keys: np.ndarray | None = None  # group -> its key, ascending: many keys at once by bisection

    def key(self, anchor: int, *parts: str) -> int | None:
        """Integer key of (anchor, building, unit, room...) or None when a part is unknown."""
        key = anchor
        for radix, code_of, part in zip(self.radix, self.codes, parts, strict=True):
            code = code_of.get(part)
            if code is None:
                return None
            key = key * radix + code
        return key

    def find(self, anchor: int, *parts: str) -> int | None:
        key = self.key(anchor, *parts)
        return None if key is None else self.index.get(key)


def _group(
    keys: np.ndarray,
    depth: np.ndarray,
    grid_rank: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    **extra,
) -> Groups:
    """Group rows by ``keys``; the representative is the shallowest row, then the first one."""
    order = np.lexsort((np.arange(len(keys)), depth, keys))
    sorted_keys = keys[order]
    if len(keys) == 0:
        empty = np.empty(0, dtype=np.int64)
        none = np.empty(0, dtype=np.float64)
        return Groups(
            index={},
            rep=empty,
            count=empty,
            grid_lo=empty,
            grid_hi=empty,
            lon=none,
            lat=none,
            spread=none,
            keys=empty,
            **extra,
        )
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    rep = order[starts]
    count = np.diff(np.r_[starts, len(keys)])
    ranks = grid_rank[order]
    # a row with no grid (-1) makes lo < 0: such a group has no single grid
    lo = np.minimum.reduceat(ranks, starts)
    hi = np.maximum.reduceat(ranks, starts)
    unique_keys = sorted_keys[starts]
    index = dict(zip(unique_keys.tolist(), range(len(starts)), strict=True))
    x, y = lon[order], lat[order]
    spread = np.maximum(
        np.maximum.reduceat(x, starts) - np.minimum.reduceat(x, starts),
        np.maximum.reduceat(y, starts) - np.minimum.reduceat(y, starts),
    )
    return Groups(
        index=index,
        rep=rep,
        count=count,
        grid_lo=lo,
        grid_hi=hi,
        lon=np.add.reduceat(x, starts) / count,
        lat=np.add.reduceat(y, starts) / count,
        spread=spread,
        keys=unique_keys,
        **extra,
    )


def _codes(values: np.ndarray) -> tuple[np.ndarray, dict[str, int], int]:
    """Integer codes of string values: "" is 0, others 1..k; returns codes, lookup and radix."""
    codes, uniques = pd.factorize(values)
    lookup = {"": 0}
    remap = np.zeros(len(uniques), dtype=np.int64)
    for i, value in enumerate(uniques):
        if value == "":
            remap[i] = 0
        else:
            remap[i] = lookup.setdefault(value, len(lookup))
    return remap[codes] if len(uniques) else codes.astype(np.int64), lookup, len(lookup)


class AddressLibrary:
    """Lookup tables over a standard address library (a DataFrame with CONTRACT columns).

    ``rows`` needs ``address_id``, ``address``, ``lon``, ``lat`` and the component columns
    (``prov city district town community road roadno poi subpoi houseno cellno floorno roomno``;
    missing ones count as empty; a row without any has them derived from its ``address`` text:
    by ``parser``, a trained :class:`~gridmap.geocode.parse.AddressParser`, when given, else by
    :func:`gridmap.geocode.components.split_standard_address`, standard forms only). ``grid_codes``
    (optional) gives each row's grid. Raises InputError when ``address_id`` repeats, naming
    the rows.
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        grid_codes: Sequence[str | None] | None = None,
        *,
        source: str = "address library",
        parser=None,
    ) -> None:
        n = len(rows)
        self.source = source
        rows = fill_missing_components(rows, parser)
        ids = rows["address_id"].astype(str).to_numpy(dtype=object)
        self._check_unique(ids, source)
        self.ids = ids
        self.address = rows["address"].fillna("").astype(str).to_numpy(dtype=object)
        self.lon = rows["lon"].to_numpy(dtype=np.float64)
        self.lat = rows["lat"].to_numpy(dtype=np.float64)

        # grids: rank codes so that "all rows share one grid" is min == max over ranks
        grids = (
            np.asarray(grid_codes, dtype=object)
            if grid_codes is not None
            else np.full(n, None, dtype=object)
        )
        known = np.array([g is not None and g == g and str(g) != "" for g in grids], dtype=bool)
        grid_names, grid_rank = np.unique(grids[known].astype(str), return_inverse=True)
        self.grid_names = grid_names.astype(object)
        self.grid_rank = np.full(n, -1, dtype=np.int64)
        self.grid_rank[known] = grid_rank

        def column(name: str, convert) -> np.ndarray:
            if name in rows.columns:
                return _canonical_column(rows[name], convert)
            return np.full(n, "", dtype=object)

        names = {kind: column(kind, name_key) for kind in ADMIN_KINDS + ("road", "poi", "subpoi")}
        roadno = column("roadno", number_key)
        house, cell, floor, room = (column(c, number_key) for c in DOOR_PART_COLUMNS)
        self.names = names

        # anchors: distinct admin units + road/door + compound
        anchor_frame = pd.DataFrame(
            {c: (names[c] if c != "roadno" else roadno) for c in ANCHOR_COLUMNS}
        )
        anchor_of_row = anchor_frame.groupby(list(ANCHOR_COLUMNS), sort=False).ngroup()
        self.anchor_of_row = anchor_of_row.to_numpy(dtype=np.int64)
        door_depth = (house != "").astype(np.int64) + (cell != "") + (floor != "") + (room != "")
        anchor_groups = _group(self.anchor_of_row, door_depth, self.grid_rank, self.lon, self.lat)
        self.anchor_rep = anchor_groups.rep
        self.anchor_count = anchor_groups.count
        self.anchor_lon, self.anchor_lat = anchor_groups.lon, anchor_groups.lat
        self.anchor_spread = anchor_groups.spread
        self.anchor_grid_lo = anchor_groups.grid_lo
        self.anchor_grid_hi = anchor_groups.grid_hi
        rep = self.anchor_rep
        # from the arrays the frame was made of: its own columns are Arrow strings, and turning
        # 2,000,000 of them back into Python objects took 2.3 s of a city library's build
        self.anchor_fields = {
            c: (roadno if c == "roadno" else names[c])[rep] for c in ANCHOR_COLUMNS
        }
        af = self.anchor_fields
        # how specific an anchor is: an anchor with only admin units (a community's own entry)
        # is the representative of that community before any of its doors
        self.anchor_depth = (
            (af["road"] != "").astype(np.int64) + (af["roadno"] != "") + (af["poi"] != "")
        ) + (af["subpoi"] != "")

        # the level each entry itself stands for (its deepest component), as LEVEL_DEPTH numbers
        level = np.full(n, 0, dtype=np.int8)
        for depth_value, values in (
            (1, names["town"]),
            (2, names["community"]),
            (3, names["road"]),
            (4, names["poi"]),
            (5, roadno),
            (6, house),
            (7, cell),
            (8, room),
        ):
            level[values != ""] = depth_value
        self.row_level = level

        self.road_anchors = self._anchors_by(af["road"])
        self.poi_anchors = self._anchors_by(af["poi"])
        self.subpoi_anchors = self._anchors_by(af["subpoi"])
        doors = np.array(
            [
                f"{r}\x1f{d}" if r and d else ""
                for r, d in zip(af["road"], af["roadno"], strict=True)
            ],
            dtype=object,
        )
        self.door_anchors = {tuple(k.split("\x1f")): v for k, v in self._anchors_by(doors).items()}
        self.admin_anchors = {
            kind: self._anchors_by(af[kind]) for kind in ("district", "town", "community")
        }

        # door parts below the anchors, as integer keys anchor -> building -> unit -> room
        house_c, house_codes, house_radix = _codes(house)
        cell_c, cell_codes, cell_radix = _codes(cell)
        room_c, room_codes, room_radix = _codes(room)
        a = self.anchor_of_row
        depth_below_building = (cell != "").astype(np.int64) + (floor != "") + (room != "")
        depth_below_unit = (floor != "").astype(np.int64) + (room != "")
        zero = np.zeros(n, dtype=np.int64)
        has_house = house != ""
        has_cell = has_house & (cell != "")
        has_room = has_house & (room != "")
        self.building_groups = self._subset_groups(
            has_house,
            a * house_radix + house_c,
            depth_below_building,
            radix=(house_radix,),
            codes=(house_codes,),
        )
        self.unit_groups = self._subset_groups(
            has_cell,
            (a * house_radix + house_c) * cell_radix + cell_c,
            depth_below_unit,
            radix=(house_radix, cell_radix),
            codes=(house_codes, cell_codes),
        )
        self.room_groups = self._subset_groups(
            has_room,
            ((a * house_radix + house_c) * cell_radix + cell_c) * room_radix + room_c,
            zero,
            radix=(house_radix, cell_radix, room_radix),
            codes=(house_codes, cell_codes, room_codes),
        )
        # rooms looked up without their unit (3幢1303室): unique only if one unit has room 1303
        self.room_nounit_groups = self._subset_groups(
            has_room,
            (a * house_radix + house_c) * room_radix + room_c,
            zero,
            radix=(house_radix, room_radix),
            codes=(house_codes, room_codes),
        )

    # --- construction helpers -------------------------------------------------------------
    @staticmethod
    def _check_unique(ids: np.ndarray, source: str) -> None:
        duplicated = pd.Series(ids).duplicated(keep=False).to_numpy()
        if not duplicated.any():
            return
        problems = []
        rows_of: dict[str, list[int]] = {}
        for i in np.flatnonzero(duplicated):
            rows_of.setdefault(ids[i], []).append(int(i) + 2)  # CSV line numbers (header = 1)
        for address_id, lines in list(rows_of.items())[:50]:
            problems.append(
                Problem(
                    source,
                    f"duplicate address_id {address_id!r} (also at rows "
                    f"{', '.join(map(str, lines[1:]))})",
                    row=lines[0],
                    field="address_id",
                )
            )
        if len(rows_of) > 50:
            problems.append(Problem(source, f"... {len(rows_of) - 50} more duplicated ids"))
        raise InputError(problems)

    @staticmethod
    def _anchors_by(values: np.ndarray) -> dict[str, frozenset[int]]:
        """Name -> the anchor numbers carrying it (empty names left out).

        Frozensets: a query intersects small sets (a door, a compound) far more often than it
        needs arrays, and a set intersection of a few items costs far less than numpy's.
        """
        codes, uniques = pd.factorize(values)
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        ends = np.r_[starts[1:], len(order)]
        out = {}
        for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
            name = uniques[sorted_codes[s]]
            if name:
                out[name] = frozenset(order[s:e].tolist())
        return out

    def _subset_groups(self, mask, keys, depth, **extra) -> Groups:
        rows = np.flatnonzero(mask)
        groups = _group(
            keys[rows], depth[rows], self.grid_rank[rows], self.lon[rows], self.lat[rows], **extra
        )
        groups.rep = rows[groups.rep]
        return groups

    # --- answers --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    def grid_of_ranks(self, lo: int, hi: int) -> str | None:
        """The grid code when a group's rows all share one grid, else None."""
        if lo < 0 or lo != hi:
            return None
        return str(self.grid_names[lo])

    def anchors_summary(self, anchors: frozenset[int]) -> tuple[int, str | None]:
        """Representative row and single grid (or None) of a set of anchors.

        The representative is the least specific anchor (a community's own entry before its
        doors), then the first row; the grid is given only when every anchor lies in one grid.
        """
        if len(anchors) == 1:
            (a,) = anchors
            return int(self.anchor_rep[a]), self.grid_of_ranks(
                int(self.anchor_grid_lo[a]), int(self.anchor_grid_hi[a])
            )
        index = np.fromiter(anchors, dtype=np.int64, count=len(anchors))
        best = index[np.lexsort((self.anchor_rep[index], self.anchor_depth[index]))[0]]
        lo = int(self.anchor_grid_lo[index].min())
        hi = int(self.anchor_grid_hi[index].max())
        return int(self.anchor_rep[best]), self.grid_of_ranks(lo, hi)
