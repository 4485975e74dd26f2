"""Demo grid staff and departments for a published city: the files a city would load itself.

``gridmap demo-roster --db DB --out DIR`` reads the current grid version and writes two files
that the ordinary commands load, so the demo takes the same path a city does:

- ``DIR/staff.csv`` (name, role, phone, grids) for ``gridmap staff import``: every grid is
  staffed "1+3+N" as Daqing does it. A comprehensive grid has its grid head (网格长), one
  full-time member (专职网格员) and two part-timers (兼职网格员); a grid police officer (网格警务员)
  covers two or three grids of a community and a supervisor (网格督导员) the whole community; each
  micro-grid has its building head (楼道长). An exclusive grid (a school, a hospital, a market) has
  its own head and a part-timer from the unit, under the community's officer and supervisor.
- ``DIR/departments.csv`` (code, name, level) for ``gridmap department add``: the departments
  the store's taxonomy dispatches to.

Names and phone numbers are made up (deterministic by ``--seed``).

>>> rng = random.Random(1)
>>> len(person(rng)) in (2, 3), phone(rng)[:1]
(True, '1')
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path

import click

from gridmap.errors import InputError
from gridmap.rules import staff as staff_rules
from gridmap.store import Store
from gridmap.store.cli import DB_OPTION, _open

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董沈钱"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂红华建国玉兰志文斌宇浩凯婷雪梅晨"
POLICE_GRIDS = 3  # grids one grid police officer covers at most
# Codes and levels of the departments the default taxonomy names (others get D01, D02, ...).
DEPARTMENTS = {
    "水务集团": ("water", "city"),
    "供电公司": ("power", "city"),
    "燃气集团": ("gas", "city"),
    "市政园林局": ("parks", "district"),
    "城管执法局": ("cityenf", "district"),
    "环境卫生管理处": ("sanitation", "district"),
    "住房和城乡建设局": ("housing", "district"),
    "公安分局": ("police", "district"),
    "公安交警支队": ("traffic", "city"),
    "消防救援支队": ("fire", "city"),
    "生态环境局": ("ecology", "district"),
    "民政局": ("civil", "district"),
    "人力资源和社会保障局": ("hrss", "district"),
    "应急管理局": ("emergency", "district"),
    "交通运输局": ("transport", "district"),
    "农业农村局": ("agri", "district"),
    "水利局": ("waterres", "district"),
    "司法所": ("justice", "street"),
    "街道办事处": ("street", "street"),
}


def person(rng: random.Random) -> str:
    """A made-up Chinese name of two or three characters."""
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def phone(rng: random.Random) -> str:
    """A made-up mobile number."""
    return f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"


def staff_rows(store: Store, seed: int = 1) -> list[dict[str, str]]:
    """The roster rows of the current version's grids (see the module docstring)."""
    version = store.current_version()
    if version is None:
        raise LookupError("no grid version is published: run `gridmap publish` first")
    rng = random.Random(seed)
    features = store.layer_geometries(version.id, ("grid", "exclusive", "micro_grid"))
    grids = [f for f in features if f.layer in ("grid", "exclusive")]
    micro: dict[str, list[str]] = defaultdict(list)
    for f in features:
        if f.layer == "micro_grid" and f.code:
            micro[staff_rules.grid_of(f.code)].append(f.code)
    by_community: dict[str, list[str]] = defaultdict(list)
    for grid in grids:
        by_community[grid.code[:12]].append(grid.code)
    rows: list[dict[str, str]] = []

    def add(role: str, codes: list[str]) -> None:
        rows.append(
            {
                "name": person(rng),
                "role": staff_rules.ROLES[role],
                "phone": phone(rng),
                "grids": ";".join(codes),
            }
        )

    for grid in grids:
        add("grid_head", [grid.code])
        if grid.layer == "grid":
            add("full_time", [grid.code])
            add("part_time", [grid.code])
            add("part_time", [grid.code])
            for code in sorted(micro.get(grid.code, [])):
                add("building_head", [code])
        else:
            add("part_time", [grid.code])
    for _community, codes in sorted(by_community.items()):
        codes = sorted(codes)
        for start in range(0, len(codes), POLICE_GRIDS):
            add("police", codes[start : start + POLICE_GRIDS])
        add("supervisor", codes)
    return rows


def department_rows(store: Store) -> list[dict[str, str]]:
    """One row per department the store's taxonomy names: code, name, level."""
    names = list(dict.fromkeys(s.department for s in store.taxonomy().subclasses))
    rows, spare = [], 0
    for name in names:
        code, level = DEPARTMENTS.get(name, ("", "district"))
        if not code:
            spare += 1
            code = f"D{spare:02d}"
        rows.append({"code": code, "name": name, "level": level})
    return rows


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...]) -> None:
    from gridmap.io import atomic_output

    with atomic_output(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@click.command("demo-roster")
@DB_OPTION
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for staff.csv and departments.csv.",
)
@click.option("--seed", default=1, show_default=True, type=int, help="Same seed, same names.")
def demo_roster(db: str, out_dir: Path, seed: int) -> None:
    """Write a made-up staff roster for every grid and the taxonomy's departments (demo data).

    staff.csv (name, role, phone, grids) is what `gridmap staff import` loads: per grid a 网格长,
    a 专职网格员 and two 兼职网格员, a 网格警务员 per two or three grids, a 网格督导员 per
    community, a 楼道长 per micro-grid. departments.csv (code, name, level) lists the departments
    the taxonomy dispatches to, for `gridmap department add`.
    """
    store = _open(db)
    try:
        staff = staff_rows(store, seed)
    except LookupError as error:
        raise InputError.one(db, str(error)) from None
    departments = department_rows(store)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write(out_dir / "staff.csv", staff, ("name", "role", "phone", "grids"))
    _write(out_dir / "departments.csv", departments, ("code", "name", "level"))
    click.echo(
        f"wrote {len(staff):,} staff members to {out_dir / 'staff.csv'} and "
        f"{len(departments)} departments to {out_dir / 'departments.csv'}"
    )


__all__ = ["demo_roster", "department_rows", "staff_rows"]
