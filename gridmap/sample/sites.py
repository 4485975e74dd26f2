"""Sites that get exclusive grids: government compounds, schools, hospitals, malls, enterprises,
industrial parks and parks, placed on blocks of the communities with plausible counts and names.

Parks and industrial parks take a whole block; the others take the west or east half of a block
(the other half stays residential). Each block holds at most one site.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gridmap.sample.divisions import RealExtract
from gridmap.sample.layout import Blocks, Community

MALLS = (
    "八佰伴", "万达广场", "江南摩尔", "月河商业街", "印象城", "万象汇", "东方商厦",
    "戴梦得购物中心", "吾悦广场", "华润万家", "银泰城", "大润发",
)  # fmt: skip
PARKS = (
    "人民公园", "中山公园", "梅湾公园", "范蠡湖公园", "鸳鸯湖公园", "子城遗址公园",
    "运河湾公园", "秀湖公园", "马家浜公园", "槜李公园", "湘家荡公园", "植物园",
)  # fmt: skip
HOSPITALS = (
    "嘉兴市第一医院", "嘉兴市第二医院", "嘉兴市中医医院", "嘉兴市妇幼保健院",
    "嘉兴市康慈医院", "嘉兴市第三医院",
)  # fmt: skip
FIRM_STEMS = (
    "禾丰",
    "恒信",
    "嘉润",
    "永盛",
    "华利",
    "新凯",
    "博众",
    "泰和",
    "金瑞",
    "中天",
    "秀源",
    "湖畔",
)
FIRM_TRADES = (
    "纺织",
    "电子科技",
    "食品",
    "精密机械",
    "服装",
    "新材料",
    "光伏科技",
    "物流",
    "医药",
    "建材",
)
SCHOOL_WORDS = ("实验", "第一", "第二", "南湖", "秀洲", "平湖塘", "辅成", "吉水", "清河", "三水湾")

HEADCOUNT = {  # (low, high) people on site on a working day
    "government": (80, 400),
    "school": (700, 2600),
    "hospital": (150, 3500),
    "mall": (300, 1500),
    "enterprise": (120, 1600),
    "industrial_park": (2000, 8000),
    "park": (8, 40),
}
WHOLE_BLOCK = ("park", "industrial_park")


@dataclass(frozen=True)
class SitePlan:
    site_id: str
    name: str
    category: str
    headcount: int
    community_code: str
    block: int
    side: str  # "west", "east" or "whole"


def plan_sites(
    extract: RealExtract, blocks: Blocks, communities: list[Community], seed: int
) -> list[SitePlan]:
    """Which block of which community holds which site (deterministic from ``seed``)."""
    rng = np.random.default_rng([seed, 5])
    taken: set[int] = set()
    plans: list[SitePlan] = []
    counter: dict[str, int] = {}

    centre = blocks.centre_xy.mean(axis=0)
    reach = np.hypot(*(blocks.centre_xy - centre).T)  # distance of each block from the centre

    def add(
        community: Community, category: str, name: str, whole: bool = False, edge: bool = False
    ) -> None:
        buildable = [k for k in community.blocks if blocks.buildable[k]]
        free = [k for k in buildable if k not in taken]
        # Homes come first: at most half a community's blocks carry a site (at least one may),
        # and a whole-block site needs three buildable blocks.
        if len(buildable) - len(free) >= max(1, len(buildable) // 2) or not free:
            return
        if whole and len(buildable) < 3:
            return
        # Industry sits at the edge of the built-up area; everything else anywhere.
        block = max(free, key=lambda k: reach[k]) if edge else free[int(rng.integers(len(free)))]
        taken.add(block)
        code = community.division.code
        counter[code] = counter.get(code, 0) + 1
        low, high = HEADCOUNT[category]
        plans.append(
            SitePlan(
                site_id=f"{code}-S{counter[code]:02d}",
                name=name,
                category=category,
                headcount=int(rng.integers(low, high + 1)),
                community_code=code,
                block=block,
                side="whole" if whole else ("west" if rng.random() < 0.5 else "east"),
            )
        )

    by_street: dict[str, list[Community]] = {}
    for community in communities:
        by_street.setdefault(community.street.code, []).append(community)
    by_district: dict[str, list[Community]] = {}
    for community in communities:
        by_district.setdefault(community.district_code, []).append(community)

    for _district, members in sorted(by_district.items()):
        if len(members) >= 6:  # an industrial park in the outermost roomy community
            roomy = [c for c in members if blocks.buildable[c.blocks].sum() >= 3]
            if roomy:
                outer = max(roomy, key=lambda c: (reach[c.blocks].max(), c.division.code))
                street = outer.street.name.removesuffix("街道").removesuffix("镇")
                add(outer, "industrial_park", f"{street}工业园区", whole=True, edge=True)
    for code, members in sorted(by_district.items()):
        district = extract.district_names[code]
        add(members[0], "government", f"嘉兴市{district}人民政府")
        add(members[-1], "hospital", f"{district}人民医院")
    for _street, members in sorted(by_street.items()):
        street = members[0].street
        office = "办事处" if street.name.endswith("街道") else "人民政府"
        add(members[0], "government", f"{street.name}{office}")
        add(members[-1], "hospital", f"{street.name}社区卫生服务中心")
    for n, community in enumerate(communities):
        stem = community.division.short.removesuffix("社区").removesuffix("村")
        if n % 2 == 0:
            add(community, "school", f"嘉兴市{stem}小学")
        if n % 4 == 1:
            add(
                community,
                "school",
                f"嘉兴市{SCHOOL_WORDS[(n // 4) % len(SCHOOL_WORDS)]}中学"
                if n // 4 < len(SCHOOL_WORDS)
                else f"嘉兴市{stem}中学",
            )
        if n % 4 == 2:
            add(community, "mall", f"嘉兴{MALLS[(n // 4) % len(MALLS)]}" + _lap(n // 4, len(MALLS)))
        if n % 3 == 0:
            stem_, trade = FIRM_STEMS[n % len(FIRM_STEMS)], FIRM_TRADES[(n // 3) % len(FIRM_TRADES)]
            add(community, "enterprise", f"嘉兴{stem_}{trade}有限公司")
        if n % 6 == 3:
            add(
                community,
                "park",
                PARKS[(n // 6) % len(PARKS)] + _lap(n // 6, len(PARKS)),
                whole=True,
            )
        if n % 10 == 5:
            hospital = HOSPITALS[(n // 10) % len(HOSPITALS)] + _lap(n // 10, len(HOSPITALS))
            add(community, "hospital", hospital)
    _dedupe_names(plans)
    return plans


def _lap(k: int, size: int) -> str:
    lap = k // size
    return "" if lap == 0 else f"({'一二三四五六七八九十'[(lap - 1) % 10]}分部)"


def _dedupe_names(plans: list[SitePlan]) -> None:
    seen: dict[str, int] = {}
    for k, plan in enumerate(plans):
        if plan.name in seen:
            seen[plan.name] += 1
            object.__setattr__(plans[k], "name", f"{plan.name}({seen[plan.name]})")
        else:
            seen[plan.name] = 1


SITE_SETBACK_M = 8.0  # a site's fence keeps this far from the block edge


def site_polygon(block_metres: shapely.Geometry, plan: SitePlan) -> shapely.Geometry:
    """The site's polygon (metres): the whole block, or its west or east half, set back."""
    zone = shapely.buffer(block_metres, -SITE_SETBACK_M)
    if plan.side == "whole":
        return zone
    minx, miny, maxx, maxy = zone.bounds
    middle = (minx + maxx) / 2
    if plan.side == "west":
        half = shapely.box(minx, miny, middle, maxy)
    else:
        half = shapely.box(middle, miny, maxx, maxy)
    parts = sorted(shapely.get_parts(shapely.intersection(zone, half)), key=lambda p: -p.area)
    return parts[0] if parts else zone
