"""partition, assign and geocode on a Dask LocalCluster of 2 workers give byte-identical output,
also when a worker dies in the middle of the job (Dask re-runs its tasks)."""

from __future__ import annotations

import os
from pathlib import Path

import distributed
import pandas as pd
import pytest
from click.testing import CliRunner

from gridmap.cli import cli as main


def run_cli(*args) -> str:
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    """A small sample city with its grids, assignment and geocode results made in one process."""
    folder = tmp_path_factory.mktemp("dcity")
    run_cli("sample", "--out", folder, "--households", 4000)
    run_cli(*partition_args(folder, folder / "grids.gpkg"))
    run_cli(*assign_args(folder, folder / "assigned.csv"))
    library = pd.read_csv(folder / "addresses.csv", dtype=str)
    queries = library["address"].sample(1500, random_state=7).str.replace("浙江省", "")
    pd.DataFrame({"id": range(len(queries)), "address": queries.to_numpy()}).to_csv(
        folder / "queries.csv", index=False
    )
    run_cli(*geocode_args(folder, folder / "results.csv"))
    return folder


def partition_args(folder: Path, out: Path) -> list:
    return [
        "partition",
        "--boundaries",
        folder / "boundaries.gpkg",
        "--addresses",
        folder / "addresses.csv",
        "--barriers",
        folder / "barriers.gpkg",
        "--sites",
        folder / "sites.gpkg",
        "--out",
        out,
    ]


def assign_args(folder: Path, out: Path) -> list:
    return ["assign", "--grids", folder / "grids.gpkg", "--addresses", folder / "addresses.csv"] + [
        "--out",
        out,
    ]


def geocode_args(folder: Path, out: Path) -> list:
    return [
        "geocode",
        "--library",
        folder / "addresses.csv",
        "--grids",
        folder / "grids.gpkg",
        "--in",
        folder / "queries.csv",
        "--out",
        out,
    ]


def exit_2_both_ways(args: list[str], cluster: str, capsys) -> tuple[str, str]:
    """What the command writes to stderr failing with exit 2 in one process, then on the cluster
    (``main`` as the shell runs it: a SystemExit, no traceback)."""
    from gridmap.cli import main as entry

    said = []
    for extra in ([], ["--scheduler", cluster]):
        with pytest.raises(SystemExit) as stopped:
            entry(args + extra)
        assert stopped.value.code == 2
        said.append(capsys.readouterr().err)
    return said[0], said[1]


@pytest.fixture(scope="module")
def cluster():
    """A LocalCluster of 2 single-threaded worker processes, as CI runs it."""
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as local:
        yield local.scheduler_address


def test_partition_on_cluster_is_byte_identical(city, cluster, tmp_path, monkeypatch):
    """The workers also read the library, in ~40 parts, each numbering its buildings and
    communities on its own; merged in file order they number them as one reader does."""
    import gridmap.io.formats

    monkeypatch.setattr(gridmap.io.formats, "PART_BYTES", 32 << 10)
    out = tmp_path / "grids.gpkg"
    run_cli(*partition_args(city, out), "--scheduler", cluster)
    assert out.read_bytes() == (city / "grids.gpkg").read_bytes()


def test_assign_on_cluster_is_byte_identical(city, cluster, tmp_path):
    out = tmp_path / "assigned.csv"
    run_cli(*assign_args(city, out), "--scheduler", cluster)
    assert out.read_bytes() == (city / "assigned.csv").read_bytes()


@pytest.mark.parametrize("where", ["here", "cluster"])
def test_assign_in_many_parts_is_byte_identical(city, cluster, tmp_path, monkeypatch, where):
    """The library read, checked and assigned in ~40 parts, in this process or on the
    workers, joins into the file one part gives."""
    import gridmap.io.formats

    monkeypatch.setattr(gridmap.io.formats, "PART_BYTES", 32 << 10)
    assert len(gridmap.io.formats.csv_parts(city / "addresses.csv")) > 20
    out = tmp_path / "assigned.csv"
    run_cli(*assign_args(city, out), *(["--scheduler", cluster] if where == "cluster" else []))
    assert out.read_bytes() == (city / "assigned.csv").read_bytes()


def test_assign_geoparquet_in_parts_streams_the_same_answer(city, cluster, tmp_path, monkeypatch):
    """A GeoParquet library partitioned by district, read in parts of whole row groups and
    written part by part as GeoParquet: byte-identical here and on the cluster, and every
    address on the grid the CSV run gave it."""
    import geopandas as gpd
    import pyarrow.parquet as pq

    import gridmap.io.parquet
    from gridmap import io

    monkeypatch.setattr(gridmap.io.parquet, "PART_ROWS", 400)
    library = io.read_addresses(city / "addresses.csv")
    library["district"] = library["community_code"].str[:6]
    io.write_layer(library, tmp_path / "lib.parquet", partition_by="district")
    for file in (tmp_path / "lib.parquet").rglob("*.parquet"):  # many parts
        pq.write_table(pq.read_table(file), file, row_group_size=300)
    assert len(gridmap.io.parquet.parquet_parts(tmp_path / "lib.parquet")) > 5
    outs = []
    for extra in ([], ["--scheduler", cluster]):
        out = tmp_path / f"assigned-{len(outs)}.parquet"
        run_cli(
            "assign", "--grids", city / "grids.gpkg", "--addresses", tmp_path / "lib.parquet",
            "--out", out, *extra,
        )  # fmt: skip
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    answer = gpd.read_parquet(outs[0]).set_index("address_id")["grid_code"]
    expected = pd.read_csv(city / "assigned.csv", dtype=str).set_index("address_id")["grid_code"]
    assert len(answer) == len(expected)
    assert answer.sort_index().equals(expected.sort_index())


def test_bad_rows_in_later_parts_are_the_same_exit_2_on_a_cluster(
    city, cluster, tmp_path, monkeypatch, capsys
):
    """Problems found by different workers in different parts are reported together, as one
    process reports them; nothing is written."""
    import gridmap.io.formats

    monkeypatch.setattr(gridmap.io.formats, "PART_BYTES", 32 << 10)
    lines = (city / "addresses.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[-5] = lines[-5].replace(",", ",,", 1)  # one field too many
    lines[-900] = lines[2]  # a repeated address_id, far from its first
    library = tmp_path / "library.csv"
    library.write_text("".join(lines), encoding="utf-8")
    args = [str(a) for a in assign_args(city, tmp_path / "out.csv")]
    args[args.index("--addresses") + 1] = str(library)
    here, there = (err.split("\r")[-1] for err in exit_2_both_ways(args, cluster, capsys))
    assert f"row {len(lines) - 4}: malformed row" in there
    assert f"row {len(lines) - 899}: field address_id: duplicate" in there
    assert there == here and "Traceback" not in there
    assert sorted(p.name for p in tmp_path.iterdir()) == ["library.csv"]


def test_assign_partitions_keep_the_edge_rule(cluster):
    """Points on shared edges and corners, cut into many partitions, still follow the rule."""
    import geopandas as gpd
    import numpy as np
    from dask.distributed import Client
    from shapely import box

    from gridmap.distributed import assign_points
    from gridmap.geocode.assign import GridIndex

    codes = [f"330402001001{k:03d}" for k in range(1, 17)]
    grids = gpd.GeoDataFrame(
        {"grid_code": codes[::-1], "kind": ["comprehensive"] * 15 + ["exclusive"]},
        geometry=[box(i % 4, i // 4, i % 4 + 1, i // 4 + 1) for i in range(16)],
    )
    # every lattice node and edge midpoint from -1 to 5, in steps of 0.5: many ties, some outside
    xs, ys = np.meshgrid(np.arange(-1, 5.01, 0.5), np.arange(-1, 5.01, 0.5))
    lon, lat = xs.ravel(), ys.ravel()
    expected = GridIndex(grids).assign_index(lon, lat)
    with Client(cluster) as client:
        found, ties = assign_points(client, grids, lon, lat, size=7)
    assert found.tolist() == expected.tolist()
    assert ties > 0 and (found == -1).any()


def test_geocode_on_cluster_is_byte_identical(city, cluster, tmp_path):
    out = tmp_path / "results.csv"
    run_cli(*geocode_args(city, out), "--scheduler", cluster)
    assert out.read_bytes() == (city / "results.csv").read_bytes()
    assert (tmp_path / "results.review.csv").read_bytes() == (
        city / "results.review.csv"
    ).read_bytes()


def test_geocode_index_written_on_cluster_is_loaded_both_ways(city, cluster, tmp_path, capsys):
    """One worker writes the index the workers built; the next run loads it on every worker,
    and one process loads the same file: the same answers all three ways."""
    from gridmap.cli import main as entry

    index = tmp_path / "library.index"
    said = []
    for n, extra in enumerate((["--scheduler", cluster], ["--scheduler", cluster], [])):
        out = tmp_path / f"results-{n}.csv"
        with pytest.raises(SystemExit) as stopped:
            entry([str(a) for a in geocode_args(city, out)] + ["--index", str(index), *extra])
        assert stopped.value.code == 0
        assert out.read_bytes() == (city / "results.csv").read_bytes()
        said.append(capsys.readouterr().err)
    assert f"index {index}: written" in said[0]
    loaded = [f"index {index}: built " in err and f"{index}: written" not in err for err in said]
    assert loaded == [False, True, True]


def test_bad_queries_while_the_cluster_starts_is_the_same_exit_2(city, cluster, tmp_path, capsys):
    """The cluster starts in the background while the queries are read: a bad queries file
    still fails as in one process (and ``local:2`` waits for its workers before it exits)."""
    queries = tmp_path / "queries.csv"
    queries.write_text("name,text\n1,中华路7号\n", encoding="utf-8")
    args = [str(a) for a in geocode_args(city, tmp_path / "results.csv")]
    args[args.index("--in") + 1] = str(queries)
    here, there = exit_2_both_ways(args, "local:2", capsys)
    assert "no id or address column" in there and "Traceback" not in there
    assert there == here
    assert not (tmp_path / "results.csv").exists()


class KillOnce(distributed.WorkerPlugin):
    """Kills the worker process the first time any worker starts a task while ``flag`` exists."""

    def __init__(self, flag: str) -> None:
        self.flag = flag

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing":
            try:
                os.remove(self.flag)  # only one worker wins the flag
            except FileNotFoundError:
                return
            os._exit(1)


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (partition_args, "grids.gpkg"),
        (assign_args, "assigned.csv"),
        # the worker that replaces a killed one builds its own geocoder at its first batch
        (geocode_args, "results.csv"),
    ],
)
def test_killed_worker_is_retried_and_output_identical(
    city, cluster, tmp_path, monkeypatch, args, name
):
    from dask.distributed import Client

    import gridmap.io.formats

    monkeypatch.setattr(gridmap.io.formats, "PART_BYTES", 64 << 10)  # assign: many parts
    flag = tmp_path / "kill-once"
    flag.write_text("die")
    with Client(cluster) as client:
        client.register_plugin(KillOnce(str(flag)), name="kill-once")
        try:
            out = tmp_path / name
            run_cli(*args(city, out), "--scheduler", cluster)
        finally:
            client.unregister_worker_plugin("kill-once")
        client.wait_for_workers(2, timeout=60)  # the nanny brought the killed one back
    assert not flag.exists()  # a worker did die mid-job
    assert out.read_bytes() == (city / name).read_bytes()


def test_local_scheduler_starts_its_own_cluster(city, tmp_path):
    out = tmp_path / "assigned.csv"
    run_cli(*assign_args(city, out), "--scheduler", "local:2")
    assert out.read_bytes() == (city / "assigned.csv").read_bytes()


@pytest.mark.parametrize("value", ["local:0", "yarn", "http://x:1"])
def test_bad_scheduler_is_exit_2_with_a_message(city, tmp_path, value):
    result = CliRunner().invoke(
        main, [str(a) for a in assign_args(city, tmp_path / "a.csv")] + ["--scheduler", value]
    )
    assert result.exit_code == 2
    assert "--scheduler" in result.output and value in result.output
    assert not (tmp_path / "a.csv").exists()


def test_bad_library_on_cluster_is_the_same_exit_2_as_in_one_process(
    city, cluster, tmp_path, capsys
):
    """Every worker builds the library at once; a bad file fails the command as a local build
    would: exit 2, the file and the problem named, nothing written."""
    library = tmp_path / "library.csv"
    library.write_text("address_id,lon,lat\na1,120.7,30.7\n", encoding="utf-8")
    args = [str(a) for a in geocode_args(city, tmp_path / "results.csv")]
    args[args.index("--library") + 1] = str(library)
    here, there = exit_2_both_ways(args, cluster, capsys)
    assert str(library) in there and "address" in there and "Traceback" not in there
    assert there == here
    assert not (tmp_path / "results.csv").exists()


def test_worker_without_the_index_the_client_read_says_so(city, tmp_path):
    """A worker on another machine without the file (or after another run replaced it) fails
    with the reason, instead of building a geocoder the client did not ask for."""
    from gridmap.distributed import GeocoderSpec, SavedIndex
    from gridmap.errors import InputError
    from gridmap.geocode.index_file import IndexKey

    key = IndexKey.of({"library": city / "addresses.csv"}, {})
    missing = SavedIndex(str(tmp_path / "gone.index"), key, current=True)
    spec = GeocoderSpec.of(city / "addresses.csv", city / "grids.gpkg", index=missing)
    with pytest.raises(InputError, match="does not see the index the client read"):
        spec.build()
