"""Residential compounds (小区): slab buildings laid out in rows, their floors, units and rooms.

A block's buildable zone (set back from the roads, minus any site) gets rows of slab buildings
(the typical Chinese 小区): each building has 2-3 units (单元) with 2-3 rooms per floor, or
point towers with 6 flats a floor where slabs do not fit. The fewest floors that hold the
block's households are chosen (6-floor walk-ups where the block has room, up to 33-floor towers
where it has not), as a planner would.

>>> compound_names(3, np.random.default_rng(1))
['水岸花园', '凯旋花园', '金色花园']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

SETBACK_M = 12.0  # buildings keep this far from the block edge (the road reserve)
DEPTH_M = 12.0
UNIT_WIDTH_M = 14.0
GAP_M = 14.0
FLOOR_HEIGHT_M = 3.0
FLOOR_OPTIONS = (6, 11, 18, 26, 33)
# (units per building, rooms per floor per unit), tried in order after the floor options; the
# last is a point tower (点式高层): one stair core with six flats a floor on a near-square plan.
PLANS = ((2, 2), (3, 2), (3, 3), (1, 6))

COMPOUND_STEMS = (
    "紫荆", "金色", "阳光", "南湖", "禾兴", "梅湾", "香樟", "秀水", "嘉禾", "鸿翔", "绿城", "万科",
    "江南", "运河", "月河", "锦绣", "华庭", "翠苑", "景湖", "清河", "百花", "凯旋", "湖畔", "水岸",
    "文昌", "东湖", "府南", "御园", "泰石", "中央", "银杏", "海棠", "玉兰", "书香", "城市", "星河",
)  # fmt: skip
COMPOUND_SUFFIXES = ("花园", "小区", "新村", "苑", "家园", "公寓", "名邸", "佳苑", "华府", "雅苑")


@dataclass(frozen=True)
class Building:
    number: int  # 幢 number inside the compound
    footprint: shapely.Polygon  # metres
    floors: int
    units: int
    rooms_per_floor: int  # per unit
    households: int  # occupied rooms (the last building of a block may have empty top rooms)

    def unit_points(self) -> np.ndarray:
        """(units, 2) metres: the middle of each unit's stair, west to east."""
        minx, miny, maxx, maxy = self.footprint.bounds
        width = (maxx - minx) / self.units
        xs = minx + width * (np.arange(self.units) + 0.5)
        return np.stack([xs, np.full(self.units, (miny + maxy) / 2)], axis=1)


def compound_names(count: int, rng: np.random.Generator) -> list[str]:
    """``count`` distinct compound names (numbered phases once the pool runs out)."""
    pool = [s + x for s in COMPOUND_STEMS for x in COMPOUND_SUFFIXES]
    order = rng.permutation(len(pool))
    names = []
    for k in range(count):
        name = pool[order[k % len(pool)]]
        lap = k // len(pool)
        names.append(name if lap == 0 else f"{name}{'一二三四五六七八九十'[lap % 10]}期")
    return names


def _footprint(units: int, rooms: int) -> tuple[float, float]:
    """(length, depth) in metres: slabs are a row of 14 m units, point towers about 24 m square."""
    if units == 1:
        return 24.0, 22.0
    return units * UNIT_WIDTH_M, DEPTH_M


def _slots(zone: shapely.Geometry, floors: int, units: int, rooms: int) -> list[shapely.Polygon]:
    """Building footprints that fit in ``zone``: rows spaced for sunlight, west to east.

    The row grid is tried at a few offsets and the one that fits most buildings wins (block
    edges are not straight, so the first corner is not always the best anchor).
    """
    if zone.is_empty:
        return []
    length, depth = _footprint(units, rooms)
    minx, miny, maxx, maxy = zone.bounds
    pitch = max(depth + 14.0, min(60.0, 0.8 * floors * FLOOR_HEIGHT_M))
    step = length + GAP_M
    shapely.prepare(zone)
    best: list[shapely.Polygon] = []
    for dx in (0.0, step / 3, 2 * step / 3):
        for dy in (0.0, pitch / 3, 2 * pitch / 3):
            ys = np.arange(miny + dy, maxy - depth + 1e-9, pitch)
            xs = np.arange(minx + dx, maxx - length + 1e-9, step)
            if len(xs) == 0 or len(ys) == 0:
                continue
            gx, gy = np.meshgrid(xs, ys)
            boxes = shapely.box(gx.ravel(), gy.ravel(), gx.ravel() + length, gy.ravel() + depth)
            fits = list(boxes[shapely.contains(zone, boxes)])
            if len(fits) > len(best):
                best = fits
    return best


def plan_block(zone: shapely.Geometry, households: int) -> tuple[list[Building], int]:
    """Buildings for ``households`` in ``zone`` (metres); returns them and the households left over.

    Takes the lowest building type whose capacity holds the households; if even 33-floor towers
    cannot, fills what fits and returns the remainder for the next block.
    """
    if households <= 0:
        return [], 0
    best: tuple[list, int, int, int] | None = None
    for units, rooms in PLANS:
        for floors in FLOOR_OPTIONS:
            slots = _slots(zone, floors, units, rooms)
            capacity = len(slots) * floors * units * rooms
            if capacity >= households:
                best = (slots, floors, units, rooms)
                break
            if slots and (best is None or capacity > len(best[0]) * best[1] * best[2] * best[3]):
                best = (slots, floors, units, rooms)
        if best is not None and len(best[0]) * best[1] * best[2] * best[3] >= households:
            break
    if best is None:
        return [], households
    slots, floors, units, rooms = best
    per_building = floors * units * rooms
    needed = min(len(slots), -(-households // per_building))
    # Spread households evenly over the buildings used, so no building stands half empty.
    shares = np.full(needed, households // needed)
    shares[: households % needed] += 1
    shares = np.minimum(shares, per_building)
    buildings = [
        Building(k + 1, slots[k], floors, units, rooms, int(shares[k])) for k in range(needed)
    ]
    return buildings, households - int(shares.sum())


def rooms(building: Building) -> list[tuple[int, int, int]]:
    """(unit, floor, room) of each occupied room, filling floors bottom up, units in turn.

    >>> rooms(Building(1, shapely.box(0, 0, 28, 12), 6, units=2, rooms_per_floor=2, households=5))
    [(1, 1, 1), (1, 1, 2), (2, 1, 1), (2, 1, 2), (1, 2, 1)]
    """
    out = []
    for floor in range(1, building.floors + 1):
        for unit in range(1, building.units + 1):
            for room in range(1, building.rooms_per_floor + 1):
                if len(out) == building.households:
                    return out
                out.append((unit, floor, room))
    return out
