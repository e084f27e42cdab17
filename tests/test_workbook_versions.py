"""A project is in one workbook of its year: a copy of a workbook, a corrected one under another
name, versions that arrive together, and a workbook that shares projects with a loaded one
never put a project in the marts twice (which failed dbt's uniqueness tests, and so every build).
And a byte copy of a loaded file is not offered again by every `dtm run`. Real workbooks
(IOM's layout, the 2019 test workbook), real DuckDB."""

import logging
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pytest

from orchestration import landing
from orchestration.loading import load_rounds
from orchestration.rules import hrp_code_sql
from orchestration.sample import generator
from orchestration.warehouse import warehouse_status

WORKBOOK = "Cluster_sheets_test_2019.xlsx"
PROJECT = "IRQ19/CCCM/900001"
SECOND = "IRQ19/SHELTER/900002"
LOG = logging.getLogger("test")
# What dbt's uniqueness tests on stg_cluster__projects and stg_cluster__activities check, on the
# rows the marts take: a project, or a project's activity, held by two accepted batches.
TWICE_SQL = f"""
    select workbook_year, {hrp_code_sql("hrp_code")} as code, {{key}}, count(*)
    from raw.{{table}} join raw.load_batches using (batch_id)
    where status = 'accepted' and row_kind = 'data'
    group by all having count(*) > 1
"""


@pytest.fixture(scope="module")
def rounds(tmp_path_factory) -> Path:
    """Rounds 107-109: their periods hold January to April 2019, the test workbook's months."""
    folder = tmp_path_factory.mktemp("rounds")
    generator.generate(folder, {107, 108, 109}, xlsx=False, field_families=False)
    return folder


def landing_with(rounds: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    shutil.copytree(rounds, folder)
    return folder


def workbook(target: Path, *, budget: int | None = None, second_project: bool = False) -> Path:
    """The 2019 test workbook saved again (other bytes, the same rows), with a budget changed
    or a second project added."""
    book = openpyxl.load_workbook(Path(__file__).parent / "fixtures" / "field_files" / WORKBOOK)
    projects = book["Projects"]
    if budget is not None:
        projects.cell(5, 4).value = budget
        projects.cell(6, 4).value = budget
    if second_project:
        projects.insert_rows(6)
        for column, value in enumerate([SECOND, "Shelter", "Second", 5000, 50, 25, 25], start=1):
            projects.cell(6, column).value = value
        projects.cell(7, 4).value = projects.cell(5, 4).value + 5000
    book.save(target)
    return target


def load(database: Path, folder: Path, label: str):
    keys = sorted(landing.by_partition(landing.scan(folder)))
    return load_rounds(database, folder, keys, label, LOG)


def pending(database: Path, folder: Path) -> list[str]:
    status = warehouse_status(database)
    files = landing.scan(folder)
    return landing.pending_partitions(files, status.known_files, status.conflicted, status.held_bytes)


def accepted_projects(database: Path) -> list[tuple]:
    """(HRP code, budget, file) of the projects the marts take, and no project twice."""
    with duckdb.connect(str(database), read_only=True) as con:
        for table, key in (("cluster_projects", "1"), ("cluster_activities", "trim(activity)")):
            assert con.execute(TWICE_SQL.format(table=table, key=key)).fetchall() == []
        return con.execute(
            "select hrp_code, budget_usd, p.source_file from raw.cluster_projects as p "
            "join raw.load_batches using (batch_id) where status = 'accepted' and row_kind = 'data' "
            "order by 1"
        ).fetchall()


def test_a_copy_beside_a_workbook_is_the_same_workbook_and_both_files_are_loaded(rounds, tmp_path):
    folder = landing_with(rounds, tmp_path)
    shutil.copy(Path(__file__).parent / "fixtures" / "field_files" / WORKBOOK, folder / WORKBOOK)
    copy = workbook(folder / "Cluster_sheets_test_2019 (1).xlsx")  # other bytes, the same rows
    database = tmp_path / "dtm.duckdb"
    report = load(database, folder, "together")
    assert report.refused == []
    ((code, budget, _),) = accepted_projects(database)
    assert (code, budget) == (PROJECT, "1000000")
    with duckdb.connect(str(database), read_only=True) as con:
        loaded = {row[0] for row in con.execute("select source_file from raw.load_batches").fetchall()}
    assert {WORKBOOK, copy.name} <= loaded
    assert pending(database, folder) == []


def test_byte_copies_of_loaded_files_are_not_offered_again(rounds, tmp_path):
    """A second download of a workbook or of a round's list (`… (1).xlsx`, the same bytes) holds
    nothing the warehouse lacks: a run would load nothing, and `dtm run` offered its round again
    after every run, loading and building it each time."""
    folder = landing_with(rounds, tmp_path)
    shutil.copy(Path(__file__).parent / "fixtures" / "field_files" / WORKBOOK, folder / WORKBOOK)
    database = tmp_path / "dtm.duckdb"
    load(database, folder, "first")
    assert pending(database, folder) == []
    shutil.copy(folder / WORKBOOK, folder / "Cluster_sheets_test_2019 (1).xlsx")
    idp = next(folder.glob("Round109_Master_List_IDP_*.csv"))
    shutil.copy(idp, idp.with_name(idp.stem + " (1).csv"))
    assert pending(database, folder) == []
    # Under another round's name the same bytes are news: the load refuses them, naming both.
    shutil.copy(idp, folder / "Round110_Master_List_IDP_2019_06_30_IOM_DTM.csv")
    assert pending(database, folder) == ["IRQ-conflict-R110-2019-06"]


def test_a_corrected_workbook_under_another_name_replaces_the_loaded_one(rounds, tmp_path):
    folder = landing_with(rounds, tmp_path)
    shutil.copy(Path(__file__).parent / "fixtures" / "field_files" / WORKBOOK, folder / WORKBOOK)
    database = tmp_path / "dtm.duckdb"
    load(database, folder, "first")
    corrected = workbook(folder / "Cluster_sheets_test_2019_v2.xlsx", budget=1_200_000)
    assert pending(database, folder) != []
    report = load(database, folder, "corrected")
    assert report.refused == []
    assert accepted_projects(database) == [(PROJECT, "1200000", corrected.name)]
    with duckdb.connect(str(database), read_only=True) as con:
        replaced = con.execute(
            "select distinct status, status_reason from raw.load_batches where source_file = ?", [WORKBOOK]
        ).fetchall()
    assert replaced == [("superseded", f"replaced by {corrected.name}")]


def test_versions_of_a_workbook_that_arrive_together_are_refused_until_one_is_left(rounds, tmp_path):
    folder = landing_with(rounds, tmp_path)
    shutil.copy(Path(__file__).parent / "fixtures" / "field_files" / WORKBOOK, folder / WORKBOOK)
    corrected = workbook(folder / "Cluster_sheets_test_2019_v2.xlsx", budget=1_200_000)
    database = tmp_path / "dtm.duckdb"
    report = load(database, folder, "both")
    assert sorted(r.file for r in report.refused) == sorted([WORKBOOK, corrected.name])
    for refusal in report.refused:
        other = corrected.name if refusal.file == WORKBOOK else WORKBOOK
        assert other in refusal.reason and "cannot be told" in refusal.reason
        assert refusal.kind == "conflict"
    assert accepted_projects(database) == []
    assert pending(database, folder) == []
    status = warehouse_status(database)
    assert {f.name for f in landing.in_conflict(landing.scan(folder), status.conflicted)} == {
        WORKBOOK,
        corrected.name,
    }

    corrected.unlink()
    assert pending(database, folder) != []
    report = load(database, folder, "one left")
    assert report.refused == []
    assert accepted_projects(database) == [(PROJECT, "1000000", WORKBOOK)]
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute(
            "select source_file, withdrawn_at is not null from raw.file_rejections order by 1"
        ).fetchall() == sorted([(WORKBOOK, True), (corrected.name, False)])
    assert pending(database, folder) == []


def test_a_workbook_sharing_some_projects_of_a_loaded_one_is_refused_naming_it(rounds, tmp_path):
    """Two projects loaded from one workbook; then a workbook with one of them under another name
    (it would drop the other) is refused, naming the loaded one and the project it lacks; a
    workbook of a project no other holds loads beside them. Neither name says `cluster`: the
    sheets do."""
    folder = landing_with(rounds, tmp_path)
    both = workbook(folder / "CCCM_and_Shelter_2019.xlsx", second_project=True)
    database = tmp_path / "dtm.duckdb"
    load(database, folder, "first")
    assert [code for code, _, _ in accepted_projects(database)] == [PROJECT, SECOND]

    part = workbook(folder / "CCCM_2019.xlsx", budget=900_000)
    report = load(database, folder, "part")
    (refusal,) = report.refused
    assert refusal.file == part.name and both.name in refusal.reason and SECOND in refusal.reason
    assert [(code, budget) for code, budget, _ in accepted_projects(database)] == [
        (PROJECT, "1000000"),
        (SECOND, "5000"),
    ]
    assert pending(database, folder) == []  # refused, it is known

    other = openpyxl.load_workbook(part)
    for sheet, column in (("Projects", 1), ("Activities", 1), ("Reach", 2)):
        for row in other[sheet].iter_rows(min_row=1):
            if isinstance(row[column - 1].value, str) and "900001" in row[column - 1].value:
                row[column - 1].value = "IRQ19/HEALTH/900003"
    other.save(folder / "Health_2019.xlsx")
    # (the refused one is refused again, as every refused KI export or workbook is in a load)
    assert [r.file for r in load(database, folder, "another cluster").refused] == [part.name]
    assert [code for code, _, _ in accepted_projects(database)] == [PROJECT, "IRQ19/HEALTH/900003", SECOND]


def without_months(target: Path, months: tuple[str, ...]) -> Path:
    """The 2019 test workbook re-issued without its reach rows of these months."""
    book = openpyxl.load_workbook(Path(__file__).parent / "fixtures" / "field_files" / WORKBOOK)
    reach = book["Reach"]
    for row in range(reach.max_row, 1, -1):
        if reach.cell(row, 1).value in months:
            reach.delete_rows(row)
    book.save(target)
    return target


def accepted_reach(database: Path) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(
            "select distinct reference_month, r.source_file from raw.cluster_reach as r "
            "join raw.load_batches using (batch_id) where status = 'accepted' and row_kind = 'data' "
            "order by 1"
        ).fetchall()


def test_a_reissue_without_some_months_takes_the_first_versions_rows_of_them_out(rounds, tmp_path):
    """The workbook re-issued without March and April (a month typed wrong, say): the first
    version's reach of Round 109 was left in the marts, where no batch of the re-issue
    superseded it."""
    folder = landing_with(rounds, tmp_path)
    shutil.copy(Path(__file__).parent / "fixtures" / "field_files" / WORKBOOK, folder / WORKBOOK)
    database = tmp_path / "dtm.duckdb"
    load(database, folder, "first")
    assert [month for month, _ in accepted_reach(database)] == [
        "2019-01-01",
        "2019-02-01",
        "2019-03-01",
        "2019-04-01",
    ]
    without_months(folder / WORKBOOK, ("2019-03", "2019-04"))
    load(database, folder, "re-issue")
    assert [month for month, _ in accepted_reach(database)] == ["2019-01-01", "2019-02-01"]
    with duckdb.connect(str(database), read_only=True) as con:
        (reason,) = con.execute(
            "select status_reason from raw.load_batches where list_type = 'cluster_reach' "
            "and partition_key like 'IRQ-conflict-R109-%' and status = 'superseded'"
        ).fetchall()[0]
    assert reason == f"replaced by {WORKBOOK}, which has no rows for this round"


def test_a_replaced_workbook_left_in_the_landing_folder_loads_nothing_for_a_new_round(tmp_path):
    """The first version stays beside its corrected one (another name, sorting before it). When
    Round 109 arrives, both are read for their March and April rows: the replaced one loads
    nothing, so it cannot supersede the corrected one there."""
    everything = tmp_path / "everything"
    generator.generate(everything, {107, 108, 109}, xlsx=False, field_families=False)
    folder = tmp_path / "landing"
    shutil.copytree(everything, folder, ignore=shutil.ignore_patterns("Round109_*"))
    shutil.copy(Path(__file__).parent / "fixtures" / "field_files" / WORKBOOK, folder / WORKBOOK)
    database = tmp_path / "dtm.duckdb"
    load(database, folder, "first")
    corrected = workbook(folder / "Cluster_sheets_test_2019 corrected.xlsx", budget=1_200_000)
    load(database, folder, "corrected")
    for path in everything.glob("Round109_*"):
        shutil.copy(path, folder / path.name)
    report = load(database, folder, "round 109")
    assert report.refused == []
    assert {source for _, source in accepted_reach(database)} == {corrected.name}
    assert [month for month, _ in accepted_reach(database)] == [
        "2019-01-01",
        "2019-02-01",
        "2019-03-01",
        "2019-04-01",
    ]
