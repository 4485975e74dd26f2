"""`gridmap assign` and `gridmap geocode` end to end on small files."""

from __future__ import annotations

import csv

import pytest
from geocode_helpers import lattice_grids, small_library

from gridmap.cli import main


def run(argv) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


def geocode(files, queries, out, *options) -> int:
    """Run `gridmap geocode` on the fixture's library and grids."""
    library, grids = str(files["library"]), str(files["grids"])
    argv = ["geocode", "--library", library, "--grids", grids, "--in", str(queries)]
    return run([*argv, "--out", str(out), *map(str, options)])


def assign(grids, addresses, out) -> int:
    """Run `gridmap assign`."""
    return run(["assign", "--grids", str(grids), "--addresses", str(addresses), "--out", str(out)])


def read_rows(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture()
def files(tmp_path):
    library = tmp_path / "addresses.csv"
    small_library().to_csv(library, index=False)
    grids = lattice_grids(120.69, 30.74, 120.78, 30.81, 3, 3)
    # one exclusive grid so that host_grid_code is a real column of codes
    grids.loc[grids.index[-1], ["kind", "host_grid_code"]] = ["exclusive", grids.grid_code.iloc[0]]
    all_grids = tmp_path / "grids.gpkg"
    grids.to_file(all_grids)
    partial = tmp_path / "partial.gpkg"  # leaves 阳光花园 (120.70, 30.80) outside
    grids[grids.grid_code != "330402001001001"].to_file(partial)
    return {"library": library, "grids": all_grids, "partial": partial, "dir": tmp_path}


def test_assign_every_address_once(files, capsys):
    out = files["dir"] / "assigned.csv"
    code = assign(files["grids"], files["library"], out)
    assert code == 0
    rows = read_rows(out)
    assert len(rows) == len(small_library())
    assert all(row["grid_code"] for row in rows)
    assert {"address_id", "address", "lon", "lat", "households", "grid_code"} <= set(rows[0])
    summary = capsys.readouterr().out
    assert "unassigned    0" in summary
    assert not (files["dir"] / "assigned.unassigned.csv").exists()


def test_assign_lists_unassigned_and_exits_1(files, capsys):
    out = files["dir"] / "assigned.csv"
    code = assign(files["partial"], files["library"], out)
    assert code == 1
    rows = read_rows(out)
    assert len(rows) == len(small_library())
    assert {r["address_id"] for r in rows if not r["grid_code"]} == {"YG-1-1-101", "YG-1-1-102"}
    listed = read_rows(files["dir"] / "assigned.unassigned.csv")
    assert [r["address_id"] for r in listed] == ["YG-1-1-101", "YG-1-1-102"]
    assert "fall in no grid" in capsys.readouterr().err


def test_assign_refuses_duplicate_address_ids(files, capsys):
    lib = small_library()
    lib.loc[3, "address_id"] = lib.loc[0, "address_id"]
    bad = files["dir"] / "dup.csv"
    lib.to_csv(bad, index=False)
    out = files["dir"] / "never.csv"
    code = assign(files["grids"], bad, out)
    assert code == 2
    err = capsys.readouterr().err
    assert "dup.csv" in err and "address_id" in err and "duplicate" in err
    assert "Traceback" not in err
    assert not out.exists()


QUERIES = (
    "id,address\n"
    "q1,中山路58号幸福小区3幢2单元201室\n"
    "q2,幸福小区3幢201室\n"  # two rooms 201 in building 3: review
    "q3\n"  # missing field
    "q4,中华路7号,旁边\n"  # extra field
    "q5,\n"  # empty
    "q6,北京市朝阳区建国路1号\n"  # another city
    'q7,"幸福小区1幢1单元101室\x01"\n'  # control character
    f"q8,{'中' * 4000}\n"  # 4,000 characters
    "q9,hello\n"  # not Chinese
    'q10,"中华路\n7号"\n'  # a newline inside a quoted field
    'q11,"中华路\x007号\x1e"\n'  # NUL and a record separator
)


def test_geocode_keeps_every_id_and_reports_bad_rows(files, capsys):
    queries = files["dir"] / "queries.csv"
    queries.write_text(QUERIES, encoding="utf-8")
    out = files["dir"] / "results.csv"
    code = geocode(files, queries, out)
    assert code == 1  # malformed rows are a reported quality failure
    rows = read_rows(out)
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(1, 12)]
    by_id = {r["id"]: r for r in rows}
    assert by_id["q1"]["level"] == "room" and by_id["q1"]["address_id"] == "XF-3-2-201"
    assert by_id["q1"]["grid_code"] and by_id["q1"]["status"] == "ok"
    assert by_id["q2"]["level"] == "none" and by_id["q2"]["status"] == "review"
    assert by_id["q3"]["status"] == "bad_row"
    assert by_id["q4"]["level"] == "door" and by_id["q4"]["address"] == "中华路7号,旁边"
    assert by_id["q7"]["level"] == "room" and by_id["q7"]["address_id"] == "XF-1-1-101"
    assert by_id["q10"]["address_id"] == "ZH-7" and by_id["q11"]["address_id"] == "ZH-7"
    for qid in ("q5", "q6", "q8", "q9"):
        assert by_id[qid]["level"] == "none" and by_id[qid]["address_id"] == ""
    review = {r["id"]: r for r in read_rows(files["dir"] / "results.review.csv")}
    assert set(review) == {"q2", "q3", "q4", "q5", "q6", "q8", "q9"}
    assert review["q2"]["guess_level"] == "room" and review["q2"]["guess_address_id"]
    assert "below 0.60" in review["q2"]["reason"]
    assert "北京市" in review["q6"]["reason"]
    assert "too long" in review["q8"]["reason"]
    captured = capsys.readouterr()
    assert "review" in captured.out and "room" in captured.out
    assert "queries.csv: row 4" in captured.err and "queries.csv: row 5" in captured.err


def test_geocode_review_threshold_option(files):
    queries = files["dir"] / "queries.csv"
    queries.write_text("id,address\nq2,幸福小区3幢201室\n", encoding="utf-8")
    out = files["dir"] / "results.csv"
    review = files["dir"] / "to_check.csv"
    code = geocode(files, queries, out, "--review-threshold", "0.3", "--review", str(review))
    assert code == 0
    assert read_rows(out)[0]["level"] == "room"
    assert read_rows(review) == []


def test_geocode_reads_gbk(files):
    queries = files["dir"] / "gbk.csv"
    queries.write_bytes("id,address\n1,中华路7号\n2,幸福小区1幢1单元101室\n".encode("gbk"))
    out = files["dir"] / "results.csv"
    code = geocode(files, queries, out)
    assert code == 0
    assert [r["level"] for r in read_rows(out)] == ["door", "room"]


def test_geocode_without_id_column_is_bad_input(files, capsys):
    queries = files["dir"] / "bad.csv"
    queries.write_text("name,text\n1,中华路7号\n", encoding="utf-8")
    out = files["dir"] / "results.csv"
    code = geocode(files, queries, out)
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.csv: row 1: no id or address column" in err
    assert not out.exists()


def test_geocode_aliases_file(files, capsys):
    aliases = files["dir"] / "aliases.csv"
    aliases.write_text("alias,name\n老街,中华路\n旧名,没有这条路\n", encoding="utf-8")
    queries = files["dir"] / "queries.csv"
    queries.write_text("id,address\n1,老街7号\n", encoding="utf-8")
    out = files["dir"] / "results.csv"
    code = geocode(files, queries, out, "--aliases", aliases)
    assert code == 0
    assert read_rows(out)[0]["address_id"] == "ZH-7"
    assert "'没有这条路' is no library name" in capsys.readouterr().err
    aliases.write_text("alias,name\n,中华路\n", encoding="utf-8")
    code = geocode(files, queries, out, "--aliases", aliases)
    assert code == 2
    assert "aliases.csv: row 2: needs an alias and a name" in capsys.readouterr().err


def test_labelled_history_lets_the_parser_read_a_library_without_components(files, capsys):
    # the library has only its texts, written as a clerk types them (上海 without 市)
    library = files["dir"] / "bare.csv"
    library.write_text(
        "address_id,address,lon,lat,households,population\n"
        "a,上海九江路 89号,120.70,30.75,1,1\nb,上海滇池路33号,120.71,30.76,1,1\n",
        encoding="utf-8",
    )
    history = ["上海九江路12号", "上海市滇池路8号", "上海四川中路120号", "上海市南京东路3号"] * 4
    lines = []
    for text in history:
        city = "上海市" if text.startswith("上海市") else "上海"
        road, number = text[len(city) :].split("路")
        for label, part in (("city", city), ("road", road + "路"), ("roadno", number)):
            lines += [f"{ch} {'B' if i == 0 else 'I'}-{label}" for i, ch in enumerate(part)]
        lines.append("")
    labelled = files["dir"] / "history.txt"
    labelled.write_text("\n".join(lines) + "\n", encoding="utf-8")
    queries = files["dir"] / "q.csv"
    queries.write_text("id,address\n1,滇池路33号\n", encoding="utf-8")
    out = files["dir"] / "out.csv"
    argv = ["geocode", "--library", str(library), "--grids", str(files["grids"])]
    argv += ["--in", str(queries), "--out", str(out), "--labelled", str(labelled)]
    assert run(argv) == 0
    [row] = read_rows(out)
    assert (row["address_id"], row["level"], row["confidence"]) == ("b", "door", "1.0000")
    # a missing history file is bad input, named
    argv[-1] = str(files["dir"] / "missing.txt")
    assert run(argv) == 2
    assert "missing.txt" in capsys.readouterr().err
    # with --index the parser's work is kept: the second run neither learns nor reads again
    argv[-1] = str(labelled)
    argv += ["--index", str(files["dir"] / "bare.index")]
    assert run(argv) == 0
    assert "learning the address parser" in capsys.readouterr().err
    assert run(argv) == 0
    assert "learning the address parser" not in capsys.readouterr().err
    assert read_rows(out) == [row]
    # another history is another index
    labelled.write_text("\n".join(lines[: len(lines) // 2]) + "\n", encoding="utf-8")
    assert run(argv) == 0
    assert "learning the address parser" in capsys.readouterr().err


# --- --index: the built geocoder kept in a file ---------------------------------------------
def test_index_is_written_then_loaded_without_reading_the_library(files, capsys, monkeypatch):
    from gridmap.geocode.geocoder import Geocoder

    queries = files["dir"] / "queries.csv"
    queries.write_text(QUERIES, encoding="utf-8")
    index = files["dir"] / "lib.index"
    first, second = files["dir"] / "first.csv", files["dir"] / "second.csv"
    assert geocode(files, queries, first, "--index", index) == 1
    assert f"index {index}: written" in capsys.readouterr().err

    def no_build(*args, **kwargs):
        raise AssertionError("a current index is loaded, not built again")

    monkeypatch.setattr(Geocoder, "from_files", no_build)
    assert geocode(files, queries, second, "--index", index) == 1
    err = capsys.readouterr().err
    assert f"index {index}: built " in err and f"library {files['library']}" in err
    assert second.read_bytes() == first.read_bytes()
    assert (files["dir"] / "second.review.csv").read_bytes() == (
        files["dir"] / "first.review.csv"
    ).read_bytes()


def test_index_built_from_other_inputs_is_built_again(files, capsys):
    queries = files["dir"] / "queries.csv"
    queries.write_text("id,address\n1,中华路7号\n2,幸福小区3幢201室\n", encoding="utf-8")
    index, out = files["dir"] / "lib.index", files["dir"] / "results.csv"
    assert geocode(files, queries, out, "--index", index) == 0
    assert [r["status"] for r in read_rows(out)] == ["ok", "review"]
    capsys.readouterr()
    # another option: the threshold is part of what the index answers
    assert geocode(files, queries, out, "--index", index, "--review-threshold", "0.3") == 0
    assert "written" in capsys.readouterr().err
    assert [r["status"] for r in read_rows(out)] == ["ok", "ok"]
    # an edited library: the door the query names has moved to another id
    library = files["library"]
    library.write_text(library.read_text(encoding="utf-8").replace("ZH-7,", "ZH-7b,"), "utf-8")
    assert geocode(files, queries, out, "--index", index, "--review-threshold", "0.3") == 0
    assert "written" in capsys.readouterr().err
    assert read_rows(out)[0]["address_id"] == "ZH-7b"


def test_index_path_holding_another_file_is_exit_2_and_left_alone(files, capsys):
    queries = files["dir"] / "queries.csv"
    queries.write_text("id,address\n1,中华路7号\n", encoding="utf-8")
    other = files["dir"] / "notes.txt"
    other.write_text("my notes", encoding="utf-8")
    out = files["dir"] / "results.csv"
    assert geocode(files, queries, out, "--index", other) == 2
    err = capsys.readouterr().err
    assert "notes.txt: not a gridmap geocoder index" in err and "Traceback" not in err
    assert other.read_text(encoding="utf-8") == "my notes"
    assert not out.exists()


def test_damaged_index_is_exit_2_naming_it(files, capsys):
    queries = files["dir"] / "queries.csv"
    queries.write_text("id,address\n1,中华路7号\n", encoding="utf-8")
    index, out = files["dir"] / "lib.index", files["dir"] / "results.csv"
    assert geocode(files, queries, out, "--index", index) == 0
    out.unlink()
    data = index.read_bytes()
    index.write_bytes(data[: len(data) // 2])  # cut short, header intact: still "current"
    assert geocode(files, queries, out, "--index", index) == 2
    err = capsys.readouterr().err
    assert "lib.index: geocoder index is damaged" in err and "delete it" in err
    assert "Traceback" not in err and not out.exists()


def test_index_that_cannot_be_written_is_exit_2_before_any_answer(files, capsys, monkeypatch):
    from gridmap.geocode import index_file

    queries = files["dir"] / "queries.csv"
    queries.write_text("id,address\n1,中华路7号\n", encoding="utf-8")
    out = files["dir"] / "results.csv"
    # a path under a file: refused when first looked at, before the build
    blocked = files["dir"] / "a-file"
    blocked.write_text("x", encoding="utf-8")
    assert geocode(files, queries, out, "--index", blocked / "lib.index") == 2
    err = capsys.readouterr().err
    assert "a-file/lib.index: cannot read the geocoder index" in err and "Traceback" not in err

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(index_file.pickle, "dump", disk_full)
    index = files["dir"] / "lib.index"
    assert geocode(files, queries, out, "--index", index) == 2
    err = capsys.readouterr().err
    assert "lib.index: cannot write the geocoder index: [Errno 28] No space left" in err
    assert "Traceback" not in err
    assert not out.exists() and not index.exists()
    assert [p.name for p in files["dir"].iterdir() if "lib" in p.name] == []  # no temp file left
