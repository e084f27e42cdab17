"""The round partitions: one per (operation, round number, reporting month), added as files arrive."""

from __future__ import annotations

import dagster as dg

ROUNDS_PARTITIONS_NAME = "dtm_rounds"

round_partitions = dg.DynamicPartitionsDefinition(name=ROUNDS_PARTITIONS_NAME)

# Every step that writes the working DuckDB file takes a slot of this pool (limit 1 in
# dagster.yaml): DuckDB allows one writer process at a time.
WAREHOUSE_POOL = "dtm_warehouse"
