"""Grid codes: community code + 3-digit sequence, in reading order, stable against earlier grids.

Comprehensive grids are numbered 001-499 and exclusive grids 501-999 (``config`` ranges), each
west to east within rows that run north to south. With earlier grids, a new grid keeps an earlier
code when it holds most of that grid's households (and that grid's households are mostly in it);
the others take the lowest numbers never used in the community.

>>> import shapely
>>> from gridmap.partition.community import GridDraft
>>> cells = [shapely.box(x, y, x + 1, y + 1) for y in (1, 0) for x in (0, 1)]
>>> drafts = [GridDraft(g, "comprehensive", 400, 1000, []) for g in reversed(cells)]
>>> codes = number_community("330402001002", drafts, shapely.box(0, 0, 2, 2), [])
>>> [c[-3:] for c in codes]  # drafts were given south-east first
['004', '003', '002', '001']
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import shapely

from gridmap.codes import make_grid_code
from gridmap.errors import InputError
from gridmap.partition.config import COMPREHENSIVE_RANGE, EXCLUSIVE_RANGE

RANGES = {"comprehensive": COMPREHENSIVE_RANGE, "exclusive": EXCLUSIVE_RANGE}


def reading_order(geometries, community) -> np.ndarray:
    """Indices of ``geometries`` in rows north to south, west to east within a row.

    Row height is the side of a square of the mean grid area, so a row holds grids side by side.
    """
    n = len(geometries)
    if n == 0:
        return np.zeros(0, np.int64)
    anchors = shapely.get_coordinates(shapely.point_on_surface(np.asarray(geometries, object)))
    minx, miny, maxx, maxy = community.bounds
    lat = (miny + maxy) / 2.0
    x = anchors[:, 0] * math.cos(math.radians(lat))
    height = math.sqrt(max(community.area, 1e-18) / n)
    row = np.floor((maxy - anchors[:, 1]) / height)
    return np.lexsort((-anchors[:, 1], x, row))


def number_community(community_code: str, drafts: list, community, previous: list) -> list[str]:
    """Codes for one community's grid drafts (``previous``: its earlier ``PreviousGrid`` list).

    A draft that is an earlier grid unchanged (``draft.code``) keeps that code; the others match
    earlier codes by households, or take fresh numbers.
    """
    result: list[str | None] = [draft.code or None for draft in drafts]
    preset = {draft.code for draft in drafts if draft.code}
    for kind, (low, high) in RANGES.items():
        members = [k for k, d in enumerate(drafts) if d.kind == kind]
        if not members:
            continue
        order = [
            members[i] for i in reading_order([drafts[k].geometry for k in members], community)
        ]
        earlier = [(g.code, g.geometry) for g in previous if g.kind == kind]
        open_earlier = [(code, geom) for code, geom in earlier if code not in preset]
        todo = [k for k in order if result[k] is None]
        matched = _match(drafts, todo, open_earlier) if open_earlier and todo else {}
        used = {int(code[-3:]) for code, _ in earlier if code[:-3] == community_code}
        taken = {int(code[-3:]) for code in matched.values()}
        taken |= {int(code[-3:]) for code in preset if code[:-3] == community_code}
        fresh = (s for s in range(low, high + 1) if s not in used and s not in taken)
        reused = (s for s in range(low, high + 1) if s in used and s not in taken)
        for k in todo:
            if k in matched:
                result[k] = matched[k]
                continue
            sequence = next(fresh, None) or next(reused, None)
            if sequence is None:
                raise InputError.one(
                    "addresses",
                    f"community {community_code} needs more than {high - low + 1} {kind} grids; "
                    "check its households or raise --max-households",
                    field="households",
                )
            result[k] = make_grid_code(community_code, sequence)
    return [str(code) for code in result]


def number_micro(grid_code: str, micro: list, grid) -> list[tuple[str, object]]:
    """(18-digit micro-grid code, micro-grid) pairs: the grid code + 001-999 in reading order."""
    if len(micro) > 999:
        raise InputError.one(
            "options",
            f"grid {grid_code} needs {len(micro)} micro-grids (at most 999): raise the "
            "--micro-households band",
            field="micro_households",
        )
    order = reading_order([m.geometry for m in micro], grid)
    return [(f"{grid_code}{k + 1:03d}", micro[i]) for k, i in enumerate(order)]


def _match(drafts, order, earlier) -> dict[int, str]:
    """Earlier code each draft keeps: most households shared both ways, else most area."""
    codes = [code for code, _ in earlier]
    in_earlier: dict[str, int] = {}
    for k in order:
        for code, hh in drafts[k].previous_overlap.items():
            in_earlier[code] = in_earlier.get(code, 0) + hh
    pairs = []
    for k in order:
        draft = drafts[k]
        for code, hh in draft.previous_overlap.items():
            if code in codes and hh * 2 > in_earlier[code] and hh * 2 > draft.households:
                pairs.append((-hh, 0.0, k, code))
    # grids without households (most exclusive sites) match by area instead
    empty = [k for k in order if drafts[k].households == 0]
    if empty:
        geoms = np.array([geom for _, geom in earlier], dtype=object)
        tree = shapely.STRtree(geoms)
        for k in empty:
            geometry = drafts[k].geometry
            for e in tree.query(geometry, predicate="intersects"):
                shared = shapely.area(shapely.intersection(geometry, geoms[e]))
                if shared * 2 > geometry.area and shared * 2 > geoms[e].area:
                    pairs.append((0, -shared, k, codes[e]))
    pairs.sort()
    matched: dict[int, str] = {}
    used: set[str] = set()
    for _, _, k, code in pairs:
        if k not in matched and code not in used:
            matched[k] = code
            used.add(code)
    return matched


def same_extent(a, b) -> bool:
    """Whether two grid polygons cover the same land (differences below a billionth of the area
    are rounding, e.g. a GeoPackage round trip).

    >>> import shapely
    >>> same_extent(shapely.box(0, 0, 1, 1), shapely.box(0, 0, 1, 1)), same_extent(
    ...     shapely.box(0, 0, 1, 1), shapely.box(0, 0, 1, 2))
    (True, False)
    """
    return bool(shapely.area(shapely.symmetric_difference(a, b)) <= 1e-9 * max(b.area, 1e-18))


def diff(previous: gpd.GeoDataFrame, grids: gpd.GeoDataFrame) -> dict:
    """Codes kept unchanged, kept with changed extent or households, new, and retired.

    >>> import geopandas as gpd, shapely
    >>> old = gpd.GeoDataFrame({"grid_code": ["a", "b"], "households": [1, 2]},
    ...                        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> new = gpd.GeoDataFrame({"grid_code": ["a", "c"], "households": [1, 2]},
    ...                        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)])
    >>> {k: v for k, v in diff(old, new).items() if k != "counts"}
    {'kept': ['a'], 'changed': [], 'new': ['c'], 'retired': ['b']}
    """
    old = previous.set_index(previous["grid_code"].astype(str))
    new = grids.set_index(grids["grid_code"].astype(str))
    common = sorted(set(old.index) & set(new.index))
    kept, changed = [], []
    for code in common:
        same_households = "households" not in old.columns or int(old.at[code, "households"]) == int(
            new.at[code, "households"]
        )
        moved = not same_extent(old.geometry[code], new.geometry[code])
        (kept if same_households and not moved else changed).append(code)
    result = {
        "kept": kept,
        "changed": changed,
        "new": sorted(set(new.index) - set(old.index)),
        "retired": sorted(set(old.index) - set(new.index)),
    }
    result["counts"] = {key: len(value) for key, value in result.items()}
    return result
