"""A synthetic published city for the map's tests and benchmark: any number of grids, fast.

A lattice of slightly jittered quadrilateral cells near Jiaxing: every cell is a comprehensive
grid, 5 x 5 cells make a community, 4 x 4 communities a street, and the streets split into two
districts by column. Every tenth grid hosts an exclusive grid; roads run along street and
community edges; each grid has one standard address at its centre. Deterministic for a seed.

>>> city = synthetic_city(cols=10, rows=10, seed=1)
>>> len(city.grids), int((city.grids["kind"] == "exclusive").sum())
(110, 10)
>>> sorted(city.boundaries["level"].unique())
['community', 'district', 'street']
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity

from gridmap.model import STORAGE_CRS

ORIGIN = (120.70, 30.70)  # lon, lat of the lattice's south-west corner (Jiaxing)
CELL = 0.0016  # degrees (~150 m): a grid of a few hundred households in a dense town
COMMUNITY_CELLS = 5
STREET_COMMUNITIES = 4
DISTRICTS = (("330402", "南湖区"), ("330411", "秀洲区"))
ROAD_NAMES = [
    "中山",
    "建国",
    "南湖",
    "勤俭",
    "禾兴",
    "环城",
    "双溪",
    "东升",
    "秀洲",
    "洪兴",
    "广益",
    "纺工",
    "由拳",
    "吉杨",
    "越秀",
    "长水",
]


@dataclass
class SyntheticCity:
    grids: gpd.GeoDataFrame
    boundaries: gpd.GeoDataFrame
    addresses: pd.DataFrame
    barriers: gpd.GeoDataFrame


def _vertices(cols: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """(rows+1, cols+1, 2) lattice corners, jittered so the city does not look like a chessboard."""
    xs = ORIGIN[0] + np.arange(cols + 1) * CELL
    ys = ORIGIN[1] + np.arange(rows + 1) * CELL
    corners = np.stack(np.meshgrid(xs, ys), axis=-1)
    jitter = rng.uniform(-0.22, 0.22, size=corners.shape) * CELL
    # Keep the outline straight-ish and the street edges (the roads) smooth.
    jitter[:, :: COMMUNITY_CELLS * STREET_COMMUNITIES, 0] *= 0.3
    jitter[:: COMMUNITY_CELLS * STREET_COMMUNITIES, :, 1] *= 0.3
    return corners + jitter


def _block(v: np.ndarray, i0: int, j0: int, i1: int, j1: int) -> shapely.Polygon:
    """Polygon over cells [i0, i1) x [j0, j1) walking the lattice corners on its edge."""
    ring = [v[j0, i] for i in range(i0, i1 + 1)]
    ring += [v[j, i1] for j in range(j0 + 1, j1 + 1)]
    ring += [v[j1, i] for i in range(i1 - 1, i0 - 1, -1)]
    ring += [v[j, i0] for j in range(j1 - 1, j0, -1)]
    return shapely.Polygon(ring)


def synthetic_city(cols: int = 100, rows: int = 100, seed: int = 0) -> SyntheticCity:
    """A city of ``cols * rows`` comprehensive grids (plus one exclusive grid per ten)."""
    rng = np.random.default_rng(seed)
    v = _vertices(cols, rows, rng)
    street_cells = COMMUNITY_CELLS * STREET_COMMUNITIES
    street_cols = -(-cols // street_cells)
    district_split = max(1, street_cols // 2 + street_cols % 2) if street_cols > 1 else 1

    def street_of(i: int, j: int) -> tuple[int, int]:
        return i // street_cells, j // street_cells

    def district_of(si: int) -> tuple[str, str]:
        return DISTRICTS[0] if si < district_split else DISTRICTS[1]

    streets: dict[tuple[int, int], str] = {}
    street_rows: list[dict] = []
    community_rows: list[dict] = []
    communities: dict[tuple[int, int], str] = {}
    for sj in range(-(-rows // street_cells)):
        for si in range(street_cols):
            dcode, dname = district_of(si)
            serial = sum(1 for c in streets.values() if c.startswith(dcode)) + 1
            scode = f"{dcode}{serial:03d}"
            streets[si, sj] = scode
            i0, j0 = si * street_cells, sj * street_cells
            i1, j1 = min(i0 + street_cells, cols), min(j0 + street_cells, rows)
            street_rows.append(
                {
                    "code": scode,
                    "name": f"{ROAD_NAMES[(si + 3 * sj) % len(ROAD_NAMES)]}街道",
                    "level": "street",
                    "parent_code": dcode,
                    "geometry": _block(v, i0, j0, i1, j1),
                }
            )
            n = 0
            for cj in range(j0, j1, COMMUNITY_CELLS):
                for ci in range(i0, i1, COMMUNITY_CELLS):
                    n += 1
                    ccode = f"{scode}{n:03d}"
                    communities[ci // COMMUNITY_CELLS, cj // COMMUNITY_CELLS] = ccode
                    community_rows.append(
                        {
                            "code": ccode,
                            "name": f"{ROAD_NAMES[(ci + cj) % len(ROAD_NAMES)]}{n}社区",
                            "level": "community",
                            "parent_code": scode,
                            "geometry": _block(
                                v,
                                ci,
                                cj,
                                min(ci + COMMUNITY_CELLS, i1),
                                min(cj + COMMUNITY_CELLS, j1),
                            ),
                        }
                    )
    district_rows = []
    for dcode, dname in DISTRICTS:
        parts = [r["geometry"] for r in street_rows if r["parent_code"] == dcode]
        if parts:
            district_rows.append(
                {
                    "code": dcode,
                    "name": dname,
                    "level": "district",
                    "parent_code": "330400",
                    "geometry": shapely.union_all(parts),
                }
            )
    boundaries = gpd.GeoDataFrame(district_rows + street_rows + community_rows, crs=STORAGE_CRS)

    names = dict(zip(boundaries["code"], boundaries["name"], strict=True))
    grid_rows: list[dict] = []
    address_rows: list[dict] = []
    serials: dict[str, int] = {}
    households = rng.integers(180, 620, size=(rows, cols))
    for j in range(rows):
        for i in range(cols):
            ccode = communities[i // COMMUNITY_CELLS, j // COMMUNITY_CELLS]
            serials[ccode] = serials.get(ccode, 0) + 1
            gcode = f"{ccode}{serials[ccode]:03d}"
            cell = _block(v, i, j, i + 1, j + 1)
            hh = int(households[j, i])
            grid_rows.append(_grid(gcode, "comprehensive", ccode, None, hh, cell))
            centre = cell.centroid
            # Roads run east-west, one per lattice row: "<road>路<column>号" is unique per cell.
            road = f"{ROAD_NAMES[j % len(ROAD_NAMES)]}{'' if j < len(ROAD_NAMES) else j}路"
            district, town, community = names[ccode[:6]], names[ccode[:9]], names[ccode]
            address_rows.append(
                {
                    "address_id": f"A{gcode}",
                    "address": f"浙江省嘉兴市{district}{town}{road}{i + 1}号",
                    "lon": round(centre.x, 7),
                    "lat": round(centre.y, 7),
                    "households": hh,
                    "population": int(hh * 2.6),
                    "community_code": ccode,
                    "prov": "浙江省",
                    "city": "嘉兴市",
                    "district": district,
                    "town": town,
                    "community": community,
                    "road": road,
                    "roadno": f"{i + 1}号",
                }
            )
            if (i * 7 + j * 3) % 10 == 0:  # a school, hospital or park inside this grid
                serials[ccode] += 1
                inner = affinity.scale(cell, 0.45, 0.45)
                grid_rows.append(
                    _grid(f"{ccode}{serials[ccode]:03d}", "exclusive", ccode, gcode, 0, inner)
                )
    grids = gpd.GeoDataFrame(grid_rows, crs=STORAGE_CRS)
    grids["area_m2"] = grids.to_crs(4549).area.round(1)

    lines = []
    for j in range(0, rows + 1, COMMUNITY_CELLS):
        kind = "major" if j % street_cells == 0 else "minor"
        lines.append((f"{ROAD_NAMES[j % len(ROAD_NAMES)]}路", kind, shapely.LineString(v[j, :])))
    for i in range(0, cols + 1, COMMUNITY_CELLS):
        kind = "major" if i % street_cells == 0 else "minor"
        name = f"{ROAD_NAMES[(i + 5) % len(ROAD_NAMES)]}大道"
        lines.append((name, kind, shapely.LineString(v[:, i])))
    barriers = gpd.GeoDataFrame(
        {"name": [n for n, _, _ in lines], "kind": ["road"] * len(lines)},
        geometry=[g for _, _, g in lines],
        crs=STORAGE_CRS,
    )
    return SyntheticCity(grids, boundaries, pd.DataFrame(address_rows), barriers)


def _grid(code: str, kind: str, community: str, host: str | None, hh: int, geom) -> dict:
    return {
        "grid_code": code,
        "kind": kind,
        "community_code": community,
        "host_grid_code": host,
        "households": hh,
        "population": int(hh * 2.6),
        "geometry": geom,
    }


def publish_city(store, city: SyntheticCity, note: str = "synthetic city") -> dict:
    """Publish the city as the store's current grid version."""
    from gridmap.services.versions import publish

    return publish(
        store, city.grids, city.boundaries, city.addresses, city.barriers, note=note, city="嘉兴市"
    )


def add_incidents(
    store, city: SyntheticCity, count: int, seed: int = 0, progress=None, moved_share: float = 1.0
) -> None:
    """``count`` incidents near random grid centres, most of them moved along the workflow.

    ``moved_share`` of the incidents get their workflow steps stored one by one (the rest stay
    reported), which is what makes large counts slow; the benchmark lowers it.
    """
    from gridmap.rules.workflow import INCIDENT_TYPES
    from gridmap.store import Location

    rng = np.random.default_rng(seed)
    version = store.current_version()
    comprehensive = city.grids[city.grids["kind"] == "comprehensive"]
    centres = shapely.centroid(comprehensive.geometry.values)
    xs, ys = shapely.get_x(centres), shapely.get_y(centres)
    codes = comprehensive["grid_code"].to_numpy()
    communities = comprehensive["community_code"].to_numpy()
    types = list(INCIDENT_TYPES)
    now = datetime.now(UTC)
    picks = rng.integers(0, len(codes), size=count)
    offsets = rng.normal(0, CELL / 5, size=(count, 2))
    steps = rng.choice([0, 1, 2, 3, 7], size=count, p=[0.12, 0.1, 0.1, 0.08, 0.6])
    # Open incidents are mostly recent (a working command center keeps up), closed ones older.
    ages = np.where(
        steps < 7, rng.exponential(8.0, size=count), rng.uniform(0, 30 * 24, size=count)
    )
    path = ("accept", "dispatch", "start", "resolve", "verify", "close")
    for n in range(count):
        k = picks[n]
        community = communities[k]
        created = now - timedelta(hours=float(ages[n]))
        iid = store.create_incident(
            type=types[n % len(types)],
            description=f"巡查发现问题 {n}",
            lon=float(xs[k] + offsets[n, 0]),
            lat=float(ys[k] + offsets[n, 1]),
            location=Location(codes[k], community, community[:9], community[:6]),
            actor="synthetic",
            address="",
            source="synthetic",
            version_id=version.id if version else None,
            at=created,
        )
        moved = path[: min(int(steps[n]), len(path))] if n < count * moved_share else ()
        for s, action in enumerate(moved):
            store.transition(iid, action, "synthetic", at=created + timedelta(hours=2 * (s + 1)))
        if progress is not None:
            progress(1)


def synthetic_app(db_path, cols: int = 10, rows: int = 10, incidents: int = 40, seed: int = 0):
    """A ``web.create_app`` app over a new store at ``db_path`` holding a published synthetic
    city with ``incidents`` incidents; returns ``(app, city)``."""
    from gridmap.store import open_store
    from web import create_app

    city = synthetic_city(cols, rows, seed=seed)
    store = open_store(db_path)
    publish_city(store, city)
    if incidents:
        add_incidents(store, city, incidents, seed=seed)
    store.close()
    app = create_app({"DB": str(db_path), "SECRET_KEY": "synthetic", "TESTING": True})
    return app, city
