"""The landing sensor: new or changed files add their round partitions and start runs."""

import json

import dagster as dg

from orchestration import landing
from orchestration.jobs import rounds_job
from orchestration.partitions import ROUNDS_PARTITIONS_NAME, contiguous_groups, partition_range_tags
from orchestration.resources import WarehouseResource
from orchestration.rounds import sort_partition_keys


def run_request_for(group: list[str]) -> dg.RunRequest:
    return dg.RunRequest(run_key=None, tags=partition_range_tags(group))


@dg.sensor(job=rounds_job, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING)
def landing_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Register new or changed files (sha256), add their round partitions, and load the rounds
    they touch (a KI export or cluster workbook touches the rounds its rows belong to)."""
    registered = context.instance.get_dynamic_partitions(ROUNDS_PARTITIONS_NAME)
    known = set(registered)
    # cursor: file name → [size, mtime_ns, sha256]; a file is hashed again only when its size
    # or modification time moved, so a tick does not re-read the whole landing zone.
    seen: dict[str, list] = json.loads(context.cursor) if context.cursor else {}
    first_tick = not context.cursor
    files = landing.scan(warehouse.landing)
    rounds = landing.calendar(files)
    current: dict[str, list] = {}
    changed: set[str] = set()
    for landing_file in files:
        is_field = landing_file.family in landing.FIELD_FAMILIES
        if landing_file.round_id is None and not is_field:
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
        if (previous or [None] * 3)[2] == digest:
            continue
        # A KI export or cluster workbook is read to find the rounds its rows belong to.
        keys = (
            landing.field_partitions(landing_file, rounds)
            if is_field
            else {landing_file.round_id.partition_key}
        )
        # On the first tick, rounds already registered (by `make run`) count as loaded.
        changed |= {key for key in keys if not (first_tick and key in known)}
    new_keys = sort_partition_keys(sorted({f.round_id.partition_key for f in files if f.round_id} - known))
    ordered = [*registered, *new_keys]
    requests = [run_request_for(group) for group in contiguous_groups(sorted(changed), ordered)]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[round_partitions_request(new_keys)] if new_keys else [],
        cursor=json.dumps(current, sort_keys=True),
    )


def round_partitions_request(keys: list[str]) -> dg.AddDynamicPartitionsRequest:
    return dg.AddDynamicPartitionsRequest(partitions_def_name=ROUNDS_PARTITIONS_NAME, partition_keys=keys)


defs = dg.Definitions(sensors=[landing_sensor])
