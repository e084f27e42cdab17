"""A new round builds only what it changes and publishes only what differs; what comes out must
equal building and publishing everything from scratch, table by table and row by row."""

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.dbt_scope import DBT_VARS_ARGS
from orchestration.defs.dbt_project import dbt_project
from orchestration.publish.warehouse_file import mart_descriptions, write_published_file
from orchestration.sample import generator
from orchestration.warehouse import set_build_rounds
from tests.runs import ROOT, data_dir, dtm

NEW_ROUND = "Round134_"
DBT = Path(sys.executable).with_name("dtm-dbt")


def differing_rows(left: Path, right: Path, schema: str, skip: frozenset[str] = frozenset()) -> dict:
    """Per table of `schema` in either file: rows one has and the other lacks (as multisets);
    tables only one file has count as all their rows."""
    con = duckdb.connect()
    con.execute(f"attach '{left}' as l (read_only)")
    con.execute(f"attach '{right}' as r (read_only)")
    tables = {
        db: {
            t
            for (t,) in con.execute(
                "select table_name from duckdb_tables() where database_name = ? and schema_name = ?",
                [db, schema],
            ).fetchall()
        }
        - skip
        for db in ("l", "r")
    }
    differences = {t: "missing on one side" for t in tables["l"] ^ tables["r"]}
    for table in sorted(tables["l"] & tables["r"]):
        left_only, right_only = (
            con.execute(
                f"select count(*) from (select * from {a}.{schema}.{table} except all "
                f"select * from {b}.{schema}.{table})"
            ).fetchall()[0][0]
            for a, b in (("l", "r"), ("r", "l"))
        )
        if left_only or right_only:
            differences[table] = (left_only, right_only)
    con.close()
    return differences


@pytest.fixture(scope="module")
def added_round(tmp_path_factory):
    """Rounds 132 and 133 with their KI exports and cluster workbooks loaded and published, then
    Round 134 added by a second `dtm run`, as a user adds a round."""
    root = tmp_path_factory.mktemp("incremental")
    everything = root / "everything"
    generator.generate(everything, {132, 133, 134}, xlsx=False, field_families=True)
    landing = root / "landing"
    shutil.copytree(everything, landing, ignore=shutil.ignore_patterns(f"{NEW_ROUND}*"))
    env = data_dir(root, landing)
    dtm(env, "run")
    for path in everything.glob(f"{NEW_ROUND}*"):
        shutil.copy(path, landing / path.name)
    added = dtm(env, "run")
    return {
        "root": root,
        "env": env,
        "output": added.stdout + added.stderr,
        "database": root / "warehouse" / "dtm.duckdb",
    }


def test_a_new_round_builds_only_what_it_reaches_and_equals_a_build_from_scratch(added_round, tmp_path):
    output = added_round["output"]
    assert "Building the models and tests downstream of the raw tables that changed" in output
    log = (added_round["database"].parent / "operations" / "dbt_target" / "dbt.log").read_text()
    # neither build parsed the whole project: the new warehouse's first started from the parse
    # `make manifest` prepared (its profile names the warehouse as that parse did), the second
    # from the first's; and the second left out what the new round cannot change
    assert log.count("Running with dbt=") == 2
    assert "Unable to do partial parsing" not in log
    results = (added_round["database"].parent / "operations" / "dbt_target" / "run_results.json").read_text()
    assert "model.dtm_warehouse.idps_by_governorate" in results
    assert "model.dtm_warehouse.project_beneficiaries_vs_budget" not in results
    assert "seed.dtm_warehouse." not in results and "unit_test." not in results

    # the same raw tables, every mart rebuilt from scratch and tested whole by `dbt build`, of
    # every round listed: dtm-dbt, the builds' vars and a copy named dtm.duckdb keep the parse
    # `make manifest` prepared (6 s of parsing less than plain dbt)
    scratch = tmp_path / "scratch" / "dtm.duckdb"
    scratch.parent.mkdir()
    shutil.copy(added_round["database"], scratch)
    with duckdb.connect(str(scratch)) as con:
        set_build_rounds(con, [])
    target = tmp_path / "target"
    target.mkdir()
    shutil.copy(ROOT / "dbt_project" / "target" / "partial_parse.msgpack", target)
    env = {**added_round["env"], "DTM_WAREHOUSE_PATH": str(scratch)}
    done = subprocess.run(
        [str(DBT), "build", *DBT_VARS_ARGS, "--full-refresh", "--quiet", "--target-path", str(target)],
        cwd=ROOT / "dbt_project",
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    with duckdb.connect(str(scratch), read_only=True) as con:
        built = dict(
            con.execute(
                "select table_name, estimated_size from duckdb_tables() where schema_name = 'marts'"
            ).fetchall()
        )
    assert built["idps_by_governorate"] > 0 and built["fct_idp_breakdowns"] > 0
    assert differing_rows(added_round["database"], scratch, "marts") == {}


def test_the_new_rounds_build_plans_what_dbt_runs_and_every_check_keeps_a_result(added_round):
    """What the UI shows: a run's planned assets and checks are the ones it materialized and
    evaluated (a check planned and not run shows as skipped), and a check the build left out
    still shows the result of the build that made its table as it stands."""
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
    from dagster._core.storage.dagster_run import RunsFilter

    from orchestration.defs.dbt import dtm_dbt_models

    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(added_round["env"]["DAGSTER_HOME"]))
    new, first = instance.get_runs(filters=RunsFilter(job_name="build_marts"))

    def keys(run, event_type):
        return {
            e.dagster_event.asset_key or e.dagster_event.event_specific_data.asset_check_key
            for e in instance.all_logs(run.run_id, of_type=event_type)
        }

    events = dg.DagsterEventType
    planned = keys(new, events.ASSET_MATERIALIZATION_PLANNED)
    assert planned == keys(new, events.ASSET_MATERIALIZATION)
    assert keys(new, events.ASSET_CHECK_EVALUATION_PLANNED) == keys(new, events.ASSET_CHECK_EVALUATION)
    project_mart = dg.AssetKey(["marts", "project_beneficiaries_vs_budget"])
    assert dg.AssetKey(["marts", "idps_by_governorate"]) in planned and project_mart not in planned

    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        list(dtm_dbt_models.check_keys)
    )
    assert set(latest) == set(dtm_dbt_models.check_keys)
    assert {r.status for r in latest.values()} == {AssetCheckExecutionRecordStatus.SUCCEEDED}
    left_out = [r for key, r in latest.items() if key.asset_key == project_mart]
    assert left_out and {r.run_id for r in left_out} == {first.run_id}


def test_the_new_rounds_load_plans_the_tables_its_files_feed_and_evaluates_only_those(added_round):
    """Round 134 brings an IDP and a returnee list and KI submissions an export held already (a
    footprint the warehouse kept tells them apart from the 2017-19 workbooks, which no round of
    these holds): the load plans those three tables and their checks, and materializes and
    evaluates exactly them."""
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.storage.dagster_run import RunsFilter

    from orchestration.defs.ingest import raw_tables

    instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(added_round["env"]["DAGSTER_HOME"]))
    new, first = instance.get_runs(filters=RunsFilter(job_name="load_rounds"))
    events = dg.DagsterEventType

    def keys(run, event_type):
        return {
            e.dagster_event.asset_key or e.dagster_event.event_specific_data.asset_check_key
            for e in instance.all_logs(run.run_id, of_type=event_type)
        }

    planned = keys(new, events.ASSET_MATERIALIZATION_PLANNED)
    assert planned == keys(new, events.ASSET_MATERIALIZATION)
    # and `dtm run` said so
    assert (
        "(planning dtm_idp_master_list, dtm_returnee_master_list, kobo_ki_reports)" in added_round["output"]
    )
    assert {k.path[-1] for k in planned} == {
        "dtm_idp_master_list",
        "dtm_returnee_master_list",
        "kobo_ki_reports",
        "load_batches",
        "quality_failures",
        "sense_check_findings",
        "file_rejections",
    }
    assert keys(new, events.ASSET_CHECK_EVALUATION_PLANNED) == keys(new, events.ASSET_CHECK_EVALUATION)
    # No round of these holds a month of the workbooks: neither load planned or evaluated their
    # tables' gates, which show no result rather than a pass over nothing.
    assert keys(first, events.ASSET_MATERIALIZATION_PLANNED) == planned
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(list(raw_tables.check_keys))
    workbooks = {k for k in raw_tables.check_keys if k.asset_key.path[-1].startswith("cluster_")}
    assert len(workbooks) == 3 and set(latest) == set(raw_tables.check_keys) - workbooks
    assert {r.run_id for k, r in latest.items() if k.asset_key.path[-1] == "kobo_ki_reports"} == {new.run_id}


def test_a_publication_written_from_the_last_one_equals_one_written_whole(added_round, tmp_path):
    published = added_round["root"] / "published" / "dtm_latest.duckdb"
    with duckdb.connect(str(published), read_only=True) as con:
        (key,) = con.execute("select partition_key from marts.publication_info").fetchall()[0]
        rounds = {
            r[0]
            for r in con.execute("select distinct partition_key from marts.fct_idp_breakdowns").fetchall()
        }
    assert key == "IRQ-conflict-R134-2024-12" and key in rounds
    # written from Round 133's publication: the new round's rows, not every round's again
    (line,) = [x for x in added_round["output"].splitlines() if "Written from the last publication" in x]
    assert "IRQ-conflict-R134-2024-12" in line and "R132" not in line
    whole = write_published_file(
        added_round["database"], tmp_path / "whole.duckdb", key, mart_descriptions(dbt_project.manifest_path)
    )
    assert differing_rows(published, whole, "marts", skip=frozenset({"publication_info"})) == {}
    comments = (
        "select table_name, column_name, comment from duckdb_columns() "
        "where schema_name = 'marts' order by 1, 2"
    )
    with duckdb.connect(str(published), read_only=True) as a, duckdb.connect(str(whole), read_only=True) as b:
        assert a.execute(comments).fetchall() == b.execute(comments).fetchall()
