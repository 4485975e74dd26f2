"""Division and grid codes: the 6/9/12/15-digit hierarchy every layer keys on."""

import pytest

from gridmap.codes import (
    CodeError,
    division_level,
    is_valid_code,
    make_grid_code,
    parent_code,
    township_kind,
)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("330402", "district"),
        ("330402001", "street"),
        ("330402001002", "community"),
        ("330402001002015", "grid"),
    ],
)
def test_level_follows_length(code, level):
    assert division_level(code) == level


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "33040",
        "3304020011",
        "33040200100a",
        "000000",
        "330000",
        "330402000",
        "330402001000",
        "330402001002000",
        330402,
        None,
        " 330402",
    ],
)
def test_bad_codes_are_rejected(bad):
    with pytest.raises(CodeError):
        division_level(bad)
    assert not is_valid_code(bad)


def test_parents_walk_up_the_hierarchy():
    grid = "330402001002015"
    assert parent_code(grid) == "330402001002"
    assert parent_code("330402001002") == "330402001"
    assert parent_code("330402001") == "330402"
    assert parent_code(grid, "district") == "330402"
    with pytest.raises(CodeError):
        parent_code("330402")


def test_township_kind_from_code_ranges():
    assert township_kind("330402001") == "street"
    assert township_kind("330402150") == "town"
    assert township_kind("330402201") == "township"


def test_grid_code_appends_three_digit_sequence():
    assert make_grid_code("330402001002", 1) == "330402001002001"
    assert make_grid_code("330402001002", 999) == "330402001002999"
    for bad_sequence in (0, 1000):
        with pytest.raises(CodeError):
            make_grid_code("330402001002", bad_sequence)
    with pytest.raises(CodeError):
        make_grid_code("330402001", 1)
