"""The standard address library (标准地址库), one community at a time, down to rooms.

A room's address is the path province / city / district / street / community / road + door
number / compound / building (幢) / unit (单元) / room (室); its floor is the leading digits of
the room number (1303室 is on floor 13) and is also given in ``floorno`` (13层). Each site gets
one address at its gate (households 0). Rows are plain lists, ready for ``csv.writer``.

>>> room_parts(3, 2, 13, 3)
('3幢', '2单元', '13层', '1303室')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.model import ADDRESS_COMPONENTS
from gridmap.sample.buildings import Building, plan_block, rooms
from gridmap.sample.regions import integer_split

HEADER = [
    "address_id",
    "address",
    "lon",
    "lat",
    "households",
    "population",
    "community_code",
    *ADDRESS_COMPONENTS,
]
# Persons per household: mean about 2.7, as in a Chinese city's census.
HOUSEHOLD_SIZES = np.arange(1, 7)
HOUSEHOLD_SIZE_P = np.array([0.14, 0.28, 0.30, 0.16, 0.08, 0.04])


def room_parts(building: int, unit: int, floor: int, room: int) -> tuple[str, str, str, str]:
    """houseno, cellno, floorno, roomno of one room."""
    return f"{building}幢", f"{unit}单元", f"{floor}层", f"{floor}{room:02d}室"


@dataclass
class Compound:
    """One residential block: its name, the road and door it opens on, its buildings."""

    name: str
    road: str
    door: str
    buildings: list[Building]


# Compound eras: 1990s walk-ups hold fewer households per hectare than 2010s high-rises.
ERA_DENSITY = np.array([0.6, 1.0, 2.2])
ERA_P = np.array([0.45, 0.3, 0.25])


def place_households(
    zones: dict[int, shapely.Geometry], quota: int, rng: np.random.Generator
) -> tuple[dict, int]:
    """Buildings per block (metres zones) for ``quota`` households, shared by zone area times a
    random era density (so old walk-up compounds sit next to high-rise ones).

    What a small block cannot hold goes to the largest blocks. Returns {block: buildings} for
    blocks that got any, and the households that found no room (0 unless the zones are tiny).
    """
    order = sorted(zones)
    if not order:
        return {}, quota
    era = rng.choice(ERA_DENSITY, size=len(order), p=ERA_P)
    areas = np.array([zones[k].area for k in order]) * era
    shares = integer_split(quota, areas / areas.sum() if areas.sum() > 0 else np.ones(len(order)))
    placed: dict[int, tuple[list[Building], int]] = {}
    left = 0
    for k, share in zip(order, shares.tolist(), strict=True):
        buildings, rest = plan_block(zones[k], share)
        placed[k] = (buildings, share - rest)
        left += rest
    for k in sorted(order, key=lambda b: (-zones[b].area, b)):
        if left == 0:
            break
        held = placed[k][1]
        buildings, rest = plan_block(zones[k], held + left)
        placed[k] = (buildings, held + left - rest)
        left = rest
    return {k: placed[k][0] for k in order if placed[k][0]}, left


def room_rows(
    head: tuple[str, ...],
    community_code: str,
    compound: Compound,
    unit_lonlat: list[np.ndarray],
    rng: np.random.Generator,
    first_seq: int,
) -> Iterator[list]:
    """Address rows for every occupied room of a compound; ``unit_lonlat[b]`` holds building b's
    unit entrance points (lon/lat)."""
    seq = first_seq
    for building, points in zip(compound.buildings, unit_lonlat, strict=True):
        occupied = rooms(building)
        people = rng.choice(HOUSEHOLD_SIZES, size=len(occupied), p=HOUSEHOLD_SIZE_P).tolist()
        for (unit, floor, room), persons in zip(occupied, people, strict=True):
            seq += 1
            houseno, cellno, floorno, roomno = room_parts(building.number, unit, floor, room)
            parts = (*head, compound.road, compound.door, compound.name, "")
            lon, lat = points[unit - 1]
            yield [
                f"{community_code}-{seq:06d}",
                "".join(parts) + houseno + cellno + roomno,
                f"{lon:.7f}",
                f"{lat:.7f}",
                1,
                persons,
                community_code,
                *parts,
                houseno,
                cellno,
                floorno,
                roomno,
            ]


def site_row(
    head: tuple[str, ...],
    site_id: str,
    community_code: str,
    name: str,
    road: str,
    door: str,
    lonlat: np.ndarray,
) -> list:
    """The gate address of a site: no households, no rooms."""
    parts = (*head, road, door, name, "", "", "", "", "")
    return [
        site_id,
        "".join(parts),
        f"{lonlat[0]:.7f}",
        f"{lonlat[1]:.7f}",
        0,
        0,
        community_code,
        *parts,
    ]
