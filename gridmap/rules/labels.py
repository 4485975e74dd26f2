"""Every Chinese label a person reads, defined once; ``GET /api/meta`` sends them to the browser.

Codes stay English in data and URLs; pages, CSV exports and API ``*_name`` fields take their
names from here (a renamed label is a one-line change every page follows).

>>> STATES["returned"], ACTIONS["return"], KINDS["exclusive"]
('退回重办', '退回重办', '专属网格')
>>> label("states", "nonexistent")
'nonexistent'
"""

from __future__ import annotations

from collections.abc import Mapping

# Incident states (事件状态) of the closed loop, see gridmap.rules.workflow.STATES.
STATES: dict[str, str] = {
    "reported": "上报",
    "accepted": "受理立案",
    "dispatched": "已派遣",
    "handling": "处置中",
    "resolved": "已反馈",
    "verified": "已核查",
    "closed": "已结案",
    "rejected": "不予立案",
    "returned": "退回重办",
}
# Workflow actions, plus the two history entries that are not actions a person takes.
ACTIONS: dict[str, str] = {
    "report": "上报",
    "accept": "受理立案",
    "reject": "不予立案",
    "dispatch": "派遣",
    "start": "开始处置",
    "resolve": "处置反馈",
    "verify": "核查通过",
    "return": "退回重办",
    "close": "结案",
    "decline": "退单",
    "rehome": "网格调整",
    "escalate": "督办升级",
    "follow_up": "回访",
}
ROLES: dict[str, str] = {
    "viewer": "查看",
    "field": "网格员",
    "department": "职能部门",
    "dispatcher": "指挥调度",
    "planner": "网格规划",
    "admin": "管理员",
}
# Incident types (事件类型); their handling hours are gridmap.rules.workflow.HANDLING_HOURS.
TYPES: dict[str, str] = {
    "garbage": "垃圾堆放",
    "manhole": "井盖破损",
    "street_vending": "占道经营",
    "noise": "噪音扰民",
    "illegal_building": "违章搭建",
    "fire_hazard": "消防隐患",
    "other": "其他",
}
# Partition flags a grid may carry (gridmap.partition): why it breaks a rule.
FLAGS: dict[str, str] = {
    "below_min": "户数低于下限",
    "above_max": "户数超过上限",
    "above_max_population": "人口超过上限",
    "above_max_area": "面积超过上限",
    "indivisible_building": "单栋楼超过上限，无法再分",
    "no_addresses": "无地址",
    "no_host": "无所属综合网格",
}
# Division levels and geocoder match levels (most to least precise).
LEVELS: dict[str, str] = {
    "city": "全市",
    "district": "区县",
    "street": "街道",
    "town": "街道",
    "community": "社区",
    "grid": "网格",
    "room": "室",
    "unit": "单元",
    "building": "楼栋",
    "door": "门牌",
    "compound": "小区",
    "road": "道路",
    "point": "坐标",
    "none": "未匹配",
}
KINDS: dict[str, str] = {"comprehensive": "综合网格", "exclusive": "专属网格"}
LAYERS: dict[str, str] = {
    "district": "区",
    "street": "街道/镇",
    "community": "社区/村",
    "grid": "综合网格",
    "exclusive": "专属网格",
    "roads": "道路",
}
# Where a report came in (incidents.source): the channels a city takes reports from, then the
# doors of this system itself.
CHANNELS: dict[str, str] = {
    "hotline": "12345 热线",
    "patrol": "网格巡查",
    "app": "小程序/APP",
    "petition": "信访",
    "police": "110 联动",
    "api": "接口上报",
    "web": "网页上报",
    "field": "网格员上报",
    "open311": "Open311 接口",
    "import": "批量导入",
    "simulated": "模拟数据",
    "synthetic": "合成数据",
}

# Background jobs (gridmap.rules.jobs) and their kinds.
JOB_STATES: dict[str, str] = {
    "queued": "排队中",
    "running": "运行中",
    "done": "已完成",
    "failed": "失败",
    "cancelled": "已取消",
}
JOB_KINDS: dict[str, str] = {"plan": "网格划分方案", "geocode": "批量地址匹配"}

ALL: dict[str, Mapping[str, str]] = {
    "states": STATES,
    "actions": ACTIONS,
    "roles": ROLES,
    "types": TYPES,
    "flags": FLAGS,
    "levels": LEVELS,
    "kinds": KINDS,
    "layers": LAYERS,
    "channels": CHANNELS,
    "job_states": JOB_STATES,
    "job_kinds": JOB_KINDS,
}


def label(group: str, code: str | None) -> str:
    """The Chinese label of ``code`` in ``group`` (the code itself when it has none)."""
    if code is None:
        return ""
    return ALL[group].get(code, code)


# -- clerk: batch geocoding (gridmap/services/batch_geocode.py): the status column of a result
# row and the upload's encodings, as the batch page shows them.
GEOCODE_STATUSES: dict[str, str] = {"ok": "已匹配", "review": "需人工复核", "bad_row": "格式错误"}
ALL.update({"geocode_statuses": GEOCODE_STATUSES})
# -- planner workspace (issue 9) -----------------------------------------------------------------
# How a plan's grid compares with the current version (gridmap.services.plans.diff_grids).
PLAN_DIFF: dict[str, str] = {"kept": "未变", "changed": "调整", "new": "新增", "retired": "撤销"}
# Where a plan's inputs come from.
PLAN_SOURCES: dict[str, str] = {"current": "当前版本的边界与地址库", "upload": "上传文件"}
# Site categories that may become exclusive grids (gridmap.model.SITE_CATEGORIES).
SITE_CATEGORIES: dict[str, str] = {
    "government": "党政机关",
    "enterprise": "企业单位",
    "industrial_park": "工业园区",
    "hospital": "医院",
    "school": "学校",
    "mall": "商场市场",
    "park": "公园景区",
    "other": "其他",
}
# A plan's uploaded input files.
PLAN_INPUTS: dict[str, str] = {
    "boundaries": "行政边界（区、街道、社区）",
    "addresses": "标准地址库",
    "barriers": "道路、河流等分隔线",
    "sites": "专属网格场所",
}
EXPORT_FORMATS: dict[str, str] = {
    "gpkg": "GeoPackage",
    "geojson": "GeoJSON",
    "shp": "Shapefile（zip）",
    "csv": "CSV 表格",
}
ALL.update(
    {
        "plan_diff": PLAN_DIFF,
        "plan_sources": PLAN_SOURCES,
        "plan_inputs": PLAN_INPUTS,
        "site_categories": SITE_CATEGORIES,
        "export_formats": EXPORT_FORMATS,
    }
)
