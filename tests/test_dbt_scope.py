"""What a dbt build covers, on the project's own prepared manifest."""

import json
import subprocess
import sys

import dagster as dg
import duckdb

from orchestration.dbt_scope import DBT_VARS, BuildScope, dbt_build_args, needed_nodes, reached_nodes
from orchestration.defs.dbt import dtm_dbt_models
from orchestration.defs.dbt_plan import CHANGED_ROUNDS_TAG, launch_selection
from orchestration.defs.dbt_project import load_manifest, project_digest
from orchestration.warehouse import ensure_raw_schema, record_build


def _names(manifest, unique_ids):
    return {manifest["nodes"][u]["name"] for u in unique_ids if u in manifest["nodes"]}


def test_a_new_master_list_round_reaches_its_marts_and_not_the_projects_or_ki_staging():
    manifest = load_manifest()
    reached = _names(manifest, reached_nodes(manifest, {"dtm_idp_master_list", "load_batches"}))
    assert {
        "stg_dtm__master_list_locations",
        "fct_idp_locations",
        "idps_by_governorate",
        "round_quality",
    } <= reached
    scope = BuildScope(
        ["IRQ-conflict-R134-2024-12"], frozenset({"dtm_idp_master_list", "load_batches"}), False
    )
    planned = needed_nodes(manifest, scope)
    left_out = {n["name"] for u, n in manifest["nodes"].items() if u not in planned}
    assert {"stg_cluster__projects", "project_beneficiaries_vs_budget", "stg_kobo__ki_reports"} <= left_out
    # a test goes with its model: the project mart's tests are left out, the facts' are not
    tests_left_out = {
        n["name"] for u, n in manifest["nodes"].items() if n["resource_type"] == "test" and u not in planned
    }
    assert any("project_beneficiaries_vs_budget" in name for name in tests_left_out)
    assert not any("fct_idp_locations" in name for name in tests_left_out)
    # seeds depend on the project alone
    assert {manifest["nodes"][u]["resource_type"] for u in planned} == {"model", "test"}
    assert _names(manifest, planned) == reached


def test_what_a_build_plans_when_nothing_is_known_to_have_changed_or_the_project_changed():
    manifest = load_manifest()
    nodes = manifest["nodes"]
    models_and_tests = {u for u, n in nodes.items() if n["resource_type"] in ("model", "test")}
    assert needed_nodes(manifest, BuildScope([], frozenset(), False)) == models_and_tests
    assert needed_nodes(manifest, BuildScope([], frozenset({"cluster_projects"}), True)) == set(nodes)


def test_a_cluster_workbook_reaches_the_project_marts_only():
    manifest = load_manifest()
    reached = _names(manifest, reached_nodes(manifest, {"cluster_projects"}))
    assert "project_beneficiaries_vs_budget" in reached
    assert "idps_by_governorate" not in reached and "fct_idp_locations" not in reached


def test_the_ledger_reaches_the_withheld_projects_only_with_a_workbooks_sheets():
    """int_cluster_projects_withheld reads the batch ledger for the workbooks' Activities and
    Reach batches: a master list's batches (the ledger and its own table) leave it and the
    project marts out; a Reach sheet's batches reach it."""
    manifest = load_manifest()
    master_list = _names(manifest, reached_nodes(manifest, {"dtm_idp_master_list", "load_batches"}))
    assert "int_cluster_projects_withheld" not in master_list and "round_files" in master_list
    reach = _names(manifest, reached_nodes(manifest, {"cluster_reach", "load_batches"}))
    assert {
        "int_cluster_projects_withheld",
        "project_beneficiaries_vs_budget",
        "project_reach_by_month",
    } <= reach


def test_build_arguments_per_scope():
    vars_ = ["--vars", json.dumps(DBT_VARS)]
    changed = BuildScope(["IRQ-conflict-R134-2024-12"], frozenset({"dtm_idp_master_list"}), False)
    # a round's build, one node at a time; what it builds is its run's subset (dagster-dbt's
    # --select), never the unit tests, which depend on the project alone
    assert dbt_build_args(changed) == [
        "build",
        *vars_,
        "--threads",
        "1",
        "--exclude",
        "resource_type:unit_test",
    ]
    # many rounds (the whole sample's first build): the profile's threads
    many = BuildScope([f"IRQ-conflict-R{n}-2024-12" for n in range(4)], frozenset({"round_reviews"}), False)
    assert dbt_build_args(many) == ["build", *vars_, "--exclude", "resource_type:unit_test"]
    # the project changed: everything, from scratch, with the same --vars (partial parsing kept)
    assert dbt_build_args(BuildScope([], frozenset(), True)) == ["build", *vars_, "--full-refresh"]


def test_a_launch_plans_everything_without_a_warehouse_before_its_first_build_or_while_it_is_held(
    tmp_path,
):
    instance, tags = dg.DagsterInstance.ephemeral(), {CHANGED_ROUNDS_TAG: "true"}
    database = tmp_path / "dtm.duckdb"
    assert launch_selection(dtm_dbt_models, database, instance, tags) is None
    with duckdb.connect(str(database)) as con:
        ensure_raw_schema(con)
    # no marts built yet: the project counts as changed, and the first build builds everything
    assert launch_selection(dtm_dbt_models, database, instance, tags) is None
    with duckdb.connect(str(database)) as con:
        record_build(con, None, project_digest())
    # built by this project, nothing changed since: every model and test, no seed
    planned = launch_selection(dtm_dbt_models, database, instance, tags)
    assert planned is not None and planned.checks == set(dtm_dbt_models.check_keys)
    assert planned.assets == {k for k in dtm_dbt_models.keys if k.path[0] != "reference"}
    # while another process writes it, the sensor does not wait: it plans everything
    hold = f"import duckdb, sys; c = duckdb.connect({str(database)!r}); print('held', flush=True); input()"
    writer = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout.readline().strip() == "held"
        assert launch_selection(dtm_dbt_models, database, instance, tags) is None
    finally:
        writer.communicate("\n", timeout=60)
