"""Freshness against DTM's cadence (with a fixed clock) and alerts on failed runs."""

import json
import shutil
from datetime import date

import dagster as dg
import pytest

from orchestration.defs import freshness as ops
from orchestration.defs import jobs, sensors
from orchestration.defs.resources import WarehouseResource
from orchestration.monitoring import freshness


@pytest.mark.parametrize(
    ("last", "today", "overdue"),
    [
        (date(2018, 1, 31), date(2018, 3, 1), False),  # monthly: 29 days
        (date(2018, 1, 31), date(2018, 3, 31), True),  # monthly: 59 days
        (date(2019, 4, 30), date(2019, 7, 15), False),  # two-monthly from Round 107: 76 days
        (date(2019, 4, 30), date(2019, 8, 15), True),
        (date(2024, 4, 30), date(2024, 8, 31), False),  # three to four months from 2023
        (date(2024, 12, 31), date(2026, 11, 23), True),  # the sample's last round, today
    ],
)
def test_a_round_is_overdue_by_the_cadence_of_its_period(last, today, overdue):
    assert freshness(last, today).overdue is overdue


def test_the_freshness_check_honestly_says_the_sample_is_overdue(fixtures_dir, tmp_path, monkeypatch):
    shutil.copy(fixtures_dir / "Round134_Master_List_IDP_2024_12_31_IOM_DTM.csv", tmp_path)
    warehouse = WarehouseResource(database_path=str(tmp_path / "dtm.duckdb"), landing_path=str(tmp_path))
    defs = dg.Definitions(
        asset_checks=[ops.round_freshness], jobs=[jobs.freshness_job], resources={"warehouse": warehouse}
    )
    for today, passed in ((date(2025, 3, 1), True), (date(2026, 11, 23), False)):
        monkeypatch.setattr(ops, "today", lambda today=today: today)
        result = defs.resolve_job_def("check_round_freshness").execute_in_process(raise_on_error=False)
        (evaluation,) = result.get_asset_check_evaluations()
        assert evaluation.passed is passed
        assert evaluation.metadata["last_round_date"].value == "2024-12-31"


def test_a_failed_run_leaves_an_alert_in_the_operations_folder(tmp_path):
    @dg.op
    def broken():
        raise RuntimeError("Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv could not be read\nTraceback...")

    @dg.job
    def failing():
        broken()

    warehouse = WarehouseResource(database_path=str(tmp_path / "dtm.duckdb"), landing_path=str(tmp_path))
    with dg.instance_for_test() as instance:
        result = failing.execute_in_process(instance=instance, raise_on_error=False)
        run = instance.get_run_by_id(result.run_id)
        (record,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        failure = record.dagster_event
        context = dg.build_run_status_sensor_context(
            sensor_name="alert_on_run_failure",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
            resources={"warehouse": warehouse},
        ).for_run_failure()
        sensors.alert_on_run_failure(context)
    (alert,) = (tmp_path / "operations").glob("*.json")
    body = json.loads(alert.read_text())
    assert body["job"] == "failing" and body["run_id"] == result.run_id
    assert body["failed_steps"][0]["step"] == "broken"
    assert (
        "Round88_Master_List_IDP_2018_01_31_IOM_DTM.csv could not be read" in body["failed_steps"][0]["error"]
    )
    assert "Traceback" not in body["failed_steps"][0]["error"]
