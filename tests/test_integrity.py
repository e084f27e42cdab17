"""Nothing doubtful gets in: files cut off are refused, a list without its totals row is
quarantined, the same bytes under another round's name are refused naming both files, and
loading the same landing folder again changes no table. Real fixture files, a real DuckDB."""

import csv
import logging
import shutil
import struct
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import openpyxl
import pytest

from orchestration import landing, warehouse
from orchestration.loading import READ_AHEAD, load_rounds, read_ahead
from orchestration.quality.gate import gate_pending
from orchestration.readers.round_files import RejectedFile, read_round_file
from orchestration.warehouse import connect, ensure_raw_schema, load_round_file, warehouse_status

R88 = "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv"
R109 = "Round109_Master_List_IDP_2019_04_30_IOM_DTM.xlsx"
LOG = logging.getLogger("test")


def cut_csv(fixtures: Path, target: Path, keep: float) -> bytes:
    """The first `keep` share of a real master list's bytes, as a copy that stopped."""
    data = (fixtures / R88).read_bytes()
    target.write_bytes(data[: int(len(data) * keep)])
    return target.read_bytes()


def test_a_csv_cut_in_the_middle_of_a_row_is_refused_naming_the_row(fixtures_dir, tmp_path):
    path = tmp_path / R88
    data = cut_csv(fixtures_dir, path, 0.5)
    assert not data.endswith(b"\n")
    with pytest.raises(RejectedFile) as refused:
        read_round_file(path)
    last_row = data.count(b"\n") + 1
    assert refused.value.row == last_row
    assert refused.value.file == R88 and refused.value.column
    assert "cut off" in refused.value.reason and "no line end" in refused.value.reason


def test_a_csv_cut_inside_a_quoted_cell_is_refused(fixtures_dir, tmp_path):
    text = (fixtures_dir / R88).read_text(encoding="utf-8-sig")
    totals = text.rstrip("\n").rsplit("\n", 1)[1]
    cut = text.rindex(totals) + totals.index('"', 5) + 3  # inside a quoted "277,518" of the totals
    path = tmp_path / R88
    path.write_text(text[:cut], encoding="utf-8")
    with pytest.raises(RejectedFile) as refused:
        read_round_file(path)
    assert "quote" in refused.value.reason and "cut off" in refused.value.reason
    assert refused.value.row == text[:cut].count("\n") + 1


def test_a_csv_cut_inside_its_totals_row_is_refused(fixtures_dir, tmp_path):
    text = (fixtures_dir / R88).read_text(encoding="utf-8-sig")
    totals_start = text.rstrip("\n").rindex("\n") + 1
    cut = totals_start + text[totals_start:].index(",", 40)  # after a few of its sums, at a comma
    path = tmp_path / R88
    path.write_text(text[:cut] + "\n", encoding="utf-8")
    with pytest.raises(RejectedFile) as refused:
        read_round_file(path)
    assert "totals row stops" in refused.value.reason and refused.value.row == text[:cut].count("\n") + 1


def test_an_xlsx_sheet_ending_in_a_partial_row_is_refused(fixtures_dir, tmp_path):
    book = openpyxl.load_workbook(fixtures_dir / R109)
    sheet = next(s for s in book.worksheets if "DATASET" in s.title.upper())
    last = sheet.max_row // 2
    sheet.delete_rows(last + 1, sheet.max_row - last)  # half the rows, the totals row with them
    for cell in sheet[last][12:]:
        cell.value = None  # the last row stops after its 12th cell
    path = tmp_path / R109
    book.save(path)
    with pytest.raises(RejectedFile) as refused:
        read_round_file(path)
    assert refused.value.row == last and refused.value.sheet == sheet.title
    assert "cut off" in refused.value.reason


def test_an_xlsx_cut_short_or_damaged_is_refused(fixtures_dir, tmp_path):
    data = (fixtures_dir / R109).read_bytes()
    short = tmp_path / R109
    short.write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(RejectedFile, match="zip structure is broken"):
        read_round_file(short)
    # Same length, one part's bytes changed in transit: its CRC no longer matches.
    with zipfile.ZipFile(fixtures_dir / R109) as archive:
        part = max(archive.infolist(), key=lambda info: info.compress_size)
    damaged = bytearray(data)
    name_length, extra_length = struct.unpack("<HH", data[part.header_offset + 26 : part.header_offset + 30])
    start = part.header_offset + 30 + name_length + extra_length
    middle = start + part.compress_size // 2
    damaged[middle : middle + 16] = bytes(b ^ 0xFF for b in damaged[middle : middle + 16])
    broken = tmp_path / "damaged" / R109
    broken.parent.mkdir()
    broken.write_bytes(bytes(damaged))
    with pytest.raises(RejectedFile, match="not a readable workbook"):
        read_round_file(broken)


def test_a_list_cut_at_a_line_end_without_its_totals_row_is_quarantined(fixtures_dir, tmp_path):
    lines = (fixtures_dir / R88).read_text(encoding="utf-8-sig").splitlines(keepends=True)
    path = tmp_path / R88
    path.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")  # whole rows, no totals row
    read = read_round_file(path)  # nothing in its structure says where it stopped ...
    assert not read.has_totals_row
    with connect(tmp_path / "dtm.duckdb") as con:
        ensure_raw_schema(con)
        outcome = load_round_file(con, read, R88)
        gate = gate_pending(con, "idp")  # ... but its era's files always end with one
        assert gate.quarantined == [outcome.batch_id]
        (status, reason) = con.execute(
            "select status, status_reason from raw.load_batches where batch_id = ?", [outcome.batch_id]
        ).fetchall()[0]
    assert status == "quarantined" and "totals row" in reason


def test_the_same_bytes_under_another_rounds_name_are_refused_naming_both(fixtures_dir, tmp_path):
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    shutil.copy(fixtures_dir / R88, landing_dir / R88)
    copy = "Round90_Master_List_IDP_2018_02_28_IOM_DTM.csv"  # last month's file, this month's name
    shutil.copy(fixtures_dir / R88, landing_dir / copy)
    database = tmp_path / "dtm.duckdb"
    files = landing.scan(landing_dir)
    assert landing.pending_partitions(files, warehouse_status(database).known_files) == [
        "IRQ-conflict-R088-2018-01",
        "IRQ-conflict-R090-2018-02",
    ]
    report = load_rounds(database, landing_dir, list(landing.by_partition(files)), "test", LOG)
    (refused,) = report.refused
    assert refused.file == copy and R88 in refused.reason and "IRQ-conflict-R088-2018-01" in refused.reason
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select distinct source_file from raw.dtm_idp_master_list").fetchall() == [(R88,)]
        assert con.execute("select source_file from raw.file_rejections").fetchall() == [(copy,)]
    # Refused, it is known: the next run does not offer it again, nor say it loaded.
    assert landing.pending_partitions(files, warehouse_status(database).known_files) == []


def table_checksums(database: Path) -> dict[str, tuple]:
    """Every table a load writes (the raw schema): row count and content checksum."""
    return {
        f"raw.{table}": checksum for table, checksum in warehouse.table_checksums(database, "raw").items()
    }


def test_loading_the_same_landing_folder_three_times_changes_no_table(fixtures_dir, tmp_path):
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    for name in (R88, R109, "Round62_Master_List_IDP_2017_01_01_IOM_DTM.csv"):
        shutil.copy(fixtures_dir / name, landing_dir / name)
    (landing_dir / "notes.pdf").write_bytes(b"%PDF-1.4")  # refused, every time, once
    database = tmp_path / "dtm.duckdb"
    keys = list(landing.by_partition(landing.scan(landing_dir)))
    load_rounds(database, landing_dir, keys, "first", LOG)
    first = table_checksums(database)
    assert first["raw.dtm_idp_master_list"][0] > 0 and first["raw.file_rejections"][0] == 1
    for label in ("second", "third"):
        report = load_rounds(database, landing_dir, keys, label, LOG)
        assert {o.status for o in report.outcomes} == {"unchanged"}
        assert table_checksums(database) == first


def test_files_are_read_at_most_read_ahead_files_before_the_one_being_loaded():
    """A loader slower than its readers holds a few files' rows, not every file's (the 6x
    sample's reads piled up in `dtm run`'s process when every read was queued at once)."""
    started: list[int] = []

    def read(item: int) -> int:
        started.append(item)
        return item * 10

    loaded = []
    with ThreadPoolExecutor(2) as pool:
        for position, value in enumerate(read_ahead(pool, read, range(20), READ_AHEAD)):
            time.sleep(0.01)  # loading is slower than reading
            assert max(started) <= position + READ_AHEAD
            loaded.append(value)
    assert loaded == [item * 10 for item in range(20)]


def without_first_location(source: Path, target: Path) -> int:
    """A corrected version of a real list: its first location gone, its totals row mended. Returns
    the individuals it took away."""
    with source.open(encoding="utf-8-sig", newline="") as handle:
        header, first, *rest = list(csv.reader(handle))
    *locations, totals = rest
    for i, name in enumerate(header):
        if name not in ("Location ID", "Place ID") and totals[i].replace(",", "").isdigit():
            totals[i] = f"{int(totals[i].replace(',', '')) - int(first[i] or 0):,}"
    totals[0] = f"Totals: Locations:{len(locations)}"
    with target.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows([header, *locations, totals])
    return int(first[header.index("Individuals")])


def test_versions_of_a_list_that_arrive_together_are_refused_until_one_is_left(fixtures_dir, tmp_path):
    """Round 88's list and a corrected version of it arrive in one load: nothing says which is
    current, so neither is loaded, each naming the other; with the corrected one removed, the
    next run loads the one left. The same rows written another way are one list, not two."""
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    shutil.copy(fixtures_dir / R88, landing_dir / R88)
    corrected = R88.replace(".csv", " (1).csv")
    without_first_location(fixtures_dir / R88, landing_dir / corrected)
    database = tmp_path / "dtm.duckdb"
    key = "IRQ-conflict-R088-2018-01"
    report = load_rounds(database, landing_dir, [key], "both", LOG)
    assert sorted(r.file for r in report.refused) == sorted([R88, corrected])
    for refusal in report.refused:
        other = corrected if refusal.file == R88 else R88
        assert other in refusal.reason and "cannot be told" in refusal.reason
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from raw.dtm_idp_master_list").fetchall() == [(0,)]
        assert con.execute("select distinct kind from raw.file_rejections").fetchall() == [("conflict",)]
    # Both still there: nothing to load, and `dtm run` would not offer the round again.
    status = warehouse_status(database)
    files = landing.scan(landing_dir)
    assert landing.pending_partitions(files, status.known_files, status.conflicted) == []
    assert landing.in_conflict(files, status.conflicted) == set(files)

    (landing_dir / corrected).unlink()
    files = landing.scan(landing_dir)
    assert landing.pending_partitions(files, status.known_files, status.conflicted) == [key]
    report = load_rounds(database, landing_dir, [key], "one left", LOG)
    assert not report.refused and [o.source_file for o in report.outcomes] == [R88]
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute(
            "select source_file, status from raw.load_batches where list_type = 'idp'"
        ).fetchall() == [(R88, "accepted")]
        # R88's refusal is withdrawn (it is loaded); the removed version's stands
        assert con.execute(
            "select source_file, withdrawn_at is not null from raw.file_rejections order by 1"
        ).fetchall() == sorted([(R88, True), (corrected, False)])
    status = warehouse_status(database)
    assert landing.pending_partitions(files, status.known_files, status.conflicted) == []


def test_the_same_rows_written_twice_are_one_list_not_two_versions(fixtures_dir, tmp_path):
    """Round 88's list beside the same rows as another program writes them (semicolons, every
    cell quoted, LF line ends, no byte-order mark): other bytes, the same list, so both load."""
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    shutil.copy(fixtures_dir / R88, landing_dir / R88)
    with (fixtures_dir / R88).open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    again = R88.replace(".csv", " (2).csv")
    with (landing_dir / again).open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, delimiter=";", quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(table)
    assert (landing_dir / again).read_bytes() != (landing_dir / R88).read_bytes()
    report = load_rounds(tmp_path / "dtm.duckdb", landing_dir, ["IRQ-conflict-R088-2018-01"], "both", LOG)
    assert [r.reason for r in report.refused] == []
    assert sorted(o.source_file for o in report.outcomes) == sorted([R88, again])


def test_a_lists_xlsx_and_csv_side_by_side_are_one_list(tmp_path):
    """IOM publishes each list as XLSX and as CSV: both in the landing folder are one list."""
    from orchestration.sample import generator

    landing_dir = tmp_path / "landing"
    for xlsx in (True, False):
        generator.generate(landing_dir, {134}, xlsx=xlsx, field_families=False)
    names = sorted(p.name for p in landing_dir.glob("*Master_List*"))
    assert {Path(n).suffix for n in names} == {".csv", ".xlsx"} and len(names) == 4
    report = load_rounds(tmp_path / "dtm.duckdb", landing_dir, ["IRQ-conflict-R134-2024-12"], "both", LOG)
    assert [r.reason for r in report.refused] == []
    assert sorted(o.source_file for o in report.outcomes) == names
