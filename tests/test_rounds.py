from datetime import date

import pytest

from orchestration.defs.partitions import contiguous_groups, partition_range_tags
from orchestration.rounds import (
    RoundId,
    parse_round_text,
    round_file_name,
    sort_partition_keys,
)


def test_partition_key_carries_operation_country_round_and_month():
    round_id = RoundId.of(112, date(2019, 10, 31))
    assert round_id.partition_key == "IRQ-conflict-R112-2019-10"
    assert RoundId.from_partition_key(round_id.partition_key) == round_id
    assert round_id.operation == "Iraq conflict"


def test_a_malformed_partition_key_is_refused_with_an_example():
    with pytest.raises(ValueError, match="IRQ-conflict-R112-2019-10"):
        RoundId.from_partition_key("R112")


def test_reporting_order_puts_round_46_between_the_two_round_48s():
    keys = ["IRQ-conflict-R048-2016-06", "IRQ-conflict-R046-2016-05", "IRQ-conflict-R048-2016-04"]
    assert sort_partition_keys(keys) == [
        "IRQ-conflict-R048-2016-04",
        "IRQ-conflict-R046-2016-05",
        "IRQ-conflict-R048-2016-06",
    ]


@pytest.mark.parametrize(
    ("name", "list_type", "number", "day"),
    [
        ("Round112_Master_List_Returnee_2019_10_31_IOM_DTM", "returnee", 112, date(2019, 10, 31)),
        ("Round109_Master_List_IDP_2019_04_30_IOM_DTM", "idp", 109, date(2019, 4, 30)),
        ("DTM Round 64 IDPs 2017-02-01", "idp", 64, date(2017, 2, 1)),
        (
            "Returnee Master List - Round 134 Data collection ending 31 December 2024",
            "returnee",
            134,
            date(2024, 12, 31),
        ),
    ],
)
def test_round_list_and_date_are_read_from_names_and_title_rows(name, list_type, number, day):
    parsed = parse_round_text(name)
    assert (parsed.list_type, parsed.round_number, parsed.file_date) == (list_type, number, day)


def test_a_name_without_a_round_says_nothing():
    parsed = parse_round_text("idp_list_final_v2")
    assert parsed.round_number is None and parsed.file_date is None


def test_file_names_are_the_ones_iom_uses():
    name = round_file_name("returnee", 112, date(2019, 10, 31), "xlsx")
    assert name == "Round112_Master_List_Returnee_2019_10_31_IOM_DTM.xlsx"


def test_changed_partitions_run_in_contiguous_groups_of_partition_order():
    ordered = ["a", "b", "c", "d", "e"]
    assert contiguous_groups(["e", "a", "b", "d"], ordered) == [["a", "b"], ["d", "e"]]
    assert partition_range_tags(["a", "b"]) == {
        "dagster/asset_partition_range_start": "a",
        "dagster/asset_partition_range_end": "b",
    }


def test_a_run_covers_its_partition_its_range_or_every_round():
    from orchestration.defs.partitions import run_round_partitions

    ordered = ["a", "b", "c", "d"]
    assert run_round_partitions({"dagster/partition": "c"}, ordered) == ["c"]
    assert run_round_partitions(partition_range_tags(["b", "d"]), ordered) == ["b", "c", "d"]
    assert run_round_partitions({}, ordered) == []
