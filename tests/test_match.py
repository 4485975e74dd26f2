"""Matching free text to the standard address library: each level, each messy form, bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from geocode_helpers import NANHU, _row, lattice_grids, small_library
from hypothesis import given, settings
from hypothesis import strategies as st

from gridmap.errors import InputError
from gridmap.geocode import Geocoder
from gridmap.geocode.match import MAX_QUERY_CHARS
from gridmap.model import MATCH_LEVELS


@pytest.fixture(scope="module")
def geocoder() -> Geocoder:
    grids = lattice_grids(120.69, 30.74, 120.78, 30.81, 3, 3)
    return Geocoder.from_frames(small_library(), grids)


def answer(geocoder, text):
    m = geocoder.match(text)
    return m.level, m.address_id


# --- each level ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, level, address_id",
    [
        ("浙江省嘉兴市南湖区建设街道幸福社区中山路58号幸福小区3幢2单元201室", "room", "XF-3-2-201"),
        # a unit, a building, a compound or a road is no one room: no address_id of a room
        ("中山路58号幸福小区3幢2单元", "unit", None),
        ("幸福小区2幢", "building", None),
        ("中华路7号", "door", "ZH-7"),
        ("南湖区幸福小区", "compound", None),
        ("嘉兴市中华路", "road", None),
        ("南湖区建设街道幸福社区", "community", "XF-COMMUNITY"),  # the community's own entry
        ("嘉兴市南湖区建设街道", "town", None),
        ("嘉兴市秀洲区", "district", None),
    ],
)
def test_each_level(geocoder, text, level, address_id):
    m = geocoder.match(text)
    assert (m.level, m.address_id) == (level, address_id)
    assert m.confidence == 1.0
    assert m.lon is not None and m.lat is not None


def test_room_match_carries_point_and_grid(geocoder):
    m = geocoder.match("中山路58号幸福小区1幢1单元101室")
    assert (m.lon, m.lat) == (120.751, 30.7502)
    assert m.grid_code == geocoder.assign([120.751], [30.7502])[0] is not None


def test_group_level_grid_only_when_single(geocoder):
    # the district 秀洲区 has one compound in one grid; 南湖区's places span several grids
    assert geocoder.match("秀洲区").grid_code is not None
    assert geocoder.match("南湖区").grid_code is None


def test_deepest_level_when_the_room_does_not_exist(geocoder):
    m = geocoder.resolve("中山路58号幸福小区3幢2单元909室")
    assert m.guess.level == "unit"
    assert 0.6 <= m.guess.confidence < 1.0
    assert "not in the library" in m.reason


# --- messy forms ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "中山路５８号幸福小区３幢２单元２０１室",  # full-width digits
        "中山路五十八号幸福小区三号楼二单元二〇一室",  # Chinese numerals
        "中山路58号幸福小区3栋2单元201户",  # unit-word variants
        "幸福小区3号楼2单元201",  # bare room number at the end
        "幸福小区3-2-201",  # compound form
        "3幢2单元201室 幸福小区 中山路58号",  # swapped order, spaces
        "南湖区幸福小区3幢2单元201室",  # dropped province and city
        "幸富小区3幢2单元201室",  # one-character typo in the compound
        "嘉兴中山路58号幸福小区3幢2单元201室",  # short form of the city
        "中山路58号幸福小区\t3幢\x002单元\u200b201室",  # control and zero-width characters
    ],
)
def test_messy_forms(geocoder, text):
    assert answer(geocoder, text) == ("room", "XF-3-2-201")


def test_compound_alias(geocoder):
    # 阳光花园 is also written 阳光花园小区
    assert answer(geocoder, "阳光花园小区1幢1单元102室") == ("room", "YG-1-1-102")


def test_user_alias():
    geocoder = Geocoder.from_frames(small_library(), aliases={"老街": "中华路"})
    assert answer(geocoder, "老街7号") == ("door", "ZH-7")


def test_fuzzy_name_confidence_below_exact(geocoder):
    exact = geocoder.match("幸福小区3幢2单元201室")
    fuzzy = geocoder.match("幸富小区3幢2单元201室")
    assert fuzzy.address_id == exact.address_id
    assert fuzzy.confidence < exact.confidence


# --- ambiguity and review --------------------------------------------------------------------
def test_ambiguous_typo_goes_to_review(geocoder):
    # 中三路 is one character from both 中山路 and 中兴路, and both have a 58号
    result = geocoder.resolve("中三路58号")
    assert not result.accepted
    assert result.match.level == "none" and result.match.address_id is None
    assert result.guess.level == "door" and result.guess.address_id in ("XF-1-1-101", "ZX-58")
    assert "another place" in result.reason


def test_ambiguous_room_without_unit_goes_to_review(geocoder):
    result = geocoder.resolve("幸福小区3幢201室")  # room 201 exists in units 1 and 2
    assert not result.accepted
    assert "2 library places" in result.reason


def test_review_threshold_is_configurable():
    lib = small_library()
    strict = Geocoder.from_frames(lib, review_threshold=0.99)
    lax = Geocoder.from_frames(lib, review_threshold=0.2)
    assert strict.match("幸富小区3幢2单元201室").level == "none"
    assert lax.match("幸福小区3幢201室").level == "room"
    with pytest.raises(ValueError):
        Geocoder.from_frames(lib, review_threshold=1.5)


def test_contradicting_district_is_not_accepted(geocoder):
    result = geocoder.resolve("秀洲区中山路58号幸福小区1幢")
    assert not result.accepted
    assert "contradict" in result.reason


def chaoyang_library() -> pd.DataFrame:
    """A library in 吉林省长春市, whose 朝阳区 shares its name with Beijing's."""
    place = dict(
        prov="吉林省", city="长春市", district="朝阳区", town="红旗街道", community="红旗社区"
    )
    return pd.DataFrame(
        [
            _row("CC-1", 125.30, 43.88, road="建国路", roadno="88号", **place),
            _row("CC-2", 125.31, 43.88, road="建国路", roadno="90号", **place),
        ]
    )


def test_ambiguous_district_resolves_inside_the_configured_city():
    geocoder = Geocoder.from_frames(chaoyang_library(), city="吉林省长春市")
    assert answer(geocoder, "朝阳区建国路88号") == ("door", "CC-1")
    assert answer(geocoder, "长春市朝阳区建国路88号") == ("door", "CC-1")
    beijing = geocoder.resolve("北京市朝阳区建国路88号")
    assert beijing.match.level == "none" and beijing.guess.address_id is None
    assert "北京市" in beijing.reason and "长春市" in beijing.reason


def test_lanes_and_lane_doors():
    place = dict(prov="上海市", city="上海市", district="长宁区")
    lib = pd.DataFrame(
        [
            _row("L-802", 121.42, 31.22, road="长宁路", roadno="58弄", houseno="11号",
                 roomno="802室", **place),
            _row("L-DOOR", 121.43, 31.22, road="四川中路", roadno="126弄5号", **place),
            _row("L-15A", 121.44, 31.22, road="中山东一路", roadno="15甲号", **place),
            _row("L-RANGE", 121.45, 31.22, road="张杨路", roadno="628弄4-7号", **place),
        ]
    )  # fmt: skip
    geocoder = Geocoder.from_frames(lib)
    assert answer(geocoder, "长宁路58弄11-802") == ("room", "L-802")
    assert answer(geocoder, "长宁区长宁路五十八弄11号802室") == ("room", "L-802")
    assert answer(geocoder, "四川中路126弄5号") == ("door", "L-DOOR")
    assert answer(geocoder, "中山东一路15甲号") == ("door", "L-15A")
    # a lane door holds its number: a typo in the road (张山路) still gives the door
    m = geocoder.match("张山路628弄4~7号")
    assert (m.level, m.address_id) == ("door", "L-RANGE") and m.confidence > 0.6


def typo_library() -> pd.DataFrame:
    """Names that typos turn into one another: 府南苑 / 府南小区, 南湖(区) / 南湖小区."""
    nanhu = dict(district="南湖区", town="建设街道", community="幸福社区")
    xiuzhou = dict(district="秀洲区", town="新城街道", community="东升社区")
    rooms = dict(houseno="15幢", cellno="2单元")
    return pd.DataFrame(
        [
            _row("FNY", 120.71, 30.75, road="银杏路", roadno="335号", poi="府南苑", roomno="101室",
                 **rooms, **nanhu),
            _row("FNX", 120.72, 30.75, road="放鹤路", roadno="197号", poi="府南小区",
                 roomno="1101室", **rooms, **xiuzhou),
            _row("NHX", 120.73, 30.75, road="中环路", roadno="118号", poi="南湖小区",
                 roomno="1001室", **rooms, **xiuzhou),
            _row("BHF", 120.74, 30.75, road="中环路", roadno="202号", poi="百花华府",
                 roomno="101室", **rooms, **nanhu),
        ]
    )  # fmt: skip


def test_a_typo_that_contains_another_name():
    # 府南小区 mistyped 府南苑区 contains the real name 府南苑, which has no room 1101
    geocoder = Geocoder.from_frames(typo_library())
    assert answer(geocoder, "府南苑区15幢2单元1101室") == ("room", "FNX")


def test_a_short_form_district_inside_a_misspelt_name_is_weak_evidence():
    # 南湖小区 mistyped 南湖富区: 南湖 reads as the short form of 南湖区, which the door is not in
    geocoder = Geocoder.from_frames(typo_library())
    assert answer(geocoder, "中环路118号南湖富区15幢2单元1001室") == ("room", "NHX")
    strong = geocoder.resolve("南湖区中环路118号15幢2单元1001室")
    assert strong.guess.address_id == "NHX" and not strong.accepted  # the full name contradicts


def test_a_name_followed_by_a_misspelt_rest_of_a_longer_name_is_doubtful():
    rooms = dict(houseno="13幢", cellno="1单元", roomno="202室")
    lib = pd.DataFrame(
        [
            _row("DH", 120.71, 30.75, road="中环路", roadno="1482号", poi="东湖小区", **rooms,
                 **NANHU),
            _row("DH4", 120.72, 30.75, road="禾平街", roadno="113号", poi="东湖小区四期",
                 **rooms, district="秀洲区", town="高照街道", community="洪高社区"),
        ]
    )  # fmt: skip
    geocoder = Geocoder.from_frames(lib)
    assert answer(geocoder, "东湖小区13-1-202") == ("room", "DH")
    assert answer(geocoder, "东湖小区四期13-1-202") == ("room", "DH4")
    typo = geocoder.resolve("东湖小区冬期13-1-202")  # 四期 mistyped: either could be meant
    assert not typo.accepted and typo.guess.level == "room"


def huafu_library() -> pd.DataFrame:
    """中央华府 on 梅湾街 (新城街道), the only compound there with a building 6."""
    rooms = dict(houseno="6幢", cellno="2单元", roomno="202室")
    town = dict(district="秀洲区", town="新城街道", community="清河社区")
    return pd.DataFrame(
        [
            _row("HF", 120.71, 30.75, road="梅湾街", roadno="364号", poi="中央华府", **rooms,
                 **town),
            _row("ZS", 120.72, 30.75, road="中山路", roadno="58号", **NANHU),
        ]
    )  # fmt: skip


@pytest.mark.parametrize(
    "text, accepted",
    [
        ("中央华富6幢2单元202室", True),  # a slip in the distinctive part: the same compound
        ("中央华城6幢2单元202室", False),  # another type word: another city's 中央华城
        ("梅湾街364号中央华城6幢2单元202室", True),  # ... unless its road and door confirm it
        ("梅湾街中央华城6-2-202", True),
    ],
)
def test_a_name_with_another_type_word_is_another_place_unless_confirmed(text, accepted):
    result = Geocoder.from_frames(huafu_library()).resolve(text)
    assert result.guess.address_id == "HF"
    assert result.accepted is accepted
    if not accepted:  # not answered, but offered to choose
        assert result.match.level == "none" and result.match.address_id is None
        assert [c.address_id for c in result.match.candidates] == ["HF"]
        assert "type word" in result.reason


def test_a_road_with_another_type_word_is_another_road():
    geocoder = Geocoder.from_frames(huafu_library())
    assert answer(geocoder, "中三路58号") == ("door", "ZS")  # a slip
    assert answer(geocoder, "中山街58号") == ("none", None)  # 中山街 is another street


@pytest.mark.parametrize("text", ["新城街道6幢2单元202室", "东湖新城6幢2单元202室"])
def test_a_building_located_by_admin_unit_alone_goes_to_review(text):
    # the town holds one building 6 in this library, but no road or compound says it is meant
    result = Geocoder.from_frames(huafu_library()).resolve(text)
    assert result.guess.address_id == "HF" and not result.accepted
    assert "admin unit only" in result.reason
    assert answer(Geocoder.from_frames(huafu_library()), "清河社区") == ("community", None)


def test_a_fuzzy_guess_at_an_admin_unit_is_no_evidence_against_a_match(geocoder):
    # 中化路 is a typo of 中华路 (南湖区); 和乎社区 is close to 和平社区 (秀洲区): that guess must
    # not count against the door
    m = geocoder.match("中化路7号和乎社区")
    assert (m.level, m.address_id) == ("door", "ZH-7")
    # ... but it is text the answer does not use: 2/3 for the typo, times 0.95
    assert m.confidence == pytest.approx(2 / 3 * 0.95, abs=0.01)


def test_xiaoqu_after_a_phase_name_is_not_a_misspelling():
    rooms = dict(houseno="1幢", cellno="1单元", roomno="101室")
    lib = pd.DataFrame(
        [
            _row("P2", 120.71, 30.75, road="子城街", roadno="1号", poi="书香公寓二期", **rooms,
                 **NANHU),
            _row("P3", 120.72, 30.75, road="子城街", roadno="3号", poi="书香公寓小区", **rooms,
                 **NANHU),
        ]
    )  # fmt: skip
    geocoder = Geocoder.from_frames(lib)
    m = geocoder.match("书香公寓二期小区1幢1单元101室")
    assert (m.level, m.address_id, m.confidence) == ("room", "P2", 1.0)


def test_grids_and_boundaries_need_their_columns():
    grids = lattice_grids(120.69, 30.74, 120.78, 30.81, 1, 1).rename(columns={"grid_code": "code"})
    with pytest.raises(InputError, match="grids: missing column"):
        Geocoder.from_frames(small_library(), grids)
    with pytest.raises(InputError, match="lib.csv: missing column"):
        Geocoder.from_frames(small_library().drop(columns=["lon"]), source="lib.csv")


def test_empty_grid_and_boundary_layers_count_as_none():
    import geopandas as gpd

    geocoder = Geocoder.from_frames(small_library(), gpd.GeoDataFrame(), gpd.GeoDataFrame())
    m = geocoder.match("中华路7号")
    assert m.address_id == "ZH-7" and m.grid_code is None
    assert geocoder.assign([120.76], [30.76]).tolist() == [None]


def test_city_defaults_to_the_library_city():
    geocoder = Geocoder.from_frames(chaoyang_library())
    assert geocoder.matcher.city_label == "吉林省长春市"


# --- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty"),
        ("   \t ", "empty"),
        (None, "empty"),
        ("hello world 123", "no Chinese"),
        ("\x00\x01\x02", "empty"),
        ("杭州市西湖区文三路100号", "outside the library city"),
        ("上海市黄浦区中山东一路1号", "outside the library city"),
        ("朝阳区建国路88号", "not a district"),
        ("天气很好我们去公园", "no road, compound"),
    ],
)
def test_bad_queries_give_level_none_with_a_reason(geocoder, text, reason):
    result = geocoder.resolve(text)
    assert result.match.level == "none" and result.match.address_id is None
    assert reason in result.reason


def test_long_strings_are_refused_quickly(geocoder):
    started = time.perf_counter()
    for text in ("中山路58号" * 700, "x" * 4000, "幸" * 4000):
        result = geocoder.resolve(text)
        assert result.match.level == "none"
        assert "too long" in result.reason
    assert len("中山路58号" * 700) > MAX_QUERY_CHARS
    assert time.perf_counter() - started < 1.0


def test_duplicate_address_id_is_refused_naming_the_rows():
    lib = small_library()
    lib.loc[5, "address_id"] = lib.loc[2, "address_id"]
    with pytest.raises(InputError) as error:
        Geocoder.from_frames(lib, source="lib.csv")
    text = str(error.value)
    assert "lib.csv: row 4: field address_id: duplicate address_id 'XF-1-1-201'" in text
    assert "rows 7" in text


def test_library_points_outside_all_grids_are_listed_and_carry_no_grid():
    grids = lattice_grids(120.74, 30.74, 120.78, 30.78, 2, 2)  # 阳光花园 (120.70, 30.80) is out
    geocoder = Geocoder.from_frames(small_library(), grids)
    assert geocoder.unassigned == ["YG-1-1-101", "YG-1-1-102"]
    m = geocoder.match("阳光花园1幢1单元101室")
    assert m.level == "room" and m.address_id == "YG-1-1-101" and m.grid_code is None


def test_match_many_keeps_every_input(geocoder):
    texts = ["幸福小区1幢1单元101室", "", None, "x" * 4000, "中华路7号"]
    matches = geocoder.match_many(texts)
    assert [m.level for m in matches] == ["room", "none", "none", "none", "door"]


def test_library_without_component_columns_is_split_from_its_text():
    lib = small_library()[["address_id", "address", "lon", "lat"]]
    geocoder = Geocoder.from_frames(lib, city="浙江省嘉兴市")
    assert answer(geocoder, "幸福小区3幢2单元201室") == ("room", "XF-3-2-201")
    assert answer(geocoder, "中华路7号") == ("door", "ZH-7")
    assert answer(geocoder, "南湖区建设街道幸福社区") == ("community", "XF-COMMUNITY")


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_an_answer_in_range(text):
    result = _SHARED.resolve(text)
    assert 0.0 <= result.guess.confidence <= 1.0
    assert result.match.level in MATCH_LEVELS


_SHARED = Geocoder.from_frames(
    pd.concat([small_library(), pd.DataFrame([_row("EXTRA", 120.8, 30.8, road="一路", **NANHU)])])
)


SHANGHAI = (
    Path(__file__).resolve().parents[1].parent / "shared/data/shanghai-bund/buildings.geojson"
)


def test_real_osm_addresses_of_the_bund_match_at_door_level():
    assert SHANGHAI.exists(), f"missing shared data {SHANGHAI} (see ../shared/data/README.md)"
    import geopandas as gpd

    frame = gpd.read_file(SHANGHAI)
    points = frame[(frame["kind"] == "address") & frame["addr_street"].notna()]
    points = points[points["addr_street"].str.contains(r"[\u4e00-\u9fff]")]
    numbers = points["addr_housenumber"].astype(str).str.strip()
    points = points[numbers.str.fullmatch(r"\d+")]
    library = pd.DataFrame(
        {
            "address_id": "osm-" + points["id"].astype(str),
            "address": points["addr_street"] + points["addr_housenumber"] + "号",
            "lon": points.geometry.representative_point().x,
            "lat": points.geometry.representative_point().y,
            "city": "上海市",
            "road": points["addr_street"],
            "roadno": points["addr_housenumber"].astype(str) + "号",
        }
    ).drop_duplicates(subset=["road", "roadno"])
    assert len(library) > 80
    geocoder = Geocoder.from_frames(library)
    for row in library.itertuples():
        number = row.roadno[:-1].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
        m = geocoder.match(f"上海市 {row.road} {number}号")
        assert (m.level, m.address_id) == ("door", row.address_id)
    assert geocoder.match("上海市中山东一路99999号").level == "road"


# --- forms people write (issue 11) -------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "幸福小区3幢2单元201号",  # 号 after a unit is the room, not a second door number
        "中山路58号3号楼2单元201户",
        "幸福小区3栋2单元201",
        "南湖区幸福小区三号楼二单元二〇一",
        "嘉興市南湖區中山路58號幸福小區3號樓2單元201室",  # traditional characters
        "居民反映幸福小区3幢2单元201室楼下漏水",
    ],
)
def test_rooms_in_the_forms_people_write(geocoder, text):
    m = geocoder.match(text)
    assert (m.level, m.address_id) == ("room", "XF-3-2-201")
    assert m.approximate is False and m.highlight is None


def test_a_room_the_match_ignores_is_never_certain(geocoder):
    # the unit exists, room 9901 does not: the answer is the unit, not 1.0, with no room's id
    m = geocoder.match("幸福小区3幢2单元9901号")
    assert (m.level, m.address_id) == ("unit", None) and m.confidence < 1.0
    # two rooms written: whichever is answered, the other was not used
    two = geocoder.match("幸福小区3幢2单元201室202室")
    assert two.confidence < 1.0


def suffix_library() -> pd.DataFrame:
    rooms = dict(houseno="1幢", cellno="1单元", roomno="101室")
    xiuzhou = dict(district="秀洲区", town="新城街道", community="和平社区")
    return pd.DataFrame(
        [
            _row("ZY", 120.71, 30.75, road="栅堰巷", roadno="42号", poi="禾兴雅苑", **rooms,
                 **NANHU),
            _row("ZS-N", 120.72, 30.75, road="中山路", roadno="9号", **NANHU),
            _row("ZS-X", 120.73, 30.76, road="中山街", roadno="9号", **xiuzhou),
            _row("YG", 120.74, 30.76, road="香樟街", roadno="3号", poi="阳光花园", **rooms,
                 **xiuzhou),
            _row("WK1", 120.75, 30.75, road="栅堰巷", roadno="50号", poi="万科小区", **rooms,
                 **NANHU),
            _row("WK2", 120.76, 30.76, road="香樟街", roadno="8号", poi="万科花园", **rooms,
                 **xiuzhou),
        ]
    )  # fmt: skip


def test_dropped_suffixes_match_when_unique_in_their_admin_context():
    geocoder = Geocoder.from_frames(suffix_library())
    assert answer(geocoder, "栅堰42号1幢1单元101室") == ("room", "ZY")  # 栅堰巷
    assert answer(geocoder, "禾兴雅1幢1单元101") == ("room", "ZY")  # 禾兴雅苑
    assert answer(geocoder, "阳光1栋1单元101户") == ("room", "YG")  # 阳光花园
    # 中山 is 中山路 (南湖区) or 中山街 (秀洲区): the district decides, else the caller chooses
    assert answer(geocoder, "南湖区中山9号") == ("door", "ZS-N")
    assert answer(geocoder, "秀洲区中山9号") == ("door", "ZS-X")
    both = geocoder.match("中山9号")
    assert both.level == "none" and {c.address_id for c in both.candidates} == {"ZS-N", "ZS-X"}
    # 万科 is 万科小区 (南湖区) or 万科花园 (秀洲区)
    assert answer(geocoder, "秀洲区万科1幢1单元101室") == ("room", "WK2")
    assert geocoder.match("万科1幢1单元101室").level == "none"


def test_a_suffixless_name_running_on_into_other_text_names_something_else():
    geocoder = Geocoder.from_frames(suffix_library())
    # 阳光城市家园 (another city's compound) is not 阳光花园, though 阳光花园 has 1幢1单元101室
    m = geocoder.match("阳光城市家园1幢1单元101室")
    assert m.level == "none" or LEVELS.index(m.level) >= LEVELS.index("door")


def test_two_compounds_named_is_no_certain_room():
    geocoder = Geocoder.from_frames(suffix_library())
    m = geocoder.resolve("万科阳光花园1幢1单元101室")  # 万科 + 阳光花园: which one?
    assert not m.accepted or m.match.confidence < 0.6


LEVELS = list(MATCH_LEVELS)


def test_ambiguous_query_lists_its_candidates(geocoder):
    # 中X路58号: 中山路58号 (幸福小区) or 中兴路58号, equally close
    m = geocoder.match("中心路58号")
    assert m.level == "none" and len(m.candidates) >= 2
    assert {c.level for c in m.candidates} == {"door"}
    for candidate in m.candidates:
        assert 0 < candidate.confidence < 1 and candidate.reason and candidate.label
        assert candidate.lon is not None and candidate.lat is not None
    assert len(m.candidates) <= 5
    # a candidate's label finds that place again
    again = geocoder.match(m.candidates[0].label)
    assert again.level == "door" and again.confidence >= 0.95


def road_library() -> pd.DataFrame:
    return pd.DataFrame(
        [
            _row(f"HP-{n}", 120.70 + 0.001 * n, 30.75 + 0.0001 * n, road="禾平街",
                 roadno=f"{n}号", **NANHU)
            for n in (1, 3, 5, 7, 9)
        ]
    )  # fmt: skip


def test_a_road_match_highlights_the_road_not_a_room():
    geocoder = Geocoder.from_frames(road_library())
    m = geocoder.match("禾平街")
    assert (m.level, m.address_id) == ("road", None)
    assert m.approximate is True and m.label == "南湖区建设街道幸福社区禾平街"
    assert m.highlight["type"] == "LineString" and len(m.highlight["coordinates"]) == 5
    # its point is the middle of the line, not any door's
    assert m.lon == pytest.approx(120.705, abs=1e-6) and m.lat == pytest.approx(30.7505, abs=1e-6)


def test_a_road_match_uses_the_road_line_when_the_geocoder_has_roads():
    import geopandas as gpd
    from shapely import LineString

    roads = gpd.GeoDataFrame(
        {"name": ["禾平街", "别的路"], "kind": ["road", "road"]},
        geometry=[LineString([(120.69, 30.75), (120.72, 30.752)]), LineString([(0, 0), (1, 1)])],
        crs="EPSG:4490",
    )
    geocoder = Geocoder.from_frames(road_library(), roads=roads)
    m = geocoder.match("禾平街")
    assert m.highlight == {"type": "LineString", "coordinates": [[120.69, 30.75], [120.72, 30.752]]}
    assert m.lon == pytest.approx(120.705) and m.approximate


def test_a_compound_match_highlights_its_outline(geocoder):
    from shapely.geometry import Point, shape

    m = geocoder.match("南湖区幸福小区")
    assert (m.level, m.address_id) == ("compound", None) and m.approximate
    outline = shape(m.highlight)
    assert outline.geom_type == "Polygon"
    for lon, lat in [(120.751, 30.7502), (120.753, 30.7504)]:  # its buildings
        assert outline.contains(Point(lon, lat))
    assert outline.contains(Point(m.lon, m.lat))


def test_each_compound_outline_is_the_padded_hull_of_its_own_entries():
    """The outlines drawn for every compound at once with the index are each compound's own
    (and a compound narrowed by a road is drawn around that road's part of it only)."""
    from shapely import MultiPoint
    from shapely.geometry import shape

    points = {
        "幸福小区": [(120.750, 30.750), (120.752, 30.750), (120.751, 30.753), (120.750, 30.750)],
        "阳光花园": [(120.700, 30.800), (120.701, 30.801)],
        "梅园": [(120.720, 30.720)],
    }
    rows = [
        _row(f"{poi}-{i}", lon, lat, road="中山路", roadno=f"{n}号", poi=poi,
             houseno=f"{i + 1}幢", **NANHU)
        for n, (poi, spots) in enumerate(points.items(), start=1)
        for i, (lon, lat) in enumerate(spots)
    ]  # fmt: skip
    # 幸福小区 also has a building on another road, far east
    rows.append(_row("幸福小区-east", 120.760, 30.750, road="解放路", roadno="3号",
                     poi="幸福小区", houseno="9幢", **NANHU))  # fmt: skip
    geocoder = Geocoder.from_frames(pd.DataFrame(rows))

    def hull(spots):
        return MultiPoint(spots).convex_hull.buffer(0.0002, quad_segs=4)

    points["幸福小区"].append((120.760, 30.750))
    for poi, spots in points.items():
        m = geocoder.match(f"南湖区{poi}")
        assert m.level == "compound"
        # equal but for the 1e-7 degree rounding of the GeoJSON coordinates
        assert shape(m.highlight).hausdorff_distance(hull(spots)) < 1e-6, poi
    m = geocoder.match("南湖区解放路幸福小区")
    assert m.level == "compound"
    assert shape(m.highlight).hausdorff_distance(hull([(120.760, 30.750)])) < 1e-6


def test_a_vague_address_keeps_its_level_and_never_borrows_a_room(geocoder):
    m = geocoder.match("浙江省嘉兴市南湖区")
    assert (m.level, m.address_id) == ("district", None)
    assert m.approximate and m.highlight is None and m.label == "南湖区"
    # the centroid of the district's entries, not one room's point
    rooms = small_library()
    nanhu = rooms[rooms["district"] == "南湖区"]
    assert m.lon == pytest.approx(nanhu["lon"].mean()) and m.lat == pytest.approx(
        nanhu["lat"].mean()
    )


def test_a_building_known_only_by_its_rooms_has_no_address_id(geocoder):
    m = geocoder.match("幸福小区2幢")
    assert (m.level, m.address_id, m.label) == (
        "building",
        None,
        "南湖区建设街道幸福社区中山路58号幸福小区2幢",
    )
    assert m.approximate  # its two units stand apart in the library


def test_the_web_answer_shape_carries_candidates_and_highlight(geocoder):
    from web.datum import Datum
    from web.geocoding import answer as shape_answer

    road = shape_answer(geocoder.match("嘉兴市中华路"), Datum("gcj02"))
    assert road["level"] == "road" and road["approximate"] is True and road["address_id"] is None
    assert road["lon"] != 120.760  # shifted to the display datum
    ambiguous = shape_answer(geocoder.match("中心路58号"), Datum("wgs84"))
    assert ambiguous["level"] == "none" and len(ambiguous["candidates"]) >= 2
    assert set(ambiguous["candidates"][0]) >= {"level", "confidence", "reason", "label", "lon"}


# --- the parser in service of the matcher ------------------------------------------------------
def test_the_parser_derives_components_of_a_library_without_them():
    from gridmap.geocode.parse import AddressParser

    def labelled(**parts):
        return [
            (ch, ("B-" if i == 0 else "I-") + label)
            for label, text in parts.items()
            for i, ch in enumerate(text)
        ]

    history = [
        labelled(city=c, road=r, roadno=n, poi=p) if p else labelled(city=c, road=r, roadno=n)
        for c in ("上海", "上海市")
        for r in ("九江路", "中山东一路", "四川中路", "南京东路", "滇池路")
        for n, p in (("12号", ""), ("8号", "大楼"), ("120号", ""))
    ]
    parser = AddressParser(max_iterations=60).fit(history * 3)
    # register lines as clerks type them: no component columns, no standard form
    library = pd.DataFrame(
        {
            "address_id": ["a", "b", "c"],
            "address": ["上海九江路 89号", "上海四川中路220号", "上海滇池路33号"],
            "lon": [121.48, 121.49, 121.50],
            "lat": [31.23, 31.24, 31.25],
        }
    )
    plain = Geocoder.from_frames(library, city="上海市")
    parsed = Geocoder.from_frames(library, city="上海市", parser=parser)
    # the standard-form splitter reads 上海四川中路 as the road (a city is written 上海市): only a
    # fuzzy guess finds the door; the parser reads 上海 as the city
    assert plain.match("四川中路220号").confidence < 0.7
    found = parsed.match("四川中路220号")
    assert (found.level, found.address_id, found.confidence) == ("door", "b", 1.0)
    assert answer(parsed, "九江路89号") == ("door", "a")


# --- the fuzzy search's character filter never drops a name close enough ----------------------
_NAME_CHARS = "幸福小区阳光花园中山路华府央城东湖新村苑"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_NAME_CHARS, min_size=2, max_size=8))
def test_the_character_filter_keeps_every_name_alike_enough(residue):
    from rapidfuzz.distance import Levenshtein

    from gridmap.geocode.match import FUZZY_CUTOFF

    matcher = _FILTER_GEOCODER.matcher
    kept = set(matcher._near(residue, None))
    for i, spelling in enumerate(matcher._spelt):
        if Levenshtein.normalized_similarity(residue, spelling) >= FUZZY_CUTOFF / 100:
            assert i in kept, (residue, spelling)


_FILTER_GEOCODER = Geocoder.from_frames(small_library())
