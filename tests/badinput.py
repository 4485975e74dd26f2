"""Small input files for the I/O tests: a clean set, and the bad-input corpus built from it.

Everything is generated into a folder (pytest's tmp_path) so no binary test data is committed.
Files that libraries refuse to write (an unclosed ring) are written as GeoJSON text by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
from shapely.geometry import LineString, Polygon, box

CRS = "EPSG:4490"
# A district, a street in it and two communities tiling the street (Jiaxing, Nanhu district).
DISTRICT = box(120.70, 30.70, 120.80, 30.80)
STREET = box(120.70, 30.70, 120.75, 30.75)
COMMUNITY_A = box(120.70, 30.70, 120.725, 30.75)
COMMUNITY_B = box(120.725, 30.70, 120.75, 30.75)


def boundaries() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["330402", "330402001", "330402001001", "330402001002"],
            "name": ["南湖区", "建设街道", "紫阳社区", "禾兴社区"],
            "level": ["district", "street", "community", "community"],
            "parent_code": [None, "330402", "330402001", "330402001"],
        },
        geometry=[DISTRICT, STREET, COMMUNITY_A, COMMUNITY_B],
        crs=CRS,
    )


def addresses(n: int = 6) -> pd.DataFrame:
    lon = [120.705 + 0.007 * (i % 6) for i in range(n)]
    lat = [30.71 + 0.0001 * i for i in range(n)]
    return pd.DataFrame(
        {
            "address_id": [f"A{i:05d}" for i in range(n)],
            "address": [f"浙江省嘉兴市南湖区建设街道中山路{i + 1}号" for i in range(n)],
            "lon": lon,
            "lat": lat,
            "households": [1 + i % 3 for i in range(n)],
            "population": [2 + i % 5 for i in range(n)],
            "community_code": ["330402001001" if x < 120.725 else "330402001002" for x in lon],
            "road": ["中山路"] * n,
            "roadno": [f"{i + 1}号" for i in range(n)],
        }
    )


def barriers() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"kind": ["road", "river"], "name": ["中山路", "南湖"]},
        geometry=[
            LineString([(120.70, 30.72), (120.75, 30.72)]),
            LineString([(120.71, 30.70), (120.71, 30.75)]),
        ],
        crs=CRS,
    )


def sites() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "site_id": ["S1", "S2"],
            "name": ["嘉兴市第一医院", "南湖区实验小学"],
            "category": ["hospital", "school"],
            "headcount": [1200, 800],
        },
        geometry=[box(120.71, 30.71, 120.712, 30.712), box(120.73, 30.73, 120.732, 30.733)],
        crs=CRS,
    )


def write_geojson_text(path: Path, features: list[dict]) -> Path:
    """Write a FeatureCollection by hand (for geometries no library will write)."""
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def feature(properties: dict, geometry: dict | None) -> dict:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def polygon_json(ring: list[tuple[float, float]]) -> dict:
    return {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}


BOWTIE = [(120.70, 30.70), (120.72, 30.72), (120.72, 30.70), (120.70, 30.72), (120.70, 30.70)]
UNCLOSED = [(120.70, 30.70), (120.72, 30.70), (120.72, 30.72), (120.70, 30.72)]


def polygon_of(geometry: Polygon) -> dict:
    return polygon_json(list(geometry.exterior.coords))
