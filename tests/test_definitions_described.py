"""What the Dagster UI shows a data engineer says what each thing is: every asset, check,
sensor, schedule and job of the code location has a description."""

from orchestration.definitions import defs
from orchestration.defs.dbt import describe_dbt_test


def test_every_asset_check_sensor_schedule_and_job_is_described():
    graph = defs.resolve_asset_graph()
    assets = [spec for spec in defs.resolve_all_asset_specs() if not (spec.description or "").strip()]
    checks = [
        key for key in graph.asset_check_keys if not (graph.get_check_spec(key).description or "").strip()
    ]
    assert len(graph.asset_check_keys) > 100
    assert (assets, checks) == ([], [])
    automation = [*defs.sensors, *defs.schedules, *defs.jobs]
    assert len(automation) >= 9 and [a.name for a in automation if not (a.description or "").strip()] == []


def test_a_dbt_test_is_described_in_words():
    relationships = {
        "name": "relationships_dim_location_admin1_pcode",
        "original_file_path": "models/marts/core/dim_location.yml",
        "test_metadata": {
            "name": "relationships",
            "kwargs": {"column_name": "admin1_pcode", "to": "ref('dim_admin1')", "field": "admin1_pcode"},
        },
    }
    assert describe_dbt_test(relationships) == "dbt test: every admin1_pcode is in dim_admin1.admin1_pcode."
    combination = {
        "name": "unique_combination",
        "original_file_path": "x.yml",
        "test_metadata": {
            "name": "unique_combination_of_columns",
            "kwargs": {"combination_of_columns": ["partition_key", "admin1_pcode"]},
        },
    }
    assert describe_dbt_test(combination) == "dbt test: one row per partition_key, admin1_pcode."
    # on a model whose rows of a round come from that round alone, a build checks its rounds' rows
    per_round = {"config": {"meta": {"round_column": "partition_key"}}}
    assert describe_dbt_test(combination, per_round) == (
        "dbt test: one row per partition_key, admin1_pcode. Checked on the rows of the rounds each "
        "build covers (a plain `dbt build`: every round)."
    )
    assert describe_dbt_test(combination, {"config": {"meta": {}}}).endswith("admin1_pcode.")
    singular = {"name": "assert_governorates_sum_to_national", "original_file_path": "tests/assert_x.sql"}
    assert describe_dbt_test(singular).endswith("passes when its query returns no row.")


# The code location's asset graph as the UI shows it, printed as JSON by a fresh process; with an
# argument, dbt-core is imported first (dagster-dbt then uses it, as it would by default).
GRAPH = """
import json, sys
if sys.argv[1:]:
    import dbt.version
from orchestration.definitions import defs
graph = defs.resolve_asset_graph()
assets = {
    node.key.to_user_string(): [
        sorted(p.to_user_string() for p in node.parent_keys),
        node.group_name,
        node.description,
        sorted(str(key) for key in node.check_keys),
    ]
    for node in graph.asset_nodes
}
checks = {str(key): graph.get_check_spec(key).description for key in graph.asset_check_keys}
print(json.dumps({"dbt_imported": "dbt" in sys.modules, "assets": assets, "checks": checks}))
"""


def test_the_definitions_load_without_dbt_core_and_make_the_same_graph():
    """dagster-dbt is imported without dbt-core (defs/dagster_dbt_import.py): a process that loads
    the definitions never imports dbt (2-2.6 s), and the graph is the one dagster-dbt makes with it."""
    import json
    import subprocess
    import sys

    hidden, with_core = (
        json.loads(
            subprocess.run(
                [sys.executable, "-c", GRAPH, *extra], capture_output=True, text=True, check=True
            ).stdout
        )
        for extra in ([], ["dbt-core first"])
    )
    assert hidden.pop("dbt_imported") is False and with_core.pop("dbt_imported") is True
    assert len(hidden["assets"]) > 50 and len(hidden["checks"]) > 100
    assert hidden == with_core
