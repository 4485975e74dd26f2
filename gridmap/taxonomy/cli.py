"""``gridmap taxonomy``: load a city's incident taxonomy into the store, show or export it."""

from __future__ import annotations

import csv
import sys

import click

from gridmap.rules.taxonomy import COLUMNS
from gridmap.store.cli import DB_OPTION, _open


@click.group()
def taxonomy():
    """The incident taxonomy (事件部件分类): 大类/小类, department, staged time limits, urgency.

    Until a city loads its own, the store uses the shipped default (数字城管 部件/事件 classes
    after GB/T 30428, plus social-governance classes).
    """


@taxonomy.command("load")
@click.argument("file", type=click.Path(dir_okay=False))
@DB_OPTION
def taxonomy_load(file, db):
    """Check FILE (CSV in UTF-8 or GBK, or JSON) and make it the store's taxonomy.

    Columns: major_code, major_name, kind (component/event/social), code, name, department,
    verify_hours, register_hours, dispatch_hours, handle_hours, follow_up_hours,
    basis (working/calendar), urgency (normal/urgent/critical). Every problem is listed with
    its row and field; nothing is stored unless the whole file is valid. Deadlines of steps
    entered from now on follow the new limits.
    """
    from gridmap.taxonomy import load_file

    table = load_file(file)  # InputError (exit 2) before the store is touched
    store = _open(db)
    store.save_taxonomy(table, actor="cli")
    click.echo(
        f"loaded {len(table.subclasses)} subclasses in {len(table.majors)} major classes "
        f"from {file} into {db}"
    )


@taxonomy.command("show")
@DB_OPTION
def taxonomy_show(db):
    """Print the store's taxonomy as CSV (the format `taxonomy load` reads)."""
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(_open(db).taxonomy().rows())


__all__ = ["taxonomy"]
