"""Operations: the freshness of rounds against DTM's cadence, and alerts on failed runs."""

from datetime import date

import dagster as dg

from orchestration import landing
from orchestration.assets.ingest import LANDING_ROUND_FILES
from orchestration.operations import freshness, write_alert
from orchestration.resources import WarehouseResource
from orchestration.rounds import parse_round_text


def today() -> date:
    """The clock of the freshness check (tests replace it)."""
    return date.today()


@dg.asset_check(
    asset=LANDING_ROUND_FILES,
    name="round_freshness",
    description="Red when no new round file has arrived for longer than DTM's cadence of the period "
    "(seed config/round_cadence.csv: monthly, then every two months from Round 107, then three to four).",
)
def round_freshness(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    dates = [
        parsed.file_date
        for f in landing.scan(warehouse.landing)
        if f.round_id is not None and (parsed := parse_round_text(f.path.stem)).file_date
    ]
    if not dates:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no round file in the landing folder"})
    state = freshness(max(dates), today())
    return dg.AssetCheckResult(
        passed=not state.overdue,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "last_round_date": str(state.last_reporting_date),
            "days_since": state.days_since,
            "overdue_after_days": state.overdue_after_days,
            "cadence": state.cadence,
        },
    )


freshness_job = dg.define_asset_job(
    "check_round_freshness", selection=dg.AssetSelection.checks(round_freshness)
)
daily_freshness = dg.ScheduleDefinition(
    name="daily_round_freshness",
    job=freshness_job,
    cron_schedule="0 7 * * *",
    execution_timezone="Asia/Baghdad",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)


def _root_message(error) -> str:
    """The message of the error that started it, not of Dagster's wrappers around it."""
    while (inner := error.cause or error.context) is not None:
        error = inner
    return error.message


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING, monitor_all_code_locations=False)
def alert_on_run_failure(context: dg.RunFailureSensorContext, warehouse: WarehouseResource) -> None:
    """Write an operator-readable alert into the operations folder beside the warehouse."""
    failures = [
        (event.step_key or "run", _root_message(event.event_specific_data.error))
        for event in context.get_step_failure_events()
        if event.event_specific_data and event.event_specific_data.error
    ] or [("run", context.failure_event.message or "")]
    write_alert(
        warehouse.database.parent / "operations",
        context.dagster_run.run_id,
        context.dagster_run.job_name,
        failures,
    )


defs = dg.Definitions(
    asset_checks=[round_freshness],
    jobs=[freshness_job],
    schedules=[daily_freshness],
    sensors=[alert_on_run_failure],
)
