"""The round partitions: one per (operation, round number, reporting month), added as files arrive."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import dagster as dg

from orchestration.rounds import sort_partition_keys

ROUNDS_PARTITIONS_NAME = "dtm_rounds"

round_partitions = dg.DynamicPartitionsDefinition(name=ROUNDS_PARTITIONS_NAME)

# Every step that writes the working DuckDB file takes a slot of this pool (limit 1 in
# dagster.yaml): DuckDB allows one writer process at a time.
WAREHOUSE_POOL = "dtm_warehouse"


def contiguous_groups(keys: list[str], ordered: list[str]) -> list[list[str]]:
    """Partitions as runs of neighbours in partition order: one run each, so a single-run
    backfill never rebuilds untouched rounds that happen to lie between."""
    position = {key: i for i, key in enumerate(ordered)}
    groups: list[list[str]] = []
    for key in sorted(set(keys), key=position.__getitem__):
        if groups and position[key] == position[groups[-1][-1]] + 1:
            groups[-1].append(key)
        else:
            groups.append([key])
    return groups


def plan_runs(
    round_keys: Iterable[str], touched: Iterable[str], registered: Sequence[str]
) -> tuple[list[str], list[list[str]]]:
    """What the landing sensor and `dtm run` both do with changed files: the round partitions
    to register (rounds of the landing folder not registered yet, in round order) and one run
    per group of neighbouring touched rounds."""
    new_keys = sort_partition_keys(sorted(set(round_keys) - set(registered)))
    ordered = [*registered, *new_keys]
    known = set(ordered)
    return new_keys, contiguous_groups([k for k in touched if k in known], ordered)


def partition_range_tags(group: list[str]) -> dict[str, str]:
    """Run tags that make one run of a range of partitions (the single-run backfill policy)."""
    return {RANGE_START_TAG: group[0], RANGE_END_TAG: group[-1]}


PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


def run_round_partitions(tags: Mapping[str, str], ordered: Sequence[str]) -> list[str]:
    """The round partitions a run covers, read from its tags: one partition, a range (in
    partition order), or none: a run that is not per round, which rebuilds every round."""
    if key := tags.get(PARTITION_TAG):
        return [key]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return list(ordered[ordered.index(start) : ordered.index(end) + 1])
    return []
