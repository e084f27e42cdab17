"""The round partitions: one per (operation, round number, reporting month), added as files arrive."""

from __future__ import annotations

import dagster as dg

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


def partition_range_tags(group: list[str]) -> dict[str, str]:
    """Run tags that make one run of a range of partitions (the single-run backfill policy)."""
    return {
        "dagster/asset_partition_range_start": group[0],
        "dagster/asset_partition_range_end": group[-1],
    }
