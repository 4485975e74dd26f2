"""Geocoder accuracy and speed on noisy variants of standard addresses.

    python benchmarks/geocode_bench.py [--households 60000] [--queries 20000] [--load-size 1000000]

1. **Sample city** (``gridmap.sample.build_city``, 浙江省嘉兴市): every query is a library entry
   rewritten with 2-4 random kinds of noise (dropped admin prefixes, full-width digits, Chinese
   numerals, unit-word variants, compound numbers ``3-2-1303``, a one-character typo in the road
   or compound name, swapped order, compound-name aliases, spaces and punctuation, an added
   floor). Typos never produce another name of the library (that would be a different, valid
   address). Printed: the share matched to the right entry at the right level (the entry's own
   deepest level), the precision of accepted matches (level not ``none``), the review share and
   throughput on one core.
2. **Real OpenStreetMap addresses** of ../shared/data/shanghai-bund/buildings.geojson (``kind =
   address`` points with a Chinese ``addr_street`` and ``addr_housenumber``): a library is built
   from them (road + door number), then queried with noisy variants the same way.
3. **Library load**: reading and indexing a 1,000,000-address library (the sample city at that
   size) from CSV through ``gridmap.io``.

The last line is the headline: right-entry share, precision and throughput on the sample city.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from gridmap.geocode import Geocoder
from gridmap.geocode.library import number_key

ROOT = Path(__file__).resolve().parents[1]
SHANGHAI = ROOT.parent / "shared" / "data" / "shanghai-bund" / "buildings.geojson"

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
CN_DIGITS = "〇一二三四五六七八九"
# common characters that typists mistake for one another (homophones, near shapes) and others
TYPO_POOL = list("山衫珊杉华花化兴星新家佳嘉园圆元苑源福富府阳杨洋东冬栋南楠安岸庭亭廷城成诚")


def chinese_number(n: int) -> str:
    """Positional Chinese numeral for 1-99 (二十三), digit by digit beyond (一三零三)."""
    if n < 10:
        return CN_DIGITS[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")
    return "".join(CN_DIGITS[int(d)] for d in str(n))


def expected_level(row) -> str:
    for column, level in (
        ("roomno", "room"), ("cellno", "unit"), ("houseno", "building"), ("roadno", "door"),
        ("poi", "compound"), ("road", "road"), ("community", "community"), ("town", "town"),
    ):  # fmt: skip
        if row.get(column):
            return level
    return "district"


class Noise:
    """Rewrites one library entry (a dict of components) into a noisy query."""

    def __init__(self, names: set[str], rng: random.Random) -> None:
        self.names = names
        self.rng = rng

    def typo(self, name: str) -> str:
        if len(name) < 3:
            return name
        # a Chinese character, not the suffix (路, 小区: rarely mistyped), not a number
        positions = [i for i, ch in enumerate(name[:-1]) if "\u4e00" <= ch <= "\u9fff"]
        if not positions:
            return name
        for _ in range(20):
            i = self.rng.choice(positions)
            new = name[:i] + self.rng.choice(TYPO_POOL) + name[i + 1 :]
            if new != name and new not in self.names:
                return new
        return name

    def variant(self, row: dict) -> str:
        rng = self.rng
        kinds = rng.sample(
            ["drop_admin", "fullwidth", "numerals", "unit_words", "compound", "typo", "swap",
             "alias", "spaces", "floor", "drop_name"],
            rng.randint(2, 4),
        )  # fmt: skip
        admin = [row.get(c, "") for c in ("prov", "city", "district", "town", "community")]
        road, roadno, poi = row.get("road", ""), row.get("roadno", ""), row.get("poi", "")
        house = number_key(row["houseno"]) if row.get("houseno") else ""
        cell = number_key(row["cellno"]) if row.get("cellno") else ""
        room = number_key(row["roomno"]) if row.get("roomno") else ""
        floor = number_key(row["floorno"]) if row.get("floorno") else ""
        if "drop_admin" in kinds:
            keep = rng.choice([2, 3, 5])  # from district, town or nothing
            admin = [a if i >= keep else "" for i, a in enumerate(admin)]
            if rng.random() < 0.5:
                admin[3] = admin[4] = ""
        if "drop_name" in kinds and road and poi and row.get("houseno"):
            # half the people write the road and door, the other half the compound
            if rng.random() < 0.5:
                poi = ""
            else:
                road, roadno = "", ""
        if "typo" in kinds:
            if poi and (rng.random() < 0.5 or not road):
                poi = self.typo(poi)
            elif road:
                road = self.typo(road)
        if "alias" in kinds and poi and row.get("houseno"):  # residential compounds only
            poi = poi[:-2] if poi.endswith("小区") and len(poi) >= 5 else poi + "小区"
        numerals = "numerals" in kinds
        unit_words = "unit_words" in kinds

        def num(value: str) -> str:
            return chinese_number(int(value)) if numerals and value.isdigit() else value

        door = ""
        if house:
            if "compound" in kinds and cell and room:
                door = f"{house}-{cell}-{room}"
            else:
                word = rng.choice(["栋", "号楼", "座"]) if unit_words else "幢"
                door = f"{num(house)}{word}"
                if cell:
                    door += f"{num(cell)}单元"
                if floor and "floor" in kinds:
                    door += f"{num(floor)}" + ("楼" if unit_words else "层")
                if room:
                    door += num(room) + (rng.choice(["户", ""]) if unit_words else "室")
        roadno_text = roadno
        if numerals and roadno.endswith("号") and roadno[:-1].isdigit():
            roadno_text = chinese_number(int(roadno[:-1])) + "号"
        head = "".join(admin)
        place = [road + roadno_text, poi, door]
        if "swap" in kinds:
            if rng.random() < 0.5 and poi:
                place = [poi, door, road + roadno_text]
            else:
                place, head = place, ""
                place.append("," + "".join(admin))
        sep = rng.choice([" ", ",", "  "]) if "spaces" in kinds else ""
        text = head + sep + sep.join(p for p in place if p)
        if "fullwidth" in kinds:
            text = text.translate(FULL_WIDTH)
        return text


LEVEL_KEYS = {
    "district": ("district",),
    "town": ("district", "town"),
    "community": ("district", "town", "community"),
    "road": ("road",),
    "compound": ("community", "poi"),
    "door": ("road", "roadno"),
    "building": ("road", "roadno", "poi", "houseno"),
    "unit": ("road", "roadno", "poi", "houseno", "cellno"),
    "room": ("road", "roadno", "poi", "houseno", "cellno", "roomno"),
}


def same_place(truth: dict, got: dict, level: str) -> bool:
    """True when the matched entry is the truth's own place at the matched level (a road-level
    answer naming the truth's road is right, though not as deep as it could be)."""

    def key(row, column):
        value = str(row.get(column) or "")
        return number_key(value) if value and column.endswith("no") else value

    return all(key(truth, c) == key(got, c) for c in LEVEL_KEYS[level])


def evaluate(geocoder: Geocoder, library: pd.DataFrame, n: int, seed: int, label: str) -> dict:
    """Match ``n`` noisy variants of library entries; print and return the figures."""
    rng = random.Random(seed)
    names = set(library["road"].dropna()) | set(library.get("poi", pd.Series()).dropna())
    noise = Noise(names, rng)
    picks = library.sample(n=n, random_state=seed, replace=n > len(library))
    rows = picks.fillna("").to_dict("records")
    queries = [noise.variant(row) for row in rows]
    started, cpu_started = time.perf_counter(), time.process_time()
    answers = [geocoder.resolve(q) for q in queries]  # no batch de-duplication: every query counts
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    by_id = library.fillna("").set_index("address_id", drop=False)
    right = accepted = right_accepted = correct_accepted = 0
    wrong_examples, shallow_examples = [], []
    for row, query, answer in zip(rows, queries, answers, strict=True):
        want = expected_level(row)
        got = answer.match
        ok = got.address_id == row["address_id"] and got.level == want
        right += ok
        if got.level != "none":
            accepted += 1
            right_accepted += ok
            correct = ok or same_place(row, by_id.loc[got.address_id].to_dict(), got.level)
            correct_accepted += correct
            if not correct:
                wrong_examples.append((query, row["address"], got.level, got.address))
            elif not ok:
                shallow_examples.append((query, row["address"], got.level, got.address))
    total = len(rows)
    figures = {
        "right": right / total,
        "precision": correct_accepted / max(accepted, 1),
        "strict": right_accepted / max(accepted, 1),
        "review": 1 - accepted / total,
        "rate": total / cpu,
        "wall_rate": total / elapsed,
    }
    print(
        f"[{label}] {total:,} noisy queries against {len(library):,} library entries"
        + (" (entries drawn with replacement)" if n > len(library) else "")
    )
    print(f"  examples: {queries[0]!r}, {queries[1]!r}, {queries[2]!r}")
    print(f"  right entry at right level : {figures['right']:.2%}   (target >= 99%)")
    print(
        f"  precision of accepted      : {figures['precision']:.2%}   (target >= 99.5%; "
        "right place at the level answered)"
    )
    print(f"  accepted at the right entry and the entry's own level: {figures['strict']:.2%}")
    print(f"  sent to review (level none): {figures['review']:.2%}")
    print(
        f"  throughput, one core       : {figures['rate']:,.0f} queries per CPU second "
        f"(target >= 5,000/s; wall clock {figures['wall_rate']:,.0f}/s on a shared machine)"
    )
    for query, truth, level, got in wrong_examples[:5]:
        print(f"  wrong accepted: {query!r} -> {level} {got!r} (truth {truth!r})")
    for query, truth, level, got in shallow_examples[:3]:
        print(f"  right but shallower: {query!r} -> {level} {got!r} (truth {truth!r})")
    return figures


def sample_city(
    households: int, folder: Path, library: str | None
) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Build the sample city (or read ``library``) and a lattice of grids over it."""
    from gridmap import io

    if library is None:
        from gridmap.sample import build_city

        build_city(folder, households=households, seed=1)
        library = folder / "addresses.csv"
    addresses = io.read_addresses(library)
    return addresses, lattice(addresses["lon"], addresses["lat"], 40)


def lattice(lon, lat, side: int) -> gpd.GeoDataFrame:
    from shapely import box

    west, east = float(np.min(lon)) - 1e-4, float(np.max(lon)) + 1e-4
    south, north = float(np.min(lat)) - 1e-4, float(np.max(lat)) + 1e-4
    xs, ys = np.linspace(west, east, side + 1), np.linspace(north, south, side + 1)
    shapes = [box(xs[i], ys[j + 1], xs[i + 1], ys[j]) for j in range(side) for i in range(side)]
    # 15-digit codes: up to 999 grids per (made-up) community
    codes = [f"330402001{1 + k // 999:03d}{1 + k % 999:03d}" for k in range(len(shapes))]
    return gpd.GeoDataFrame({"grid_code": codes}, geometry=shapes, crs="EPSG:4490")


def shanghai_library() -> pd.DataFrame:
    if not SHANGHAI.exists():
        sys.exit(f"missing {SHANGHAI}: the shared OSM extract is needed for the real-data part")
    frame = gpd.read_file(SHANGHAI)
    points = frame[(frame["kind"] == "address") & frame["addr_street"].notna()]
    points = points[points["addr_street"].str.contains(r"[\u4e00-\u9fff]", regex=True)]
    points = points[points["addr_housenumber"].notna()]
    numbers = points["addr_housenumber"].astype(str).str.strip()
    # door numbers as a Chinese address writes them (12, 12-14, 98~114, 15甲, 126弄5);
    # the rest ("No. 8", "130 F6") are English or notes, not door numbers
    plain = numbers.str.fullmatch(r"\d+(?:[-~]\d+)?[甲乙丙丁]?号?|\d+弄\d+(?:[-~]\d+)?号?")
    print(
        f"[OSM Shanghai Bund] {int(plain.sum())} of {len(points)} Chinese-street address "
        "points have a plain door number; the others are left out"
    )
    points = points[plain]
    rows = pd.DataFrame(
        {
            "address_id": "osm-" + points["id"].astype(str),
            "prov": "上海市",
            "city": "上海市",
            "road": points["addr_street"].str.strip(),
            "roadno": points["addr_housenumber"].astype(str).str.strip().str.rstrip("号") + "号",
            "lon": points.geometry.representative_point().x,  # a few are entrances on outlines
            "lat": points.geometry.representative_point().y,
        }
    )
    rows["address"] = "上海市" + rows["road"] + rows["roadno"]
    key = rows["road"] + "|" + rows["roadno"].map(number_key)
    rows = rows[~key.duplicated()].reset_index(drop=True)  # one entry per door
    return rows


def load_figure(load_size: int, folder: Path) -> float:
    """Seconds to read and index a ``load_size``-household sample city library from CSV."""
    from gridmap.sample import build_city

    big = folder / "big"
    build_city(big, households=load_size, seed=2)
    started = time.perf_counter()
    geocoder = Geocoder.from_files(big / "addresses.csv")
    elapsed = time.perf_counter() - started
    print(f"[load] {len(geocoder.library):,} addresses read and indexed in {elapsed:.1f} s "
          "(target < 30 s)")  # fmt: skip
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--households", type=int, default=60_000)
    parser.add_argument("--library", help="an address library CSV instead of the sample city")
    parser.add_argument("--queries", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--load-size", type=int, default=1_000_000, help="0 skips the load part")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        addresses, grids = sample_city(args.households, folder / "city", args.library)
        started = time.perf_counter()
        geocoder = Geocoder.from_frames(addresses, grids)
        print(f"[sample city] library of {len(addresses):,} built in "
              f"{time.perf_counter() - started:.2f} s")  # fmt: skip
        city = evaluate(geocoder, addresses, args.queries, args.seed, "sample city")

        osm = shanghai_library()
        osm_geocoder = Geocoder.from_frames(osm, None, city="上海市")
        evaluate(osm_geocoder, osm, 2_000, args.seed, "OSM Shanghai Bund")

        if args.load_size:
            load_figure(args.load_size, folder)
    print(
        f"right entry at right level {city['right']:.2%}, precision {city['precision']:.2%}, "
        f"{city['rate']:,.0f} queries/s"
    )


if __name__ == "__main__":
    main()
