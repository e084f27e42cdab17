"""Sensors: the landing sensor (new or changed files add their round partitions and start load
runs), the build after each load, and the run-failure alert."""

import dagster as dg

from orchestration import landing
from orchestration.defs import dbt_plan, load_plan
from orchestration.defs.dbt import dtm_dbt_models
from orchestration.defs.ingest import RAW_ASSET_KEYS
from orchestration.defs.jobs import marts_job, rounds_job
from orchestration.defs.partitions import ROUNDS_PARTITIONS_NAME, partition_range_tags, plan_runs
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.selection import request_selection
from orchestration.landing_state import observe_as_sensor, state_path
from orchestration.monitoring import write_alert

RAW_LOADING_KEYS = set(RAW_ASSET_KEYS.values())


@dg.sensor(
    job=rounds_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 s: looks at the landing folder (hashing only files whose size or time moved), "
    "records one observation of landing/dtm_round_files per new or changed file (data version: its "
    "sha256), adds a round partition for each new round and starts one load_rounds run per group "
    "of neighbouring rounds whose files are new or changed, planning the raw tables and checks "
    "those files feed. Its state is a table in the operations "
    "folder; the cursor is that table's generation. Resetting the cursor hashes every file again.",
)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Observe new or changed files (sha256), add their round partitions, and load the rounds
    they touch (a KI export or cluster workbook touches the rounds its rows belong to)."""
    registered = context.instance.get_dynamic_partitions(ROUNDS_PARTITIONS_NAME)
    files = landing.scan(warehouse.landing)
    for landing_file in files:
        if landing_file.round_id is None and landing_file.family not in landing.FIELD_FAMILIES:
            context.log.warning(
                f"{landing_file.name}: no round can be told from it; the load of the latest round "
                "after it arrived refuses it, saying why"
            )
    looked = observe_as_sensor(state_path(warehouse.database.parent), files, context.cursor)
    changed = [o.file for o in looked.changed]
    touched = landing.touched_partitions(changed, files)
    if looked.first:
        # A state table that knew nothing (a new one beside an existing warehouse): rounds
        # already registered (by `make run`) count as loaded.
        touched -= set(registered)
    new_keys, groups = plan_runs(landing.by_partition(files), touched, registered)
    # What the warehouse knows, read once for every run this tick requests.
    known = load_plan.read_known(warehouse.database) if groups else None
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=None,
                tags=partition_range_tags(group),
                **request_selection(load_plan.plan_for(known, files, set(group))),
            )
            for group in groups
        ],
        dynamic_partitions_requests=[
            dg.AddDynamicPartitionsRequest(
                partitions_def_name=ROUNDS_PARTITIONS_NAME, partition_keys=new_keys
            )
        ]
        if new_keys
        else [],
        asset_events=[o.observation() for o in looked.changed],
        cursor=str(looked.generation),
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    request_job=marts_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description="After every successful run that loaded raw tables (load_rounds, or raw partitions "
    "materialized from the catalog), starts build_marts: dbt builds the rounds that run changed, and "
    "the run plans only the models and tests downstream of the raw tables that changed.",
)
def build_after_load(context: dg.RunStatusSensorContext, warehouse: WarehouseResource):
    run = context.dagster_run
    loaded = run.job_name == rounds_job.name or bool((run.asset_selection or set()) & RAW_LOADING_KEYS)
    if not loaded:
        return dg.SkipReason(f"run {run.run_id} ({run.job_name}) loaded no raw table")
    # The build's run plans what dbt will build, as the warehouse stands now (every asset and
    # check when another run is writing it).
    selection = dbt_plan.launch_selection(
        dtm_dbt_models, warehouse.database, context.instance, marts_job.tags
    )
    return dg.RunRequest(
        run_key=run.run_id, tags={"dtm/after_load_run": run.run_id}, **request_selection(selection)
    )


def _root_message(error) -> str:
    """The message of the error that started it, not of Dagster's wrappers around it."""
    while (inner := error.cause or error.context) is not None:
        error = inner
    return error.message


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    monitor_all_code_locations=False,
    description="When a run of this code location fails, writes an alert (job, run, failed steps, the "
    "first line of each error) into the operations folder beside the warehouse.",
)
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


defs = dg.Definitions(sensors=[landing_sensor, build_after_load, alert_on_run_failure])
