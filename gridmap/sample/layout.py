"""The city's layout: a road lattice over the real districts, blocks, streets and communities.

The populated city is a core window around the 南湖/秀洲 seam of 嘉兴's urban area, sized by the
household count: lattice cells (the blocks between roads), nearest the centre first, until their
area reaches ``households / DENSITY``. Cells are clipped by the real district outlines, so the
outer boundary is real wherever the window reaches it and the district seam is the real one.
Streets are contiguous groups of a district's blocks, communities contiguous groups of a street's
blocks: both tile their parent exactly because they are unions of the same blocks.

All geometry is in CGCS2000 lon/lat (EPSG:4490) snapped to a 1e-7 degree (1 cm) grid, so shared
edges are bit-identical; distances and areas come from the Gauss-Kruger zone (metres).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyproj
import shapely

from gridmap.crs import gk_zone_epsg
from gridmap.sample.divisions import DISTRICT_CODES, Division, RealExtract
from gridmap.sample.regions import (
    MAX_COMMUNITY_HH,
    MIN_COMMUNITY_HH,
    banded,
    bisect_regions,
    integer_split,
)

GRID_SIZE = 1e-7  # degrees; every overlay snaps to it so neighbours share exact vertices
CENTRE = (120.730, 30.765)  # on the 南湖/秀洲 seam, 2.5 km NW of the old town (CGCS2000 lon/lat)
SPACING_M = 200.0  # road spacing: a block (one compound or site) is about 200 m x 200 m
JITTER_M = 35.0  # nodes move this much so the roads are not ruler-straight
HALF_EXTENT = 110  # lattice indices run -HALF_EXTENT..HALF_EXTENT (about 27 km each way)
DENSITY_HH_PER_KM2 = 9000.0  # households per km2 of the window: a dense Chinese urban core
MIN_WINDOW_KM2 = 1.5  # a tiny city still gets about 40 blocks: both districts and some sites
MEAN_COMMUNITY_HH = 3200  # the typical community; sizes stay within 1,500-6,000
BUILDABLE_SHARE = 0.3  # a block clipped below this share of a full cell gets no buildings


def gk_epsg() -> int:
    """EPSG code of the CGCS2000 3-degree Gauss-Kruger zone of the city (CM 120E: 4549)."""
    return gk_zone_epsg(CENTRE[0])


@dataclass
class Lattice:
    """Road nodes on a jittered, gently warped square lattice, in metres and in lon/lat."""

    xy: np.ndarray  # (n, n, 2) metres, index [i + H, j + H]; i west->east, j south->north
    lonlat: np.ndarray  # (n, n, 2) degrees, snapped to GRID_SIZE
    to_lonlat: pyproj.Transformer
    to_metres: pyproj.Transformer

    def node(self, i: int, j: int) -> np.ndarray:
        return self.lonlat[i + HALF_EXTENT, j + HALF_EXTENT]

    def node_xy(self, i: int, j: int) -> np.ndarray:
        return self.xy[i + HALF_EXTENT, j + HALF_EXTENT]


def make_lattice(seed: int) -> Lattice:
    """The lattice is the same for every household count, so a bigger city extends a smaller one."""
    epsg = gk_epsg()
    to_metres = pyproj.Transformer.from_crs(4490, epsg, always_xy=True)
    to_lonlat = pyproj.Transformer.from_crs(epsg, 4490, always_xy=True)
    cx, cy = to_metres.transform(*CENTRE)
    n = 2 * HALF_EXTENT + 1
    rng = np.random.default_rng([seed, 1])
    index = np.arange(-HALF_EXTENT, HALF_EXTENT + 1) * SPACING_M
    gx, gy = np.meshgrid(index, index, indexing="ij")
    jitter = rng.uniform(-JITTER_M, JITTER_M, size=(2, n, n))
    # A slow warp bends whole roads (a real grid follows canals and old lanes).
    x = gx + jitter[0] + 60.0 * np.sin(gy / 1700.0 + seed % 7)
    y = gy + jitter[1] + 60.0 * np.sin(gx / 2100.0 + seed % 5)
    xy = np.stack([x + cx, y + cy], axis=-1)
    lon, lat = to_lonlat.transform(xy[..., 0], xy[..., 1])
    lonlat = np.round(np.stack([lon, lat], axis=-1) / GRID_SIZE) * GRID_SIZE
    return Lattice(xy, lonlat, to_lonlat, to_metres)


@dataclass
class Blocks:
    """The window's blocks: one row per piece of a lattice cell inside one district."""

    cell: np.ndarray  # (n, 2) lattice cell index (i, j): corners (i, j) .. (i + 1, j + 1)
    district: np.ndarray  # (n,) district code
    geometry: np.ndarray  # (n,) shapely polygons, lon/lat
    area_m2: np.ndarray  # (n,)
    centre_xy: np.ndarray  # (n, 2) metres, centroid
    buildable: np.ndarray  # (n,) bool
    neighbours: list[list[int]] = field(default_factory=list)


def _cell_polygons(lattice: Lattice, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i = cells[:, 0] + HALF_EXTENT
    j = cells[:, 1] + HALF_EXTENT
    corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1), (i, j)]
    ring = np.stack([lattice.lonlat[a, b] for a, b in corners], axis=1)
    ring_xy = np.stack([lattice.xy[a, b] for a, b in corners], axis=1)
    x, y = ring_xy[:, :-1, 0], ring_xy[:, :-1, 1]
    area = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
    return shapely.polygons(ring), area


def select_window(extract: RealExtract, lattice: Lattice, households: int) -> Blocks:
    """Cells nearest the centre, clipped to the districts, until the households fit."""
    target_m2 = max(households / DENSITY_HH_PER_KM2, MIN_WINDOW_KM2) * 1e6
    span = np.arange(-HALF_EXTENT, HALF_EXTENT)
    ci, cj = np.meshgrid(span, span, indexing="ij")
    cells = np.stack([ci.ravel(), cj.ravel()], axis=1)
    distance = np.hypot(cells[:, 0] + 0.5, cells[:, 1] + 0.5)
    order = np.lexsort((cells[:, 1], cells[:, 0], distance))
    cells, distance = cells[order], distance[order]
    radius = np.sqrt(target_m2 / np.pi) / SPACING_M * 1.3 + 3
    codes = sorted(extract.outlines)
    while True:
        chosen = cells[distance <= radius]
        polygons, cell_area = _cell_polygons(lattice, chosen)
        pieces, shares = [], []
        for code in codes:
            outline = extract.outlines[code]
            clipped = shapely.intersection(polygons, outline, grid_size=GRID_SIZE)
            pieces.append(clipped)
            shares.append(shapely.area(clipped) / shapely.area(polygons))
        clipped_m2 = np.sum(shares, axis=0) * cell_area
        total = np.cumsum(clipped_m2)
        if total[-1] >= target_m2 or radius >= HALF_EXTENT - 1:
            break
        radius *= 1.5
    keep = int(np.searchsorted(total, target_m2) + 1)
    rows = []
    for k in range(min(keep, len(chosen))):
        for code, clipped in zip(codes, pieces, strict=True):
            geometry = clipped[k]
            if geometry is None or shapely.is_empty(geometry):
                continue
            for part in shapely.get_parts(geometry):
                if shapely.get_type_id(part) == 3 and shapely.area(part) > 0:
                    rows.append((chosen[k], code, part, cell_area[k]))
    cell = np.array([r[0] for r in rows])
    geometry = np.array([r[2] for r in rows], dtype=object)
    district = np.array([r[1] for r in rows])
    full = shapely.area(_cell_polygons(lattice, cell)[0])
    area_m2 = shapely.area(geometry) / full * np.array([r[3] for r in rows])
    cx, cy = lattice.to_metres.transform(*shapely.get_coordinates(shapely.centroid(geometry)).T)
    blocks = Blocks(
        cell=cell,
        district=district,
        geometry=geometry,
        area_m2=area_m2,
        centre_xy=np.stack([cx, cy], axis=1),
        buildable=area_m2 >= BUILDABLE_SHARE * SPACING_M**2,
    )
    blocks.neighbours = _neighbours(blocks)
    return blocks


def _neighbours(blocks: Blocks) -> list[list[int]]:
    """Blocks of one district that share a stretch of road (edge of positive length)."""
    by_cell: dict[tuple[int, int, str], list[int]] = {}
    for k, ((i, j), code) in enumerate(zip(blocks.cell.tolist(), blocks.district, strict=True)):
        by_cell.setdefault((i, j, code), []).append(k)
    pairs = []
    for (i, j, code), members in by_cell.items():
        for di, dj in ((1, 0), (0, 1)):
            for a in members:
                for b in by_cell.get((i + di, j + dj, code), ()):
                    pairs.append((a, b))
    neighbours: list[list[int]] = [[] for _ in range(len(blocks.geometry))]
    if not pairs:
        return neighbours
    a, b = np.array(pairs).T
    shared = shapely.length(
        shapely.intersection(
            shapely.boundary(blocks.geometry[a]), shapely.boundary(blocks.geometry[b])
        )
    )
    for x, y, length in zip(a.tolist(), b.tolist(), shared.tolist(), strict=True):
        if length > 1e-6:
            neighbours[x].append(y)
            neighbours[y].append(x)
    return neighbours


@dataclass
class Community:
    division: Division
    street: Division
    district_code: str
    households: int
    blocks: list[int]


def plan_divisions(
    extract: RealExtract, blocks: Blocks, households: int, seed: int
) -> tuple[dict[str, list[int]], list[Community]]:
    """Choose the real streets and communities the window holds and give each its blocks.

    Returns street code -> blocks and the communities (with their household quotas). Urban
    sub-districts (街道) come first; a street keeps its first communities by code.
    """
    rng = np.random.default_rng([seed, 2])
    buildable_by_district = {
        code: [
            k
            for k in range(len(blocks.geometry))
            if blocks.district[k] == code and blocks.buildable[k]
        ]
        for code in DISTRICT_CODES
    }
    present = [code for code in DISTRICT_CODES if buildable_by_district[code]]
    available = {
        code: sum(len(extract.communities[s.code]) for s in extract.streets[code])
        for code in present
    }
    total_k = int(
        np.clip(round(households / MEAN_COMMUNITY_HH), len(present), sum(available.values()))
    )
    area = {code: blocks.area_m2[buildable_by_district[code]].sum() for code in present}
    share = {code: total_k * area[code] / sum(area.values()) for code in present}
    per_district = {code: max(1, int(np.floor(share[code]))) for code in present}
    for code in sorted(present, key=lambda c: share[c] - np.floor(share[c]), reverse=True):
        if sum(per_district.values()) >= total_k:
            break
        per_district[code] += 1
    for _ in range(len(present)):  # capacity: never more communities than real ones or blocks
        room = {c: min(available[c], len(buildable_by_district[c])) for c in present}
        excess = sum(max(0, per_district[c] - room[c]) for c in present)
        per_district = {c: min(per_district[c], room[c]) for c in present}
        for c in sorted(present, key=lambda c: room[c] - per_district[c], reverse=True):
            extra = min(excess, room[c] - per_district[c])
            per_district[c] += extra
            excess -= extra

    # Community sizes vary by up to +-25%, less when that would leave the 1,500-6,000 band.
    mean = households / max(sum(per_district.values()), 1)
    low, high = (MAX_COMMUNITY_HH - mean) / mean, (mean - MIN_COMMUNITY_HH) / mean
    spread = float(np.clip(min(low, high), 0.05, 0.25))
    capacity = blocks.area_m2 * blocks.buildable

    street_blocks: dict[str, list[int]] = {}
    chosen: list[tuple[Division, Division, str, list[int]]] = []
    for code in present:
        members = [k for k in range(len(blocks.geometry)) if blocks.district[k] == code]
        k_d = per_district[code]
        n_streets = max(1, min(len(extract.streets[code]), round(k_d / 6)))
        counts = _spread(
            k_d, [len(extract.communities[s.code]) for s in extract.streets[code][:n_streets]]
        )
        while sum(counts) < k_d and n_streets < len(extract.streets[code]):
            n_streets += 1
            counts = _spread(
                k_d, [len(extract.communities[s.code]) for s in extract.streets[code][:n_streets]]
            )
        streets = extract.streets[code][:n_streets]
        weights = [rng.uniform(1 - spread, 1 + spread, size=c) for c in counts]
        label = bisect_regions(
            members,
            blocks.neighbours,
            blocks.centre_xy,
            capacity,
            [float(w.sum()) for w in weights],
        )
        for r, street in enumerate(streets):
            own = sorted(k for k, region in label.items() if region == r)
            if not own:
                continue
            street_blocks[street.code] = own
            n_comm = max(1, min(counts[r], int(blocks.buildable[own].sum())))
            c_label = bisect_regions(
                own, blocks.neighbours, blocks.centre_xy, capacity, weights[r][:n_comm].tolist()
            )
            _absorb_unbuildable(c_label, blocks, n_comm)
            divisions = extract.communities[street.code][:n_comm]
            for c, division in enumerate(divisions):
                own_c = sorted(k for k, v in c_label.items() if v == c)
                if own_c:
                    chosen.append((division, street, code, own_c))
    chosen.sort(key=lambda item: item[0].code)
    # Households follow the buildable area, so every community has about the same density.
    room = np.array([capacity[own].sum() for *_, own in chosen])
    quotas = integer_split(households, banded(households, np.maximum(room, 1.0)))
    communities = [
        Community(division, street, district, int(quota), own)
        for (division, street, district, own), quota in zip(chosen, quotas, strict=True)
    ]
    return street_blocks, communities


def _absorb_unbuildable(label: dict[int, int], blocks: Blocks, regions: int) -> None:
    """A region without a buildable block (all slivers) joins the neighbour it touches most."""
    for region in range(regions):
        own = [b for b, r in label.items() if r == region]
        if not own or blocks.buildable[own].any():
            continue
        touching: dict[int, int] = {}
        for b in own:
            for other in blocks.neighbours[b]:
                if other in label and label[other] != region:
                    touching[label[other]] = touching.get(label[other], 0) + 1
        if touching:
            target = max(sorted(touching), key=lambda r: touching[r])
            for b in own:
                label[b] = target


def _spread(total: int, caps: list[int]) -> list[int]:
    """Split ``total`` as evenly as possible over slots with capacities ``caps``."""
    counts = [0] * len(caps)
    while sum(counts) < total:
        open_slots = [k for k in range(len(caps)) if counts[k] < caps[k]]
        if not open_slots:
            break
        k = min(open_slots, key=lambda s: (counts[s], s))
        counts[k] += 1
    return counts
