"""A plausible city for a demo: reports from every channel, walked through the loop in time order.

The simulation is a small discrete-event run over the last ``max_age_days`` up to ``now``. Reports
of the store's taxonomy subclasses arrive at library addresses from every channel (12345 hotline,
grid patrol, mini-program, petition, 110 police, Open311); each is taken by the same service a
door calls (:func:`gridmap.services.reporting.take_report`), so a repeat report of the same
subclass close by joins the open incident as a duplicate. Every step is then taken through
:func:`gridmap.services.incidents.act`, as a dispatcher, a department or grid staff would: most
steps finish inside their limit (counted in the subclass's working or calendar hours), a few in
a hundred run late; dispatches go to the subclass's department, which now and then sends one
back; closing carries a phone or visit follow-up, and an unsatisfied one sends the incident back as
rework. The escalation sweep (:func:`gridmap.services.loop.escalate_overdue`) runs as the clock
advances, as ``gridmap serve`` does every minute, so late steps escalate when their deadline
passes. Grid staff also check in on patrol (:func:`gridmap.services.loop.check_in`).

Same store content, seed and ``now`` give the same city.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import shapely

from gridmap.model import Match
from gridmap.rules import kpi
from gridmap.rules.workflow import FINAL_STATES, parse_iso, utc_now
from gridmap.services.incidents import act
from gridmap.services.loop import Caller, check_in, escalate_overdue
from gridmap.services.reporting import Places, Report, take_report
from gridmap.store import Store

# The channels a city takes reports from (gridmap.rules.labels.CHANNELS), by share of reports.
CHANNEL_WEIGHTS = {
    "patrol": 34,
    "hotline": 30,
    "app": 14,
    "police": 8,
    "open311": 8,
    "petition": 6,
}
# Who reports through each channel (the incident's reporter).
CHANNEL_REPORTERS = {
    "hotline": "12345热线",
    "app": "微嘉园小程序",
    "police": "110联动",
    "open311": "Open311接口",
    "petition": "信访局",
}
DISPATCHER = Caller("指挥中心", "dispatcher")
# How often a report comes from each kind of class (部件 less often than 事件 and 社会治理).
KIND_WEIGHTS = {"component": 1.0, "event": 3.0, "social": 2.0}
# A few words a reporter adds after the subclass name, by major class.
DETAILS = {
    "B01": ["破损，存在安全隐患", "缺失，已临时围挡", "松动，车辆经过有异响"],
    "B02": ["损坏，影响通行", "倾斜倒伏", "被树枝遮挡看不清"],
    "B03": ["破损脏污", "满溢无人清理", "破损有坠落风险"],
    "B04": ["枝干折断", "枯死未补种", "被踩踏破坏"],
    "E01": ["已有异味", "堆放多日无人清运", "影响周边居民出行"],
    "E02": ["占用人行道", "堵塞消防通道", "高峰时段影响通行"],
    "E03": ["夜间仍在作业", "未覆盖防尘网", "居民多次反映"],
    "E04": ["现场已设置警示", "情况紧急，请尽快处置", "影响车辆通行"],
    "S01": ["双方争执不下，请求调解", "多次协商未果", "情绪激动，需尽快介入"],
    "S02": ["存在较大安全风险", "居民担心发生事故", "需要尽快排查"],
    "S03": ["居民求助", "影响日常生活", "需要上门核实情况"],
    "S04": ["影响居民休息", "气味明显", "居民多次投诉"],
    "S05": ["群众举报", "夜间出现", "请民警核查"],
    "S06": ["需要上门走访", "家属反映情况", "请网格员跟进"],
}
GENERIC_DETAILS = ["群众反映，请核实处理", "请相关部门尽快处理"]
LATE_SHARE = 0.06  # steps that run past their limit
REPEAT_SHARE = 0.08  # reports that are followed by a repeat report (a duplicate) of the same thing
SWEEP_EVERY = timedelta(minutes=15)  # how often the escalation sweep runs on the simulated clock
_NO_GEOCODER = Places(match=lambda text: Match(text, "none", 0.0), nearest_address=lambda *_: "")


@dataclass(order=True)
class _Event:
    at: datetime
    seq: int
    kind: str = field(compare=False)  # report | repeat | step
    payload: dict = field(compare=False)


def simulate(
    store: Store,
    count: int = 300,
    seed: int = 7,
    now: datetime | None = None,
    max_age_days: float = 20.0,
    progress: Callable[[int], object] | None = None,
) -> dict:
    """Load ``count`` reports into the store's current version and walk them up to ``now``;
    returns the city's figures (incidents by status, duplicates, escalations, patrols)."""
    version = store.current_version()
    if version is None:
        raise LookupError("no grid version is published: run `gridmap publish` first")
    now = now or utc_now()
    rng = random.Random(seed)
    places = store.random_addresses(version.id, count, seed)
    if not places:
        raise LookupError("the published address library has no address inside a grid")
    taxonomy = store.taxonomy()
    subclasses = list(taxonomy.subclasses)
    kinds = {m.code: m.kind for m in taxonomy.majors}
    weights = [KIND_WEIGHTS.get(kinds.get(s.major_code, ""), 1.0) for s in subclasses]
    channels, channel_weights = list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values())
    departments = {d.code: d for d in store.departments()}
    staff = _staff_by_grid(store)

    queue: list[_Event] = []
    seq = 0

    def push(at: datetime, kind: str, payload: dict) -> None:
        nonlocal seq
        seq += 1
        heapq.heappush(queue, _Event(at, seq, kind, payload))

    for place in places:
        sub = rng.choices(subclasses, weights)[0]
        age = min(rng.expovariate(1 / 5.0), max_age_days)
        push(now - timedelta(days=age), "report", {"place": place, "sub": sub})

    figures: Counter[str] = Counter()
    last_sweep: datetime | None = None
    while queue:
        event = heapq.heappop(queue)
        if event.at > now:
            break
        if last_sweep is None or event.at - last_sweep >= SWEEP_EVERY:
            figures["escalations"] += len(escalate_overdue(store, now=event.at))
            last_sweep = event.at
        if event.kind == "step":
            _step(store, rng, event, push, departments, staff)
            continue
        place, sub = event.payload["place"], event.payload["sub"]
        channel = rng.choices(channels, channel_weights)[0]
        if event.kind == "repeat":
            # Someone else calls about the same thing while it is still open (else nobody does).
            if store.incident(event.payload["of"], now=event.at).status in FINAL_STATES:
                continue
            channel = rng.choice([c for c in channels if c != event.payload["channel"]])
        reporter = _reporter(channel, place.grid_code, staff)
        detail = rng.choice(DETAILS.get(sub.major_code, GENERIC_DETAILS))
        report = Report(
            type=sub.code,
            description=f"{sub.name}，{detail}",
            lon=place.lon + rng.uniform(-0.0001, 0.0001),
            lat=place.lat + rng.uniform(-0.0001, 0.0001),
            address=place.address,
            channel=channel,
        )
        taken = take_report(store, report, reporter, _NO_GEOCODER, at=event.at)
        if taken.duplicate_of is not None:
            figures["duplicates"] += 1
            if event.kind == "report":  # by chance it repeats another: ``count`` incidents still
                other = {"place": rng.choice(places), "sub": rng.choices(subclasses, weights)[0]}
                push(min(now, event.at + timedelta(hours=rng.uniform(1, 48))), "report", other)
            continue
        if progress and event.kind == "report":
            progress(1)
        if event.kind == "report" and rng.random() < REPEAT_SHARE:
            later = event.at + timedelta(hours=rng.uniform(0.5, 12))
            repeat = {"place": place, "sub": sub, "channel": channel, "of": taken.incident.id}
            push(later, "repeat", repeat)
        _schedule(store, rng, taken.incident.id, event.at, push)
    figures["escalations"] += len(escalate_overdue(store, now=now))
    figures["patrols"] = _patrol(store, rng, version.id, now, max_age_days, staff)
    city = kpi.total(store.kpis("district", now=now))
    result = {k: getattr(city, k) for k in ("total", "open", "closed", "overdue", "rework")}
    result.update({k: figures[k] for k in ("duplicates", "escalations", "patrols")})
    return result


def _staff_by_grid(store: Store) -> dict[str, list[str]]:
    """grid code -> names of the staff covering it (full-time first), from the roster."""
    found: dict[str, list[str]] = {}
    order = {"full_time": 0, "grid_head": 1, "part_time": 2}
    for member in sorted(store.staff(), key=lambda m: (order.get(m.role, 9), m.id)):
        for code in member.grids:
            found.setdefault(code[:15], []).append(member.name)
    return found


def _field_actor(grid_code: str | None, staff: dict[str, list[str]]) -> Caller:
    names = staff.get(grid_code or "", [])
    name = names[0] if names else f"网格员{(grid_code or '000')[-3:]}"
    return Caller(name, "field", (grid_code,) if grid_code else ())


def _reporter(channel: str, grid_code: str | None, staff: dict[str, list[str]]) -> Caller:
    """Who a report comes from: the grid's own staff on patrol, else the channel's desk. Both
    report as a dispatcher would, so a point on a grid's edge is never refused."""
    if channel == "patrol":
        return Caller(_field_actor(grid_code, staff).name, "dispatcher")
    return Caller(CHANNEL_REPORTERS[channel], "dispatcher")


def _schedule(store: Store, rng: random.Random, incident_id: int, since: datetime, push) -> None:
    """Queue the incident's next step: most inside the current step's limit, some late."""
    record = store.incident(incident_id, now=since)
    if record.status in FINAL_STATES:
        return
    limit = parse_iso(record.due_at) - since if record.due_at else timedelta(hours=24)
    share = rng.uniform(0.05, 0.9) if rng.random() > LATE_SHARE else rng.uniform(1.05, 2.5)
    push(since + limit * share, "step", {"id": incident_id})


def _step(store: Store, rng: random.Random, event: _Event, push, departments, staff) -> None:
    """Take the next action on an incident, as whoever takes it in a city."""
    incident_id, moment = event.payload["id"], event.at
    record = store.incident(incident_id, now=moment)
    loop = store.incident_loops([incident_id])[incident_id]
    handler = _field_actor(record.grid_code, staff)
    if loop.department in departments:
        handler = Caller(departments[loop.department].name, "department", (), loop.department)
    state, follow_up, actor = record.status, None, DISPATCHER
    if state == "reported":
        action = "reject" if rng.random() < 0.05 else "accept"
    elif state == "accepted":
        action = "dispatch"
    elif state == "dispatched":
        actor = handler
        action = "decline" if loop.department and rng.random() < 0.04 else "start"
    elif state in ("handling", "returned"):
        actor = handler
        action = "resolve" if state == "handling" else "start"
    elif state == "resolved":
        action = "return" if rng.random() < 0.05 else "verify"
    else:  # verified: close with a follow-up (回访); an unsatisfied one comes back as rework
        action = "close"
        follow_up = {
            "method": rng.choice(("phone", "phone", "visit")),
            "satisfied": rng.random() > 0.1,
            "note": "",
        }
    act(store, incident_id, action, actor, follow_up=follow_up, at=moment)
    _schedule(store, rng, incident_id, moment, push)


def _patrol(store, rng, version_id, now, max_age_days, staff) -> int:
    """Patrol check-ins (巡查签到) by each grid's staff on some of the last days: most grids
    are patrolled, a few are not (patrol coverage below 100%)."""
    done = 0
    for grid in store.layer_geometries(version_id, ("grid", "exclusive")):
        if rng.random() < 0.1:
            continue
        point = shapely.point_on_surface(grid.geometry)
        actor = _field_actor(grid.code, staff)
        for _ in range(rng.randint(1, 4)):
            at = now - timedelta(days=rng.uniform(0, max_age_days))
            check_in(store, actor.name, actor.role, actor.grids, point.x, point.y, at=at)
            done += 1
    return done


__all__ = ["CHANNEL_WEIGHTS", "simulate"]
