"""What a dbt build covers, on the project's own prepared manifest."""

import json

from orchestration.dbt_scope import DBT_VARS, BuildScope, dbt_build_args, reached_nodes, unreached_nodes
from orchestration.defs.dbt_project import load_manifest


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
    left_out = set(unreached_nodes(manifest, {"dtm_idp_master_list", "load_batches"}))
    assert {"stg_cluster__projects", "project_beneficiaries_vs_budget", "stg_kobo__ki_reports"} <= left_out
    # a test goes with its model: the project mart's tests are left out, the facts' are not
    tests_left_out = {
        n["name"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "test" and n["name"] in left_out
    }
    assert any("project_beneficiaries_vs_budget" in name for name in tests_left_out)
    assert not any("fct_idp_locations" in name for name in tests_left_out)
    assert reached.isdisjoint(left_out)


def test_a_cluster_workbook_reaches_the_project_marts_only():
    manifest = load_manifest()
    reached = _names(manifest, reached_nodes(manifest, {"cluster_projects"}))
    assert "project_beneficiaries_vs_budget" in reached
    assert "idps_by_governorate" not in reached and "fct_idp_locations" not in reached


def test_build_arguments_per_scope():
    manifest = load_manifest()
    vars_ = ["--vars", json.dumps(DBT_VARS)]
    changed = BuildScope(["IRQ-conflict-R134-2024-12"], frozenset({"dtm_idp_master_list"}), False)
    args = dbt_build_args(changed, manifest)
    # a round's build, one node at a time
    assert args[:5] == ["build", *vars_, "--threads", "1"] and args[5] == "--exclude"
    excluded = args[6].split()
    assert excluded[:2] == ["resource_type:seed", "resource_type:unit_test"]
    assert "project_beneficiaries_vs_budget" in excluded and "idps_by_governorate" not in excluded
    # nothing known to have changed: every model and test, seeds and unit tests still per project
    unknown = dbt_build_args(BuildScope([], frozenset(), False), manifest)
    assert unknown == ["build", *vars_, "--exclude", "resource_type:seed resource_type:unit_test"]
    # later assets of the run depend on every model: all of them, and the seeds
    whole = BuildScope(["IRQ-conflict-R134-2024-12"], frozenset({"round_reviews"}), False, whole_project=True)
    assert dbt_build_args(whole, manifest) == [
        "build",
        *vars_,
        "--threads",
        "1",
        "--exclude",
        "resource_type:unit_test",
    ]
    # many rounds (the whole sample's first build): the profile's threads
    many = BuildScope(
        [f"IRQ-conflict-R{n}-2024-12" for n in range(4)], frozenset({"round_reviews"}), False, True
    )
    assert dbt_build_args(many, manifest) == ["build", *vars_, "--exclude", "resource_type:unit_test"]
    # the project changed: everything, from scratch, with the same --vars (partial parsing kept)
    assert dbt_build_args(BuildScope([], frozenset(), True), manifest) == ["build", *vars_, "--full-refresh"]
