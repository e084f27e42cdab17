"""A load run's plan, on a real landing folder and DuckDB file: what it plans from the warehouse's
batches, and what the ingest step reports when the plan missed a table."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus as Status

from orchestration import landing
from orchestration.attributed_runs import execute
from orchestration.definitions import build_definitions
from orchestration.defs.ingest import LOAD_BATCHES, RAW_ASSET_KEYS, raw_tables
from orchestration.defs.load_plan import launch_selection
from orchestration.defs.partitions import ROUNDS_PARTITIONS_NAME, partition_range_tags
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.selection import Selection
from orchestration.sample import generator

FIELD = Path(__file__).parent / "fixtures" / "field_files"


@pytest.fixture
def one_round(tmp_path: Path):
    """Round 134's two master lists in a landing folder, no warehouse yet."""
    landing_dir = tmp_path / "landing"
    generator.generate(landing_dir, {134}, xlsx=False, field_families=False)
    warehouse = WarehouseResource(
        database_path=str(tmp_path / "warehouse" / "dtm.duckdb"), landing_path=str(landing_dir)
    )
    files = landing.scan(landing_dir)
    (key,) = landing.by_partition(files)
    return {"warehouse": warehouse, "files": files, "key": key, "database": warehouse.database}


def test_a_load_whose_plan_missed_its_tables_still_reports_what_it_loaded(one_round):
    """A run launched with the ledgers only (its plan made before the files arrived) loads the
    round's lists all the same: each raw table's partition and check results are recorded as
    evaluated by that run, and none is left planned, which the UI would show as skipped."""
    key = one_round["key"]
    defs = build_definitions(one_round["warehouse"])
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions(ROUNDS_PARTITIONS_NAME, [key])
    master_lists = {RAW_ASSET_KEYS["idp"], RAW_ASSET_KEYS["returnee"]}
    narrow = Selection(frozenset(k for k in raw_tables.keys if k not in RAW_ASSET_KEYS.values()), frozenset())

    result = execute(defs, instance, "load_rounds", tags=partition_range_tags([key]), selection=narrow)
    assert result.success
    materialized = {(e.asset_key, e.partition) for e in result.get_asset_materialization_events()}
    assert {(k, key) for k in master_lists} <= materialized and (LOAD_BATCHES, None) in materialized
    evaluated = {
        (e.asset_key, e.check_name): e
        for e in result.get_asset_check_evaluations()
        if e.asset_key in master_lists
    }
    assert set(evaluated) == {
        (k, name) for k in master_lists for name in ("great_expectations_suite", "round_over_round")
    }
    gate = evaluated[(RAW_ASSET_KEYS["idp"], "great_expectations_suite")]
    assert gate.passed and gate.metadata["rows_validated"].value > 0 and gate.blocking
    assert gate.target_materialization_data.run_id == result.run_id
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(raw_tables.check_keys))
    assert {(k.asset_key, k.name) for k in latest} == set(evaluated)
    assert {r.run_id for r in latest.values()} == {result.run_id}
    assert Status.PLANNED not in {r.status for r in latest.values()}

    # Loaded: the next load of the round plans no table. A batch an interrupted run left
    # waiting for its gate is news again, for its table alone.
    after = launch_selection(one_round["database"], one_round["files"], {key})
    assert after is not None and not after.assets & set(RAW_ASSET_KEYS.values())
    with duckdb.connect(str(one_round["database"])) as con:
        con.execute("update raw.load_batches set status = 'pending' where list_type = 'returnee'")
    pending = launch_selection(one_round["database"], one_round["files"], {key})
    assert pending is not None and pending.assets & set(RAW_ASSET_KEYS.values()) == {
        RAW_ASSET_KEYS["returnee"]
    }
    assert {(c.asset_key, c.name) for c in pending.checks if c.asset_key in master_lists} == {
        (RAW_ASSET_KEYS["returnee"], "great_expectations_suite"),
        (RAW_ASSET_KEYS["returnee"], "round_over_round"),
    }


def test_field_files_are_planned_for_the_rounds_their_rows_fall_in(tmp_path):
    """Round 134 with the sample's KI exports and 2017-19 workbooks, and a 2019 KI export whose
    submissions no round of this folder holds (they wait): before anything is loaded, a load of
    Round 134 plans the KI table for the sample's exports, and no cluster table; with the 2019
    export alone beside the lists, no KI table either."""
    landing_dir = tmp_path / "landing"
    generator.generate(landing_dir, {134}, xlsx=False, field_families=True)
    files = landing.scan(landing_dir)
    (key,) = landing.by_partition(files)
    plan = launch_selection(tmp_path / "none.duckdb", files, {key})
    raw = {RAW_ASSET_KEYS[t] for t in ("idp", "returnee", "ki_report")}
    assert plan is not None and plan.assets & set(RAW_ASSET_KEYS.values()) == raw

    alone = tmp_path / "alone"
    alone.mkdir()
    for f in files:
        if f.round_id is not None:
            (alone / f.name).write_bytes(f.path.read_bytes())
    waiting = FIELD / "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-03-03-10-15-00.csv"
    (alone / waiting.name).write_bytes(waiting.read_bytes())
    plan = launch_selection(tmp_path / "none.duckdb", landing.scan(alone), {key})
    assert plan is not None and plan.assets & set(RAW_ASSET_KEYS.values()) == raw - {
        RAW_ASSET_KEYS["ki_report"]
    }


def test_a_warehouse_held_by_a_writer_plans_every_table(one_round):
    """The landing sensor never waits for the one writer: with the file held, it plans every
    table, and the step restates what brought nothing."""
    one_round["database"].parent.mkdir(parents=True)
    with duckdb.connect(str(one_round["database"])):
        probe = (
            "import sys; from pathlib import Path; from orchestration import landing; "
            "from orchestration.defs.load_plan import launch_selection; "
            "files = landing.scan(Path(sys.argv[2])); "
            "print(launch_selection(Path(sys.argv[1]), files, {sys.argv[3]}))"
        )
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                probe,
                str(one_round["database"]),
                str(one_round["warehouse"].landing),
                one_round["key"],
            ],
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "None"
