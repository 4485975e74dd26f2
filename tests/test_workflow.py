"""The closed loop: legal transitions, roles, time limits, overdue, KPIs, simulated incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gridmap.rules.workflow import (
    ACTIONS,
    STATES,
    IllegalTransition,
    TimeLimits,
    allowed_actions,
    iso,
    next_state,
)
from gridmap.services.locating import locate
from gridmap.services.simulate import simulate
from gridmap.store import IncidentFilter, open_store

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HAPPY = ["accept", "dispatch", "start", "resolve", "verify", "close"]


def test_every_state_action_pair_is_legal_only_where_listed():
    for state in STATES:
        for action, (sources, target) in ACTIONS.items():
            if state in sources:
                assert next_state(state, action) == target
            else:
                with pytest.raises(IllegalTransition):
                    next_state(state, action)
    with pytest.raises(IllegalTransition, match="unknown action"):
        next_state("reported", "teleport")


def test_final_states_allow_nothing():
    for role in ("field", "dispatcher", "admin"):
        assert allowed_actions("closed", role, "330402001001001", ("330402",)) == []
        assert allowed_actions("rejected", role, "330402001001001", ("330402",)) == []


def test_roles_decide_who_may_act():
    own = ("330402001001",)
    assert allowed_actions("reported", "viewer") == []
    assert allowed_actions("reported", "field", "330402001001001", own) == []
    assert allowed_actions("dispatched", "field", "330402001001001", own) == ["start"]
    assert allowed_actions("handling", "field", "330402001001001", own) == ["resolve"]
    assert allowed_actions("handling", "field", "330402002001001", own) == []
    assert allowed_actions("reported", "dispatcher") == ["accept", "reject"]
    assert allowed_actions("resolved", "planner") == ["verify", "return"]


def test_time_limits_defaults_and_overrides():
    limits = TimeLimits()
    assert limits.hours("garbage", "reported") == 6.0  # Jiaxing: review within 6 h
    assert limits.hours("garbage", "dispatched") == 15.0  # respond within 15 h
    assert limits.hours("manhole", "handling") == 12.0
    assert limits.due("garbage", "closed", T0) is None
    custom = TimeLimits({"manhole": {"reported": 1}, "*": {"dispatched": 4}})
    assert custom.hours("manhole", "reported") == 1.0
    assert custom.hours("garbage", "reported") == 6.0
    assert custom.hours("garbage", "dispatched") == 4.0
    assert custom.due("manhole", "reported", T0) == T0 + timedelta(hours=1)


def _report(store, at=T0, grid=(120.71, 30.71), kind="garbage"):
    vid = store.current_version().id
    location = locate(store, vid, *grid)
    return store.create_incident(
        type=kind, description="d", lon=grid[0], lat=grid[1], location=location, actor="w", at=at
    )


def test_full_loop_records_actor_time_note_and_is_on_time(city_store):
    iid = _report(city_store)
    moment = T0
    for action in HAPPY:
        moment += timedelta(hours=1)
        city_store.transition(iid, action, f"actor-{action}", f"note {action}", at=moment)
    record = city_store.incident(iid, now=moment)
    assert record.status == "closed" and record.closed_at is not None
    assert record.due_at is None and not record.overdue
    history = city_store.history(iid)
    assert [h.state for h in history] == [
        "reported",
        "accepted",
        "dispatched",
        "handling",
        "resolved",
        "verified",
        "closed",
    ]
    assert history[3].actor == "actor-start" and history[3].note == "note start"
    assert history[3].at == "2026-03-01T11:00:00Z"
    kpi = city_store.kpis("grid", now=moment)[0]
    assert (kpi.total, kpi.closed, kpi.closed_on_time, kpi.open) == (1, 1, 1, 0)


def test_illegal_transition_changes_nothing(city_store):
    iid = _report(city_store)
    with pytest.raises(IllegalTransition):
        city_store.transition(iid, "close", "x", at=T0)
    assert city_store.incident(iid, now=T0).status == "reported"
    assert len(city_store.history(iid)) == 1


def test_overdue_late_steps_and_rework_count_in_kpis(city_store):
    late = _report(city_store)  # review limit 6 h: accepted after 7 h is late
    city_store.transition(late, "accept", "d", at=T0 + timedelta(hours=7))
    for i, action in enumerate(["dispatch", "start", "resolve"], start=1):
        city_store.transition(late, action, "d", at=T0 + timedelta(hours=7 + i))
    city_store.transition(late, "return", "d", "not fixed", at=T0 + timedelta(hours=11))
    for i, action in enumerate(["start", "resolve", "verify", "close"], start=1):
        city_store.transition(late, action, "d", at=T0 + timedelta(hours=11 + i))
    waiting = _report(city_store, grid=(120.712, 30.712))  # still unreviewed 10 h later
    rejected = _report(city_store, grid=(120.713, 30.713))
    city_store.transition(rejected, "reject", "d", "duplicate", at=T0 + timedelta(hours=1))
    now = T0 + timedelta(hours=10)
    assert city_store.incident(waiting, now=now).overdue
    assert not city_store.incident(waiting, now=T0 + timedelta(hours=5)).overdue
    row = city_store.kpis("community", now=now)[0]
    assert row.code == "330402001001"
    assert (row.total, row.open, row.closed, row.rejected) == (3, 1, 1, 1)
    assert row.closed_on_time == 0  # the closed one ran late once
    assert (row.overdue, row.rework) == (1, 1)


def test_simulation_gives_a_plausible_mix(store_url_factory):
    import webcity

    store = open_store(store_url_factory())
    webcity.publish_city(store)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    figures = simulate(store, count=300, seed=3, now=now)
    assert figures["total"] == 300
    assert 0 < figures["closed"] < 300 and 0 < figures["open"] < 300
    assert figures["overdue"] > 0
    records = store.incidents(IncidentFilter())
    assert {"reported", "closed", "handling"} <= {r.status for r in records}
    assert len({r.type for r in records}) >= 5
    # Every incident sits at a library address inside a grid.
    assert all(r.grid_code is not None for r in records)
    again = open_store(store_url_factory())
    webcity.publish_city(again)
    assert simulate(again, count=300, seed=3, now=now) == figures  # deterministic by seed


@pytest.mark.parametrize(
    "overrides",
    [
        {"ufo": {"reported": 1}},
        {"garbage": {"closed": 1}},
        {"garbage": {"reported": -1}},
        {"garbage": {"reported": "six"}},
        {"garbage": 6},
        [1, 2],
    ],
)
def test_bad_time_limits_are_refused(overrides):
    with pytest.raises(ValueError):
        TimeLimits(overrides)


def test_configured_time_limits_drive_due_times(store_url):
    import webcity

    store = open_store(store_url, TimeLimits({"*": {"reported": 1}}))
    webcity.publish_city(store)
    iid = _report(store)
    assert store.incident(iid, now=T0).due_at == "2026-03-01T09:00:00Z"
    assert store.incident(iid, now=T0 + timedelta(hours=2)).overdue


@pytest.mark.parametrize("level", ["grid", "community", "district"])
def test_kpis_of_every_unit_are_the_rules_over_its_incidents(store_url_factory, level):
    """Whatever SQL a store runs, its KPI counts are gridmap.rules' definitions applied to its
    incidents one by one: open is not final, overdue is workflow.is_overdue, on time is closed
    with no late step (checked over a simulated mix, at a moment when some are overdue)."""
    import webcity

    from gridmap.rules import kpi as kpi_rules
    from gridmap.rules.workflow import FINAL_STATES, is_overdue

    store = open_store(store_url_factory())
    webcity.publish_city(store)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    simulate(store, count=300, seed=11, now=now)
    expected: dict[str, dict[str, int]] = {}
    for incident in store.incidents(IncidentFilter(), now=now):
        code = getattr(incident, f"{level}_code")
        if code is None:
            continue
        sums = expected.setdefault(code, dict.fromkeys(kpi_rules.COUNTS, 0))
        sums["total"] += 1
        sums["open"] += incident.status not in FINAL_STATES
        sums["closed"] += incident.status == "closed"
        sums["rejected"] += incident.status == "rejected"
        sums["closed_on_time"] += incident.status == "closed" and incident.late_steps == 0
        sums["overdue"] += is_overdue(incident.status, incident.due_at, iso(now))
        sums["rework"] += incident.rework
    rows = store.kpis(level, now=now)
    assert [r.code for r in rows] == sorted(expected)
    assert {r.code: {n: getattr(r, n) for n in kpi_rules.COUNTS} for r in rows} == expected
    # the mix exercises every count (a zero everywhere would match any formula)
    assert all(sum(getattr(r, n) for r in rows) > 0 for n in kpi_rules.COUNTS)
    one = rows[len(rows) // 2].code  # one unit asked for alone, and a list of units
    assert store.kpis(level, now=now, code=one) == [r for r in rows if r.code == one]
    assert store.kpis(level, now=now, codes=[one]) == [r for r in rows if r.code == one]
