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
    singular = {"name": "assert_governorates_sum_to_national", "original_file_path": "tests/assert_x.sql"}
    assert describe_dbt_test(singular).endswith("passes when its query returns no row.")
