"""`gridmap validate`: every case of the bad-input corpus reported (file, row/feature, field),
all at once, with exit codes 0 / 1 / 2; repairs only with --repair."""

from __future__ import annotations

import re

import badinput as b
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from gridmap import crs as gcrs
from gridmap.cli import cli
from gridmap.errors import InputError
from gridmap.io import check_file, read_addresses, read_boundaries, read_sites


def validate(*args: str):
    result = CliRunner().invoke(cli, ["validate", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def reported(output: str, path, where: str | None, field: str | None, words: str) -> bool:
    """True when one output line names the file, the position, the field and says ``words``."""
    head = str(path)
    if where:
        head += f": {where}"
    if field:
        head += f": field {field}"
    return any(
        line.startswith(f"problem: {head}: ") and words in line for line in output.splitlines()
    )


@pytest.mark.parametrize("case", sorted(b.CASES))
def test_each_bad_input_case_is_reported(tmp_path, case):
    path, expected = b.CASES[case](tmp_path)
    result = validate(path)
    assert result.exit_code == 1, result.output
    for where, field, words in expected:
        assert reported(result.output, path, where, field, words), (
            where,
            field,
            words,
            result.output,
        )
    problem_lines = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    assert len(problem_lines) == len(expected), result.output  # nothing spurious either


def test_whole_corpus_in_one_run_lists_every_problem(tmp_path):
    cases = [function(tmp_path) for function in b.CASES.values()]
    result = validate(*(path for path, _ in cases))
    assert result.exit_code == 1
    for path, expected in cases:
        for where, field, words in expected:
            assert reported(result.output, path, where, field, words), (path, where, words)
    summary = result.output.split("summary:")[1]
    total = sum(len(expected) for _, expected in cases)
    assert f"{len(cases)} file(s): {total} problem(s), 0 unreadable" in summary
    assert re.search(r"wrong_types\.csv\s+addresses\s+6 read\s+4 problems", summary)
    assert "problems by kind:" in summary and "duplicate id 3" in summary


def test_clean_files_exit_0(tmp_path):
    paths = b.write_clean_set(tmp_path)
    result = validate(*paths.values())
    assert result.exit_code == 0, result.output
    assert "problem:" not in result.output and "all clean" in result.output
    for kind in ("boundaries", "addresses", "barriers", "sites"):
        assert re.search(rf"{kind}\s+\d+ read\s+ok", result.output)


def test_repair_only_with_flag_and_reported(tmp_path):
    path, expected = b.case_repairable(tmp_path)
    assert validate(path).exit_code == 1
    result = validate(path, "--repair")
    assert result.exit_code == 0, result.output
    repairs = [line for line in result.output.splitlines() if line.startswith("repaired: ")]
    assert len(repairs) == 2
    assert "feature 1: repaired invalid polygon (Self-intersection" in repairs[0]
    assert "feature 2: repaired geometry (ring is not closed" in repairs[1]
    with pytest.raises(InputError):
        read_boundaries(path)
    repaired = read_boundaries(path, repair=True)
    assert shapely.is_valid(repaired.geometry.values).all()
    assert set(repaired.geom_type) <= {"Polygon", "MultiPolygon"}
    assert len(repaired.attrs["notices"]) == 2


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("nope.csv", None, "file not found"),
        ("table.xlsx", b"PK\x03\x04", "unknown format '.xlsx'"),
        ("empty.csv", b"", "file is empty (0 bytes)"),
        ("broken.gpkg", b"not a geopackage", "cannot read as GPKG"),
    ],
)
def test_unreadable_files_exit_2(tmp_path, name, content, words):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    good = b.write_clean_set(tmp_path / "good")["addresses"]
    result = validate(path, good)
    assert result.exit_code == 2
    assert f"error: {path}: {words}" in result.output
    assert re.search(r"addresses\s+6 read\s+ok", result.output)  # the other file still checked


def test_bad_crs_option_exit_2(tmp_path):
    good = b.write_clean_set(tmp_path)["addresses"]
    result = validate(good, "--crs", "mars")
    assert result.exit_code == 2 and "unknown coordinate system 'mars'" in result.output


def test_kind_is_guessed_or_given(tmp_path):
    paths = b.write_clean_set(tmp_path)
    result = validate(paths["addresses"], "--kind", "sites")
    assert result.exit_code == 1
    assert reported(result.output, paths["addresses"], None, "site_id", "missing required column")
    unknown = tmp_path / "what.csv"
    pd.DataFrame({"x": [1]}).to_csv(unknown, index=False)
    assert reported(validate(unknown).output, unknown, None, None, "pass --kind")


def test_listing_limit_counts_the_rest(tmp_path):
    frame = b.addresses(30).astype({"households": object})
    frame["households"] = "many"
    path = tmp_path / "a.csv"
    frame.to_csv(path, index=False)
    result = validate(path, "--limit", "5")
    lines = [line for line in result.output.splitlines() if line.startswith("problem: ")]
    assert (
        len(lines) == 6 and "... and 25 more rows from row 7 on (not a number: 'many')" in lines[-1]
    )
    assert "30 problems" in result.output


def test_readers_raise_input_error_with_capped_problems(tmp_path):
    frame = b.addresses(120).astype({"households": object})
    frame["households"] = "x"
    path = tmp_path / "a.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as error:
        read_addresses(path)
    problems = error.value.problems
    assert len(problems) == 51
    assert str(problems[0]) == f"{path}: row 2: field households: not a number: 'x'"
    assert "... and 70 more problems" in problems[-1].message


def test_crs_option_against_a_declared_projected_crs(tmp_path):
    path = tmp_path / "b.gpkg"
    b.boundaries().to_crs(4549).to_file(path, engine="pyogrio")
    assert validate(path).exit_code == 0  # the file's own CRS is honoured
    assert validate(path, "--crs", "EPSG:4549").exit_code == 0
    result = validate(path, "--crs", "gcj02")
    assert result.exit_code == 1
    assert reported(result.output, path, None, "crs", "the file declares EPSG:4549")


def test_blank_lines_keep_row_numbers_as_line_numbers(tmp_path):
    path = tmp_path / "a.csv"
    lines = b.addresses().to_csv(index=False).splitlines()
    lines[3] = lines[3].replace(",3,4,", ",abc,4,", 1)  # line 4: households
    path.write_text("\n".join(lines[:2] + ["", ""] + lines[2:]) + "\n\n", encoding="utf-8")
    result = validate(path)
    assert result.exit_code == 1
    assert reported(result.output, path, "row 6", "households", "not a number: 'abc'")
    assert re.search(r"addresses\s+6 read", result.output)


def test_sample_city_validates_clean(tmp_path):
    from gridmap.sample import build_city

    build_city(tmp_path, households=3000, seed=7)
    files = [tmp_path / name for name in ("boundaries.gpkg", "addresses.csv")]
    files += [tmp_path / name for name in ("barriers.gpkg", "sites.gpkg")]
    result = validate(*files)
    assert result.exit_code == 0, result.output
    assert "problem:" not in result.output
    for kind in ("boundaries", "addresses", "barriers", "sites"):
        assert re.search(rf"{kind}\s+\d+ read\s+ok", result.output), result.output


def test_crs_option_applies_to_wgs84_labelled_files_only(tmp_path):
    truth = b.sites()
    shifted = truth.copy()
    shifted.geometry = gcrs.transform_geoseries(truth.geometry, "cgcs2000", "gcj02")
    geojson = tmp_path / "sites.geojson"  # GeoJSON is always labelled WGS84
    shifted.set_crs(4326, allow_override=True).to_file(geojson, engine="pyogrio")
    read = read_sites(geojson, crs="gcj02")
    assert read.geometry.geom_equals_exact(truth.geometry, 1e-8).all()
    labelled = tmp_path / "sites.gpkg"  # declares CGCS2000: --crs gcj02 contradicts it
    truth.to_file(labelled, engine="pyogrio")
    result = validate(labelled, "--crs", "gcj02")
    assert result.exit_code == 1
    assert reported(result.output, labelled, None, "crs", "declares cgcs2000 but --crs says gcj02")


@pytest.mark.parametrize("chunk_rows", [1, 2, 3])
def test_chunked_validation_finds_exactly_what_a_whole_read_finds(tmp_path, chunk_rows):
    """validate reads CSVs in chunks (bounded memory): same problems, row numbers, duplicates
    across chunks, malformed and blank lines, and listing limit as reading the file whole."""
    csv_cases = [function(tmp_path) for function in b.CASES.values()]
    frame = b.addresses(9).astype({"households": object})
    frame.loc[[1, 4, 7], "address_id"] = "A00000"  # repeats spread over chunks
    frame.loc[[2, 3, 5, 6, 8], "households"] = "x"  # more than the limit below
    repeats = tmp_path / "repeats.csv"
    lines = frame.to_csv(index=False).splitlines()
    lines[5] += ",extra"
    repeats.write_text("\n".join(lines[:3] + [""] + lines[3:]) + "\n", encoding="utf-8")
    csv_cases.append((repeats, None))
    for path, _ in csv_cases:
        if path.suffix != ".csv":
            continue
        for limit in (None, 2):
            whole = check_file(path, limit=limit)
            chunked = check_file(path, limit=limit, build=False, chunk_rows=chunk_rows)
            assert [str(p) for p in chunked.problems] == [str(p) for p in whole.problems], path
            assert (chunked.count, chunked.counts) == (whole.count, whole.counts)
    counts = check_file(repeats, build=False, chunk_rows=chunk_rows).counts
    # rows 1 and 7 repeat row 0's id; row 4 does too but its line is malformed (skipped)
    assert counts["duplicate id"] == 2 and counts["malformed row"] == 1


def test_duplicates_spilled_to_disk_are_found_like_in_memory(tmp_path):
    """UniqueIds keeps 16 bytes per id and spills them to disk beyond a bound: the repeats it
    reports (text, row, first row) do not depend on whether it spilled."""
    import numpy as np

    from gridmap.io.checks import Findings, UniqueIds
    from gridmap.io.formats import RawTable

    ids = pd.Series([f"A{k % 7}" if k % 5 == 0 else f"B{k}" for k in range(60)], dtype="str")
    ids[13] = np.nan  # blank ids are not repeats
    reports = []
    for spill in (1_000, 4):
        unique = UniqueIds("address_id", spill=spill)
        table = RawTable("a.csv", "CSV", pd.DataFrame({"address_id": ids}))
        f = Findings(table, limit=None)
        for start in range(0, 60, 9):
            chunk = RawTable(
                "a.csv",
                "CSV",
                pd.DataFrame({"address_id": ids[start : start + 9].reset_index(drop=True)}),
                line_numbers=np.arange(start, min(start + 9, 60)) + 2,
            )
            f.table = chunk
            unique.check(f, chunk.frame["address_id"])
        f.table = table
        unique.finish(f, lambda t=table: [(t.numbers(), ids)])
        reports.append([str(p) for p in f.problems])
    assert reports[0] == reports[1]
    # A0 at k=0, 35; A1 at 15, 50; A3 at 10, 45; A5 at 5, 40; A6 at 20, 55; A2 at 30; A4 at 25
    assert len(reports[0]) == 5
    assert (
        "a.csv: row 37: field address_id: duplicate address_id 'A0' (first at row 2)"
        in (reports[0])
    )


def test_validate_reads_geoparquet_folders(tmp_path):
    from gridmap.io import write_layer

    frame = b.addresses(6).astype({"households": object})
    frame["district"] = ["330402", "330411"] * 3
    good = read_addresses(b._csv(tmp_path, "a.csv", frame))
    folder = write_layer(good, tmp_path / "a.parquet", partition_by="district")
    result = validate(str(folder))
    assert result.exit_code == 0, result.output
    assert "6 read  ok" in result.output
