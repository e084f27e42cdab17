"""DTM's own district mapping on a Round-110 master list (Round-109 headers): the six DTM
districts with no COD district of their own are counted where DTM publishes them, each fact
keeps DTM's district, and a name DTM never used lands on its governorate's placeholder."""

import csv
from collections import defaultdict
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration import landing
from orchestration.cli import load_rounds
from orchestration.definitions import build_definitions
from orchestration.defs.resources import WarehouseResource

FIXTURE = (
    Path(__file__).parent / "fixtures" / "round_files" / "Round110_Master_List_IDP_2019_06_30_IOM_DTM.csv"
)
# COD district: the DTM districts DTM counts in it
DTM_ASSIGNMENT = {
    "IQG08Q02": ("Abu Ghraib", "Kadhimia", "Tarmia"),  # Al-Kadhmiyah
    "IQG01Q04": ("Al-Rutba", "Ra'ua"),  # Al-Rutba
    "IQG11Q01": ("Mergasur",),  # Al-Zibar
    "IQG16Q04": ("Al-Fares", "Balad"),  # Balad
    "IQG18Q04": ("Al-Azezia", "Al-Suwaira"),  # Al-Suwaira
}
UNKNOWN = "Madain Al-Jadida"


def individuals_by_dtm_district() -> dict[str, int]:
    """Straight from the file with the csv module (the last row is the totals row)."""
    with FIXTURE.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))[:-1]
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        totals[row["District"]] += int(row["Individuals"])
    return dict(totals)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("districts")
    (root / "landing").mkdir()
    (root / "landing" / FIXTURE.name).write_bytes(FIXTURE.read_bytes())
    resource = WarehouseResource(database_path=str(root / "dtm.duckdb"), landing_path=str(root / "landing"))
    result = load_rounds(
        build_definitions(resource), dg.DagsterInstance.ephemeral(), landing.scan(root / "landing")
    )
    assert result is not None and result.success
    return root / "dtm.duckdb"


def districts(database: Path) -> dict[str, tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(
            "select admin2_pcode, admin2_name, idps, district_mapping, dtm_districts, "
            "idps_by_dtm_assignment, is_placeholder_district from marts.idps_by_district"
        ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_each_cod_district_holds_the_dtm_districts_dtm_counts_in_it(warehouse):
    by_dtm = individuals_by_dtm_district()
    found = districts(warehouse)
    for pcode, dtm_districts in DTM_ASSIGNMENT.items():
        name, idps, mapping, listed, _, placeholder = found[pcode]
        assert idps == sum(by_dtm[d] for d in dtm_districts), name
        assert listed == ", ".join(dtm_districts) and not placeholder
        assert "dtm_assignment" in mapping
    kadhmiyah = found["IQG08Q02"]
    assert kadhmiyah[0] == "Al-Kadhmiyah" and kadhmiyah[2] == "dtm_assignment, spelling"
    assert kadhmiyah[4] == by_dtm["Abu Ghraib"] + by_dtm["Tarmia"]  # Kadhimia is its own spelling
    assert found["IQG11Q01"][2] == "dtm_assignment"  # Al-Zibar: Mergasur alone in this file


def test_a_district_dtm_never_used_lands_on_the_placeholder_and_is_kept(warehouse):
    found = districts(warehouse)
    placeholders = {pcode: row for pcode, row in found.items() if row[5]}
    assert list(placeholders) == ["IQG08-XXX"]
    _, idps, mapping, listed, _, _ = placeholders["IQG08-XXX"]
    assert (mapping, listed, idps) == ("unmatched", UNKNOWN, individuals_by_dtm_district()[UNKNOWN])
    # every location of the file is in the marts, each with DTM's own district beside the COD one
    with duckdb.connect(str(warehouse), read_only=True) as con:
        facts = dict(
            con.execute(
                "select dtm_district_name, sum(individuals) from marts.fct_idp_locations group by all"
            ).fetchall()
        )
        warned = con.execute(
            "select severity, failing_rows from marts.gate_failures where checked_columns like '%district%'"
        ).fetchall()
    assert facts == individuals_by_dtm_district()
    assert warned == [("warning", 1)]  # the unknown name is recorded, the file accepted
