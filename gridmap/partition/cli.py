"""``gridmap partition``: divide every community into grids and write them with a summary."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import click

from gridmap.distributed import scheduler_option
from gridmap.partition.config import DEFAULT_EXCLUSIVE_CATEGORIES, PartitionConfig


@click.command("partition")
@click.option(
    "--boundaries", "boundaries_path", required=True, help="Districts/streets/communities."
)
@click.option("--addresses", "addresses_path", required=True, help="Standard address library.")
@click.option("--barriers", "barriers_path", help="Roads, rails, rivers, walls (lines).")
@click.option("--sites", "sites_path", help="Sites that may become exclusive grids (polygons).")
@click.option("--min-households", type=int, default=300, show_default=True)
@click.option("--max-households", type=int, default=500, show_default=True)
@click.option("--max-population", type=int, default=2500, show_default=True)
@click.option("--max-area-km2", type=float, default=None, help="Area cap per grid.")
@click.option(
    "--micro-households",
    default="30-150",
    show_default=True,
    metavar="MIN-MAX|off",
    help="Cut every comprehensive grid into micro-grids (微网格) of whole buildings holding "
    "MIN-MAX households, written as layer micro_grids of --out; 'off' for none.",
)
@click.option("--previous", "previous_path", help="Earlier grids: keep their codes where stable.")
@click.option(
    "--lock",
    "locks",
    multiple=True,
    metavar="CODE",
    help="An earlier grid (of --previous) to keep exactly: code and geometry (repeatable; "
    "also CODE,CODE). A 'locked' column in --previous locks its grids too.",
)
@click.option(
    "--crs", default=None, help="CRS of the inputs (wgs84, cgcs2000, gcj02, bd09, EPSG:n)."
)
@click.option(
    "--repair", is_flag=True, help="Make invalid polygons valid instead of rejecting them."
)
@click.option(
    "--exclusive-ratio-limit",
    type=float,
    default=0.25,
    show_default=True,
    help="Warn when exclusive/comprehensive grids exceed this ratio.",
)
@click.option(
    "--exclusive-categories",
    default=",".join(DEFAULT_EXCLUSIVE_CATEGORIES),
    show_default=True,
    help="Site categories that may become exclusive grids (comma-separated).",
)
@click.option(
    "--exclusive-min-area-m2",
    type=float,
    default=20_000.0,
    show_default=True,
    help="A site qualifies from this area...",
)
@click.option(
    "--exclusive-min-headcount",
    type=int,
    default=300,
    show_default=True,
    help="...or from this headcount.",
)
@click.option("--workers", type=int, default=0, help="Processes (0: up to 2, one per core).")
@scheduler_option("the communities")
@click.option("--summary-json", type=click.Path(dir_okay=False), help="Also write the summary.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="GRIDS.gpkg to write.")
def partition(
    boundaries_path,
    addresses_path,
    barriers_path,
    sites_path,
    min_households,
    max_households,
    max_population,
    max_area_km2,
    micro_households,
    previous_path,
    locks,
    crs,
    repair,
    exclusive_ratio_limit,
    exclusive_categories,
    exclusive_min_area_m2,
    exclusive_min_headcount,
    workers,
    scheduler,
    summary_json,
    out,
):
    """Divide every community into comprehensive and exclusive grids.

    Grids tile each community exactly, follow barriers where they can, hold
    [--min-households, --max-households] (out-of-band grids are flagged with the reason), and
    get 15-digit codes: comprehensive 001-499, exclusive 501-999, numbered west to east in rows
    north to south. With --previous, grids that keep most of their households keep their codes
    and a diff is printed. Exit 0 when every guarantee holds, 1 when a check fails (reported),
    2 on bad input.
    """
    from gridmap import distributed, io
    from gridmap.partition.engine import finish, prepare
    from gridmap.partition.inputs import read_addresses
    from gridmap.partition.micro import parse_band
    from gridmap.partition.report import format_summary

    try:
        micro_band = parse_band(micro_households)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--micro-households") from None
    config = PartitionConfig(
        min_households=min_households,
        max_households=max_households,
        max_population=max_population,
        max_area_km2=max_area_km2,
        micro_households=micro_band,
        exclusive_ratio_limit=exclusive_ratio_limit,
        exclusive_categories=tuple(c.strip() for c in exclusive_categories.split(",") if c.strip()),
        exclusive_min_area_m2=exclusive_min_area_m2,
        exclusive_min_headcount=exclusive_min_headcount,
        workers=workers,
        repair=repair,
    ).validate()
    with distributed.client_for(scheduler) as client:
        boundaries = io.read_boundaries(boundaries_path, crs=crs, repair=repair)
        barriers = (
            io.read_barriers(barriers_path, crs=crs, repair=repair) if barriers_path else None
        )
        sites = io.read_sites(sites_path, crs=crs, repair=repair) if sites_path else None
        previous = io.read_grids(previous_path) if previous_path else None
        names = {
            "boundaries": str(boundaries_path),
            "addresses": str(addresses_path),
            "barriers": str(barriers_path),
            "sites": str(sites_path),
            "previous": str(previous_path),
        }
        # The address frame is never bound to a name here: once prepare() has cut it into the
        # communities' tasks it is freed, before the workers start (the largest stage).
        prepared = prepare(
            boundaries,
            read_addresses(addresses_path, crs=crs, client=client),
            barriers,
            sites,
            config,
            previous,
            locks=tuple(code.strip() for item in locks for code in item.split(",") if code.strip()),
            names=names,
        )
        del boundaries, barriers, sites, previous
        gc.collect()
        result = finish(
            prepared, progress=sys.stderr.isatty(), executor=distributed.executor(client)
        )
    del prepared  # only the result is written
    gc.collect()
    write_grids(result, out)
    if summary_json:
        payload = {"summary": result.summary, "diff": result.diff}
        with io.atomic_output(summary_json) as temp:
            Path(temp).write_text(json.dumps(payload, ensure_ascii=False, indent=1), "utf-8")
    click.echo(format_summary(result.summary, result.diff))
    click.echo(f"wrote {out}")
    if not result.ok:
        sys.exit(1)


def write_grids(result, out) -> None:
    """Grids, and micro-grids when made, as two layers of one GeoPackage, written atomically."""
    import pyogrio

    from gridmap import io
    from gridmap.io.write import FIXED_GPKG_DATE, gdal_config

    if result.micro_grids is None or not str(out).lower().endswith(".gpkg"):
        io.write_layer(result.grids, out, layer="grids")
        return
    with io.atomic_output(out) as temp:
        io.write_layer(result.grids, temp, layer="grids")
        # a second layer in the same file (write_layer replaces a file as a whole)
        with gdal_config(OGR_CURRENT_DATE=FIXED_GPKG_DATE):
            pyogrio.write_dataframe(result.micro_grids, temp, layer="micro_grids", driver="GPKG")
