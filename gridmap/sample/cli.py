"""``gridmap sample``: build the sample city into a folder and print what is in it."""

from __future__ import annotations

import click

from gridmap.errors import InputError
from gridmap.sample.build import DEFAULT_HOUSEHOLDS, DEFAULT_SEED


@click.command()
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder to write the city into (created if missing).")  # fmt: skip
@click.option("--households", default=DEFAULT_HOUSEHOLDS, show_default=True,
              type=click.IntRange(min=1), help="Households, e.g. 2000000.")  # fmt: skip
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int,
              help="Same seed and households give byte-identical files.")  # fmt: skip
def sample(out_dir: str, households: int, seed: int) -> None:
    """Build a deterministic sample city: 嘉兴 南湖区 and 秀洲区 with real outlines and real street
    and community names and codes; synthetic roads, rivers, buildings, rooms and sites inside.

    Writes DIR/boundaries.gpkg, addresses.csv, barriers.gpkg, sites.gpkg and README.txt (its
    figures).
    """
    from gridmap.sample.build import build_city

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
