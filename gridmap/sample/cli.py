"""``gridmap sample``: build the sample city into a folder and print what is in it."""

from __future__ import annotations

import click

from gridmap.errors import InputError
from gridmap.sample.build import DEFAULT_HOUSEHOLDS, DEFAULT_SEED


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the city into (created if missing).")  # fmt: skip
@click.option("--households", default=None, type=click.IntRange(min=1),
              help=f"Households (default {DEFAULT_HOUSEHOLDS:,}; "
              "with --province 25,000,000).")  # fmt: skip
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int,
              help="Same seed and households give byte-identical files.")  # fmt: skip
@click.option("--province", is_flag=True,
              help="A synthetic 浙江省 on its real county outlines and division codes, "
              "addresses as GeoParquet partitioned by county (streamed: memory bounded by "
              "one county).")  # fmt: skip
@click.option("--counties", default=None, metavar="CODE[,CODE...]",
              help="With --province: only counties whose code starts with these "
              "(3304: 嘉兴市).")  # fmt: skip
def sample(
    out_dir: str, households: int | None, seed: int, province: bool, counties: str | None
) -> None:
    """Build a deterministic sample city: 嘉兴 南湖区 and 秀洲区 with real outlines and real street
    and community names and codes; synthetic roads, rivers, buildings, rooms and sites inside.

    Writes DIR/boundaries.gpkg, addresses.csv, barriers.gpkg, sites.gpkg and README.txt (its
    figures).
    """
    from gridmap.sample.build import build_city

    if counties and not province:
        raise click.UsageError("--counties goes with --province")
    if province:
        _province(out_dir, households, seed, counties)
        return
    households = households or DEFAULT_HOUSEHOLDS
    try:
        summary = build_city(out_dir, households=households, seed=seed, progress=True)
    except OSError as error:  # an unwritable or impossible --out is bad input, not a crash
        raise InputError.one(out_dir, f"cannot write the sample city: {error.strerror or error}",
                             field="--out") from error  # fmt: skip
    click.echo(f"sample city written to {summary['out_dir']}/ in {summary['seconds']} s")
    click.echo(
        f"  districts {summary['districts']}, streets {summary['streets']}, communities "
        f"{summary['communities']} ({summary['community_households_min']:,}-"
        f"{summary['community_households_max']:,} households each), area {summary['area_km2']} km2"
    )
    click.echo(
        f"  households {summary['households']:,}, population {summary['population']:,}, "
        f"addresses {summary['addresses']:,} (rooms {summary['rooms']:,})"
    )
    click.echo(
        f"  buildings {summary['buildings']:,}, sites {summary['sites']}, "
        f"barrier lines {summary['barriers']}"
    )
    click.echo(f"  bounds (lon/lat EPSG:4490) {summary['bounds']}")


def _province(out_dir: str, households: int | None, seed: int, counties: str | None) -> None:
    from gridmap.sample.province import PROVINCE_HOUSEHOLDS, build_province

    prefixes = tuple(c.strip() for c in counties.split(",") if c.strip()) if counties else None
    try:
        summary = build_province(out_dir, households=households or PROVINCE_HOUSEHOLDS,
                                 seed=seed, counties=prefixes, progress=True)  # fmt: skip
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--counties") from None
    except OSError as error:
        why = error.strerror or error
        raise InputError.one(out_dir, f"cannot write the sample province: {why}",
                             field="--out") from error  # fmt: skip
    click.echo(f"sample province written to {summary['out_dir']}/ in {summary['seconds']} s")
    click.echo(
        f"  counties {summary['counties']}, streets {summary['streets']:,}, "
        f"communities {summary['communities']:,}"
    )
    click.echo(
        f"  households {summary['households']:,}, addresses {summary['addresses']:,} "
        "-> boundaries.gpkg, addresses.parquet/ (by county)"
    )
    if summary["skipped_counties"]:
        click.echo(f"  counties without division codes, left out: {summary['skipped_counties']}")
