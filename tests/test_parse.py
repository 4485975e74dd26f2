"""The column-format reader, the conlleval chunk scorer and the CRF address parser."""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from gridmap.errors import InputError
from gridmap.geocode.conll import chunks, parse_conll, read_conll, score_chunks
from gridmap.geocode.features import Lexicon, featurize, tokenize
from gridmap.geocode.parse import AddressParser

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "address-parsing"


def _labelled(name: str) -> list:
    path = DATA / name
    if not path.exists():
        pytest.fail(f"labelled address data missing: {path} (../shared/data/address-parsing)")
    return read_conll(path)


# --- reader -------------------------------------------------------------------------------------
def test_reader_splits_addresses_and_folds_label_case(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("金 B-devZone\n华 I-devZone\n\n\n1 B-subRoadno\n号 I-subRoadno\n", "utf-8")
    assert read_conll(path) == [
        [("金", "B-devzone"), ("华", "I-devzone")],
        [("1", "B-subroadno"), ("号", "I-subroadno")],
    ]


def test_reader_names_every_bad_line() -> None:
    with pytest.raises(InputError) as raised:
        parse_conll(["金 B-city", "华", "市 X-city", "", "1 B-roadno"], "t.txt")
    assert [(p.file, p.row) for p in raised.value.problems] == [("t.txt", 2), ("t.txt", 3)]


def test_reader_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_conll(tmp_path / "nope.txt")


def test_reader_reads_the_real_files() -> None:
    train = _labelled("train.txt")
    assert len(train) == 8957
    assert train[0][:3] == [("龙", "B-town"), ("山", "I-town"), ("镇", "I-town")]
    labels = {tag[2:] for address in train for _, tag in address}
    expected = set((DATA / "labels.txt").read_text("utf-8").split())
    assert labels <= expected  # devZone/subRoad folded into the labels.txt names


# --- chunks and scores (hand-computed) ----------------------------------------------------------
def test_chunks_follow_conlleval() -> None:
    tags = ["B-city", "I-city", "B-district", "I-district", "I-road", "O", "I-poi", "I-poi"]
    # I-road after district starts a road chunk; I-poi after O starts a poi chunk
    assert chunks(tags) == [("city", 0, 2), ("district", 2, 4), ("road", 4, 5), ("poi", 6, 8)]
    assert chunks(["B-roadno", "B-roadno"]) == [("roadno", 0, 1), ("roadno", 1, 2)]
    assert chunks([]) == []


def test_scores_by_hand() -> None:
    gold = [
        ["B-road", "I-road", "B-roadno", "I-roadno"],  # road, roadno
        ["B-poi", "I-poi", "I-poi", "B-houseno"],  # poi, houseno
    ]
    predicted = [
        ["B-road", "I-road", "B-roadno", "I-roadno"],  # both right
        ["B-poi", "I-poi", "B-subpoi", "B-houseno"],  # poi too short, subpoi spurious, houseno ok
    ]
    scores = score_chunks(gold, predicted)
    overall = scores["overall"]
    assert (overall.correct, overall.predicted, overall.gold) == (3, 5, 4)
    assert overall.precision == pytest.approx(60.0)
    assert overall.recall == pytest.approx(75.0)
    assert overall.f1 == pytest.approx(2 * 60 * 75 / 135)
    assert (scores["poi"].correct, scores["poi"].predicted, scores["poi"].gold) == (0, 1, 1)
    assert scores["poi"].f1 == 0.0
    assert scores["subpoi"].precision == 0.0 and scores["subpoi"].gold == 0
    assert scores["road"].f1 == pytest.approx(100.0)


def test_scores_reject_misaligned_sequences() -> None:
    with pytest.raises(ValueError, match="address 0"):
        score_chunks([["B-road"]], [["B-road", "I-road"]])


# --- features -----------------------------------------------------------------------------------
def test_tokens_match_the_labelled_data() -> None:
    assert tokenize("滨康路1037号 K18-1") == ["滨", "康", "路", "1037", "号", "K", "18", "-", "1"]
    assert tokenize("null小区") == ["null", "小", "区"]


def test_features_mark_repeats_keywords_and_names() -> None:
    data = [
        [("杭", "B-city"), ("州", "I-city"), ("市", "I-city"), ("文", "B-road"), ("路", "I-road")]
    ]
    lexicon = Lexicon.learn(data * 5)
    rows = featurize(tokenize("杭州市文路杭州市"), lexicon)
    assert "rp=B" in rows[5] and "rp=E" in rows[7]  # the second 杭州市 repeats the first
    assert "rn=B" in rows[0]  # ... and the first is repeated later
    assert "g=Bcity" in rows[0] and "g=Ecity" in rows[2]
    assert "nx=city2" in rows[0] and "pv=city" in rows[3]  # 市 is two tokens ahead


# --- parser -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_parser() -> AddressParser:
    return AddressParser(max_iterations=50).fit(_labelled("train.txt")[:800])


def test_parser_on_held_out_addresses(small_parser: AddressParser) -> None:
    held_out = _labelled("dev.txt")[:400]
    predicted = [small_parser.tag([token for token, _ in address]) for address in held_out]
    score = score_chunks([[tag for _, tag in address] for address in held_out], predicted)
    # 800 training addresses reach about 85; the full training file about 88.5
    assert score["overall"].f1 > 78


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "浙江省杭州市滨江区滨康路1037号",
            [
                ("prov", "浙江省"),
                ("city", "杭州市"),
                ("district", "滨江区"),
                ("road", "滨康路"),
                ("roadno", "1037号"),
            ],
        ),
        (
            "杭州市西湖区文三路90号东部软件园3号楼5楼",
            [
                ("city", "杭州市"),
                ("district", "西湖区"),
                ("road", "文三路"),
                ("roadno", "90号"),
                ("poi", "东部软件园"),
                ("houseno", "3号楼"),
                ("floorno", "5楼"),
            ],
        ),
        (
            "良渚街道金德路191号赞成美树14-9-1456室",
            [
                ("town", "良渚街道"),
                ("road", "金德路"),
                ("roadno", "191号"),
                ("poi", "赞成美树"),
                ("houseno", "14"),
                ("redundant", "-"),
                ("cellno", "9"),
                ("redundant", "-"),
                ("roomno", "1456室"),
            ],
        ),
    ],
)
def test_parser_canonical_examples(
    small_parser: AddressParser, text: str, expected: list[tuple[str, str]]
) -> None:
    assert small_parser.parse(text) == expected


def test_parser_full_width_input_and_empty(small_parser: AddressParser) -> None:
    assert small_parser.parse("滨康路１０３７号") == small_parser.parse("滨康路1037号")
    assert small_parser.parse("") == []
    assert small_parser.parse_many(["", "  "]) == [[], []]


def test_parser_on_long_and_odd_input(small_parser: AddressParser) -> None:
    long_text = "浙江省杭州市滨江区滨康路1037号" * 250  # 4,000 characters
    parsed = small_parser.parse(long_text)
    assert "".join(chunk for _, chunk in parsed) == long_text
    odd = small_parser.parse("abc\x00\t!!")  # control characters separate like spaces
    assert "".join(chunk for _, chunk in odd) == "abc!!"
    assert [label for label, _ in small_parser.parse("滨康路\x001037号")] == ["road", "roadno"]


def test_parser_survives_pickling(small_parser: AddressParser) -> None:
    copy = pickle.loads(pickle.dumps(small_parser))
    text = "杭州市西湖区文三路90号东部软件园3号楼5楼"
    assert copy.parse(text) == small_parser.parse(text)


def test_unfitted_parser_says_so() -> None:
    with pytest.raises(RuntimeError, match="fit"):
        AddressParser().parse("滨康路1037号")


def test_fit_needs_data() -> None:
    with pytest.raises(ValueError, match="no labelled addresses"):
        AddressParser().fit([])


def test_parser_learns_from_a_library() -> None:
    roads = ["中山路", "建国路", "南湖路", "禾兴路", "解放路", "勤俭路"]
    communities = ["东栅社区", "新兴社区", "建设社区"]
    rows = [
        {
            "address_id": f"A{i}",
            "prov": "浙江省",
            "city": "嘉兴市",
            "district": "南湖区",
            "community": communities[i % 3],
            "road": roads[i % 6],
            "roadno": f"{i % 50 + 1}号",
            "houseno": f"{i % 9 + 1}幢" if i % 2 else "",
            "roomno": f"{i % 7 + 1}0{i % 4 + 1}室" if i % 2 else "",
        }
        for i in range(300)
    ]
    parser = AddressParser.from_library(pd.DataFrame(rows), max_iterations=60)
    assert parser.parse("嘉兴市南湖区建国路12号3幢501室") == [
        ("city", "嘉兴市"),
        ("district", "南湖区"),
        ("road", "建国路"),
        ("roadno", "12号"),
        ("houseno", "3幢"),
        ("roomno", "501室"),
    ]


def test_library_without_components_is_refused() -> None:
    with pytest.raises(ValueError, match="component columns"):
        AddressParser.from_library(pd.DataFrame({"address": ["x"]}))
