"""``gridmap department``, ``gridmap staff`` and ``gridmap escalate``: the loop's commands."""

from __future__ import annotations

from pathlib import Path

import click

from gridmap.errors import InputError
from gridmap.store.cli import DB_OPTION, _open


@click.group()
def department():
    """Functional departments (职能部门) incidents are dispatched to."""


@department.command("add")
@click.argument("code")
@click.argument("name")
@click.option("--level", default="district", show_default=True, help="street, district or city.")
@DB_OPTION
def department_add(code, name, level, db):
    """Add department CODE named NAME."""
    from gridmap.rules.escalation import LoopRuleError
    from gridmap.services.loop import check_department

    try:
        code, name, level = check_department(code, name, level)
    except LoopRuleError as error:
        raise InputError.one("department", error.message, field=error.field) from None
    try:
        _open(db).add_department(code, name, level)
    except ValueError as error:
        raise InputError.one("department", str(error), field="code") from None
    click.echo(f"added department {code} {name} ({level})")


@department.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@DB_OPTION
def department_import(file, db):
    """Add the departments of FILE.csv (code, name, level; UTF-8 or GBK) the store lacks.

    Every problem is listed with its row and field; nothing is stored unless the whole file is
    valid. A code already in the store is left as it is, so a file can be imported again.
    """
    from gridmap.services.departments import import_departments

    try:
        data = Path(file).read_bytes()
    except OSError as error:
        raise InputError.one(file, f"cannot read: {error.strerror or error}") from None
    added = import_departments(_open(db), data, file)
    click.echo(f"added {added} departments from {file}")


@department.command("list")
@DB_OPTION
def department_list(db):
    """List the departments."""
    for d in _open(db).departments():
        click.echo(f"{d.code}\t{d.name}\t{d.level}")


@department.command("token")
@click.argument("code")
@click.option("--name", default="", help="Who holds it (default: the department's name).")
@DB_OPTION
def department_token(code, name, db):
    """Issue a token of role department bound to department CODE (shown once)."""
    from gridmap.services.loop import department_token_for

    store = _open(db)
    found = store.department(code)
    if found is None or found.code != code:
        raise InputError.one("department", f"no department {code!r}", field="code")
    click.echo(department_token_for(store, code, name or found.name))


@click.group()
def staff():
    """Grid staff (网格长, 专职网格员, 兼职网格员, 网格警务员, 网格督导员, 楼道长)."""


@staff.command("import")
@click.argument("file", type=click.Path(dir_okay=False))
@DB_OPTION
def staff_import(file, db):
    """Replace the staff roster with FILE.csv (name, role, phone, grids).

    grids: grid or micro-grid codes separated by ``;``. Every problem is listed with its row
    and field; nothing is stored unless the whole file is valid.
    """
    from gridmap.services.staff import import_roster

    try:
        data = Path(file).read_bytes()
    except OSError as error:
        raise InputError.one(file, f"cannot read: {error.strerror or error}") from None
    count = import_roster(_open(db), data, file)
    click.echo(f"imported {count} staff members from {file}")


@staff.command("token")
@click.argument("staff_id", type=int)
@DB_OPTION
def staff_token(staff_id, db):
    """Issue a field token covering staff member STAFF_ID's grids (shown once)."""
    from gridmap.services.staff import field_token

    try:
        click.echo(field_token(_open(db), staff_id))
    except LookupError as error:
        raise InputError.one("staff", str(error), field="staff_id") from None


@click.command()
@DB_OPTION
def escalate(db):
    """Escalate every incident whose current step is past its limit (for cron; `serve` does
    this by itself every minute)."""
    from gridmap.services.loop import escalate_overdue

    done = escalate_overdue(_open(db))
    click.echo(f"escalated {len(done)} incidents")
