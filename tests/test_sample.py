"""The sample city's invariants: tiling, codes, addresses inside communities, determinism."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gridmap.codes import division_level, parent_code
from gridmap.crs import area_m2
from gridmap.io import read_addresses, read_barriers, read_boundaries, read_sites
from gridmap.model import ADDRESS_COMPONENTS, BARRIER_KINDS, SITE_CATEGORIES
from gridmap.sample import build_city
from gridmap.sample.divisions import DATA_DIR, DIVISIONS_FILE, load_extract, short_name

HOUSEHOLDS = 12_000
FILES = ("boundaries.gpkg", "addresses.csv", "barriers.gpkg", "sites.gpkg", "README.txt")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("city")
    summary = build_city(out, households=HOUSEHOLDS, seed=5)
    return out, summary


@pytest.fixture(scope="module")
def boundaries(city):
    return read_boundaries(city[0] / "boundaries.gpkg")


@pytest.fixture(scope="module")
def addresses(city):
    return read_addresses(city[0] / "addresses.csv")


def test_writes_the_contract_files(city):
    out, summary = city
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    readme = (out / "README.txt").read_text(encoding="utf-8")
    assert f"Households {summary['households']:,}" in readme
    assert summary["households"] == HOUSEHOLDS


def _area(geometries) -> np.ndarray:
    return area_m2(gpd.GeoSeries(list(geometries), crs="EPSG:4490"))


def _tiles(children, parent) -> None:
    """Children cover the parent exactly (area of union and sum of areas) with no overlap."""
    parent_area = area_m2(parent)[0]
    union = shapely.union_all(children.values, grid_size=1e-7)
    assert abs(_area([union])[0] - parent_area) <= 1e-9 * parent_area
    assert abs(area_m2(children).sum() - parent_area) <= 1e-9 * parent_area
    assert shapely.difference(union, parent.values[0]).area == 0
    assert shapely.difference(parent.values[0], union).area == 0
    tree = shapely.STRtree(children.values)
    left, right = tree.query(children.values, predicate="intersects")
    pairs = left < right
    overlaps = shapely.intersection(children.values[left[pairs]], children.values[right[pairs]])
    assert shapely.area(overlaps).max(initial=0.0) == 0.0


def test_streets_tile_districts_and_communities_tile_streets(boundaries):
    by_level = {level: frame for level, frame in boundaries.groupby("level")}
    assert len(by_level["district"]) == 2  # both real districts are in the window
    for parent_level, child_level in (("district", "street"), ("street", "community")):
        for code, parent in by_level[parent_level].groupby("code"):
            children = by_level[child_level][by_level[child_level]["parent_code"] == code]
            assert len(children) >= 1, code
            _tiles(children.geometry, parent.geometry)


def test_codes_are_real_valid_and_parent_consistent(boundaries):
    with open(DATA_DIR / DIVISIONS_FILE, encoding="utf-8", newline="") as handle:
        real = {row["code"]: row["name"] for row in csv.DictReader(handle)}
    assert boundaries["code"].is_unique
    codes = set(boundaries["code"])
    for row in boundaries.itertuples():
        assert division_level(row.code) == row.level
        if row.level == "district":
            assert row.code in ("330402", "330411")
            continue
        assert row.parent_code == parent_code(row.code) and row.parent_code in codes
        assert real[row.code] == row.official_name and short_name(real[row.code]) == row.name


def test_districts_keep_the_real_outline(boundaries):
    outlines = load_extract().outlines
    for row in boundaries[boundaries["level"] == "district"].itertuples():
        # The window never leaves the real district (by more than the 1 cm snapping grid)...
        assert shapely.difference(row.geometry, shapely.buffer(outlines[row.code], 2e-7)).is_empty
        # ...and follows the real outline where it reaches it (the 南湖/秀洲 seam at least).
        shared = shapely.intersection(
            row.geometry.boundary, shapely.buffer(outlines[row.code].boundary, 2e-7)
        )
        assert shared.length > 0.005  # degrees, about 500 m


def test_every_address_lies_in_its_community(boundaries, addresses):
    communities = boundaries[boundaries["level"] == "community"].set_index("code").geometry
    assert addresses["address_id"].is_unique
    assert set(addresses["community_code"]) <= set(communities.index)
    polygons = communities.loc[addresses["community_code"]].values
    assert shapely.contains(polygons, addresses.geometry.values).all()


def test_households_population_and_community_sizes(city, addresses):
    _, summary = city
    assert addresses["households"].sum() == HOUSEHOLDS == summary["households"]
    assert addresses["population"].sum() == summary["population"]
    rooms = addresses[addresses["roomno"].fillna("") != ""]
    assert (rooms["households"] == 1).all() and (rooms["population"] >= 1).all()
    per_community = addresses.groupby("community_code")["households"].sum()
    assert per_community.between(1500, 6000).all(), per_community.to_dict()
    people_per_household = rooms["population"].mean()
    assert 2.2 < people_per_household < 3.3


def test_address_text_is_its_components(addresses):
    filled = addresses[list(ADDRESS_COMPONENTS)].fillna("")
    rooms = filled[filled["roomno"] != ""]
    for column in ("prov", "city", "district", "town", "community", "road", "roadno", "poi",
                   "houseno", "cellno", "floorno", "roomno"):  # fmt: skip
        assert (rooms[column] != "").all(), column
    text_parts = [c for c in ADDRESS_COMPONENTS if c != "floorno"]  # floor is inside the room no.
    joined = filled[text_parts].apply("".join, axis=1)
    assert (joined == addresses["address"]).all()
    assert rooms["roomno"].str.match(r"^\d+0\d室$").all()
    floors = rooms["floorno"].str.removesuffix("层")
    assert (rooms["roomno"].str[:-3] == floors).all()
    sample = addresses["address"].iloc[-1]
    assert sample.startswith("浙江省嘉兴市") and sample.endswith("室")


def test_door_numbers_identify_one_compound(addresses):
    rooms = addresses[addresses["roomno"].fillna("") != ""]
    per_door = rooms.groupby(["road", "roadno"])["poi"].nunique()
    assert (per_door == 1).all()


def test_sites_and_barriers(city, boundaries):
    sites = read_sites(city[0] / "sites.gpkg")
    barriers = read_barriers(city[0] / "barriers.gpkg")
    assert sites["site_id"].is_unique
    assert set(sites["category"]) <= set(SITE_CATEGORIES)
    assert {"school", "government", "hospital"} <= set(sites["category"])
    communities = boundaries[boundaries["level"] == "community"].set_index("code").geometry
    inside = shapely.contains(
        communities.loc[sites["community_code"]].values, sites.geometry.values
    )
    assert inside.all()
    assert set(barriers["kind"]) <= set(BARRIER_KINDS)
    roads = barriers[barriers["kind"] == "road"]
    assert len(roads) >= 8 and roads["name"].str.contains("路|街|巷|大道").all()
    assert "京杭运河" in set(barriers["name"])


def _digest(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES}


def test_same_seed_gives_byte_identical_files(tmp_path):
    build_city(tmp_path / "a", households=3000, seed=11)
    build_city(tmp_path / "b", households=3000, seed=11)
    build_city(tmp_path / "c", households=3000, seed=12)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a")["addresses.csv"] != _digest(tmp_path / "c")["addresses.csv"]


def test_failed_build_leaves_no_file(tmp_path, monkeypatch):
    import gridmap.sample.build as build

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(build, "write_layer", broken)
    with pytest.raises(OSError):
        build_city(tmp_path / "out", households=3000, seed=1)
    assert list((tmp_path / "out").iterdir()) == []


def test_cli_builds_and_rejects_bad_options(tmp_path):
    from gridmap.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["sample", "--out", str(tmp_path / "x"), "--households", "3000"])
    assert result.exit_code == 0, result.output
    assert "households 3,000" in result.output
    bad = runner.invoke(cli, ["sample", "--out", str(tmp_path / "y"), "--households", "0"])
    assert bad.exit_code == 2 and "households" in bad.output


def test_cli_unwritable_out_is_bad_input(tmp_path):
    from gridmap.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit) as stop:
        main(["sample", "--out", str(blocker / "city"), "--households", "100"])
    assert stop.value.code == 2


def test_addresses_csv_reads_back_as_text_ids(city):
    frame = pd.read_csv(city[0] / "addresses.csv", dtype=str)
    assert frame["community_code"].str.fullmatch(r"\d{12}").all()
    assert np.isfinite(frame["lon"].astype(float)).all()


def test_validate_reports_no_problem_on_any_file(city):
    from gridmap.cli import cli

    files = [str(city[0] / name) for name in FILES if name != "README.txt"]
    result = CliRunner().invoke(cli, ["validate", *files])
    assert result.exit_code == 0, result.output
    assert "0 problem(s)" in result.output


def test_default_city_has_urban_communities(tmp_path):
    summary = build_city(tmp_path, seed=1)  # the `make demo` city: 60,000 households
    assert summary["households"] == 60_000 and summary["districts"] == 2
    assert 12 <= summary["communities"] <= 25
    assert (
        1500 <= summary["community_households_min"] <= summary["community_households_max"] <= 6000
    )
    frame = pd.read_csv(tmp_path / "addresses.csv", usecols=["floorno"], dtype=str)
    floors = frame["floorno"].dropna().str.removesuffix("层").astype(int)
    assert floors.max() >= 11 and (floors <= 6).mean() > 0.3  # walk-ups and high-rises


@pytest.mark.parametrize(("households", "seed"), [(2_000, 3), (30_000, 4), (400_000, 5)])
def test_plan_assigns_every_block_once_at_many_sizes(households, seed):
    from gridmap.sample.layout import make_lattice, plan_divisions, select_window

    extract = load_extract()
    blocks = select_window(extract, make_lattice(seed), households)
    street_blocks, communities = plan_divisions(extract, blocks, households, seed)
    every = list(range(len(blocks.geometry)))
    assert sorted(b for own in street_blocks.values() for b in own) == every
    assert sorted(b for c in communities for b in c.blocks) == every
    for community in communities:
        assert set(community.blocks) <= set(street_blocks[community.street.code])
        assert blocks.buildable[community.blocks].any()
        assert (blocks.district[community.blocks] == community.district_code).all()
    quotas = [c.households for c in communities]
    assert sum(quotas) == households
    if households >= 3000:
        assert min(quotas) >= 1500 and max(quotas) <= 6000


def test_missing_extract_is_a_clear_error(tmp_path):
    from gridmap.errors import InputError

    with pytest.raises(InputError, match="boundary extract is missing"):
        load_extract(tmp_path)


# --- the province --------------------------------------------------------------------------------
def test_province_on_real_codes_streams_partitioned_geoparquet(tmp_path):
    import gzip

    import shapely

    from gridmap import io
    from gridmap.sample.province import DATA_DIR, build_province

    first = build_province(tmp_path / "a", households=5_000, counties=("330402", "330411"))
    build_province(tmp_path / "b", households=5_000, counties=("330402", "330411"))
    assert first["counties"] == 2 and first["households"] == 5_000
    folder = tmp_path / "a" / "addresses.parquet"
    parts = sorted(p.name for p in folder.iterdir())
    assert parts == ["district_code=330402", "district_code=330411"]
    for name in ("boundaries.gpkg", "README.txt", *(f"addresses.parquet/{p}/part-0.parquet"
                                                      for p in parts)):  # fmt: skip
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    units = io.read_boundaries(tmp_path / "a" / "boundaries.gpkg")
    real = gzip.decompress((DATA_DIR / "zhejiang_divisions.csv.gz").read_bytes()).decode()
    names = dict(line.split(",", 1) for line in real.splitlines()[1:])
    assert all(names[c] == n for c, n in zip(units["code"], units["name"], strict=True))
    assert set(units.loc[units["level"] == "community", "code"].str[:6]) == {"330402", "330411"}
    # communities tile their street exactly, streets their county
    for level, parent in (("community", "street"), ("street", "district")):
        children = units[units["level"] == level]
        for code, geom in units.loc[units["level"] == parent, ["code", "geometry"]].values:
            mine = children[children["parent_code"] == code].geometry.values
            assert abs(shapely.union_all(mine).area - geom.area) < 1e-9 * max(geom.area, 1)
    addresses = io.read_addresses(folder)
    assert addresses["households"].sum() == 5_000
    assert addresses["address_id"].is_unique
    assert set(addresses["district_code"]) == {"330402", "330411"}
    inside = units.set_index("code").loc[addresses["community_code"]].geometry.values
    assert shapely.covers(inside, addresses.geometry.values).all()


def test_province_option_through_the_cli(tmp_path):
    from gridmap.cli import cli

    result = CliRunner().invoke(
        cli,
        ["sample", "--out", str(tmp_path), "--province", "--counties", "330402",
         "--households", "2000"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "households 2,000" in result.output
    bad = CliRunner().invoke(cli, ["sample", "--out", str(tmp_path), "--province",
                                   "--counties", "99"])  # fmt: skip
    assert bad.exit_code == 2 and "no county code starts with 99" in bad.output
