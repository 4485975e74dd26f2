"""gridmap.io: reading each layer from each format into EPSG:4490 with the CONTRACT columns,
encodings, CRS handling, atomic writes."""

from __future__ import annotations

from pathlib import Path

import badinput as b
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap import crs as gcrs
from gridmap.errors import InputError
from gridmap.io import (
    atomic_output,
    check_file,
    read_addresses,
    read_barriers,
    read_boundaries,
    read_grids,
    read_sites,
    write_layer,
)
from gridmap.model import BARRIER_KINDS


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp"])
def test_boundaries_round_trip_each_vector_format(tmp_path, suffix):
    path = tmp_path / f"boundaries{suffix}"
    source = b.boundaries()
    if suffix == ".shp":
        source.to_file(path, engine="pyogrio", encoding="UTF-8")
    else:
        write_layer(source, path)
    read = read_boundaries(path)
    assert read.crs.to_epsg() == 4490
    assert list(read.columns[:4]) == ["code", "name", "level", "parent_code"]
    assert read["code"].tolist() == source["code"].tolist()
    assert read["name"].tolist() == source["name"].tolist()
    assert read["parent_code"].tolist()[1:] == ["330402", "330402001", "330402001"]
    assert read.geometry.geom_equals(source.geometry).all()  # shapefiles reorient rings


def test_parent_code_derived_when_absent(tmp_path):
    path = write_layer(b.boundaries().drop(columns="parent_code"), tmp_path / "b.geojson")
    assert read_boundaries(path)["parent_code"].tolist()[1:] == ["330402", "330402001"] + [
        "330402001"
    ]


def test_addresses_csv_types_and_points(tmp_path):
    path = tmp_path / "addresses.csv"
    b.addresses().to_csv(path, index=False)
    read = read_addresses(path)
    assert read.crs.to_epsg() == 4490
    assert read["households"].dtype == np.int64 and read["population"].dtype == np.int64
    assert read["address_id"].tolist() == b.addresses()["address_id"].tolist()
    assert np.allclose(read.geometry.x, read["lon"]) and np.allclose(read.geometry.y, read["lat"])
    assert read["community_code"].iloc[0] == "330402001001"
    assert read["roomno"].eq("").all()  # absent optional component: blank text


def test_codes_stay_text_with_leading_zeros_and_ids_as_text(tmp_path):
    frame = b.addresses()
    frame["address_id"] = [f"{i:06d}" for i in range(len(frame))]
    path = tmp_path / "a.csv"
    frame.to_csv(path, index=False)
    assert read_addresses(path)["address_id"].iloc[0] == "000000"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_encodings_detected(tmp_path, encoding):
    path = tmp_path / "a.csv"
    b.addresses().to_csv(path, index=False, encoding=encoding)
    read = read_addresses(path)
    assert read["address"].iloc[0] == "浙江省嘉兴市南湖区建设街道中山路1号"
    assert read.columns[0] == "address_id"  # no BOM left in the first column name


def test_shapefile_gbk_with_and_without_cpg(tmp_path):
    path = tmp_path / "b.shp"
    b.boundaries().to_file(path, engine="pyogrio", encoding="GBK")
    cpg = path.with_suffix(".cpg")
    assert read_boundaries(path)["name"].iloc[0] == "南湖区"  # .cpg written by GDAL
    cpg.unlink(missing_ok=True)
    dbf = path.with_suffix(".dbf").read_bytes()
    assert dbf[29] == 0 or dbf[29] == 0x4D  # no code page byte, or GBK's
    if dbf[29] != 0:  # make it a bare DBF as many Chinese exports are
        path.with_suffix(".dbf").write_bytes(dbf[:29] + b"\x00" + dbf[30:])
    assert read_boundaries(path)["name"].tolist() == b.boundaries()["name"].tolist()


def test_gpkg_layer_syntax(tmp_path):
    path = tmp_path / "all.gpkg"
    write_layer(b.boundaries(), path, layer="units")
    write_layer(b.sites(), path, layer="sites")  # a second write replaces the file atomically
    write_layer(b.boundaries(), tmp_path / "two.gpkg", layer="units")
    b.sites().to_file(tmp_path / "two.gpkg", layer="sites", engine="pyogrio")
    assert len(read_sites(f"{tmp_path / 'two.gpkg'}:sites")) == 2
    assert len(read_boundaries(tmp_path / "two.gpkg")) == 4  # first layer
    with pytest.raises(InputError, match="no layer 'nope'"):
        read_sites(f"{tmp_path / 'two.gpkg'}:nope")


@pytest.mark.parametrize("name", ["gcj02", "bd09"])
def test_crs_option_converts_obfuscated_datums(tmp_path, name):
    truth = b.addresses()
    shifted = truth.copy()
    shifted["lon"], shifted["lat"] = gcrs.from_cgcs2000(truth["lon"], truth["lat"], name)
    path = tmp_path / "a.csv"
    shifted.to_csv(path, index=False)
    read = read_addresses(path, crs=name)
    assert np.allclose(read["lon"], truth["lon"], atol=1e-8)
    assert np.allclose(read["lat"], truth["lat"], atol=1e-8)


def test_file_crs_is_honoured_and_crs_option_for_projected_csv(tmp_path):
    projected = b.boundaries().to_crs(4549)  # CGCS2000 GK zone CM 120E
    path = write_layer(projected, tmp_path / "b.gpkg")
    read = read_boundaries(path)
    assert read.crs.to_epsg() == 4490
    assert read.geometry.geom_equals_exact(b.boundaries().geometry, 1e-7).all()
    frame = b.addresses()
    frame["lon"], frame["lat"] = gcrs.from_cgcs2000(frame["lon"], frame["lat"], "EPSG:4549")
    frame.to_csv(tmp_path / "a.csv", index=False)
    read = read_addresses(tmp_path / "a.csv", crs="EPSG:4549")
    assert np.allclose(read["lon"], b.addresses()["lon"], atol=1e-8)


def test_barriers_and_sites(tmp_path):
    barriers = read_barriers(write_layer(b.barriers(), tmp_path / "r.geojson"))
    assert barriers["kind"].tolist() == ["road", "river"]
    sites = read_sites(write_layer(b.sites(), tmp_path / "s.gpkg"))
    assert sites["headcount"].tolist() == [1200, 800] and sites["category"].iloc[0] == "hospital"


def test_write_layer_csv_has_no_geometry(tmp_path):
    path = tmp_path / "a.csv"
    b.addresses().to_csv(path, index=False)
    out = write_layer(read_addresses(path), tmp_path / "out.csv")
    assert "geometry" not in pd.read_csv(out).columns


def test_atomic_write_failure_leaves_target_and_no_temp(tmp_path):
    target = tmp_path / "b.gpkg"
    write_layer(b.boundaries(), target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError), atomic_output(target) as temp:
        temp.write_bytes(b"half written")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.gpkg"]


def test_write_layer_failure_mid_write_keeps_old_file(tmp_path, monkeypatch):
    target = tmp_path / "b.gpkg"
    write_layer(b.boundaries(), target)
    before = target.read_bytes()
    import pyogrio

    real = pyogrio.write_dataframe

    def crash(frame, path, **kwargs):
        real(frame.iloc[:1], path, **kwargs)  # a partial file exists, then the writer fails
        raise OSError("disk full")

    monkeypatch.setattr(pyogrio, "write_dataframe", crash)
    with pytest.raises(OSError, match="disk full"):
        write_layer(b.boundaries(), target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.gpkg"]


def test_write_layer_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="cannot write '.xls'"):
        write_layer(b.boundaries(), tmp_path / "b.xls")


ADDRESS_TEXT = (
    st.text(
        alphabet=st.sampled_from(
            list("嘉兴南湖区中山路号幢单元室弄巷,\"'-#()（）１２3456789abcNA ")
        ),
        min_size=1,
        max_size=30,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(ADDRESS_TEXT, min_size=1, max_size=8),
    households=st.lists(st.integers(0, 10_000), min_size=8, max_size=8),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk"]),
)
def test_csv_round_trip_any_text(tmp_path, texts, households, encoding):
    frame = b.addresses(len(texts))
    frame["address"] = texts
    frame["address_id"] = [f"{t}-{i}" for i, t in enumerate(texts)]  # ids may hold commas too
    frame["households"] = households[: len(texts)]
    path = tmp_path / f"a-{encoding}.csv"
    frame.to_csv(path, index=False, encoding=encoding)
    read = read_addresses(path)
    assert read["address"].tolist() == texts
    assert read["address_id"].tolist() == frame["address_id"].tolist()
    assert read["households"].tolist() == frame["households"].tolist()


def test_csv_with_semicolons_or_tabs(tmp_path):
    for sep, name in ((";", "semi.csv"), ("\t", "tab.csv")):
        b.addresses().to_csv(tmp_path / name, index=False, sep=sep)
        assert read_addresses(tmp_path / name)["households"].tolist() == [1, 2, 3, 1, 2, 3]


def test_grids_round_trip(tmp_path):
    read = read_grids(write_layer(b.grids(), tmp_path / "grids.gpkg"))
    assert read["grid_code"].tolist() == b.grids()["grid_code"].tolist()
    assert read["households"].dtype == np.int64 and read["area_m2"].dtype == np.float64
    assert pd.isna(read["host_grid_code"].iloc[0])
    assert read["host_grid_code"].iloc[2] == "330402001001001"
    assert read["flags"].tolist() == ["", "too_few_households", ""]


def test_addresses_as_points_in_a_vector_file(tmp_path):
    frame = b.addresses()
    points = gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs="EPSG:4490",
    )
    read = read_addresses(write_layer(points, tmp_path / "a.geojson"))
    assert np.allclose(read["lon"], frame["lon"]) and np.allclose(read["lat"], frame["lat"])


SHANGHAI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "shanghai-bund"


def test_real_osm_roads_read_as_barriers(tmp_path):
    """1,094 real OpenStreetMap road lines (central Shanghai): no false geometry problem, and
    every OSM kind outside the barrier kinds reported as such."""
    roads = SHANGHAI / "roads.geojson"
    if not roads.exists():
        pytest.fail(f"real data missing: {roads} (expected ../shared/data beside the checkout)")
    raw = gpd.read_file(roads, engine="pyogrio")
    report = check_file(roads, "barriers")
    assert report.count == len(raw) == 1094
    assert report.counts == {"not a choice": int((~raw["kind"].isin(BARRIER_KINDS)).sum())}
    assert {p.field for p in report.problems} == {"kind"}
    mapped = raw.assign(kind=raw["kind"].map({"major_road": "road", "minor_road": "road"}))
    mapped["kind"] = mapped["kind"].where(raw["kind"] != "rail", "rail")
    read = read_barriers(write_layer(mapped, tmp_path / "barriers.gpkg"))
    assert len(read) == 1094 and read.crs.to_epsg() == 4490
    assert set(read["kind"]) == {"road", "rail", ""}
    same = read.geometry.geom_equals(raw.geometry.set_crs(4490, allow_override=True))
    assert same.all()  # (GPKG promotes mixed lines to MultiLineString)


def test_same_layer_written_twice_gives_identical_geopackage_bytes(tmp_path):
    # GDAL would stamp each GeoPackage with the time of writing; outputs must be reproducible.
    import sqlite3

    from shapely.geometry import box

    from gridmap.io.write import FIXED_GPKG_DATE

    frame = gpd.GeoDataFrame({"code": ["330402"]}, geometry=[box(120.7, 30.7, 120.8, 30.8)])
    frame = frame.set_crs("EPSG:4490")
    first, second = tmp_path / "a.gpkg", tmp_path / "b.gpkg"
    write_layer(frame, first, layer="x")
    write_layer(frame, second, layer="x")
    with sqlite3.connect(first) as db:
        stamps = {row[0] for row in db.execute("SELECT last_change FROM gpkg_contents")}
    assert stamps == {FIXED_GPKG_DATE}
    assert first.read_bytes() == second.read_bytes()


# --- GeoParquet, column subsets -----------------------------------------------------------------
LAYER_READERS = {
    "boundaries": (b.boundaries, read_boundaries),
    "barriers": (b.barriers, read_barriers),
    "sites": (b.sites, read_sites),
    "grids": (b.grids, read_grids),
}


@pytest.mark.parametrize("kind", sorted(LAYER_READERS))
def test_every_layer_round_trips_through_geoparquet(tmp_path, kind):
    make, read = LAYER_READERS[kind]
    source = read(write_layer(make(), tmp_path / f"{kind}.gpkg"))
    back = read(write_layer(source, tmp_path / f"{kind}.parquet"))
    assert back.crs.to_epsg() == 4490
    pd.testing.assert_frame_equal(pd.DataFrame(back), pd.DataFrame(source))


def test_addresses_partitioned_by_district_keep_codes_as_text(tmp_path):
    frame = b.addresses(6)
    frame["district"] = ["330402", "330411"] * 3
    frame["community_code"] = ["330402001001", "330411001001"] * 3
    source = read_addresses(write_layer(frame, tmp_path / "a.csv"))
    folder = write_layer(source, tmp_path / "a.parquet", partition_by="district")
    assert sorted(p.name for p in folder.iterdir()) == ["district=330402", "district=330411"]
    back = read_addresses(folder).sort_values("address_id").reset_index(drop=True)
    assert back["district"].tolist() == source["district"].tolist()
    assert back["community_code"].tolist() == source["community_code"].tolist()
    assert back.geometry.equals(source.geometry)
    # written again: the folder is replaced whole, no stale partition survives
    write_layer(source[source["district"] == "330402"], folder, partition_by="district")
    assert [p.name for p in folder.iterdir()] == ["district=330402"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".gpkg"])
def test_readers_load_only_the_columns_asked_for(tmp_path, suffix):
    frame = b.addresses(4)
    frame["road"] = "中山路"
    source = read_addresses(write_layer(frame, tmp_path / "a.csv"))
    path = write_layer(source, tmp_path / f"a{suffix}") if suffix != ".csv" else tmp_path / "a.csv"
    some = read_addresses(path, columns=["address_id", "households"], points=False)
    assert list(some.columns) == ["address_id", "lon", "lat", "households"]
    assert not isinstance(some, gpd.GeoDataFrame)
    assert some["households"].tolist() == source["households"].tolist()
    with pytest.raises(ValueError, match="no column nope"):
        read_addresses(path, columns=["nope"])


def test_a_subset_still_reports_bad_values_by_row(tmp_path):
    frame = b.addresses(3).astype({"households": object})
    frame.loc[1, "households"] = "x"
    frame.loc[2, "address"] = ""  # not asked for: not checked
    path = write_layer(frame, tmp_path / "a.csv")
    with pytest.raises(InputError) as error:
        read_addresses(path, columns=["households"])
    assert [(p.row, p.field) for p in error.value.problems] == [(3, "households")]


def test_broken_parquet_is_a_clear_input_error(tmp_path):
    path = tmp_path / "a.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(InputError, match="cannot read as Parquet"):
        read_addresses(path)
