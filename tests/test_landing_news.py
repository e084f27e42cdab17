"""What a load reads of the KI exports and cluster workbooks, on the committed field files and a
real DuckDB: a file is read again only when it may hold something new for the load's rounds or
has rows that wait, and what the warehouse knows of a file maps its rows to rounds as the loader
does."""

import csv
import io
import shutil
from datetime import date
from pathlib import Path

import pytest

from orchestration import landing
from orchestration.field_files import footprint_of, ki_partitions, read_field_file, workbook_partitions
from orchestration.informants import SECRET_VARIABLE
from orchestration.loading import load_rounds
from orchestration.rounds import RoundCalendar
from orchestration.sample import generator
from orchestration.warehouse import table_checksums, warehouse_status

FIELD = Path(__file__).parent / "fixtures" / "field_files"
KI_CSV = "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-03-03-10-15-00.csv"  # Dec 2018 to Feb 2019
KI_JSON = "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-05-20-09-00-00.json"  # Mar to Apr 2019
WORKBOOK = "Cluster_sheets_test_2019.xlsx"  # reach rows of January to April 2019


class Log:
    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass


def new_keys(landing_dir: Path, known: set[str]) -> list[str]:
    return sorted(set(landing.by_partition(landing.scan(landing_dir))) - known)


def test_a_load_reads_a_field_file_again_only_when_it_may_hold_something_new(tmp_path, monkeypatch):
    monkeypatch.setenv(SECRET_VARIABLE, "test-only-informant-secret-7f3a9c1e5b")
    landing_dir = tmp_path / "landing"
    generator.generate(landing_dir, {107, 108}, xlsx=False, field_families=False)
    for name in (KI_CSV, KI_JSON, WORKBOOK):
        shutil.copy(FIELD / name, landing_dir / name)
    database = tmp_path / "dtm.duckdb"
    first_rounds = new_keys(landing_dir, set())

    first = load_rounds(database, landing_dir, first_rounds, "first", Log())
    assert first.unread == []
    loaded = {(o.source_file, o.list_type) for o in first.outcomes if o.status == "loaded"}
    assert {(KI_CSV, "ki_report"), (WORKBOOK, "cluster_project")} <= loaded
    # Round 108 (28 February 2019) is the latest: March and April wait.
    assert [note.split(":")[0] for note in first.waiting] == [WORKBOOK, KI_JSON]
    tables = table_checksums(database, "raw")

    again = load_rounds(database, landing_dir, first_rounds, "again", Log())
    # The export whose every row is loaded is not read; the two whose rows wait are, and say so.
    assert again.unread == [KI_CSV] and again.unread_batches == 1
    assert again.waiting == first.waiting
    assert table_checksums(database, "raw") == tables

    generator.generate(landing_dir, {109}, xlsx=False, field_families=False)
    (round_109,) = new_keys(landing_dir, set(first_rounds))
    arrived = load_rounds(database, landing_dir, [round_109], "arrived", Log())
    # Round 109 holds the waiting rows: read and loaded; the export with none of its rows is not read.
    assert arrived.unread == [KI_CSV] and arrived.waiting == []
    assert {(o.source_file, o.list_type) for o in arrived.outcomes if o.status == "loaded"} >= {
        (KI_JSON, "ki_report"),
        (WORKBOOK, "cluster_reach"),
    }

    settled = load_rounds(database, landing_dir, [round_109], "settled", Log())
    assert sorted(settled.unread) == sorted([KI_CSV, KI_JSON, WORKBOOK])
    assert settled.unread_batches == 2  # Round 109's KI and reach batches, unchanged
    assert {o.status for o in settled.outcomes} == {"unchanged"}  # its two master lists

    # The same bytes under another name are read: a file counts as seen once loaded under its name.
    copy = KI_CSV.replace("10-15-00", "10-15-01")
    shutil.copy(FIELD / KI_CSV, landing_dir / copy)
    copied = load_rounds(database, landing_dir, first_rounds, "copied", Log())
    assert copy not in copied.unread and KI_CSV in copied.unread


@pytest.mark.parametrize("day", [1, 10, 20])
def test_a_footprint_maps_rows_to_rounds_as_the_loader_does(day):
    """Rounds dated on the 1st, 10th or 20th of each month: a reach row goes to the round holding
    the middle of its month, a submission to the round holding its day, by the footprint the
    load plan and the loader read as by the file itself. (A footprint that put a reach month in
    the round holding its 1st made `dtm` load a new workbook for the wrong round, and the rows of
    the right one were never loaded: the file counted as seen.)"""
    calendar = RoundCalendar.of({f"R{month}": date(2019, month, day) for month in range(1, 7)})
    book = read_field_file(FIELD / WORKBOOK, "cluster_sheet")
    reach, main = workbook_partitions(book, calendar)
    assert footprint_of(book).partitions(calendar) == {
        "cluster_project": {main},
        "cluster_activity": {main},
        "cluster_reach": set(reach.dropna()),
    }
    # and the rounds `dtm` and the landing sensor load for a new workbook are the loader's
    new_file = landing.LandingFile(FIELD / WORKBOOK, WORKBOOK, None, None, "cluster_sheet")
    assert landing.field_partitions(new_file, calendar) == set(reach.dropna()) | {main}
    for name in (KI_CSV, KI_JSON):
        export = read_field_file(FIELD / name, "ki_report")
        assert footprint_of(export).partitions(calendar) == {
            "ki_report": set(ki_partitions(export, calendar).dropna())
        }


def test_a_new_file_no_round_can_hold_is_refused_by_the_latest_rounds_load(tmp_path, monkeypatch):
    """A KI export cut short, one whose submissions have no readable time, and a file no round
    can be told from: each touches the latest round, whose load refuses it and records why; then
    it is known, and nothing is pending. (Before, `dtm run` found no round to load for them and
    said every file was loaded.)"""
    monkeypatch.setenv(SECRET_VARIABLE, "test-only-informant-secret-7f3a9c1e5b")
    landing_dir = tmp_path / "landing"
    generator.generate(landing_dir, {107, 108}, xlsx=False, field_families=False)
    database = tmp_path / "dtm.duckdb"
    rounds = new_keys(landing_dir, set())
    load_rounds(database, landing_dir, rounds, "first", Log())

    cut = KI_CSV.replace("10-15-00", "10-15-02")
    data = (FIELD / KI_CSV).read_bytes()
    (landing_dir / cut).write_bytes(data[: len(data) // 2])
    timeless = KI_CSV.replace("10-15-00", "10-15-03")
    table = list(csv.reader(io.StringIO((FIELD / KI_CSV).read_text(encoding="utf-8-sig")), delimiter=";"))
    column = table[0].index("_submission_time")
    for row in table[1:]:
        row[column] = "not a time"
    with (landing_dir / timeless).open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";").writerows(table)
    (landing_dir / "notes.pdf").write_bytes(b"%PDF-1.4")

    files = landing.scan(landing_dir)
    assert landing.pending_partitions(files, warehouse_status(database).known_files) == [rounds[-1]]
    report = load_rounds(database, landing_dir, [rounds[-1]], "arrived", Log())
    reasons = {error.file: str(error) for error in report.refused}
    assert set(reasons) == {cut, timeless, "notes.pdf"}
    assert "cut off" in reasons[cut] and "not a family the warehouse loads" in reasons["notes.pdf"]
    assert (
        "row 2, column '_submission_time'" in reasons[timeless]
        and "no submission has a readable time" in (reasons[timeless])
    )
    assert [error.file for error in report.refused_for["ki_report"]] == sorted([cut, timeless])
    assert landing.pending_partitions(files, warehouse_status(database).known_files) == []


def test_the_informant_secret_is_needed_only_for_a_ki_file_the_load_reads(tmp_path, monkeypatch):
    """A foreign KI export loaded with the secret set needs it no more once nothing of it is
    new: a later round's master lists load without it. An export with rows for that round
    still needs it, and nothing is loaded without it."""
    from orchestration.informants import SecretMissing

    monkeypatch.setenv(SECRET_VARIABLE, "test-only-informant-secret-7f3a9c1e5b")
    landing_dir = tmp_path / "landing"
    generator.generate(landing_dir, {107, 108}, xlsx=False, field_families=False)
    shutil.copy(FIELD / KI_CSV, landing_dir / KI_CSV)
    database = tmp_path / "dtm.duckdb"
    first_rounds = new_keys(landing_dir, set())
    load_rounds(database, landing_dir, first_rounds, "first", Log())

    monkeypatch.delenv(SECRET_VARIABLE)
    generator.generate(landing_dir, {109}, xlsx=False, field_families=False)
    (round_109,) = new_keys(landing_dir, set(first_rounds))
    shutil.copy(FIELD / KI_JSON, landing_dir / KI_JSON)  # foreign, with Round 109's rows
    tables = table_checksums(database, "raw")
    with pytest.raises(SecretMissing, match=KI_JSON):
        load_rounds(database, landing_dir, [round_109], "refused", Log())
    assert table_checksums(database, "raw") == tables

    (landing_dir / KI_JSON).unlink()
    report = load_rounds(database, landing_dir, [round_109], "no secret", Log())
    assert report.unread == [KI_CSV] and report.informant_key_origin is None
    assert {o.list_type for o in report.outcomes if o.status == "loaded"} == {"idp", "returnee"}
