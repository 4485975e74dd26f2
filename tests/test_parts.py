"""A CSV read in parts (as ``gridmap assign`` reads a library, in one process or on Dask workers)
is the file read whole: every line once, the same line numbers, the same rows, the same problems.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gridmap.errors import InputError
from gridmap.io import read_addresses
from gridmap.io.formats import csv_parts
from gridmap.io.parts import PartsCheck, check_part, layer_parts

HEADER = "address_id,address,lon,lat,households,population\n"
field_text = st.text(alphabet=st.sampled_from('ab,"\n\r 中号'), max_size=6)


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.lists(field_text, min_size=1, max_size=3), min_size=1, max_size=12),
    part_bytes=st.sampled_from([1, 5, 17, 64, 1 << 20]),
    last_newline=st.booleans(),
)
def test_parts_hold_every_line_once_and_never_cut_a_quoted_value(
    tmp_path, rows, part_bytes, last_newline
):
    body = csv_bytes(rows)
    if not last_newline:
        body = body[:-1]
    file = tmp_path / "t.csv"
    file.write_bytes(b"a,b,c\n" + body)
    parts = csv_parts(file, part_bytes)
    assert b"".join(part.read() for part in parts) == body
    assert parts[0].start == len(b"a,b,c\n")
    records = []
    for part in parts:
        data = part.read()
        assert part.first_line == 2 + (b"a,b,c\n" + body)[len(b"a,b,c\n") : part.start].count(b"\n")
        records += list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert records == list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def test_header_only_or_empty_csv_has_no_parts(tmp_path):
    (tmp_path / "h.csv").write_text(HEADER)
    (tmp_path / "e.csv").write_text("")
    assert csv_parts(tmp_path / "h.csv") == [] and csv_parts(tmp_path / "e.csv") == []
    for lazy in (False, True):
        # read whole: "the file holds no data"
        assert layer_parts(tmp_path / "h.csv", lazy=lazy) is None
        assert layer_parts(tmp_path / "e.csv", lazy=lazy) is None
        assert layer_parts(tmp_path / "a.gpkg", lazy=lazy) is None


def test_lazy_parts_are_the_same_parts_found_one_at_a_time(tmp_path, monkeypatch):
    import gridmap.io.formats

    monkeypatch.setattr(gridmap.io.formats, "PART_BYTES", 64)
    file = tmp_path / "a.csv"
    file.write_text(HEADER + "".join(line + "\n" for line in library(40)), "utf-8")
    lazy = layer_parts(file, lazy=True)
    assert not isinstance(lazy, list)
    assert list(lazy) == layer_parts(file) == csv_parts(file)
    assert len(csv_parts(file)) > 5


def library(rows: int) -> list[str]:
    return [
        f"A{i:03d},嘉兴市中山路{i}号,{120.7 + i / 1e3:.4f},{30.7 + i / 1e3:.4f},{i % 7},{i % 11}"
        for i in range(rows)
    ]


def read_in_parts(file: Path, part_bytes: int) -> pd.DataFrame:
    check = PartsCheck(file, "addresses")
    frames = [
        check.add(check_part(part, "addresses", points=False))
        for part in csv_parts(file, part_bytes)
    ]
    check.finish()
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("part_bytes", [1, 90, 700, 1 << 20])
@pytest.mark.parametrize(
    ("encoding", "newline"), [("utf-8", "\n"), ("utf-8-sig", "\r\n"), ("gbk", "\n")]
)
def test_rows_read_in_parts_are_the_rows_read_whole(tmp_path, part_bytes, encoding, newline):
    lines = library(40)
    lines[7] = 'A007,"嘉兴市南湖区中山路7号\n(北门)",120.707,30.707,3,6'  # a quoted line break
    lines[12] = ""  # a blank line is skipped, and keeps the numbering
    lines[20] = lines[20].replace(",3,", ",,")  # households missing: nullable ints
    file = tmp_path / "a.csv"
    text = HEADER + "\n".join(lines) + "\n"
    file.write_bytes(text.replace("\n", newline).encode(encoding))
    whole = pd.DataFrame(read_addresses(file, points=False))
    parts = read_in_parts(file, part_bytes)
    pd.testing.assert_frame_equal(parts, whole, check_dtype=False)
    assert parts["address"][7] == "嘉兴市南湖区中山路7号" + newline + "(北门)"


def problems(error: InputError) -> list[str]:
    return [str(p) for p in error.problems]


@pytest.mark.parametrize("part_bytes", [1, 120, 600, 1 << 20])
def test_problems_found_in_parts_are_those_found_whole(tmp_path, part_bytes):
    """Bad values, a malformed line, a row in another encoding, and ids repeated in another
    part: the same messages, with the same file line numbers, as one read gives."""
    lines = [line.encode("utf-8") for line in library(60)]
    lines[4] = b"A004,x,abc,30.7,1,1"  # lon is not a number
    lines[9] = b"A009,x,120.7,30.7,1,1,extra"  # malformed: one field too many
    lines[15] = "A015,嘉兴市中山路15号,120.7,30.7,1,1".encode("gbk")  # mixed encodings
    lines[33] = b"A003,x,120.7,30.7,1,1"  # repeats line 5's id, parts apart
    lines[50] = b"A050,x,120.7,30.7,-2,1"  # negative households
    lines[51] = b""  # a blank line before the next problem
    lines[58] = b"A058,x,120.7,95.0,1,1"  # latitude out of range
    file = tmp_path / "bad.csv"
    file.write_bytes(HEADER.encode() + b"\n".join(lines) + b"\n")
    with pytest.raises(InputError) as whole:
        read_addresses(file)
    with pytest.raises(InputError) as parted:
        read_in_parts(file, part_bytes)
    assert problems(parted.value) == problems(whole.value)
    said = "\n".join(problems(parted.value))
    for row in (6, 11, 17, 35, 52, 60):
        assert f"row {row}:" in said


def test_an_id_repeated_many_times_across_parts_is_listed_up_to_the_limit(tmp_path):
    lines = [f"SAME,x{i},120.7,30.7,1,1" for i in range(120)]
    file = tmp_path / "same.csv"
    file.write_text(HEADER + "\n".join(lines) + "\n")
    with pytest.raises(InputError) as whole:
        read_addresses(file)
    with pytest.raises(InputError) as parted:
        read_in_parts(file, 200)
    assert problems(parted.value) == problems(whole.value)
    assert "more problems" in problems(parted.value)[-1]


def test_a_first_row_with_too_many_fields_is_malformed_not_an_index_column(tmp_path):
    """pandas takes a first row with one field too many as the sign of an index column and
    shifts every column; the row is reported like any other malformed one instead."""
    file = tmp_path / "first.csv"
    file.write_text(HEADER + "A0,x,120.7,30.7,1,1,extra\n" + "\n".join(library(3)) + "\n")
    with pytest.raises(InputError) as error:
        read_addresses(file)
    assert problems(error.value) == [
        f"{file}: row 2: malformed row (expected 6 fields, saw 7): quote values that hold a comma"
    ]


def test_addresses_compacted_in_parts_are_numbered_as_one_reader_numbers_them(tmp_path):
    """The partitioner's reader: buildings and communities numbered within each part (on a
    worker), renumbered in file order on the client, equal the numbers of one reader."""
    from gridmap.partition.inputs import ADDRESS_COLUMNS, CompactAddresses, compact_part

    rows = [
        f"A{i},x,120.7,30.7,1,1,33040200100{i % 3 + 1},c{i % 4},r{i % 5},{i % 2}号,,,{i % 6}幢"
        for i in range(80)
    ]
    header = HEADER.strip() + ",community_code,community,road,roadno,poi,subpoi,houseno\n"
    file = tmp_path / "a.csv"
    file.write_text(header + "\n".join(rows) + "\n")
    one = CompactAddresses()
    whole = one.finish(read_addresses(file, columns=ADDRESS_COLUMNS, points=False, transform=one))
    merged = CompactAddresses()
    frames = [merged.merge(compact_part(part).result) for part in csv_parts(file, 200)]
    assert len(frames) > 5
    parted = merged.finish(pd.concat(frames, ignore_index=True))
    pd.testing.assert_frame_equal(parted, whole)
    assert parted["_building"].nunique() == 60  # lcm(4, 5, 2, 6) kinds of rows: a fixture check


def parquet_library(tmp_path: Path, lines: list[str]) -> Path:
    """A GeoParquet library partitioned by district, row groups of 7 rows."""
    import geopandas as gpd

    from gridmap.io.parquet import write_parquet

    csv_file = tmp_path / "lib.csv"
    csv_file.write_text(HEADER + "\n".join(lines) + "\n")
    frame = pd.read_csv(csv_file, dtype=str)
    frame["district"] = ["330402" if i % 3 else "330411" for i in range(len(frame))]
    frame = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]))
    folder = write_parquet(frame.set_crs(4490), tmp_path / "lib.parquet", partition_by="district")
    small_row_groups(folder, 7)
    return folder


def small_row_groups(folder: Path, rows: int) -> None:
    """Each file of a dataset rewritten in row groups of ``rows`` rows (metadata kept)."""
    import pyarrow.parquet as pq

    for file in folder.rglob("*.parquet"):
        pq.write_table(pq.read_table(file), file, row_group_size=rows)


def test_parquet_read_in_parts_is_the_dataset_read_whole(tmp_path):
    from gridmap.io.parquet import parquet_parts

    folder = parquet_library(tmp_path, library(60))
    parts = parquet_parts(folder, 10)
    assert len(parts) > 5 and len({p.file for p in parts}) == 2
    whole = pd.DataFrame(read_addresses(folder, points=False))
    check = PartsCheck(folder, "addresses")
    frames = [check.add(check_part(p, "addresses", points=False)) for p in parts]
    check.finish()
    pd.testing.assert_frame_equal(pd.concat(frames, ignore_index=True), whole, check_dtype=False)


def test_parquet_problems_found_in_parts_are_those_found_whole(tmp_path):
    from gridmap.io.parquet import parquet_parts

    lines = library(60)
    lines[4] = "A004,x,120.7,30.7,-1,1"
    lines[40] = lines[2]  # a repeated id, in another file of the dataset
    folder = parquet_library(tmp_path, lines)
    with pytest.raises(InputError) as whole:
        read_addresses(folder)
    check = PartsCheck(folder, "addresses")
    for part in parquet_parts(folder, 10):
        check.add(check_part(part, "addresses"))
    with pytest.raises(InputError) as parted:
        check.finish()
    assert problems(parted.value) == problems(whole.value)
    assert any("duplicate address_id 'A002'" in p for p in problems(parted.value))
