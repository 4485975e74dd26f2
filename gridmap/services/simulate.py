"""Plausible incidents for a demo: reported at library addresses, walked through the loop.

Each incident gets an age (most a few days old), a type, a description, and then takes its steps
with durations drawn around each step's time limit, stopping at "now": old ones are closed, recent
ones are still open, some steps ran late (overdue, on-time rate below 100%), a few were rejected
or sent back for rework.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from gridmap.rules import kpi
from gridmap.rules.workflow import FINAL_STATES, utc_now
from gridmap.store import Location, Store

DESCRIPTIONS = {
    "garbage": ["小区门口垃圾堆放，已有异味", "绿化带内建筑垃圾未清运", "垃圾桶满溢，周边散落"],
    "manhole": [
        "人行道井盖破损，存在安全隐患",
        "雨水井盖缺失，已临时围挡",
        "井盖松动，车辆经过异响",
    ],
    "street_vending": ["路口流动摊贩占道经营", "商铺出店经营占用人行道", "夜市摊位占用消防通道"],
    "noise": ["夜间施工噪音扰民", "广场舞音响音量过大", "商铺高音喇叭招揽顾客"],
    "illegal_building": ["楼顶违章搭建彩钢棚", "院内私自扩建", "绿地内违法搭建简易房"],
    "fire_hazard": ["楼道堆放杂物堵塞消防通道", "电动车楼道内充电", "消防栓损坏无水"],
    "other": ["路灯不亮", "共享单车乱停放", "树木倒伏影响通行"],
}
TYPE_WEIGHTS = {
    "garbage": 30,
    "manhole": 10,
    "street_vending": 20,
    "noise": 15,
    "illegal_building": 8,
    "fire_hazard": 10,
    "other": 7,
}
PATH = ("accept", "dispatch", "start", "resolve", "verify", "close")


def simulate(
    store: Store,
    count: int = 300,
    seed: int = 7,
    now: datetime | None = None,
    max_age_days: float = 20.0,
    progress=None,
) -> dict:
    """Load ``count`` incidents into the store's current version; returns figures by status."""
    version = store.current_version()
    if version is None:
        raise LookupError("no grid version is published: run `gridmap publish` first")
    now = now or utc_now()
    rng = random.Random(seed)
    places = store.random_addresses(version.id, count, seed)
    if not places:
        raise LookupError("the published address library has no address inside a grid")
    limits = store.time_limits
    types = list(TYPE_WEIGHTS)
    weights = [TYPE_WEIGHTS[t] for t in types]
    batch = 500
    for start in range(0, count, batch):
        with store.transaction():
            for place in places[start : start + batch]:
                kind = rng.choices(types, weights)[0]
                age = min(rng.expovariate(1 / 3.0), max_age_days)
                moment = now - timedelta(days=age)
                location = Location.of_grid(place.grid_code)
                iid = store.create_incident(
                    type=kind,
                    description=rng.choice(DESCRIPTIONS[kind]),
                    lon=place.lon + rng.uniform(-0.0002, 0.0002),
                    lat=place.lat + rng.uniform(-0.0002, 0.0002),
                    location=location,
                    actor=f"网格员{place.grid_code[-3:]}",
                    address=place.address,
                    source="simulated",
                    version_id=version.id,
                    at=moment,
                )
                _walk(store, rng, iid, kind, moment, now, limits, place.grid_code)
        if progress:
            progress(min(batch, count - start))
    city = kpi.total(store.kpis("district", now=now))
    return {k: getattr(city, k) for k in ("total", "open", "closed", "overdue", "rework")}


def _walk(store, rng, iid, kind, moment, now, limits, grid_code) -> None:
    state, step = "reported", 0
    actor_field = f"网格员{grid_code[-3:]}"
    while state not in FINAL_STATES:
        hours = limits.hours(kind, state) or 24.0
        # Most steps finish well inside their limit; about one in eight runs late.
        share = rng.uniform(0.05, 0.9) if rng.random() > 0.12 else rng.uniform(1.05, 2.5)
        moment = moment + timedelta(hours=hours * share)
        if moment > now:
            return
        if state == "reported" and rng.random() < 0.05:
            action = "reject"
        elif state == "resolved" and rng.random() < 0.08:
            action = "return"
        elif state == "returned":
            action = "start"
        else:
            action = PATH[step]
        actor = actor_field if action in ("start", "resolve") else "指挥中心"
        state = store.transition(iid, action, actor, "", at=moment).status
        if action == "return":
            step = PATH.index("start")
        elif action != "reject":
            step = PATH.index(action) + 1
        if action == "start" and state == "handling":
            step = PATH.index("resolve")


__all__ = ["simulate"]
