"""A few real rounds through Dagster (ingest → dbt) into a DuckDB file under tmp_path, checked
against figures computed independently from the landing files (csv and openpyxl, not the
project's readers)."""

import csv
import re
import shutil
from collections import defaultdict
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import pytest

from orchestration import landing
from orchestration.cli import load_rounds
from orchestration.definitions import build_definitions
from orchestration.defs.partitions import ROUNDS_PARTITIONS_NAME
from orchestration.defs.resources import WarehouseResource
from orchestration.reference import governorates
from orchestration.sample import generator
from orchestration.warehouse import warehouse_status

# Round 42 (the peak), the two Round 48s with Round 46 between, Round 88 (XLSX, the appeal's
# figures), 112 (XLSX, file dated a day after the API), 119 (Households), 134 (renamed).
ROUNDS = {42, 46, 48, 88, 112, 119, 134}
TAMPERED = "Round90_Master_List_IDP_2018_02_28_IOM_DTM.csv"
# Passes the reader (its totals row agrees) but breaks DTM's rule that shelter sums to families.
GATED = "Round92_Master_List_IDP_2018_03_30_IOM_DTM.csv"


def _governorate_pcode() -> dict[str, str]:
    names = {}
    for g in governorates():
        names[g["dtm_name"]] = names[g["dtm_2024_name"]] = g["admin1_pcode"]
    return names


def independent_totals(path: Path) -> dict[str, int]:
    """Individuals per governorate p-code, straight from a landing file."""
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        sheet = book["IDP DATASET" if "IDP" in path.name else "RETURNEE DATASET"]
        rows = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
        rows = rows[generator.TITLE_ROWS :]
    else:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:-1]  # the last row is the totals row
    to_pcode = _governorate_pcode()
    totals: dict[str, int] = defaultdict(int)
    for row in body:
        totals[to_pcode[row[header.index("Governorate")]]] += int(row[header.index("Individuals")])
    return dict(totals)


def add_camp_households(source: Path, target: Path, row: int, extra: int) -> None:
    """Copy a master list with `extra` camp households in one row and in the totals row: the
    reader's totals check passes, DTM's shelter = families rule (a GX expectation) does not."""
    with source.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    camp = rows[0].index("Camp")
    rows[row][camp] = str(int(rows[row][camp]) + extra)
    rows[-1][camp] = f"{int(rows[-1][camp].replace(',', '')) + extra:,}"
    with target.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(rows)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, request):
    root = tmp_path_factory.mktemp("e2e")
    landing_dir = root / "landing"
    generator.generate(landing_dir, ROUNDS)
    fixtures = Path(__file__).parent / "fixtures" / "round_files"
    # A hostile file: a real list whose numbers no longer add up to its totals row.
    tampered = landing_dir / TAMPERED
    shutil.copy(fixtures / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv", tampered)
    text = tampered.read_text(encoding="utf-8-sig").splitlines()
    cells = text[3].split(",")
    cells[9] = str(int(cells[9]) + 6)
    text[3] = ",".join(cells)
    tampered.write_text("\n".join(text) + "\n", encoding="utf-8-sig")
    (landing_dir / "mystery.pdf").write_bytes(b"%PDF-1.4")
    add_camp_households(
        fixtures / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv", landing_dir / GATED, 3, 1
    )
    warehouse = WarehouseResource(database_path=str(root / "dtm.duckdb"), landing_path=str(landing_dir))
    defs = build_definitions(warehouse)
    instance = dg.DagsterInstance.ephemeral()
    result = load_rounds(defs, instance, landing.scan(landing_dir))
    return {
        "root": root,
        "landing": landing_dir,
        "defs": defs,
        "instance": instance,
        "result": result,
        "database": root / "dtm.duckdb",
    }


def query(loaded, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(loaded["database"]), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_each_round_is_materialized_with_its_own_files_and_rows_and_marts_with_row_counts(loaded):
    result = loaded["result"]
    assert result.success
    raw_key = dg.AssetKey(["raw", "dtm_idp_master_list"])
    by_round = {
        e.materialization.partition: e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == raw_key
    }
    batches = query(
        loaded,
        "select partition_key, source_file, source_sha256, row_count, status from raw.load_batches "
        "where list_type = 'idp' order by partition_key, source_file",
    )
    expected: dict[str, list] = {}
    for key, *batch in batches:
        expected.setdefault(key, []).append(tuple(batch))
    # Materialized exactly where a batch was loaded, never for the run's other rounds.
    assert set(by_round) == set(expected)
    assert set(by_round) < set(loaded["instance"].get_dynamic_partitions(ROUNDS_PARTITIONS_NAME))
    for key, materialization in by_round.items():
        files = [
            (r.data["file"], r.data["sha256"], r.data["rows"], r.data["batch status"])
            for r in materialization.metadata["files"].value.records
        ]
        assert sorted(files) == expected[key], key
        assert materialization.metadata["dagster/row_count"].value == sum(b[2] for b in expected[key])
    # Round 48 twice (two months, two partitions), and the file the gate quarantines is in raw
    # too (nothing lost).
    assert len([key for key in by_round if "-R048-" in key]) == 2
    gated = next(k for k, rows in expected.items() if any(r[0] == GATED for r in rows))
    assert by_round[gated].metadata["batches_quarantined"].value == 1
    # The newest round is the asset's latest materialization.
    latest = loaded["instance"].get_latest_materialization_event(raw_key)
    assert latest.asset_materialization.partition == LATEST_ROUND
    # Marts carry the row count of the table dbt built.
    for mart in ("idps_by_governorate", "returnees_over_time", "national_figures_by_round"):
        event = loaded["instance"].get_latest_materialization_event(dg.AssetKey(["marts", mart]))
        (count,) = query(loaded, f"select count(*) from marts.{mart}")[0]
        assert count > 0 and event.asset_materialization.metadata["dagster/row_count"].value == count


def test_idps_by_governorate_equals_the_files_for_every_round_and_governorate(loaded):
    for path in sorted(loaded["landing"].glob("Round*_IDP_*")):
        if path.name in (TAMPERED, GATED):
            continue
        number = int(path.name.split("_")[0].removeprefix("Round"))
        month = "-".join(path.stem.split("_")[4:6])
        warehouse = dict(
            query(
                loaded,
                """
            select admin1_pcode, idps from marts.idps_by_governorate
            where round_number = ? and strftime(reporting_date, '%Y-%m') = ?""",
                [number, month],
            )
        )
        assert warehouse == independent_totals(path), path.name


def test_the_warehouse_equals_iom_api_series_for_the_rounds_loaded(loaded):
    rows = query(
        loaded,
        """
        select round_number, api_reporting_date, count(*), sum(abs(difference))
        from marts.reconciliation_dtm_api where warehouse_idps is not null group by all order by 2""",
    )
    assert [r[0] for r in rows] == [42, 48, 46, 48, 88, 112, 119]
    assert all(r[3] == 0 for r in rows)


def test_reconciliation_shows_the_peak_difference_of_3_and_round_88_matching(loaded):
    rows = {
        (r[0], r[1]): r[2:]
        for r in query(
            loaded,
            """
        select figure, dtm_round, published_value, warehouse_value, difference, status
        from marts.reconciliation where dtm_round is not null""",
        )
    }
    assert rows[("IDPs at the height of the crisis", 42)] == (3_417_765, 3_417_768, 3, "differs")
    assert rows[("IDPs", 88)] == (2_470_974, 2_470_974, 0, "matches")
    assert rows[("Returnees", 88)] == (3_346_704, 3_346_704, 0, "matches")
    assert rows[("IDPs living in formal camps or emergency sites", 88)][3] == (
        "matches to the published precision"
    )


def test_returnees_over_time_gives_round_88_and_new_returns(loaded):
    rows = query(
        loaded,
        """
        select round_number, returnees, new_returns, previous_partition_key
        from marts.returnees_over_time where area_level = 'national' order by reporting_date""",
    )
    by_round = {r[0]: r for r in rows}
    assert by_round[88][1] == 3_346_704
    returnee_file = next(loaded["landing"].glob("Round88_*Returnee*"))
    assert by_round[88][1] == sum(independent_totals(returnee_file).values())
    # previous by reporting date: Round 46 (May 2016) sits between the two Round 48s
    previous = {r[3] for r in rows}
    assert "IRQ-conflict-R046-2016-05" in previous


def test_a_refused_file_is_recorded_with_row_and_column_and_does_not_stop_the_others(loaded):
    refused = {
        r[0]: r[1:]
        for r in query(
            loaded,
            """
        select source_file, partition_key, row_number, column_name, reason from raw.file_rejections""",
        )
    }
    assert refused[TAMPERED][:3] == ("IRQ-conflict-R090-2018-02", 10, "Individuals")
    assert "totals row states" in refused[TAMPERED][3]
    assert "mystery.pdf" in refused
    assert query(loaded, "select count(*) from marts.dim_round where round_number = 90") == [(0,)]


def test_every_row_is_traceable_to_its_file_and_row(loaded):
    rows = query(
        loaded,
        """
        select b.source_file, b.row_count, count(r.source_row_number), min(r.source_row_number)
        from raw.load_batches b join raw.dtm_idp_master_list r using (batch_id)
        where b.status = 'accepted' group by all""",
    )
    for source_file, stated, loaded_rows, first_row in rows:
        path = loaded["landing"] / source_file
        assert stated == loaded_rows
        assert first_row == (generator.TITLE_ROWS + 2 if path.suffix == ".xlsx" else 2)
    facts = query(loaded, "select count(*), count(distinct source_file) from marts.fct_idp_locations")
    assert facts == [(sum(r[1] for r in rows), len(rows))]


def test_dtm_districts_without_a_cod_district_are_counted_where_dtm_publishes_them(loaded):
    # Mergasur, Abu Ghraib, Ra'ua, ... sit on COD districts (DTM's assignment), never on a
    # placeholder, and every fact keeps DTM's own district beside the COD one.
    rows = query(
        loaded,
        """
        select f.dtm_district_name, f.district_match_type, d.admin2_name, d.is_placeholder, count(*)
        from marts.fct_idp_locations f join marts.dim_admin2 d using (admin2_pcode)
        where f.dtm_district_name in ('Mergasur', 'Abu Ghraib', 'Tarmia', 'Ra''ua', 'Al-Fares', 'Al-Azezia')
        group by all""",
    )
    assert rows and {(r[1], r[3]) for r in rows} == {("dtm_assignment", False)}
    assert {r[0]: r[2] for r in rows}.get("Mergasur") == "Al-Zibar"
    assert query(loaded, "select count(*) from marts.fct_idp_locations where dtm_district_name is null") == [
        (0,)
    ]


def _raw_check_records(loaded) -> dict:
    """Each raw table's check's latest record: what the UI shows as its status."""
    from orchestration.defs.ingest import raw_tables

    storage = loaded["instance"].event_log_storage
    return storage.get_latest_asset_check_execution_by_key(list(raw_tables.check_keys))


def _run_keys(loaded, run_id: str, event_type: dg.DagsterEventType) -> set:
    return {
        e.dagster_event.asset_key or e.dagster_event.event_specific_data.asset_check_key
        for e in loaded["instance"].all_logs(run_id, of_type=event_type)
    }


def test_a_refused_file_fails_its_tables_gate_with_the_reason(loaded):
    (idp_gate,) = [
        e
        for e in loaded["result"].get_asset_check_evaluations()
        if e.check_name == "great_expectations_suite" and e.asset_key.path[-1] == "dtm_idp_master_list"
    ]
    refused = {r.data["file"]: r.data["reason"] for r in idp_gate.metadata["files_refused"].value.records}
    assert not idp_gate.passed and "totals row states" in refused[TAMPERED]
    assert "mystery.pdf" not in refused  # a file of no table is the ledger's alone


def test_a_load_with_nothing_new_plans_no_table_and_every_gate_keeps_its_result(loaded):
    """Round 42's files are loaded already: a load of it plans the ledgers and the landing
    folder's freshness only, evaluates no raw table's check, and the IDP gate that Round 92's
    quarantined list failed stays failed, where a pass over no rows would have hidden it."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    from orchestration.attributed_runs import execute
    from orchestration.defs.load_plan import launch_selection
    from orchestration.defs.partitions import partition_range_tags

    files = landing.scan(loaded["landing"])
    round_42 = next(f.round_id.partition_key for f in files if f.name.startswith("Round42_"))
    plan = launch_selection(loaded["database"], files, {round_42})
    assert plan is not None and {k.path[-1] for k in plan.assets} == {
        "load_batches",
        "quality_failures",
        "sense_check_findings",
        "file_rejections",
    }
    assert {k.name for k in plan.checks} == {"round_freshness"}
    before = _raw_check_records(loaded)
    idp_gate = dg.AssetCheckKey(dg.AssetKey(["raw", "dtm_idp_master_list"]), "great_expectations_suite")
    assert before[idp_gate].status == AssetCheckExecutionRecordStatus.FAILED

    # the load run as `dtm run` launches it (its build after is the incremental tests' part)
    load = execute(
        loaded["defs"],
        loaded["instance"],
        "load_rounds",
        tags=partition_range_tags([round_42]),
        selection=plan,
    )
    assert load.success
    events = dg.DagsterEventType
    assert _run_keys(loaded, load.run_id, events.ASSET_MATERIALIZATION_PLANNED) == set(plan.assets)
    assert _run_keys(loaded, load.run_id, events.ASSET_MATERIALIZATION) == set(plan.assets)
    assert _run_keys(loaded, load.run_id, events.ASSET_CHECK_EVALUATION) == set(plan.checks)
    assert {k: r.id for k, r in _raw_check_records(loaded).items()} == {k: r.id for k, r in before.items()}


def test_a_load_planning_every_table_restates_what_it_found_nothing_new_for(loaded):
    """Launched for every table (as from the UI's launchpad), a load with nothing new yields
    each check's standing result again, naming the run that evaluated it: never a pass over no
    rows, and never a check left planned (which the UI shows as skipped)."""
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

    from orchestration.attributed_runs import execute
    from orchestration.defs.partitions import partition_range_tags

    files = landing.scan(loaded["landing"])
    round_42 = next(f.round_id.partition_key for f in files if f.name.startswith("Round42_"))
    before = _raw_check_records(loaded)
    result = execute(loaded["defs"], loaded["instance"], "load_rounds", tags=partition_range_tags([round_42]))
    assert result.success
    after = _raw_check_records(loaded)
    assert set(after) > set(before)  # every check has a result now: those of tables never loaded too
    for key, record in after.items():
        assert record.run_id == result.run_id, key
        evaluation = record.event.dagster_event.event_specific_data
        was = before.get(key)
        if was is None:  # the KI and cluster tables: this landing folder never had their files
            assert evaluation.passed and "no earlier result of this check" in evaluation.description
            continue
        assert record.status == was.status, key
        assert evaluation.metadata["stands_from_run"].value == was.run_id
    idp_gate = dg.AssetCheckKey(dg.AssetKey(["raw", "dtm_idp_master_list"]), "great_expectations_suite")
    assert after[idp_gate].status == Status.FAILED
    assert Status.PLANNED not in {r.status for r in after.values()}


def test_reloading_changes_nothing_and_a_reissue_replaces_its_round(loaded):
    before = query(loaded, "select * from marts.idps_by_governorate order by all")
    again = load_rounds(loaded["defs"], loaded["instance"], landing.scan(loaded["landing"]))
    assert again.success
    # the load run only: it changed nothing the marts are built from, so no build follows
    jobs = [loaded["instance"].get_run_by_id(run_id).job_name for run_id in again.run_ids]
    assert jobs == ["load_rounds"]
    assert query(loaded, "select * from marts.idps_by_governorate order by all") == before
    assert query(
        loaded, "select count(*) from raw.load_batches where status in ('pending', 'superseded')"
    ) == [(0,)]

    # IOM re-issues Round 88's IDP list without its first location (totals row corrected).
    path = next(loaded["landing"].glob("Round88_*IDP*"))
    book = openpyxl.load_workbook(path)
    sheet = book["IDP DATASET"]
    header = [c.value for c in sheet[generator.TITLE_ROWS + 1]]
    first = [c.value for c in sheet[generator.TITLE_ROWS + 2]]
    totals = sheet[sheet.max_row]
    for i, name in enumerate(header):
        if i and isinstance(first[i], int) and name not in ("Location ID", "Place id", "Place ID"):
            cell = totals[i]
            cell.value = f"{int(str(cell.value).replace(',', '')) - first[i]:,}"
    totals[0].value = f"Totals: Locations:{sheet.max_row - generator.TITLE_ROWS - 3:,}"
    sheet.delete_rows(generator.TITLE_ROWS + 2)
    book.save(path)
    individuals = first[header.index("Individuals")]
    files = landing.scan(loaded["landing"])
    assert landing.pending_partitions(files, warehouse_status(loaded["database"]).known_files) == [
        "IRQ-conflict-R088-2018-01"
    ]
    reissue = load_rounds(loaded["defs"], loaded["instance"], files, ["IRQ-conflict-R088-2018-01"])
    assert reissue.success
    assert query(
        loaded,
        "select status, count(*) from raw.load_batches where partition_key = "
        "'IRQ-conflict-R088-2018-01' and list_type = 'idp' group by all order by 1",
    ) == [("accepted", 1), ("superseded", 1)]
    assert query(loaded, "select idps from marts.national_figures_by_round where round_number = 88") == [
        (2_470_974 - individuals,)
    ]
    assert query(
        loaded, "select difference from marts.reconciliation where figure = 'IDPs' and dtm_round = 88"
    ) == [(-individuals,)]


def test_a_file_failing_the_gate_is_quarantined_without_holding_back_the_others(loaded):
    result = loaded["result"]
    checks = {
        e.asset_key.to_user_string(): e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "great_expectations_suite"
    }
    idp_check = checks["raw/dtm_idp_master_list"]
    assert not idp_check.passed and idp_check.severity == dg.AssetCheckSeverity.WARN
    assert checks["raw/dtm_returnee_master_list"].passed
    # dbt ran for the good rounds of the same run
    assert query(loaded, "select count(*) from marts.dim_round") == [(len(ROUNDS) + 1,)]
    status, reason = query(
        loaded, "select status, status_reason from raw.load_batches where source_file = ?", [GATED]
    )[0]
    assert status == "quarantined" and "row 4" in reason
    failure = query(
        loaded,
        "select source_file, partition_key, columns, severity, sample_rows "
        "from raw.quality_failures where source_file = ?",
        [GATED],
    )
    assert failure == [(GATED, "IRQ-conflict-R092-2018-03", "shelter_sum, breakdown_total", "error", [4])]
    assert query(loaded, "select count(*) from marts.fct_idp_locations where round_number = 92") == [(0,)]
    # GX's Data Docs of the run, linked from the check, and the round's page pointing at them
    docs = loaded["database"].parent / idp_check.metadata["data_docs_in_the_warehouse_folder"].value
    assert docs.exists() and "shelter_sum" in docs.read_text()
    round_page = loaded["root"] / "quality" / "rounds" / "IRQ-conflict-R092-2018-03.md"
    assert "quarantined" in round_page.read_text()

    # The corrected file arrives: it replaces the quarantined batch and the round goes through.
    shutil.copy(
        Path(__file__).parent / "fixtures" / "round_files" / "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv",
        loaded["landing"] / GATED,
    )
    corrected = load_rounds(
        loaded["defs"], loaded["instance"], landing.scan(loaded["landing"]), ["IRQ-conflict-R092-2018-03"]
    )
    assert corrected.success
    assert query(
        loaded, "select status from raw.load_batches where source_file = ? order by loaded_at", [GATED]
    ) == [("quarantined",), ("accepted",)]
    assert query(loaded, "select count(*) from marts.fct_idp_locations where round_number = 92") == [(8,)]


# A BI tool polling the latest file: it opens the file, reads, closes, and asks again a quarter of
# a second later, until told to stop (two minutes at most). An open, two reads and a close cost
# about 40 ms of CPU: eight readers that never paused took both cores and made the publications
# they watch four times slower (a 5 s publication took 21 s).
READER = """
import json, sys, time, duckdb
path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
seen, errors = [], []
from pathlib import Path
deadline = time.monotonic() + 120
while not Path(stop).exists() and time.monotonic() < deadline:
    try:
        with duckdb.connect(path, read_only=True) as con:
            key = con.execute("select partition_key from marts.publication_info").fetchall()[0][0]
            rows = con.execute("select count(*) from marts.idps_by_governorate").fetchall()[0][0]
            seen.append([key, rows])
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.25)
Path(out).write_text(json.dumps({"seen": seen, "errors": errors}))
"""


def test_publication_swaps_under_eight_open_readers_and_holds_marts_alone(loaded, tmp_path):
    import json
    import subprocess
    import sys

    from orchestration.cli import publish

    first = publish(loaded["defs"], loaded["instance"])
    assert first.success
    latest = loaded["root"] / "published" / "dtm_latest.duckdb"
    script = tmp_path / "reader.py"
    script.write_text(READER)
    stop = tmp_path / "stop"
    readers = [
        subprocess.Popen([sys.executable, str(script), str(latest), str(stop), str(tmp_path / f"r{i}.json")])
        for i in range(8)
    ]
    try:
        # two publications in a row: an earlier round, then the latest again
        from orchestration.defs.dbt_project import dbt_project
        from orchestration.publish.warehouse_file import (
            install_latest,
            mart_descriptions,
            write_published_file,
        )

        # an older file swapped in as the latest, then the latest round again
        older = loaded["root"] / "published" / "rounds" / "IRQ-conflict-R119-2020-12.duckdb"
        write_published_file(
            loaded["database"],
            older,
            "IRQ-conflict-R119-2020-12",
            mart_descriptions(dbt_project.manifest_path),
        )
        install_latest(loaded["root"] / "published", older)
        second = publish(loaded["defs"], loaded["instance"])
        assert second.success
    finally:
        stop.touch()
        for reader in readers:
            reader.wait(timeout=120)
    expected_rows = query(loaded, "select count(*) from marts.idps_by_governorate")[0][0]
    for i in range(8):
        report = json.loads((tmp_path / f"r{i}.json").read_text())
        assert report["errors"] == []
        # every reader sees one complete publication at a time, never an error or a half
        assert report["seen"]
        assert {key for key, _ in report["seen"]} <= {
            "IRQ-conflict-R134-2024-12",
            "IRQ-conflict-R119-2020-12",
        }
        assert all(rows == expected_rows for _, rows in report["seen"])
    seen = {key for i in range(8) for key, _ in json.loads((tmp_path / f"r{i}.json").read_text())["seen"]}
    assert "IRQ-conflict-R134-2024-12" in seen
    with duckdb.connect(str(latest), read_only=True) as con:
        schemas = {r[0] for r in con.execute("select distinct schema_name from duckdb_tables()").fetchall()}
        comment = con.execute("select comment from duckdb_tables() where table_name = 'idps_by_governorate'")
        assert schemas == {"marts"}
        assert "IDPs per round and governorate" in comment.fetchall()[0][0]
    folder = loaded["root"] / "published" / "rounds" / "IRQ-conflict-R134-2024-12"
    assert (folder / "datapackage.json").exists() and (folder / "LICENSE.txt").exists()
    # charts and the report come from the marts of the round
    for chart in ("returnees_over_time", "idps_by_governorate", "shelter_mix"):
        assert (folder / f"chart_{chart}.png").stat().st_size > 10_000
        assert (folder / f"chart_{chart}.svg").read_text().lstrip().startswith("<?xml")
    national = query(loaded, "select idps from marts.national_figures_by_round where round_number = 134")[0][
        0
    ]
    report = (folder / "round_report.html").read_text()
    assert f"{national:,}" in report and "Reconciliation" in report and "chart_shelter_mix.png" in report
    workbook = openpyxl.load_workbook(folder / "dtm_iraq_IRQ-conflict-R134-2024-12.xlsx", read_only=True)
    assert "README" in workbook.sheetnames and "idps_by_governorate" in workbook.sheetnames


LATEST_ROUND = "IRQ-conflict-R134-2024-12"


def published_folder(loaded, partition_key: str = LATEST_ROUND) -> Path:
    folder = loaded["root"] / "published" / "rounds" / partition_key
    if not folder.exists():
        from orchestration.cli import publish

        assert publish(loaded["defs"], loaded["instance"]).success
    return folder


def marts_totals(loaded, partition_key: str = LATEST_ROUND) -> tuple[int, int]:
    return query(
        loaded,
        "select idps, returnees from marts.national_figures_by_round where partition_key = ?",
        [partition_key],
    )[0]


def test_every_published_file_carries_the_marts_totals_of_idps_and_returnees(loaded):
    """Read each format with its own library: every file's IDPs and returnees equal the marts'."""
    import csv as csv_module
    import json

    import hxl
    from frictionless import validate

    folder = published_folder(loaded)
    idps, returnees = marts_totals(loaded)
    assert validate(str(folder / "datapackage.json")).valid
    con = duckdb.connect()
    # Parquet, read by DuckDB: the aggregated marts and the location facts
    for table, measure, expected in (
        ("idps_by_governorate", "idps", idps),
        ("idps_by_district", "idps", idps),
        ("fct_idp_locations", "individuals", idps),
        ("fct_returnee_locations", "individuals", returnees),
        ("national_figures_by_round", "idps", idps),
        ("national_figures_by_round", "returnees", returnees),
    ):
        total = con.execute(f"select sum({measure}) from '{folder / table}.parquet'").fetchall()[0][0]
        assert total == expected, (table, measure)
    national = con.execute(
        f"select returnees from '{folder}/returnees_over_time.parquet' where area_level = 'national'"
    ).fetchall()
    assert national == [(returnees,)]
    # CSV, read as text: whole numbers, the same totals
    with (folder / "idps_by_district.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv_module.DictReader(handle))
    assert sum(int(r["idps"]) for r in rows) == idps
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["reporting_date"]) for r in rows)
    # HXL, read by libhxl: every district with IDPs or returnees, whole numbers, ISO dates
    source = list(
        hxl.data(str(folder / "idps_returnees_by_district_hxl.csv"), hxl.InputOptions(allow_local=True))
    )
    assert sum(int(r.get("#affected+idps+ind")) for r in source) == idps
    assert sum(int(r.get("#affected+returnees+ind")) for r in source) == returnees
    assert idps == sum(independent_totals(next(loaded["landing"].glob("Round134_*IDP*"))).values())
    cells = [r.get(tag) for r in source for tag in ("#affected+idps+ind", "#affected+returnees+ind")]
    assert all(re.fullmatch(r"\d+", c) for c in cells)
    assert {r.get("#date+reported") for r in source} == {"2024-12-31"}
    # DTM API JSON, both endpoints
    for name in ("idps_by_governorate_dtm_api_v3.json", "idps_by_district_dtm_api_v3.json"):
        document = json.loads((folder / name).read_text())
        assert sum(r["numPresentIdpInd"] for r in document["result"]) == idps, name
    # the workbook, read by openpyxl: real numbers that add up
    book = openpyxl.load_workbook(folder / f"dtm_iraq_{LATEST_ROUND}.xlsx", read_only=True)
    sheet = list(book["idps_by_governorate"].iter_rows(values_only=True))
    column = sheet[0].index("idps")
    assert sum(row[column] for row in sheet[1:]) == idps
    sheet = list(book["returnees_over_time"].iter_rows(values_only=True))
    level, value = sheet[0].index("area_level"), sheet[0].index("returnees")
    assert [row[value] for row in sheet[1:] if row[level] == "national"] == [returnees]


def test_the_workbook_has_real_dates_formats_and_a_filled_readme(loaded):
    import datetime

    folder = published_folder(loaded)
    book = openpyxl.load_workbook(folder / f"dtm_iraq_{LATEST_ROUND}.xlsx")
    readme = list(book["README"].iter_rows(values_only=True))
    assert readme[0] == ("sheet", "column", "what it means", "where it comes from")
    blank = [row for row in readme[1:] if not all(str(v or "").strip() for v in row)]
    assert blank == []
    sheet = book["idps_by_governorate"]
    header = [c.value for c in sheet[1]]
    first = sheet[2]
    date_cell = first[header.index("reporting_date")]
    assert isinstance(date_cell.value, datetime.datetime) and date_cell.is_date
    assert date_cell.value.date() == datetime.date(2024, 12, 31)
    assert first[header.index("camp_share")].number_format == "0.0%"
    assert first[header.index("idps")].number_format == "#,##0"
    assert isinstance(first[header.index("idps")].value, int)
    assert first[header.index("round_number")].number_format == "0"


def test_the_round_report_names_the_round_as_people_do_and_rounds_its_figures(loaded):
    folder = published_folder(loaded)
    report = (folder / "round_report.html").read_text()
    assert "Round 134, 31 December 2024" in report
    # no float printed at full precision, shares as percents
    assert not re.search(r"\d\.\d{5,}", report)
    assert re.search(r"\d+\.\d%", report)
    assert "Key informants" in report and "Quality of the round" in report


def test_the_dtm_api_json_has_the_real_envelope_stable_ids_and_the_admin2_shape(loaded):
    import functools
    import http.server
    import json
    import threading

    import jsonschema
    from dtmapi import DTMApi

    from orchestration.cli import publish

    folder = published_folder(loaded)
    shape = json.loads((Path(__file__).parent / "schemas" / "dtm_api_v3_response_shape.json").read_text())
    schema = json.loads((Path(__file__).parent / "schemas" / "dtm_api_v3_idp.schema.json").read_text())
    documents = {}
    for level, name in (("admin1", "idps_by_governorate"), ("admin2", "idps_by_district")):
        document = json.loads((folder / f"{name}_dtm_api_v3.json").read_text())
        jsonschema.validate(document, schema)
        assert list(document) == shape["envelope"]
        assert document["statusCode"] == 200 and document["totalRecordsCount"] == len(document["result"])
        assert {tuple(r) for r in document["result"]} == {tuple(shape["records"][level])}
        ids = [r["id"] for r in document["result"]]
        assert len(set(ids)) == len(ids)
        documents[level] = document
    assert {r["admin2Pcode"][:7] for r in documents["admin2"]["result"]} <= {
        f"IRQ-G{i:02d}" for i in range(1, 19)
    }
    kadhmiyah = [r for r in documents["admin2"]["result"] if r["admin2Pcode"] == "IRQ-G08Q02"]
    assert kadhmiyah and kadhmiyah[0]["admin2Name"] == "Al-Kadhmiyah"
    # a later publication of the same round gives every record the same id
    assert publish(loaded["defs"], loaded["instance"]).success
    again = json.loads((folder / "idps_by_district_dtm_api_v3.json").read_text())
    assert [(r["admin2Pcode"], r["id"]) for r in again["result"]] == [
        (r["admin2Pcode"], r["id"]) for r in documents["admin2"]["result"]
    ]

    # the real dtmapi client reads both endpoints from a local server
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    files = {"admin1": "idps_by_governorate_dtm_api_v3.json", "admin2": "idps_by_district_dtm_api_v3.json"}
    try:

        class LocalDTMApi(DTMApi):
            def _get_endpoint(self, endpoint_type: str) -> str:
                return f"http://127.0.0.1:{server.server_port}/{files[endpoint_type]}"

        client = LocalDTMApi(subscription_key="dummy-key", max_retries=0)
        admin1 = client.get_idp_admin1_data(Admin0Pcode="IRQ")
        admin2 = client.get_idp_admin2_data(Admin0Pcode="IRQ")
    finally:
        server.shutdown()
    idps, _ = marts_totals(loaded)
    assert int(admin1["numPresentIdpInd"].sum()) == idps == int(admin2["numPresentIdpInd"].sum())
    assert set(admin1["admin1Pcode"]) == {f"IRQ-G{i:02d}" for i in range(1, 19)}


def test_a_gate_failure_leaves_the_previous_publication_in_place(loaded):
    from orchestration.cli import publish

    assert publish(loaded["defs"], loaded["instance"]).success
    bad = loaded["landing"] / "Round135_Master_List_IDP_2025_04_30_IOM_DTM.csv"
    add_camp_households(loaded["landing"] / GATED, bad, 2, 3)
    assert load_rounds(
        loaded["defs"], loaded["instance"], landing.scan(loaded["landing"]), ["IRQ-conflict-R135-2025-04"]
    ).success
    assert publish(loaded["defs"], loaded["instance"]).success
    latest = loaded["root"] / "published" / "dtm_latest.duckdb"
    with duckdb.connect(str(latest), read_only=True) as con:
        assert con.execute("select partition_key from marts.publication_info").fetchall() == [
            ("IRQ-conflict-R134-2024-12",)
        ]
    # asked for by name, the quarantined round is refused with the reason, and nothing moves
    refused = publish(loaded["defs"], loaded["instance"], "135")
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_step_failure)
    assert "no master list of it passed the quality gate" in failure.event_specific_data.error.message
    assert not (loaded["root"] / "published" / "rounds" / "IRQ-conflict-R135-2025-04").exists()


def test_a_round_whose_idp_list_was_refused_is_not_published_on_its_returnees_alone(loaded, tmp_path):
    """Round 136's returnee list passes, its IDP list arrives cut off and is refused: published,
    the round would show no IDPs where IOM counted a million, so the latest file stays."""
    from orchestration.cli import publish
    from tests.test_integrity import without_first_location

    round_136 = "IRQ-conflict-R136-2025-06"
    lists = generator.generate(tmp_path, {134}, xlsx=False, field_families=False)
    returnees, idp_list = (next(p for p in lists if kind in p.name) for kind in ("Returnee", "IDP"))
    without_first_location(
        returnees, loaded["landing"] / "Round136_Master_List_Returnee_2025_06_30_IOM_DTM.csv"
    )
    idps = idp_list.read_bytes()
    (loaded["landing"] / "Round136_Master_List_IDP_2025_06_30_IOM_DTM.csv").write_bytes(
        idps[: len(idps) // 2]
    )
    load = load_rounds(loaded["defs"], loaded["instance"], landing.scan(loaded["landing"]), [round_136])
    assert load.success
    assert query(
        loaded, "select list_type, status from raw.load_batches where partition_key = ?", [round_136]
    ) == [("returnee", "accepted")]
    assert query(
        loaded,
        "select master_lists_missing, is_publishable from marts.round_quality where partition_key = ?",
        [round_136],
    ) == [("idp", False)]
    assert publish(loaded["defs"], loaded["instance"]).success
    latest = loaded["root"] / "published" / "dtm_latest.duckdb"
    with duckdb.connect(str(latest), read_only=True) as con:
        assert con.execute("select partition_key from marts.publication_info").fetchall() == [(LATEST_ROUND,)]
    refused = publish(loaded["defs"], loaded["instance"], "136")
    assert not refused.success
    failure = next(e for e in refused.all_events if e.is_step_failure)
    assert "its idp list arrived and did not pass" in failure.event_specific_data.error.message


def test_any_publishable_round_can_be_published_and_the_latest_file_stays(loaded):
    import json

    from orchestration.cli import publish

    assert publish(loaded["defs"], loaded["instance"]).success
    latest = loaded["root"] / "published" / "dtm_latest.duckdb"
    before = latest.stat().st_ino
    result = publish(loaded["defs"], loaded["instance"], "119")
    assert result.success
    folder = loaded["root"] / "published" / "rounds" / "IRQ-conflict-R119-2020-12"
    idps, returnees = marts_totals(loaded, "IRQ-conflict-R119-2020-12")
    api = json.loads((folder / "idps_by_governorate_dtm_api_v3.json").read_text())
    assert {r["roundNumber"] for r in api["result"]} == {119}
    assert sum(r["numPresentIdpInd"] for r in api["result"]) == idps
    assert "Round 119, 31 December 2020" in (folder / "round_report.html").read_text()
    con = duckdb.connect()
    info = con.execute(f"select partition_key from '{folder}/publication_info.parquet'").fetchall()
    assert info == [("IRQ-conflict-R119-2020-12",)]
    assert con.execute(
        f"select sum(individuals) from '{folder}/fct_returnee_locations.parquet'"
    ).fetchall() == [(returnees,)]
    # dtm_latest.duckdb is the same file, still the latest round; no stray file is left
    assert latest.stat().st_ino == before
    with duckdb.connect(str(latest), read_only=True) as published:
        assert published.execute("select partition_key from marts.publication_info").fetchall() == [
            (LATEST_ROUND,)
        ]
    assert not list((loaded["root"] / "published" / "rounds").glob(".*"))


def test_the_publication_reads_the_marts_alone(loaded, tmp_path):
    """A copy of the warehouse without its raw and staging layers publishes the same round with
    the same files: nothing on the publishing side queries raw."""
    from orchestration.defs.dbt_project import dbt_project
    from orchestration.publish.publication import publish as publish_marts

    marts_only = tmp_path / "marts_only.duckdb"
    shutil.copy(loaded["database"], marts_only)
    with duckdb.connect(str(marts_only)) as con:
        for schema in ("raw", "staging", "intermediate", "reference"):
            con.execute(f"drop schema if exists {schema} cascade")
    done = publish_marts(marts_only, tmp_path / "published", dbt_project.manifest_path, say=lambda _: None)
    assert done.partition_key == LATEST_ROUND and done.is_latest
    files = {p.name for p in done.folder.iterdir()}
    assert {"sources.csv", "round_report.html", "round_quality.csv", "gate_failures.csv"} <= files
    with (done.folder / "sources.csv").open(encoding="utf-8") as handle:
        sources = list(csv.DictReader(handle))
    assert {s["list_type"] for s in sources} >= {"idp", "returnee"} and all(
        len(s["source_sha256"]) == 64 for s in sources
    )
