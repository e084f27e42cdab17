"""Partition history an earlier version wrote that is not so, repaired from the warehouse.

Versions before per-round materializations marked every round of a run materialized for every
raw table (KI reports for Round 1, which has none). Dagster cannot wipe single partitions on
SQLite or PostgreSQL storage, so a raw table whose history claims a round without a batch is
wiped and its true rounds are reported again, one materialization each, from raw.load_batches.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from orchestration.defs.ingest import RAW_ASSET_KEYS, table_metadata
from orchestration.rounds import sort_partition_keys
from orchestration.warehouse import connect

BATCHES_SQL = """
select list_type, partition_key, source_file, source_sha256, row_count, status
from raw.load_batches
order by list_type, partition_key, source_file
"""


def repair_raw_history(instance: dg.DagsterInstance, database: Path) -> list[str]:
    """Repair each raw table's partition history that claims rounds without a batch; the
    repaired tables' keys."""
    with connect(database, read_only=True) as con:
        rows = con.execute(BATCHES_SQL).fetchall()
    batches: dict[str, dict[str, list[tuple]]] = {}
    for list_type, key, *batch in rows:
        batches.setdefault(list_type, {}).setdefault(key, []).append(tuple(batch))
    repaired = []
    for list_type, asset_key in RAW_ASSET_KEYS.items():
        true_rounds = batches.get(list_type, {})
        if instance.get_materialized_partitions(asset_key) <= set(true_rounds):
            continue
        instance.wipe_assets([asset_key])
        for key in sort_partition_keys(list(true_rounds)):
            found = true_rounds[key]
            instance.report_runless_asset_event(
                dg.AssetMaterialization(
                    asset_key=asset_key,
                    partition=key,
                    description=f"{key}: re-reported from raw.load_batches (history repaired)",
                    metadata={
                        "dagster/row_count": sum(batch[2] for batch in found),
                        "files": table_metadata(["file", "sha256", "rows", "batch status"], found),
                    },
                )
            )
        repaired.append(asset_key.to_user_string())
    return repaired
