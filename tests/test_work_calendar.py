"""Working-hour time limits over China's calendar: public holidays (法定节假日), make-up workdays
(调休上班), years the calendar does not know, a city's own holiday file. Every moment is given
(a fake clock): nothing sleeps."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest

from gridmap.rules.workflow import (
    CHINA,
    TimeLimits,
    WorkCalendar,
    add_hours,
    china_calendar,
    iso,
    opening_deadlines,
    parse_calendar,
)
from gridmap.services.locating import locate
from gridmap.taxonomy import default as default_taxonomy


def beijing(*args) -> datetime:
    return datetime(*args, tzinfo=CHINA)


def test_national_day_and_its_make_up_workdays():
    cal = china_calendar()
    assert cal.covers(date(2026, 10, 1))
    assert not any(cal.is_workday(date(2026, 10, d)) for d in range(1, 8))  # 国庆 1-7 Oct
    assert cal.is_workday(date(2026, 10, 10))  # a Saturday: 调休上班
    assert cal.is_workday(date(2026, 9, 20))  # a Sunday: 调休上班
    assert not cal.is_workday(date(2026, 10, 11))  # an ordinary Sunday
    # Wednesday 30 September 17:00: one hour that day, then the holiday, then 8 October.
    assert add_hours(beijing(2026, 9, 30, 17), 2, "working") == beijing(2026, 10, 8, 10)
    # Friday 9 October 17:00: one hour, then the make-up Saturday morning.
    assert add_hours(beijing(2026, 10, 9, 17), 2, "working") == beijing(2026, 10, 10, 10)
    # The spring festival: 16 working hours from the eve's morning end after the holiday week.
    start = beijing(2026, 2, 13, 9)  # Friday
    end = add_hours(start, 16, "working")
    assert end == beijing(2026, 2, 14, 18)  # Saturday 14 February is a make-up workday
    assert add_hours(beijing(2026, 2, 14, 18), 1, "working") == beijing(2026, 2, 24, 10)
    # Calendar hours ignore all of it.
    assert add_hours(beijing(2026, 9, 30, 17), 2) == beijing(2026, 9, 30, 19)


def test_a_year_without_holiday_data_counts_monday_to_friday():
    cal = china_calendar()
    later = max(cal.years) + 1
    assert not cal.covers(date(later, 1, 1))
    friday = next(date(later, 3, d) for d in range(1, 8) if date(later, 3, d).weekday() == 4)
    at = datetime.combine(friday, datetime.min.time(), CHINA).replace(hour=17)
    assert add_hours(at, 2, "working") == at + timedelta(days=3, hours=-7)  # Monday 10:00


def test_a_city_file_adds_a_year_and_overrides_a_day():
    extra = parse_calendar(
        [
            {"date": "2027-01-01", "kind": "holiday", "name": "元旦"},
            {"date": "2026-10-12", "kind": "holiday", "name": "local flood day"},
            {"date": "2026-10-03", "kind": "workday", "name": ""},
        ],
        "holidays.csv",
    )
    cal = china_calendar().merged(extra)
    assert cal.covers(date(2027, 3, 1))
    assert not cal.is_workday(date(2027, 1, 1))  # a Friday, now a holiday
    assert not cal.is_workday(date(2026, 10, 12))  # a Monday, now a holiday
    assert cal.is_workday(date(2026, 10, 3))  # the file's word wins
    limits = TimeLimits(calendar=cal)
    assert limits.calendar is cal and limits.with_taxonomy(default_taxonomy()).calendar is cal
    # 邻里纠纷 (S0101): 3 working hours to register; Friday 9 October 17:00 -> Saturday (make-up),
    # 11 October is Sunday, 12 October the local holiday.
    tax_limits = limits.with_taxonomy(default_taxonomy())
    due = tax_limits.due("S0101", "reported", beijing(2026, 10, 9, 17))
    assert due == beijing(2026, 10, 10, 11)
    plain = TimeLimits(taxonomy=default_taxonomy(), calendar=WorkCalendar())
    assert plain.due("S0101", "reported", beijing(2026, 10, 9, 17)) == beijing(2026, 10, 12, 11)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"date": "2027-13-01", "kind": "holiday"}, "row 2: field date"),
        ({"date": "", "kind": "holiday"}, "row 2: field date"),
        ({"date": "2027-01-01", "kind": "vacation"}, "row 2: field kind: must be holiday or"),
    ],
)
def test_bad_calendar_rows_are_named(row, message):
    with pytest.raises(ValueError, match=message):
        parse_calendar([row], "holidays.csv")


def test_the_holiday_file_is_read_from_the_environment(tmp_path):
    path = tmp_path / "holidays.csv"
    path.write_text("date,kind,name\n2027-01-01,holiday,元旦\n", encoding="utf-8")
    code = (
        "from datetime import date; from gridmap.rules.workflow import china_calendar as c;"
        "print(c().covers(date(2027, 6, 1)), c().is_workday(date(2027, 1, 1)))"
    )
    env = dict(os.environ, GRIDMAP_HOLIDAYS=str(path))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.split() == ["True", "False"], done.stderr


def test_a_stored_report_gets_its_deadline_over_the_holiday(city_store):
    """The store computes a working-hours deadline with the calendar: a 邻里纠纷 reported on
    Wednesday 30 September at 16:00 is due on 8 October at 10:00 (2 h + 1 h)."""
    moment = beijing(2026, 9, 30, 16).astimezone(UTC)
    version = city_store.current_version()
    place = city_store.random_addresses(version.id, 1, 1)[0]
    location = locate(city_store, version.id, place.lon, place.lat)
    incident_id = city_store.create_incident(
        type="S0101",
        description="邻里纠纷",
        lon=place.lon,
        lat=place.lat,
        location=location,
        actor="test",
        at=moment,
    )
    record = city_store.incident(incident_id, now=moment)
    assert record.due_at == iso(beijing(2026, 10, 8, 10))
    due, expected = opening_deadlines("S0101", moment, city_store.time_limits)
    assert due == record.due_at and expected == record.expected_at
    # Still on time on the last holiday, overdue an hour after the deadline.
    assert not city_store.incident(incident_id, now=beijing(2026, 10, 7, 23)).overdue
    assert city_store.incident(incident_id, now=beijing(2026, 10, 8, 11)).overdue


def test_a_bad_holiday_file_stops_the_server_start_not_a_report(tmp_path, monkeypatch):
    from web import create_app

    bad = tmp_path / "holidays.csv"
    bad.write_text("date,kind,name\n2027-13-01,holiday,坏日期\n", encoding="utf-8")
    monkeypatch.setenv("GRIDMAP_HOLIDAYS", str(bad))
    with pytest.raises(ValueError, match="row 2: field date"):
        create_app({"DB": ":memory:"})
    monkeypatch.setenv("GRIDMAP_HOLIDAYS", str(tmp_path / "missing.csv"))
    with pytest.raises(ValueError, match="cannot read the holiday file"):
        create_app({"DB": ":memory:"})
