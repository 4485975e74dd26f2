"""`gridmap validate FILE...`: check input files and list every problem at once.

Exit 0 when every file is clean, 1 when any problem was found, 2 when a file cannot be read at
all (missing, unknown format) or an option is wrong.
"""

from __future__ import annotations

import sys
from collections import Counter

import click
from tqdm import tqdm

from gridmap.errors import InputError
from gridmap.io import check_file
from gridmap.model import LAYERS

# Rows checked at a time: a CSV chunk of every text column exists as Python strings before it
# becomes Arrow, so a small chunk keeps validate's memory flat at any file size.
CHUNK_ROWS = 20_000


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option(
    "--kind",
    type=click.Choice(list(LAYERS)),
    help="What the files hold; guessed from each file's columns when not given.",
)
@click.option(
    "--crs",
    metavar="CRS",
    help="Coordinates of the files: wgs84, cgcs2000, gcj02, bd09 or EPSG:n "
    "(default: the file's own CRS, else CGCS2000 lon/lat).",
)
@click.option(
    "--repair", is_flag=True, help="Repair invalid polygons (make_valid) and report each."
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="At most this many lines per check and file (0: no limit); the rest are counted.",
)
def validate(files, kind, crs, repair, limit) -> None:
    """Check FILE... (boundaries, addresses, barriers, sites or grids) and list every problem.

    A FILE may be a GeoParquet folder partitioned by a column (district=330402/...).

    One line per problem names the file, the row (CSV line number) or feature (1-based) and the
    field. Exit 0: clean; 1: problems found; 2: a file could not be read at all.
    """
    unreadable: list[str] = []
    summary: list[tuple[str, str, int, int, int]] = []
    by_check: Counter[str] = Counter()
    # A bar per file (with its name) on a terminal: one big CSV alone takes seconds to check.
    progress = tqdm(files, desc="validate", unit="file", disable=not sys.stderr.isatty())
    for path in progress:
        progress.set_postfix_str(str(path)[-40:])
        try:
            report = check_file(
                path,
                kind,
                crs=crs,
                repair=repair,
                limit=limit or None,
                build=False,
                chunk_rows=CHUNK_ROWS,
            )
        except InputError as error:
            for problem in error.problems:
                tqdm.write(f"error: {problem}", file=sys.stderr)
            unreadable.append(path)
            continue
        for notice in report.notices:
            tqdm.write(f"repaired: {notice}")
        for problem in report.problems:
            tqdm.write(f"problem: {problem}")
        by_check.update(report.counts)
        summary.append(
            (path, report.kind or "?", report.count, report.problem_count, len(report.notices))
        )
    click.echo("")
    click.echo("summary:")
    width = max((len(row[0]) for row in summary), default=4)
    for path, layer, count, problems, repairs in summary:
        status = "ok" if problems == 0 else f"{problems} problem{'s' * (problems != 1)}"
        extra = f", {repairs} repaired" if repairs else ""
        click.echo(f"  {path:<{width}}  {layer:<10} {count:>9} read  {status}{extra}")
    for path in unreadable:
        click.echo(f"  {path:<{width}}  unreadable")
    total = sum(by_check.values())
    if total:
        kinds = ", ".join(f"{name} {n}" for name, n in by_check.most_common())
        click.echo(f"problems by kind: {kinds}")
    click.echo(
        f"{len(files)} file(s): {total} problem(s), {len(unreadable)} unreadable"
        + ("" if total or unreadable else " - all clean")
    )
    if unreadable:
        raise SystemExit(2)
    if total:
        raise SystemExit(1)
