"""Every normalisation rule, on messy forms taken from real labelled addresses."""

from __future__ import annotations

import unicodedata

import pytest

from gridmap.geocode.normalize import chinese_number, door_parts, normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # CJK radicals NFKC leaves alone, and Kangxi radicals NFKC folds
        ("⻄湖区⻓⻔路", "西湖区长门路"),
        ("⻩龙⻢路", "黄龙马路"),
        ("⾭年路", "青年路"),
        ("⼭东路", "山东路"),
        # full-width digits, letters and brackets
        ("文一西路９６９号", "文一西路969号"),
        ("Ｂ座５层", "B幢5层"),
        ("东阳诚心木线（富阳店）", "东阳诚心木线(富阳店)"),
        # case
        ("k18-1-2203", "K18幢1单元2203室"),
        # spaces: between Chinese removed, between digits a separator, between letters kept
        ("浙江省 杭州市 滨江区 六和路", "浙江省杭州市滨江区六和路"),
        ("3 2 1303", "3幢2单元1303室"),
        ("Tower A", "TOWER A"),
        ("良渚街道\t沈港路\x0011号", "良渚街道沈港路11号"),
        # punctuation removed or unified
        ("浙江省,杭州市、滨江区。六和路“东信大道”", "浙江省杭州市滨江区六和路东信大道"),
        ("六和路 ---- 东信大道", "六和路-东信大道"),
        ("12—3—1001", "12幢3单元1001室"),
        ("12#楼", "12幢"),
        ("3#", "3号"),
        # 〇 and friends inside numbers
        ("二〇一室", "201室"),
        ("1〇2室", "102室"),
        ("三五零二室", "3502室"),
        # Chinese numerals before unit words only
        ("七栋六楼", "7幢6层"),
        ("三号楼", "3幢"),
        ("十二层", "12层"),
        ("二十三弄", "23弄"),
        ("一单元", "1单元"),
        ("九十二幢", "92幢"),
        ("二百四十八号", "248号"),
        ("两号楼", "2幢"),
        ("第八栋", "8幢"),
        ("第四层", "4层"),
        ("沿山村五组六号", "沿山村5组6号"),
        ("幸福一村", "幸福一村"),
        ("第一人民医院", "第一人民医院"),
        ("千户苗寨", "千户苗寨"),
        ("朝阳新区三街", "朝阳新区三街"),
        # unit words
        ("3栋", "3幢"),
        ("3号楼", "3幢"),
        ("A座", "A幢"),
        ("2楼", "2层"),
        ("502户", "502室"),
        ("负一楼", "-1层"),
        ("地下2层", "-2层"),
        ("负三楼", "-3层"),
        # compound forms
        ("长宁路58弄11-802", "长宁路58弄11幢802室"),
        ("3-2-1303", "3幢2单元1303室"),
        ("K18-1-2203", "K18幢1单元2203室"),
        ("缤纷北苑47-6-746", "缤纷北苑47幢6单元746室"),
        ("赞成美树14-9-1456室", "赞成美树14幢9单元1456室"),
        ("3幢2-1303", "3幢2单元1303室"),
        ("竹海水韵春风里5-302", "竹海水韵春风里5幢302室"),
        ("蒋村花园新达苑18幢二单元101", "蒋村花园新达苑18幢2单元101室"),
        # a room after a unit or floor, however it is written (号, 户, nothing)
        ("阳光华府1幢1单元402号", "阳光华府1幢1单元402室"),
        ("2单元201号张三家", "2单元201室张三家"),
        ("幸福小区3号楼2单元201户", "幸福小区3幢2单元201室"),
        ("3号楼二单元201 电话", "3幢2单元201室电话"),
        ("3幢2单元12层1203", "3幢2单元12层1203室"),
        ("景湖佳苑7幢2单元201楼下", "景湖佳苑7幢2单元201室楼下"),
        # ... or a 3+ digit number right after a building
        ("6号楼1303号", "6幢1303室"),
        ("6栋1303", "6幢1303室"),
        ("2单元3号", "2单元3号"),  # one digit: not a room number
        # traditional and variant characters (OpenCC hk2s)
        ("嘉興市南湖區中山路58號3號樓2單元1303室", "嘉兴市南湖区中山路58号3幢2单元1303室"),
        ("秀洲區新城街道東昇社區竹林街119號百花花園", "秀洲区新城街道东升社区竹林街119号百花花园"),
        ("灣仔衞生院", "湾仔卫生院"),
        ("裡仁街", "里仁街"),
        # door ranges and sub-numbers stay
        ("17-19号", "17-19号"),
        ("31-2号", "31-2号"),
        ("凤起路2648-117", "凤起路2648-117"),
    ],
)
def test_rule(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_idempotent_on_messy_forms() -> None:
    for raw in ["长宁路58弄11-802", "幸福一村三号楼二单元１３０３户", "K18-1-2203", "负一楼"]:
        once = normalize(raw)
        assert normalize(once) == once


def test_every_cjk_radical_supplement_glyph_we_map_is_an_ideograph() -> None:
    mapped = normalize("".join(chr(c) for c in range(0x2E80, 0x2F00)))
    for ch in mapped:
        assert "CJK RADICAL" not in unicodedata.name(ch, ""), ch


def test_empty_and_punctuation_only() -> None:
    assert normalize("") == ""
    assert normalize("  ，。  ") == ""


@pytest.mark.parametrize(
    ("numeral", "value"),
    [("十", 10), ("十二", 12), ("二十", 20), ("二十三", 23), ("一百零五", 105), ("三五〇二", 3502)],
)
def test_chinese_number(numeral: str, value: int) -> None:
    assert chinese_number(numeral) == value


@pytest.mark.parametrize(
    ("raw", "parts"),
    [
        ("长宁路58弄11-802", {"lane": "58", "building": "11", "room": "802"}),
        ("3-2-1303", {"building": "3", "unit": "2", "room": "1303"}),
        ("K18-1-2203", {"building": "K18", "unit": "1", "room": "2203"}),
        (
            "中山路1号三号楼二单元十二层1203户",
            {"door": "1", "building": "3", "unit": "2", "floor": "12", "room": "1203"},
        ),
        ("沿山村五组六号", {"door": "6", "group": "5"}),
        ("幸福一村", {}),
    ],
)
def test_door_parts(raw: str, parts: dict[str, str]) -> None:
    assert door_parts(raw) == parts
