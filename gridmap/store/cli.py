"""CLI commands on the store: ``gridmap publish``, ``gridmap token``, ``gridmap incidents``."""

from __future__ import annotations

import click
from tqdm import tqdm

from gridmap.errors import InputError
from gridmap.rules.workflow import ROLES
from gridmap.store import DEFAULT_DB, open_store

DB_OPTION = click.option(
    "--db",
    default=DEFAULT_DB,
    show_default=True,
    help="Store: an SQLite file path (created when missing), sqlite:///path, or "
    "postgresql://user@host/db (PostGIS).",
)


def _open(db: str):
    try:
        return open_store(db)
    except ValueError as error:
        raise InputError.one(db, str(error), field="--db") from None


@click.command()
@click.option("--grids", required=True, help="Grids file from `gridmap partition`.")
@click.option("--boundaries", required=True, help="District/street/community boundaries.")
@click.option("--addresses", required=True, help="The standard address library (CSV or layer).")
@click.option("--barriers", default=None, help="Roads, rails, rivers: shown as the roads layer.")
@click.option("--crs", default=None, help="CRS of the inputs when not CGCS2000/WGS84 lon/lat.")
@DB_OPTION
@click.option("--note", default="", help="A note shown with this version (what changed).")
def publish(grids, boundaries, addresses, barriers, crs, db, note):
    """Store a grid version with its admin units, roads and address library; make it current.

    Display geometry is simplified per zoom band here, so the map answers fast later.
    """
    from gridmap.services.versions import publish as publish_version
    from gridmap.services.versions import read_files

    steps = ["read", "district", "street", "community", "grid", "exclusive", "roads", "addresses"]
    with tqdm(total=len(steps) + 1, desc="publish", unit="step", disable=None) as bar:
        # Read (and check) every file before the store is touched: bad input writes nothing.
        frames = read_files(grids, boundaries, addresses, barriers, crs=crs)
        bar.update(1)
        summary = publish_version(
            _open(db), **frames, note=note, progress=lambda _name: bar.update(1)
        )
        bar.update(bar.total - bar.n)
    click.echo(f"published grid version {summary['version_id']} to {db} (now current)")
    click.echo(f"  city            {summary['city'] or '-'}")
    for key in ("districts", "streets", "communities", "grids", "exclusive_grids", "roads"):
        click.echo(f"  {key:<15} {summary[key]:,}")
    if summary["micro_grids"]:
        click.echo(f"  micro_grids     {summary['micro_grids']:,}")
    click.echo(
        f"  addresses       {summary['addresses']:,} "
        f"({summary['addresses_without_grid']:,} outside every grid)"
    )
    if summary["addresses_without_grid"]:
        click.echo(
            "warning: some addresses lie outside every grid: run `gridmap assign` to list them"
        )
    moved = summary["activation"]
    if moved["open_incidents"]:
        click.echo(
            f"  open incidents  {moved['open_incidents']:,} re-homed into this version "
            f"({moved['moved']:,} changed grid, {moved['outside']:,} outside every grid)"
        )
    for stale in moved["stale_tokens"]:
        click.echo(
            f"warning: token {stale['id']} ({stale['name']}, {stale['role']}) is bound to "
            f"{', '.join(stale['codes'])}, which this version does not have: "
            "revoke it and issue a new one"
        )


@click.group()
def token():
    """Create, list and revoke API tokens (stored hashed; shown once)."""


@token.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the token may do.")
@click.option("--name", default="", help="Who holds it (shown in the incident history).")
@click.option(
    "--grid",
    "grids",
    multiple=True,
    help="Field staff: grid code (or community/street/district code) they work in; repeatable.",
)
@DB_OPTION
def token_create(role, name, grids, db):
    """Issue a token and print it once."""
    for code in grids:
        if not code.isdigit() or len(code) not in (6, 9, 12, 15):
            raise InputError.one("--grid", f"{code!r} is not a 6/9/12/15-digit code", field="grid")
    if role == "field" and not grids:
        raise InputError.one("--grid", "a field token needs at least one --grid", field="grid")
    value = _open(db).create_token(role, name, grids)
    click.echo(value)
    click.echo(f"role {role}, name {name or role}, grids {', '.join(grids) or 'all'}", err=True)
    click.echo(
        "Keep it: only its hash is stored. Log in at /login or send "
        "'Authorization: Bearer <token>'.",
        err=True,
    )


@token.command("list")
@DB_OPTION
def token_list(db):
    """List tokens (never their values)."""
    for row in _open(db).tokens():
        state = f"revoked {row.revoked_at}" if row.revoked_at else "active"
        grids = ",".join(row.grids) or "all"
        click.echo(f"{row.id:>4}  {row.role:<10} {row.name:<20} {grids:<20} {state}")


@token.command("revoke")
@click.argument("token_id", type=int)
@DB_OPTION
def token_revoke(token_id, db):
    """Revoke a token by its id (from `token list`); its sessions end too."""
    from gridmap.store import NotFound

    try:
        _open(db).revoke_token(token_id)
    except NotFound as error:
        raise InputError.one(db, str(error), field="token_id") from None
    click.echo(f"token {token_id} revoked")


@click.group()
def incidents():
    """Incident data in the store."""


@incidents.command("simulate")
@DB_OPTION
@click.option("--count", default=300, show_default=True, type=click.IntRange(1, 1_000_000))
@click.option("--seed", default=7, show_default=True, type=int)
def incidents_simulate(db, count, seed):
    """Load plausible incidents at library addresses (demo data): reports from every channel
    over the last 20 days, walked through the loop by the dispatcher, the departments loaded
    (`gridmap department import`) and the grid staff loaded (`gridmap staff import`), some
    late and escalated, some sent back as rework after a follow-up, plus patrol check-ins."""
    from gridmap.services.simulate import simulate

    store = _open(db)
    with tqdm(total=count, desc="incidents", unit="incident", disable=None) as bar:
        try:
            figures = simulate(store, count=count, seed=seed, progress=bar.update)
        except LookupError as error:
            raise InputError.one(db, str(error)) from None
    click.echo(f"loaded {count:,} simulated incidents into {db}; the store now holds:")
    for key in ("total", "open", "closed", "overdue", "rework"):
        click.echo(f"  {key:<8} {figures.get(key, 0):,}")
    click.echo(
        f"  and {figures.get('duplicates', 0):,} duplicate reports, "
        f"{figures.get('escalations', 0):,} escalations, {figures.get('patrols', 0):,} patrol "
        "check-ins"
    )
