"""`make demo` as a newcomer meets it: the Makefile's own steps (``make demo-data``, everything
but serving) on a small sample city, then what the map and its API show.

The test runs the Makefile itself, so a step added to or dropped from the recipe is tested as it
is; only the city's size and the number of reports are smaller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gridmap.rules import staff as staff_rules
from gridmap.services.simulate import CHANNEL_WEIGHTS
from gridmap.store import IncidentFilter, open_store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = tmp_path_factory.mktemp("demo")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    bin_dir = Path(sys.executable).parent
    assert (bin_dir / "gridmap").exists(), "the gridmap command is not installed in this venv"
    command = [
        "make",
        "--no-print-directory",
        "-C",
        str(ROOT),
        "-o",
        ".venv/.installed",  # the venv running this test is the one to use: do not build one
        "demo-data",
        f"BIN={bin_dir}",
        f"DEMO={out}",
        "SAMPLE_ARGS=--households 3000",
        "INCIDENTS=150",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def test_demo_loads_taxonomy_departments_staff_and_reports(demo):
    store = open_store(str(demo / "gridmap.sqlite"))
    version = store.current_version()
    assert version is not None and version.note == "sample city"

    # The default taxonomy, and a department for every department it dispatches to.
    taxonomy = store.taxonomy()
    assert "B0101" in taxonomy and "S0101" in taxonomy
    departments = {d.name: d.code for d in store.departments()}
    assert {s.department for s in taxonomy.subclasses} <= set(departments)

    # Staff on every grid: 1+3+N on comprehensive grids, a 楼道长 on every micro-grid.
    features = store.layer_geometries(version.id, ("grid", "exclusive", "micro_grid"))
    roles_of = {}
    for member in store.staff():
        for code in member.grids:
            roles_of.setdefault(code, set()).add(member.role)
    for feature in features:
        covering = {m.role for m in store.staff(feature.code)}
        if feature.layer == "grid":
            assert {"grid_head", "full_time", "part_time", "police", "supervisor"} <= covering
        elif feature.layer == "exclusive":
            assert {"grid_head", "police", "supervisor"} <= covering
        else:
            assert roles_of.get(feature.code) == {"building_head"}, feature.code
    assert set(staff_rules.ROLES) == {m.role for m in store.staff()}

    # Reports from every channel, the loop at every stage, departments at work.
    records = store.incidents(IncidentFilter())
    assert len(records) == 150
    assert set(CHANNEL_WEIGHTS) <= {r.source for r in records}
    statuses = {r.status for r in records}
    assert {"reported", "dispatched", "handling", "closed"} <= statuses
    assert store.loop_incident_ids(escalated=True)
    assert sum(bool(store.loop_incident_ids(department=c)) for c in departments.values()) >= 5
    closed = [r for r in records if r.status == "closed"]
    assert all(store.follow_ups(r.id) for r in closed)
    assert any(r.rework for r in records)
    assert sum(store.duplicate_counts([r.id for r in records]).values()) > 0


def test_demo_token_opens_the_map_api(demo):
    from web import create_app

    token = (demo / "admin-token.txt").read_text().strip()
    app = create_app({"DB": str(demo / "gridmap.sqlite"), "TESTING": True})
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert len(client.get("/api/departments", headers=auth).get_json()["departments"]) >= 10
    grid = open_store(str(demo / "gridmap.sqlite")).staff()[0].grids[0][:15]
    staff = client.get(f"/api/staff?grid={grid}", headers=auth).get_json()
    assert staff["count"] >= 4 and all(m["role_name"] for m in staff["staff"])
    # The reports of the last 20 days fall in this year or the last.
    year = datetime.now(UTC).year
    reported = {"district": 0, "department": 0}
    for level in reported:
        for period in (year - 1, year):
            url = f"/api/evaluation?level={level}&period={period}"
            evaluation = client.get(url, headers=auth).get_json()
            reported[level] += sum(unit["reported"] for unit in evaluation["units"])
    assert reported["district"] == 150
    assert 0 < reported["department"] < 150  # dispatched ones (not the rejected or new)
    kpi = client.get("/api/kpi?level=district", headers=auth)
    assert kpi.status_code == 200


def test_department_import_names_every_bad_row(tmp_path, capsys):
    from gridmap.cli import main

    db = str(tmp_path / "s.sqlite")
    good = tmp_path / "good.csv"
    good.write_bytes("code,name,level\nwater,水务集团,city\njustice,司法所,street\n".encode("gbk"))
    with pytest.raises(SystemExit) as exit_:
        main(["department", "import", str(good), "--db", db])
    assert exit_.value.code in (0, None)
    assert "added 2 departments" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_:  # again: nothing new, nothing refused
        main(["department", "import", str(good), "--db", db])
    assert "added 0 departments" in capsys.readouterr().out

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,level\nwater 2,水务,city\nparks,园林,county\nparks,园林局,city\n")
    with pytest.raises(SystemExit) as exit_:
        main(["department", "import", str(bad), "--db", db])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "row 2: field code" in err and "row 3: field level" in err
    assert "row 4" not in err  # row 3 was refused, so row 4's code is its first use
    assert [d.code for d in open_store(db).departments()] == ["justice", "water"]

    headless = tmp_path / "headless.csv"
    headless.write_text("id,title\n1,x\n")
    with pytest.raises(SystemExit) as exit_:
        main(["department", "import", str(headless), "--db", db])
    assert exit_.value.code == 2
    assert "lacks the columns code, name" in capsys.readouterr().err
