"""The real extract the sample city stands on: district outlines and division names and codes.

Reads the small committed files in ``data/boundaries/`` (see its README for sources and
licences): the outlines of 嘉兴市 南湖区 (330402) and 秀洲区 (330411) in CGCS2000, and their
real streets (街道/镇, 9 digits) and communities (社区/村, 12 digits).

>>> short_name("百福弄社区居委会"), short_name("曹庄村村民委员会"), short_name("新丰村委会")
('百福弄社区', '曹庄村', '新丰村')
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import shapely
from shapely.geometry import shape

from gridmap.codes import is_valid_code, parent_code, township_kind
from gridmap.errors import InputError

PROVINCE = "浙江省"
CITY = "嘉兴市"
CITY_CODE = "3304"
DISTRICT_CODES = ("330402", "330411")
DATA_DIR = Path(__file__).resolve().parent / "boundaries"
OUTLINES_FILE = "jiaxing_districts.geojson"
DIVISIONS_FILE = "jiaxing_divisions.csv"


@dataclass(frozen=True)
class Division:
    """One real street or community: official code and name, and its parent's code."""

    code: str
    name: str  # official name, e.g. 百福弄社区居委会
    level: str  # street or community
    parent_code: str

    @property
    def short(self) -> str:
        """The name as written in an address (居委会/村委会 dropped)."""
        return short_name(self.name)


@dataclass(frozen=True)
class RealExtract:
    """District outlines (code -> polygon, EPSG:4490) and their streets and communities."""

    outlines: dict[str, shapely.Geometry]
    district_names: dict[str, str]
    streets: dict[str, list[Division]]  # district code -> streets, urban 街道 first, by code
    communities: dict[str, list[Division]]  # street code -> communities by code


def short_name(official: str) -> str:
    """Community name as used in addresses: 'X社区居委会' -> 'X社区', 'X村民委员会' -> 'X村'."""
    for suffix, replacement in (
        ("社区居民委员会", "社区"),
        ("社区居委会", "社区"),
        ("居民委员会", "社区"),
        ("居委会", "社区"),
        ("村村民委员会", "村"),
        ("村民委员会", "村"),
        ("村村委会", "村"),
        ("村委会", "村"),
    ):
        if official.endswith(suffix):
            return official[: -len(suffix)] + replacement
    return official


def _street_order(division: Division) -> tuple[int, str]:
    # Urban sub-districts (街道, 001-099) are the built-up core; towns (镇) come after them.
    return (0 if township_kind(division.code) == "street" else 1, division.code)


def load_extract(data_dir: Path = DATA_DIR) -> RealExtract:
    """Load the committed extract; a missing or broken file is a clear error, not a traceback."""
    import json

    outlines_path = data_dir / OUTLINES_FILE
    divisions_path = data_dir / DIVISIONS_FILE
    for path in (outlines_path, divisions_path):
        if not path.is_file():  # e.g. a non-editable install: the extract lives in the checkout
            raise InputError.one(
                str(path), "the committed boundary extract is missing (install with pip -e)"
            )
    collection = json.loads(outlines_path.read_text(encoding="utf-8"))
    outlines, names = {}, {}
    for feature in collection["features"]:
        code = feature["properties"]["code"]
        outlines[code] = shapely.make_valid(shape(feature["geometry"]))
        names[code] = feature["properties"]["name"]
    if set(outlines) != set(DISTRICT_CODES):
        found = sorted(outlines)
        raise InputError.one(
            str(outlines_path), f"expected districts {DISTRICT_CODES}, got {found}"
        )
    streets: dict[str, list[Division]] = {code: [] for code in DISTRICT_CODES}
    communities: dict[str, list[Division]] = {}
    with open(divisions_path, encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            division = Division(row["code"], row["name"], row["level"], row["parent_code"])
            if not is_valid_code(division.code, division.level) or (
                parent_code(division.code) != division.parent_code
            ):
                raise InputError.one(str(divisions_path), "bad or inconsistent code", row=number)
            if division.level == "street":
                streets[division.parent_code].append(division)
                communities.setdefault(division.code, [])
            else:
                communities.setdefault(division.parent_code, []).append(division)
    for code in streets:
        streets[code].sort(key=_street_order)
    for code in communities:
        communities[code].sort(key=lambda d: d.code)
    return RealExtract(outlines, names, streets, communities)
