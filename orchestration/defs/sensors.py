"""Sensors: the landing sensor (new or changed files add their round partitions and start runs)
and the run-failure alert."""

import json

import dagster as dg

from orchestration import landing
from orchestration.defs.jobs import rounds_job
from orchestration.defs.partitions import ROUNDS_PARTITIONS_NAME, partition_range_tags, plan_runs
from orchestration.defs.resources import WarehouseResource
from orchestration.monitoring import write_alert


@dg.sensor(
    job=rounds_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 s: hashes the landing folder's files (only those whose size or time moved), "
    "adds a round partition for each new round and starts one load_rounds run per group of "
    "neighbouring rounds whose files are new or changed.",
)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Register new or changed files (sha256), add their round partitions, and load the rounds
    they touch (a KI export or cluster workbook touches the rounds its rows belong to)."""
    registered = context.instance.get_dynamic_partitions(ROUNDS_PARTITIONS_NAME)
    # cursor: file name → [size, mtime_ns, sha256]; a file is hashed again only when its size
    # or modification time moved, so a tick does not re-read the whole landing zone.
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    first_tick = not context.cursor
    files = landing.scan(warehouse.landing)
    current: dict[str, list] = {}
    changed: list[landing.LandingFile] = []
    for landing_file in files:
        if landing_file.round_id is None and landing_file.family not in landing.FIELD_FAMILIES:
            context.log.warning(
                f"{landing_file.name}: no round can be told from it; it will be "
                "recorded as refused at the next load"
            )
            continue
        stat = landing_file.path.stat()
        previous = seen.get(landing_file.name)
        if previous and previous[:2] == [stat.st_size, stat.st_mtime_ns]:
            digest = previous[2]
        else:
            digest = landing.fingerprint(landing_file)
        current[landing_file.name] = [stat.st_size, stat.st_mtime_ns, digest]
        if (previous or [None] * 3)[2] != digest:
            changed.append(landing_file)
    touched = landing.touched_partitions(changed, files)
    if first_tick:
        # On the first tick, rounds already registered (by `make run`) count as loaded.
        touched -= set(registered)
    new_keys, groups = plan_runs(landing.by_partition(files), touched, registered)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=None, tags=partition_range_tags(group)) for group in groups],
        dynamic_partitions_requests=[
            dg.AddDynamicPartitionsRequest(
                partitions_def_name=ROUNDS_PARTITIONS_NAME, partition_keys=new_keys
            )
        ]
        if new_keys
        else [],
        cursor=json.dumps(current, sort_keys=True),
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


defs = dg.Definitions(sensors=[landing_sensor, alert_on_run_failure])
