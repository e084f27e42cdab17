"""Readers of KoBo exports (CSV, XLSX, KoBo JSON) and cluster workbooks, on committed fixtures."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
import xlsxwriter

from orchestration import landing
from orchestration.readers.cluster_sheets import read_cluster_workbook
from orchestration.readers.ki_reports import read_ki_export
from orchestration.readers.round_files import RejectedFile
from orchestration.rounds import RoundCalendar, parse_month

FIELD = Path(__file__).parent / "fixtures" / "field_files"
CSV = FIELD / "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-03-03-10-15-00.csv"
XLSX = FIELD / "DTM_KI_Assessment_-_all_versions_-_labels_-_2019-05-03-10-15-00.xlsx"
JSON = FIELD / "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-05-20-09-00-00.json"
WORKBOOK = FIELD / "Cluster_sheets_test_2019.xlsx"


def test_a_csv_export_with_field_names_reads_every_submission_and_both_needs_forms():
    export = read_ki_export(CSV)
    with CSV.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    assert export.header_form == "field" and export.unknown_columns == []
    frame = export.frame
    assert list(frame["submission_uuid"]) == [r["_uuid"] for r in rows]
    assert list(frame["ki_phone"].fillna("")) == [r["ki/phone"] for r in rows]
    assert list(frame["priority_needs"].fillna("")) == [r["needs/priority_needs"] for r in rows]
    assert list(frame["priority_needs__food"]) == [r["needs/priority_needs/food"] for r in rows]
    assert list(frame["source_row_number"]) == list(range(2, len(rows) + 2))


def test_a_kobo_csv_cut_in_the_middle_of_a_submission_is_refused(tmp_path):
    data = CSV.read_bytes()
    cut = data.rindex(b";", 0, len(data) - 200)  # inside the last submission, at a field boundary
    path = tmp_path / CSV.name
    path.write_bytes(data[:cut])
    with pytest.raises(RejectedFile) as refused:
        read_ki_export(path)
    assert "cut off" in refused.value.reason and refused.value.row == data[:cut].count(b"\n") + 1


def test_a_label_export_maps_labels_to_fields_and_keeps_the_needs_as_01_columns():
    export = read_ki_export(XLSX)
    assert export.header_form == "label" and export.sheet == "DTM KI Assessment"
    frame = export.frame
    assert "priority_needs" not in frame  # label exports here carry the 0/1 columns only
    assert set(frame["priority_needs__water"]) <= {"0", "1"}
    assert set(frame["ki_role"]) <= {
        "Mukhtar",
        "Local official",
        "Community leader",
        "Camp manager",
        "Religious leader",
        "Teacher",
    }


def test_a_kobo_json_export_reads_the_validation_status_object_as_its_uid():
    export = read_ki_export(JSON)
    records = json.loads(JSON.read_text(encoding="utf-8"))["results"]
    assert len(export.frame) == len(records)
    statuses = [r["_validation_status"].get("uid", "") for r in records]
    assert list(export.frame["validation_status"].fillna("")) == statuses
    assert "validation_status_approved" in statuses


def test_exports_saved_as_unicode_text_or_with_lone_cr_line_ends_read_as_the_originals(tmp_path):
    """A KoBo export saved again by a spreadsheet: UTF-16 with its byte-order mark, or lines ending
    in a lone CR. JSON is UTF-8 or marked Unicode: one in Windows-1256 is refused."""
    for original, variants in (
        (
            CSV,
            {
                "utf16": CSV.read_text(encoding="utf-8").encode("utf-16"),
                "cr": CSV.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r"),
            },
        ),
        (JSON, {"utf16": JSON.read_text(encoding="utf-8").encode("utf-16")}),
    ):
        expected = read_ki_export(original).frame
        for label, data in variants.items():
            path = tmp_path / label / original.name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            read = read_ki_export(path).frame
            assert len(read) == len(expected) > 0, (original.name, label)
            assert read.drop(columns=["source_file"], errors="ignore").equals(
                expected.drop(columns=["source_file"], errors="ignore")
            ), (original.name, label)
    arabic = tmp_path / "arabic" / JSON.name
    arabic.parent.mkdir()
    arabic.write_bytes(JSON.read_text(encoding="utf-8").encode("cp1256", errors="replace"))
    assert arabic.read_bytes() != JSON.read_bytes()  # the export holds Arabic text
    with pytest.raises(RejectedFile) as refused:
        read_ki_export(arabic)
    assert "the text is not UTF-8" in refused.value.reason


def test_the_three_forms_agree_on_the_submissions_they_share():
    by_form = {path.suffix: read_ki_export(path).frame.set_index("submission_uuid") for path in (XLSX, JSON)}
    shared = by_form[".xlsx"].index.intersection(by_form[".json"].index)
    assert len(shared) >= 40
    for column in ("place_id", "ki_phone", "submission_time", "idp_households"):
        assert (
            by_form[".xlsx"].loc[shared, column].fillna("") == by_form[".json"].loc[shared, column].fillna("")
        ).all()


def test_an_export_without_uuid_is_refused_naming_the_header_row(tmp_path):
    broken = tmp_path / "DTM_KI_broken.csv"
    broken.write_text("ki/name;location/place_id\nAli;2103081\n", encoding="utf-8")
    with pytest.raises(RejectedFile) as refused:
        read_ki_export(broken)
    assert refused.value.row == 1 and "submission_uuid" in refused.value.reason


def test_a_cluster_workbook_reads_merged_headers_totals_rows_and_its_year():
    book = read_cluster_workbook(WORKBOOK)
    assert book.year == 2019
    projects = book.sheets["cluster_project"]
    assert projects.header_map["Target beneficiaries Female"] == "target_female"
    assert projects.header_map["IOM identified needs USD"] == "needs_usd"
    assert list(projects.frame["row_kind"]) == ["data", "totals"]
    assert projects.frame.loc[0, "target_total"] == "500"
    reach = book.sheets["cluster_reach"].frame
    assert (reach["row_kind"] == "data").sum() == 13 and reach["row_kind"].iloc[-1] == "totals"
    assert reach.loc[0, "hrp_code"] == "irq19-cccm-900001"  # kept as typed; staging normalises


def test_a_workbook_without_its_reach_sheet_is_refused_naming_the_sheets_found(tmp_path):
    path = tmp_path / "Cluster_2018.xlsx"
    book = xlsxwriter.Workbook(path)
    book.add_worksheet("Projects").write_row(0, 0, ["HRP code", "Budget (USD)", "Target beneficiaries"])
    book.add_worksheet("Activities")
    book.close()
    with pytest.raises(RejectedFile, match=r"no sheet 'Reach'.*Projects, Activities"):
        read_cluster_workbook(path)


def test_landing_tells_the_families_apart(tmp_path):
    for path in (CSV, XLSX, JSON, WORKBOOK):
        shutil.copy(path, tmp_path / path.name)
    (tmp_path / "Round108_Master_List_IDP_2019_02_28_IOM_DTM.csv").write_text("x", encoding="utf-8")
    families = {f.name: f.family for f in landing.scan(tmp_path)}
    assert families[CSV.name] == families[JSON.name] == families[XLSX.name] == "ki_report"
    assert families[WORKBOOK.name] == "cluster_sheet"
    assert families["Round108_Master_List_IDP_2019_02_28_IOM_DTM.csv"] == "master_list"


@pytest.mark.parametrize(
    ("text", "month"),
    [
        ("2018-01", date(2018, 1, 1)),
        ("2018-01-01T00:00:00", date(2018, 1, 1)),
        ("Jan 2018", date(2018, 1, 1)),
        ("September-2019", date(2019, 9, 1)),
        ("12/2017", date(2017, 12, 1)),
        ("Total", None),
        ("", None),
    ],
)
def test_reporting_months_as_sheets_write_them(text, month):
    assert parse_month(text) == month


def test_a_day_belongs_to_the_round_whose_period_holds_it():
    calendar = RoundCalendar.of(
        {"R084": date(2017, 11, 29), "R086": date(2017, 12, 31), "R088": date(2018, 1, 31)}
    )
    assert calendar.round_holding(date(2017, 11, 30)) == "R086"  # the day after R84's date
    assert calendar.round_holding(date(2018, 1, 31)) == "R088"
    assert calendar.round_holding(date(2018, 2, 1)) is None  # after the latest round: waits
    assert calendar.round_holding(date(2017, 10, 31)) is None  # before the earliest round's month
    assert calendar.round_of_month(date(2017, 11, 1)) == "R084"  # mid-November: Round 84, dated the 29th
