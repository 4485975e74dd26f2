"""A tiny synthetic published city for the store and web tests (not the sample city).

One district 330402 over [120.70, 120.80] x [30.70, 30.80]: two streets (west/east halves), four
communities (quarters), eight comprehensive grids (each community halved) and one exclusive grid
(a small square inside grid 330402001001001), one road, one address at the centre of each grid.
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, box

W, S, E, N = 120.70, 30.70, 120.80, 30.80
DISTRICT = "330402"
CRS = "EPSG:4490"


def communities() -> list[tuple[str, str, tuple[float, float, float, float]]]:
    out = []
    for si, (x0, x1) in enumerate(((W, 120.75), (120.75, E)), start=1):
        for ci, (y0, y1) in enumerate(((S, 30.75), (30.75, N)), start=1):
            out.append((f"{DISTRICT}{si:03d}{ci:03d}", f"测试社区{si}{ci}", (x0, y0, x1, y1)))
    return out


def boundaries() -> gpd.GeoDataFrame:
    rows = [
        {
            "code": DISTRICT,
            "name": "南湖区",
            "level": "district",
            "parent_code": "330400",
            "geometry": box(W, S, E, N),
        }
    ]
    for si, (x0, x1) in enumerate(((W, 120.75), (120.75, E)), start=1):
        rows.append(
            {
                "code": f"{DISTRICT}{si:03d}",
                "name": f"测试街道{si}",
                "level": "street",
                "parent_code": DISTRICT,
                "geometry": box(x0, S, x1, N),
            }
        )
    for code, name, (x0, y0, x1, y1) in communities():
        rows.append(
            {
                "code": code,
                "name": name,
                "level": "community",
                "parent_code": code[:9],
                "geometry": box(x0, y0, x1, y1),
            }
        )
    return gpd.GeoDataFrame(rows, crs=CRS)


def grids() -> gpd.GeoDataFrame:
    rows = []
    for code, _name, (x0, y0, x1, y1) in communities():
        xm = (x0 + x1) / 2
        for gi, (a, b) in enumerate(((x0, xm), (xm, x1)), start=1):
            rows.append(
                {
                    "grid_code": f"{code}{gi:03d}",
                    "kind": "comprehensive",
                    "community_code": code,
                    "host_grid_code": "",
                    "households": 300 + gi if gi == 1 else 290,
                    "population": 800,
                    "area_m2": 1.2e7,
                    "polsby_popper": 0.7,
                    "flags": "" if gi == 1 else "below_min",
                    "geometry": box(a, y0, b, y1),
                }
            )
    rows.append(
        {
            "grid_code": "330402001001501",
            "kind": "exclusive",
            "community_code": "330402001001",
            "host_grid_code": "330402001001001",
            "households": 0,
            "population": 0,
            "area_m2": 1.0e5,
            "polsby_popper": 0.78,
            "flags": "",
            "geometry": box(120.701, 30.701, 120.704, 30.704),
        }
    )
    return gpd.GeoDataFrame(rows, crs=CRS)


def grid_centre(grid_code: str) -> tuple[float, float]:
    geom = grids().set_index("grid_code").geometry[grid_code]
    return geom.centroid.x, geom.centroid.y


def addresses() -> pd.DataFrame:
    rows = []
    for i, g in enumerate(grids().itertuples(), start=1):
        if g.kind != "comprehensive":
            continue
        c = g.geometry.centroid
        rows.append(
            {
                "address_id": f"A{i:04d}",
                "address": f"浙江省嘉兴市南湖区测试路{i}号",
                "lon": c.x,
                "lat": c.y,
                "households": 10,
                "population": 25,
                "community_code": g.community_code,
                "prov": "浙江省",
                "city": "嘉兴市",
                "district": "南湖区",
                "road": "测试路",
                "roadno": f"{i}号",
            }
        )
    return pd.DataFrame(rows)


def barriers() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        [{"kind": "road", "name": "测试路", "geometry": LineString([(W, 30.75), (E, 30.75)])}],
        crs=CRS,
    )


def publish_city(store, note: str = "test city") -> dict:
    from gridmap.services.versions import publish

    return publish(store, grids(), boundaries(), addresses(), barriers(), note=note)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
