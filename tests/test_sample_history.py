"""The generated history reproduces IOM's figures and the shape the contracts describe."""

import csv
import hashlib
import itertools
from collections import Counter
from datetime import date

import pytest

from orchestration.reference import read_seed
from orchestration.sample import generator as g
from orchestration.sample import pool
from orchestration.sample import targets as tg


@pytest.fixture(scope="module")
def lists():
    targets, pools = g.history()
    return list(g.master_lists(targets, pools))


def _api_series() -> dict[tuple[int, str], dict[str, int]]:
    to_cod = tg.api_to_cod_pcode()
    series: dict[tuple[int, str], dict[str, int]] = {}
    for row in read_seed("reference/dtm_api_idps_admin1_by_round.csv"):
        entry = (int(row["round_number"]), row["reporting_date"])
        series.setdefault(entry, {})[to_cod[row["admin1_pcode"]]] = int(row["idps_individuals"])
    return series


def test_one_idp_list_per_api_entry_plus_two_extrapolated_and_returnees_from_2015(lists):
    idp = [m for m in lists if m.list_type == "idp"]
    returnee = [m for m in lists if m.list_type == "returnee"]
    assert len(idp) == 82 and len(returnee) == 73
    assert Counter(m.target.round_number for m in idp)[48] == 2
    assert min(m.target.reporting_date for m in returnee) == date(2015, 1, 1)


def test_every_governorate_of_every_api_entry_is_reproduced_exactly(lists):
    generated = {
        (m.target.round_number, m.target.reporting_date.isoformat()): m.frame.groupby("admin1_pcode")[
            "individuals"
        ]
        .sum()
        .to_dict()
        for m in lists
        if m.list_type == "idp" and not m.target.extrapolated
    }
    api = _api_series()
    assert len(api) == 80
    assert generated == api


def test_round_88_hits_the_published_figures(lists):
    idp = next(m for m in lists if m.list_type == "idp" and m.target.round_number == 88)
    returnee = next(m for m in lists if m.list_type == "returnee" and m.target.round_number == 88)
    assert idp.frame["individuals"].sum() == 2_470_974
    assert returnee.frame["individuals"].sum() == 3_346_704
    shelter = idp.frame[[c for c in idp.frame if c.startswith("shelter__")]]
    critical = shelter[
        [
            "shelter__informal_settlements",
            "shelter__religious_building",
            "shelter__school_building",
            "shelter__unfinished_building",
        ]
    ]
    assert round(100 * shelter["shelter__camp"].sum() / shelter.to_numpy().sum()) == 26
    assert round(100 * critical.to_numpy().sum() / shelter.to_numpy().sum()) == 11


def test_returnees_rise_steeply_in_2017_2018_and_flatten_after_2020(lists):
    national = {
        m.target.reporting_date: m.frame["individuals"].sum() for m in lists if m.list_type == "returnee"
    }
    by_date = sorted(national.items())
    assert all(later >= earlier for (_, earlier), (_, later) in itertools.pairwise(by_date))
    assert national[date(2018, 1, 31)] - national[date(2016, 12, 1)] > 1_500_000
    assert national[date(2024, 4, 30)] - national[date(2020, 12, 31)] < 250_000


def test_breakdowns_sum_to_the_total_in_the_unit_of_the_era(lists):
    for master in lists:
        total = master.frame["households" if master.breakdown_unit == "households" else "individuals"]
        for prefix in {c.split("__")[0] for c in master.frame if "__" in c}:
            block = master.frame[[c for c in master.frame if c.startswith(prefix + "__")]]
            assert (block.sum(axis=1) == total).all(), (master.target.round_number, prefix)
        if master.list_type == "returnee":
            assert master.breakdown_unit == (
                "individuals" if master.target.round_number >= 119 else "households"
            )


def test_individuals_are_six_times_households_until_round_116_then_counted(lists):
    for master in (m for m in lists if m.list_type == "idp"):
        six = (master.frame["individuals"] == 6 * master.frame["households"]).all()
        assert six == (master.target.round_number <= 116), master.target.round_number


def test_no_period_column_postdates_its_round(lists):
    starts = {
        c["canonical_column"]: date.fromisoformat(c["period_start"])
        for c in read_seed("config/breakdown_categories.csv")
        if c["dimension"] == "period"
    }
    for master in (m for m in lists if m.list_type == "idp"):
        for column in (c for c in master.frame if c.startswith("period__")):
            assert starts[column] <= master.target.reporting_date, (master.target.round_number, column)


def test_peak_rounds_list_2000_to_4000_idp_locations(lists):
    peak = max((m for m in lists if m.list_type == "idp"), key=lambda m: m.frame["individuals"].sum())
    assert peak.target.round_number == 42
    assert 2000 <= len(peak.frame) <= 4000


def test_location_ids_follow_dtm_codes_and_are_unique_per_list(lists):
    codes = {
        r["dtm_governorate_code"] + r["dtm_district_code"] for r in read_seed("reference/dtm_districts.csv")
    }
    for master in lists:
        ids = master.frame["location_id"]
        assert ids.is_unique
        assert ids.str.len().eq(7).all() and ids.str[:4].isin(codes).all()


def test_the_same_seed_writes_the_same_bytes(tmp_path, monkeypatch):
    """In worker processes (as the whole sample is written) and in this one, the same files."""
    rounds = {88, 119, 120}
    monkeypatch.setattr(pool, "POOL_FROM_FILES", 1)
    first = g.generate(tmp_path / "a", rounds, field_families=True)
    monkeypatch.setattr(pool, "POOL_FROM_FILES", 10**6)
    second = g.generate(tmp_path / "b", rounds, field_families=True)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in first]
    assert digest == [hashlib.sha256(p.read_bytes()).hexdigest() for p in second]
    assert {p.suffix for p in first} == {".xlsx", ".csv", ".json"}  # KI exports in the three forms
    assert len([p for p in first if "KI_Assessment" in p.name]) == 3
    assert len([p for p in first if "cluster_sheets" in p.name]) == 3


def test_round_112_file_is_dated_a_day_after_the_api(tmp_path):
    (path,) = [p for p in g.generate(tmp_path, {112}) if "IDP" in p.name]
    assert path.name == "Round112_Master_List_IDP_2019_10_31_IOM_DTM.xlsx"


def test_round_134_writes_the_renamed_governorates(tmp_path):
    (path,) = [p for p in g.generate(tmp_path, {134}, xlsx=False) if "IDP" in p.name]
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert {"Al Anbar", "Babil", "Duhok", "Al Diwaniya"} <= set(header)
    assert "Al Anbar" in {row[header.index("Governorate")] for row in rows}
