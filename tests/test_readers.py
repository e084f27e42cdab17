"""Readers on the committed fixtures: every header era, both formats, and the refusals."""

import csv
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from orchestration import landing
from orchestration.readers.round_files import _PLAIN_COUNT, RejectedFile, _plain_sums, read_round_file

# fixture → (list type, round, month, sheet, header row, locations)
EXPECTED = {
    "Round62_Master_List_IDP_2017_01_01_IOM_DTM.csv": ("idp", 62, "2017-01", None, 1, 8),
    "Round64_Master_List_IDP_2017_02_01_IOM_DTM.xlsx": ("idp", 64, "2017-02", "IDP DATASET", 5, 8),
    "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv": ("idp", 88, "2018-01", None, 1, 8),
    "Round109_Master_List_IDP_2019_04_30_IOM_DTM.xlsx": ("idp", 109, "2019-04", "IDP DATASET", 5, 8),
    "Round112_Master_List_Returnee_2019_10_31_IOM_DTM.xlsx": (
        "returnee",
        112,
        "2019-10",
        "RETURNEE DATASET",
        5,
        6,
    ),
    "Round119_Master_List_Returnee_2020_12_31_IOM_DTM.csv": ("returnee", 119, "2020-12", None, 1, 6),
    "Round134_Master_List_IDP_2024_12_31_IOM_DTM.csv": ("idp", 134, "2024-12", None, 1, 8),
}


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_header_era_reads_into_canonical_columns(fixtures_dir, name):
    list_type, number, month, sheet, header_row, locations = EXPECTED[name]
    read = read_round_file(fixtures_dir / name)
    assert (read.list_type, read.round_id.round_number, read.round_id.reporting_month) == (
        list_type,
        number,
        month,
    )
    assert (read.sheet, read.header_row, len(read.frame)) == (sheet, header_row, locations)
    assert read.unknown_columns == []
    assert {"location_id", "governorate", "district", "households", "individuals"} <= set(read.frame)
    # Provenance: the row numbers a person sees in the file, after the header.
    assert read.frame["source_row_number"].tolist() == list(range(header_row + 1, header_row + 1 + locations))
    # The totals row is a control total, never a location.
    assert not read.frame["location_id"].str.startswith("Totals").any()
    assert len(read.sha256) == 64


def test_garbled_round_64_headers_map_like_the_clean_ones(fixtures_dir):
    read = read_round_file(fixtures_dir / "Round64_Master_List_IDP_2017_02_01_IOM_DTM.xlsx")
    assert read.header_map["Families / العوائل"] == "households"
    assert read.header_map["Location name in Arabic / اسم الموقع"] == "location_name_ar"
    assert read.header_map["Open Street Map"] == "map_osm"


def test_round_134_renamed_governorates_become_origin_columns(fixtures_dir):
    read = read_round_file(fixtures_dir / "Round134_Master_List_IDP_2024_12_31_IOM_DTM.csv")
    assert read.header_map["Al Anbar"] == "origin__iqg01"
    assert read.header_map["Al Diwaniya"] == "origin__iqg05"
    assert read.header_map["Households"] == "households"


def test_cells_stay_text_as_written(fixtures_dir):
    path = fixtures_dir / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv"
    rows = _csv_rows(path)
    read = read_round_file(path)
    header = rows[0]
    first = dict(zip(header, rows[1], strict=True))
    assert read.frame.loc[0, "location_id"] == first["Location ID"]
    assert read.frame.loc[0, "place_id"] == first["Place ID"]  # leading zero kept
    assert read.frame.loc[0, "location_name_ar"] == first["Arabic Name"]


def _copy(fixtures_dir: Path, tmp_path: Path, name: str) -> Path:
    return Path(shutil.copy(fixtures_dir / name, tmp_path / name))


def _rewrite(path: Path, edit) -> None:
    rows = _csv_rows(path)
    edit(rows)
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        csv.writer(handle).writerows(rows)


def test_an_unknown_column_is_kept_and_reported(fixtures_dir, tmp_path):
    path = _copy(fixtures_dir, tmp_path, "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv")

    def add_column(rows):
        rows[0].append("Site Manager Remarks")
        for i, row in enumerate(rows[1:-1], start=1):
            row.append(f"remark {i}")
        rows[-1].append("")

    _rewrite(path, add_column)
    read = read_round_file(path)
    assert read.unknown_columns == ["Site Manager Remarks"]
    assert json.loads(read.frame.loc[2, "extra_columns"]) == {"Site Manager Remarks": "remark 3"}


def test_a_column_sum_that_disagrees_with_the_totals_row_is_refused_naming_row_and_column(
    fixtures_dir, tmp_path
):
    path = _copy(fixtures_dir, tmp_path, "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv")
    individuals = _csv_rows(path)[0].index("Individuals")

    def tamper(rows):
        rows[3][individuals] = str(int(rows[3][individuals]) + 6)

    _rewrite(path, tamper)
    with pytest.raises(RejectedFile) as refused:
        read_round_file(path)
    assert refused.value.row == 10  # the totals row, after 8 locations and the header
    assert refused.value.column == "Individuals"
    assert "totals row states" in str(refused.value)
    assert path.name in str(refused.value)


def test_a_location_count_that_disagrees_with_the_totals_row_is_refused(fixtures_dir, tmp_path):
    path = _copy(fixtures_dir, tmp_path, "Round62_Master_List_IDP_2017_01_01_IOM_DTM.csv")
    _rewrite(path, lambda rows: rows[-1].__setitem__(0, "Totals: Locations:3,166"))
    with pytest.raises(RejectedFile, match="states 3,166 locations but the file has 8"):
        read_round_file(path)


def test_a_cell_that_is_not_a_count_is_refused_naming_its_row_and_column(fixtures_dir, tmp_path):
    path = _copy(fixtures_dir, tmp_path, "Round119_Master_List_Returnee_2020_12_31_IOM_DTM.csv")
    column = _csv_rows(path)[0].index("Households")
    _rewrite(path, lambda rows: rows[5].__setitem__(column, "about 40"))
    with pytest.raises(RejectedFile) as refused:
        read_round_file(path)
    assert (refused.value.row, refused.value.column) == (6, "Households")


def test_a_file_whose_round_cannot_be_told_is_refused_with_how_to_name_it(fixtures_dir, tmp_path):
    path = tmp_path / "idp_list_final.csv"
    shutil.copy(fixtures_dir / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv", path)
    with pytest.raises(RejectedFile, match=r"Round112_Master_List_Returnee_2019_10_31_IOM_DTM\.xlsx"):
        read_round_file(path)


def test_an_xlsx_is_identified_from_its_title_rows_when_the_name_does_not_say(fixtures_dir, tmp_path):
    path = tmp_path / "returnees.xlsx"
    shutil.copy(fixtures_dir / "Round112_Master_List_Returnee_2019_10_31_IOM_DTM.xlsx", path)
    read = read_round_file(path)
    assert (read.list_type, read.round_id.partition_key) == ("returnee", "IRQ-conflict-R112-2019-10")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"PK\x03\x04 this is no workbook", "not a readable workbook"),
    ],
)
def test_broken_files_are_refused_with_a_reason(tmp_path, content, reason):
    path = tmp_path / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.xlsx"
    path.write_bytes(content)
    with pytest.raises(RejectedFile, match=reason):
        read_round_file(path)


def test_a_csv_with_no_master_list_header_is_refused(tmp_path):
    path = tmp_path / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv"
    path.write_text("name,phone\nA,1\n", encoding="utf-8")
    with pytest.raises(RejectedFile, match="no header row of a DTM IDP master list"):
        read_round_file(path)


def test_the_landing_scan_groups_files_by_round_and_skips_lock_files(fixtures_dir, tmp_path):
    for path in fixtures_dir.iterdir():
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "~$Round88_Master_List_IDP_2018_01_31_IOM_DTM.xlsx").write_bytes(b"lock")
    (tmp_path / "notes.docx").write_bytes(b"x")
    files = landing.scan(tmp_path)
    grouped = landing.by_partition(files)
    assert len(grouped) == len(list(fixtures_dir.iterdir()))  # one round a fixture
    unassigned = [f.name for f in files if f.round_id is None]
    assert unassigned == ["notes.docx"]
    assert "not a family the warehouse loads" in str(landing.unassigned_rejection(files[-1]))


# Cells the fast path of the totals check must take, and cells it must leave to the cell-by-cell
# path (which parses separators and names a bad cell): spaces, signs, separators, decimals, other
# scripts' digits, line ends, empty text, a count too large for 64 bits.
COUNT_CELLS = ["0", "7", "-3", "007", "-0", "1234567"]
NOT_PLAIN_CELLS = ["", "-", "1-2", "--5", " 5", "5 ", "+5", "1_000", "1,000", "6.0", "\u0663", "12\n", "1\n2"]


@pytest.mark.parametrize("odd", [None, *NOT_PLAIN_CELLS, "99999999999999999999"])
def test_the_totals_fast_path_sums_plain_counts_only(odd):
    cells = {"households": [*COUNT_CELLS, None], "individuals": [*reversed(COUNT_CELLS), odd]}
    frame = pd.DataFrame(cells, dtype="string")
    sums = _plain_sums(frame, ["households", "individuals"])
    plain = odd is None or (re.fullmatch(_PLAIN_COUNT, odd) and abs(int(odd)) < 2**63)
    if not plain:
        assert sums is None
        return
    assert sums == {name: sum(int(c) for c in column if c is not None) for name, column in cells.items()}
