"""The reference tables the code reads: alias table, crosswalks, seeds."""

import csv

import pytest

from orchestration.reference import (
    alias_lookup,
    breakdown_categories,
    district_crosswalk,
    governorates,
    read_seed,
)
from orchestration.rules import name_key

# Headers quoted in DATA_CONTRACTS.md, by era.
ROUND_109_IDP_HEADER = (
    "Location ID, Place ID, Governorate, District, Location Name, Arabic Name, Latitude, Longitude, "
    "Families, Individuals, Anbar, Babylon, Baghdad, Basrah, Dahuk, Diyala, Erbil, Kerbala, Kirkuk, "
    "Missan, Muthanna, Najaf, Ninewa, Qadissiya, Salahal Din, Sulaymaniyah, Thi Qar, Wassit, Camp, "
    "Hostfamilies, Hotel Motel, Informalsettlements, Other, Religiousbuilding, Rented pre Apr 2019, "
    "Rented Habitable, Rented Uninhabitable, Schoolbuilding, Unfinishedbuilding, Unknownsheltertype, "
    "Pre June14 Period of displacement, June July14 Period of displacement, "
    "August14 Period of displacement, Post September 14 Period of displacement, "
    "Post April15 Period of displacement, Post March 16 Period of displacement, "
    "Post 17 October 16 Period of displacement, July 17 Period of displacement"
).split(", ")
ROUND_64_HEADERS = (
    "Place id",
    "Location name in English",
    "Location name in Arabic",
    "Host families",
    "Hotel/Motel",
    "Informal settlements",
    "Unfinished/Abandoned building",
    "Pre-June14",
    "Post 17 October16",
    "Open Street Map",
    "Google Map",
    "Bing Map",
)
ROUND_134_GOVERNORATES = ("Al Anbar", "Babil", "Duhok", "Al Diwaniya")


def test_the_round_109_header_has_48_columns_and_every_one_is_known():
    lookup = alias_lookup("idp")
    assert len(ROUND_109_IDP_HEADER) == 48
    canonical = [lookup[name_key(h)] for h in ROUND_109_IDP_HEADER]
    assert len(set(canonical)) == 48
    assert sum(c.startswith("origin__") for c in canonical) == 18
    assert sum(c.startswith("shelter__") for c in canonical) == 12
    assert sum(c.startswith("period__") for c in canonical) == 8


@pytest.mark.parametrize("header", ROUND_64_HEADERS)
def test_round_64_headers_are_known(header):
    assert name_key(header) in alias_lookup("idp")


@pytest.mark.parametrize("header", ROUND_134_GOVERNORATES)
def test_round_134_governorate_names_are_known_as_origin_columns(header):
    assert alias_lookup("idp")[name_key(header)].startswith("origin__")


def test_households_from_round_119_and_families_before_mean_the_same_column():
    for list_type in ("idp", "returnee"):
        lookup = alias_lookup(list_type)
        assert lookup["families"] == lookup["households"] == "households"


def test_header_and_cell_spellings_of_a_governorate_differ_but_map_to_one_pcode():
    salah = next(g for g in governorates() if g["admin1_pcode"] == "IQG16")
    assert (salah["dtm_header_name"], salah["dtm_name"]) == ("Salahal Din", "Salah al-Din")


def test_the_crosswalk_covers_every_dtm_district_once():
    dtm = {(r["dtm_governorate"], r["dtm_district"]) for r in read_seed("reference/dtm_districts.csv")}
    crosswalk = [(r["dtm_governorate"], r["dtm_district"]) for r in district_crosswalk()]
    assert len(dtm) == 106
    assert sorted(crosswalk) == sorted(dtm)


def test_every_crosswalk_target_is_a_cod_district_of_its_governorate_or_its_placeholder():
    cod = {
        r["pcode"]: r["parent_pcode"]
        for r in read_seed("reference/ocha_admin_pcodes.csv")
        if r["admin_level"] == "2"
    }
    for row in district_crosswalk():
        if row["match_type"] == "placeholder":
            assert row["admin2_pcode"] == f"{row['admin1_pcode']}-XXX"
            assert row["note"], f"placeholder {row['dtm_district']} has no reason"
        else:
            assert cod[row["admin2_pcode"]] == row["admin1_pcode"], row
        if row["match_type"] == "dtm_assignment":
            assert "DTM publishes its admin2 figures under" in row["note"], row


def test_dtm_assigns_its_six_districts_without_a_cod_district_as_it_publishes_them():
    cod = {
        r["pcode"]: r["name"] for r in read_seed("reference/ocha_admin_pcodes.csv") if r["admin_level"] == "2"
    }
    assigned = {
        r["dtm_district"]: cod[r["admin2_pcode"]]
        for r in district_crosswalk()
        if r["match_type"] == "dtm_assignment"
    }
    assert assigned == {
        "Abu Ghraib": "Al-Kadhmiyah",
        "Tarmia": "Al-Kadhmiyah",
        "Ra'ua": "Al-Rutba",
        "Mergasur": "Al-Zibar",
        "Al-Fares": "Balad",
        "Al-Azezia": "Al-Suwaira",
    }
    # no DTM district is left on a placeholder: DTM itself assigns every one
    assert [r["dtm_district"] for r in district_crosswalk() if r["match_type"] == "placeholder"] == []


def test_the_two_spellings_of_thawra_land_on_one_cod_district():
    thawra = {
        r["dtm_district"]: r["admin2_pcode"]
        for r in district_crosswalk()
        if r["dtm_district"].startswith("Thawra")
    }
    assert thawra == {"Thawra1": "IQG08Q07", "Thawra2": "IQG08Q07"}


def test_critical_shelters_are_the_four_the_appeal_names():
    critical = {
        c["category"]
        for c in breakdown_categories()
        if c["dimension"] == "shelter" and c["shelter_group"] == "critical"
    }
    assert critical == {
        "informal_settlements",
        "religious_building",
        "school_building",
        "unfinished_building",
    }


def test_reference_copies_are_plain_csv_with_one_line_ending(fixtures_dir):
    from orchestration.settings import SEEDS_DIR

    for path in SEEDS_DIR.rglob("*.csv"):
        raw = path.read_bytes()
        assert b"\r" not in raw, f"{path.name} has CR line endings (DuckDB's sniffer refuses mixed)"
        with path.open(newline="", encoding="utf-8") as handle:
            widths = {len(row) for row in csv.reader(handle)}
        assert len(widths) == 1, f"{path.name} has rows of different widths"
