"""Small hand-made address libraries and grid lattices for the geocoder tests.

Kept apart from the sample city on purpose: every test can see exactly which entries exist.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely import box

from gridmap.model import ADDRESS_COMPONENTS as COMPONENTS


def _row(address_id, lon, lat, **parts):
    row = {c: parts.get(c, "") for c in COMPONENTS}
    row.update(prov="浙江省", city="嘉兴市")
    row.update({k: v for k, v in parts.items() if k in ("prov", "city")})
    row["address"] = "".join(row[c] for c in COMPONENTS)
    row.update(address_id=address_id, lon=lon, lat=lat, households=1, population=2)
    return row


NANHU = dict(district="南湖区", town="建设街道", community="幸福社区")
XIUZHOU = dict(district="秀洲区", town="新城街道", community="和平社区")


def small_library() -> pd.DataFrame:
    """Two districts; rooms in compounds, a door without compound, a community entry.

    幸福小区 (中山路58号): buildings 1-3, units 1-2, rooms 101/102/201/202, at lon 120.75+.
    阳光花园 (解放路12号, 秀洲区): building 1, unit 1, rooms 101, 102.
    中华路7号: a shop door, no compound. 中兴路 also has a 58号 door (a close name for typos).
    """
    rows = []
    for b in (1, 2, 3):
        for u in (1, 2):
            for r in ("101", "102", "201", "202"):
                rows.append(
                    _row(
                        f"XF-{b}-{u}-{r}",
                        120.750 + 0.001 * b,
                        30.750 + 0.0002 * u,
                        road="中山路",
                        roadno="58号",
                        poi="幸福小区",
                        houseno=f"{b}幢",
                        cellno=f"{u}单元",
                        floorno=f"{r[0]}层",
                        roomno=f"{r}室",
                        **NANHU,
                    )
                )
    for r in ("101", "102"):
        rows.append(
            _row(
                f"YG-1-1-{r}",
                120.700,
                30.800,
                road="解放路",
                roadno="12号",
                poi="阳光花园",
                houseno="1幢",
                cellno="1单元",
                floorno="1层",
                roomno=f"{r}室",
                **XIUZHOU,
            )
        )
    rows.append(_row("ZH-7", 120.760, 30.760, road="中华路", roadno="7号", **NANHU))
    rows.append(_row("ZX-58", 120.770, 30.770, road="中兴路", roadno="58号", **NANHU))
    rows.append(_row("XF-COMMUNITY", 120.755, 30.755, **NANHU))
    return pd.DataFrame(rows)


def lattice_grids(west, south, east, north, columns, rows, community="330402001001"):
    """A square lattice of grids over a box, coded ``community + 001..`` west->east then south."""
    xs = np.linspace(west, east, columns + 1)
    ys = np.linspace(north, south, rows + 1)
    codes, shapes = [], []
    for j in range(rows):
        for i in range(columns):
            k = len(codes)  # 999 grids at most per community: the next ones get the next code
            block = f"{community[:9]}{int(community[9:]) + k // 999:03d}"
            codes.append(f"{block}{k % 999 + 1:03d}")
            shapes.append(box(xs[i], ys[j + 1], xs[i + 1], ys[j]))
    n = len(codes)
    return gpd.GeoDataFrame(
        {
            "grid_code": codes,
            "kind": ["comprehensive"] * n,
            "community_code": [code[:12] for code in codes],
            "host_grid_code": [""] * n,
            "households": [0] * n,
            "population": [0] * n,
            "area_m2": [1.0] * n,
            "polsby_popper": [0.785] * n,
            "flags": [""] * n,
        },
        geometry=shapes,
        crs="EPSG:4490",
    )
