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


def grids() -> gpd.GeoDataFrame:
    """Two comprehensive grids tiling community A and one exclusive grid (a hospital) inside."""
    return gpd.GeoDataFrame(
        {
            "grid_code": ["330402001001001", "330402001001002", "330402001001501"],
            "kind": ["comprehensive", "comprehensive", "exclusive"],
            "community_code": ["330402001001"] * 3,
            "host_grid_code": [None, None, "330402001001001"],
            "households": [320, 410, 0],
            "population": [900, 1100, 0],
            "area_m2": [1.2e6, 1.2e6, 3.6e4],
            "polsby_popper": [0.6, 0.6, 0.78],
            "flags": ["", "too_few_households", ""],
        },
        geometry=[
            box(120.70, 30.70, 120.725, 30.725),
            box(120.70, 30.725, 120.725, 30.75),
            box(120.71, 30.71, 120.712, 30.712),
        ],
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


# --- the bad-input corpus ----------------------------------------------------------------------
# Each case writes one file into a folder and says which problems validate must report:
# (position, field, words of the message). Position is "row N" (CSV line) or "feature N".

Expected = list[tuple[str | None, str | None, str]]


def _csv(folder: Path, name: str, frame: pd.DataFrame, encoding: str = "utf-8") -> Path:
    path = folder / name
    frame.to_csv(path, index=False, encoding=encoding)
    return path


def case_missing_column(folder: Path) -> tuple[Path, Expected]:
    path = _csv(folder, "missing_column.csv", addresses().drop(columns=["households"]))
    return path, [(None, "households", "missing required column")]


def case_wrong_types(folder: Path) -> tuple[Path, Expected]:
    frame = addresses().astype({"households": object, "population": object, "lon": object})
    frame.loc[1, "households"] = "abc"
    frame.loc[2, "households"] = -3
    frame.loc[3, "population"] = 2.5
    frame.loc[4, "lon"] = "east"
    return _csv(folder, "wrong_types.csv", frame), [
        ("row 3", "households", "not a number: 'abc'"),
        ("row 4", "households", "negative: -3"),
        ("row 5", "population", "not a whole number: 2.5"),
        ("row 6", "lon", "not a number: 'east'"),
    ]


def case_empty_values(folder: Path) -> tuple[Path, Expected]:
    frame = addresses().astype({"households": object})
    frame.loc[2, "address"] = ""
    frame.loc[3, "households"] = None
    return _csv(folder, "empty_values.csv", frame), [
        ("row 4", "address", "empty"),
        ("row 5", "households", "empty"),
    ]


def case_header_only(folder: Path) -> tuple[Path, Expected]:
    return _csv(folder, "header_only.csv", addresses().iloc[:0]), [(None, None, "no rows")]


def case_no_features(folder: Path) -> tuple[Path, Expected]:
    path = write_geojson_text(folder / "no_features.geojson", [])
    return path, [(None, None, "no features")]


def case_duplicate_address_id(folder: Path) -> tuple[Path, Expected]:
    frame = addresses()
    frame.loc[4, "address_id"] = frame.loc[1, "address_id"]
    return _csv(folder, "duplicate_address_id.csv", frame), [
        ("row 6", "address_id", "duplicate address_id 'A00001' (first at row 3)")
    ]


def case_duplicate_site_id(folder: Path) -> tuple[Path, Expected]:
    frame = sites()
    frame.loc[1, "site_id"] = "S1"
    frame.to_file(folder / "duplicate_site_id.gpkg", engine="pyogrio")
    return folder / "duplicate_site_id.gpkg", [
        ("feature 2", "site_id", "duplicate site_id 'S1' (first at feature 1)")
    ]


def case_duplicate_code(folder: Path) -> tuple[Path, Expected]:
    frame = boundaries()
    frame.loc[3, "code"] = "330402001001"
    frame.to_file(folder / "duplicate_code.gpkg", engine="pyogrio")
    return folder / "duplicate_code.gpkg", [
        ("feature 4", "code", "duplicate code '330402001001' (first at feature 3)")
    ]


def case_bad_codes(folder: Path) -> tuple[Path, Expected]:
    frame = boundaries()
    frame.loc[2, "code"] = "33040200100"  # 11 digits
    frame.loc[3, "level"] = "street"  # a 12-digit code called a street
    extra = boundaries().iloc[[3]].assign(code="330402001003", parent_code="330402002")
    orphan = boundaries().iloc[[3]].assign(code="330402005001", parent_code=None)
    frame = pd.concat([frame, extra, orphan], ignore_index=True)
    frame.to_file(folder / "bad_codes.gpkg", engine="pyogrio")
    return folder / "bad_codes.gpkg", [
        ("feature 3", "code", "'33040200100' is not a 6, 9, 12 or 15-digit code"),
        ("feature 4", "level", "level 'street' does not match code 330402001002"),
        (
            "feature 5",
            "parent_code",
            "parent_code 330402002 is not the parent of code 330402001003",
        ),
        ("feature 6", "parent_code", "parent 330402005 is not in the file"),
    ]


def case_bad_community_code(folder: Path) -> tuple[Path, Expected]:
    frame = addresses()
    frame.loc[0, "community_code"] = "330402001"
    frame.loc[1, "community_code"] = "33040200100x"
    return _csv(folder, "bad_community_code.csv", frame), [
        ("row 2", "community_code", "'330402001' is a street code, expected 12 digits"),
        ("row 3", "community_code", "bad division code"),
    ]


def case_bad_choice(folder: Path) -> tuple[Path, Expected]:
    frame = sites()
    frame.loc[0, "category"] = "factory"
    frame.to_file(folder / "bad_category.geojson", engine="pyogrio")
    return folder / "bad_category.geojson", [("feature 1", "category", "'factory' is not one of")]


def _boundary_features(geometries: list[dict | None]) -> list[dict]:
    codes = ["330402001", "330402002", "330402003", "330402004", "330402005"]
    return [
        feature({"code": code, "name": f"街道{i}", "level": "street"}, geometry)
        for i, (code, geometry) in enumerate(zip(codes, geometries, strict=False))
    ]


def case_invalid_geometries(folder: Path) -> tuple[Path, Expected]:
    geometries = [
        polygon_json(BOWTIE),
        polygon_json(UNCLOSED),
        {"type": "Polygon", "coordinates": []},
        {"type": "Point", "coordinates": [120.71, 30.71]},
        None,
    ]
    path = write_geojson_text(folder / "invalid_geometries.geojson", _boundary_features(geometries))
    return path, [
        ("feature 1", "geometry", "invalid geometry: Self-intersection"),
        ("feature 2", "geometry", "ring is not closed"),
        ("feature 3", "geometry", "empty geometry"),
        ("feature 4", "geometry", "a Point where a polygon is expected"),
        ("feature 5", "geometry", "no geometry (null)"),
    ]


def case_repairable(folder: Path) -> tuple[Path, Expected]:
    """Only repairable problems: clean with --repair (each repair reported)."""
    path = write_geojson_text(
        folder / "repairable.geojson",
        _boundary_features([polygon_json(BOWTIE), polygon_json(UNCLOSED)]),
    )
    return path, [
        ("feature 1", "geometry", "Self-intersection"),
        ("feature 2", "geometry", "ring is not closed"),
    ]


def case_line_where_polygon(folder: Path) -> tuple[Path, Expected]:
    frame = sites()
    frame.loc[1, "geometry"] = LineString([(120.73, 30.73), (120.74, 30.74)])
    frame.to_file(folder / "site_line.gpkg", engine="pyogrio")
    return folder / "site_line.gpkg", [
        ("feature 2", "geometry", "a LineString where a polygon is expected")
    ]


def case_coordinates(folder: Path) -> tuple[Path, Expected]:
    frame = addresses()
    frame.loc[1, ["lon", "lat"]] = [30.71, 120.712]  # swapped
    frame.loc[2, ["lon", "lat"]] = [500123.4, 3398765.4]  # GK zone metres
    frame.loc[3, ["lon", "lat"]] = [2.35, 48.85]  # Paris
    frame.loc[4, ["lon", "lat"]] = [126.98, 37.57]  # Seoul: outside China
    return _csv(folder, "coordinates.csv", frame), [
        ("row 3", "lon/lat", "lon/lat look swapped"),
        ("row 4", "lon/lat", "projected metres"),
        ("row 5", "lon/lat", "outside China"),
        ("row 6", "lon/lat", "outside China"),
    ]


def case_projected_polygons(folder: Path) -> tuple[Path, Expected]:
    """Metres in a file that declares nothing (CSV-like GeoJSON without a CRS is lon/lat)."""
    ring = [(500000, 3400000), (501000, 3400000), (501000, 3401000), (500000, 3400000)]
    path = write_geojson_text(
        folder / "projected.geojson",
        [feature({"site_id": "S1", "name": "医院", "category": "hospital"}, polygon_json(ring))],
    )
    return path, [("feature 1", "geometry", "projected metres")]


def case_mixed_utf8_with_gbk_row(folder: Path) -> tuple[Path, Expected]:
    frame = addresses()
    text = frame.to_csv(index=False)
    lines = text.splitlines(keepends=True)
    data = b"".join(
        line.encode("gbk") if number == 4 else line.encode("utf-8")
        for number, line in enumerate(lines, start=1)
    )
    path = folder / "mixed_utf8.csv"
    path.write_bytes(data)
    return path, [("row 4", "address", "mixed encodings: the file is UTF-8 but this row is GBK")]


def case_mixed_gbk_with_utf8_row(folder: Path) -> tuple[Path, Expected]:
    frame = addresses()
    lines = frame.to_csv(index=False).splitlines(keepends=True)
    data = b"".join(
        line.encode("utf-8") if number == 3 else line.encode("gbk")
        for number, line in enumerate(lines, start=1)
    )
    path = folder / "mixed_gbk.csv"
    path.write_bytes(data)
    return path, [("row 3", "address", "mixed encodings: the file is GBK but this row is UTF-8")]


def case_grids(folder: Path) -> tuple[Path, Expected]:
    frame = gpd.GeoDataFrame(
        {
            "grid_code": ["330402001001001", "330402001001002", "33040200100100"],
            "kind": ["comprehensive", "exclusive", "comprehensive"],
            "community_code": ["330402001001", "330402001001", "330402001001"],
            "host_grid_code": [None, None, None],
            "households": [320, 0, 400],
            "population": [900, 0, 1100],
            "area_m2": [1.0e5, 2.0e4, 1.2e5],
            "polsby_popper": [0.6, 0.7, 0.5],
            "flags": ["", "", ""],
        },
        geometry=[COMMUNITY_A, box(120.71, 30.71, 120.712, 30.712), COMMUNITY_B],
        crs=CRS,
    )
    frame.to_file(folder / "grids.gpkg", engine="pyogrio")
    return folder / "grids.gpkg", [
        ("feature 2", "host_grid_code", "an exclusive grid needs the comprehensive grid"),
        ("feature 3", "grid_code", "bad division code"),
    ]


def write_clean_set(folder: Path) -> dict[str, Path]:
    """The four good layers (one per format family), to validate clean."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "boundaries": folder / "boundaries.gpkg",
        "addresses": folder / "addresses.csv",
        "barriers": folder / "barriers.geojson",
        "sites": folder / "sites.shp",
    }
    boundaries().to_file(paths["boundaries"], engine="pyogrio")
    addresses().to_csv(paths["addresses"], index=False)
    barriers().to_file(paths["barriers"], engine="pyogrio")
    sites().to_file(paths["sites"], engine="pyogrio", encoding="UTF-8")
    return paths


def case_malformed_rows(folder: Path) -> tuple[Path, Expected]:
    lines = addresses().to_csv(index=False).splitlines()
    lines[2] += ",extra"  # line 3: one field too many (an unquoted comma)
    path = folder / "malformed.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, [("row 3", None, "malformed row (expected 9 fields, saw 10)")]


CASES = {
    name[len("case_") :]: function
    for name, function in sorted(globals().items())
    if name.startswith("case_") and callable(function)
}
