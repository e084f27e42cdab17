"""Publication: the latest round that passed every gate, as a read-only warehouse for BI tools
and files for people (the monthly schedule is in jobs.py)."""

import time

import dagster as dg
import duckdb

from orchestration.defs.dbt import dtm_dbt_models
from orchestration.defs.dbt_project import dbt_project
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.publish.files import write_datapackage, write_round_files
from orchestration.publish.report import write_charts, write_report, write_workbook
from orchestration.publish.warehouse_file import LATEST, mart_descriptions, publish_warehouse

PUBLICATION = dg.AssetKey(["publication", "dtm_round_publication"])
MARTS = [key for key in dtm_dbt_models.keys if key.path[0] == "marts"]

# The latest round with an accepted master list and no quarantined file newer than its last
# accepted one: a gate failure leaves the previous publication in place.
LATEST_GATED_ROUND = """
with batches as (select * from raw.load_batches where status in ('accepted', 'quarantined')),
last_accepted as (select partition_key, max(status_changed_at) as at from batches
                  where status = 'accepted' group by all),
blocked as (select distinct b.partition_key from batches b join last_accepted a using (partition_key)
            where b.status = 'quarantined' and b.loaded_at > a.at)
select partition_key from marts.dim_round
where partition_key not in (select partition_key from blocked)
order by reporting_month desc, round_number desc limit 1
"""


@dg.asset(
    key=PUBLICATION,
    deps=MARTS,
    group_name="publication",
    kinds={"duckdb", "parquet", "csv"},
    pool=WAREHOUSE_POOL,
    description="dtm_latest.duckdb (the marts alone, read-only, readable by DuckDB 1.x drivers) "
    "and a folder per round of Parquet, CSV, HXL, DTM-API JSON and a Frictionless datapackage.",
)
def dtm_round_publication(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    with duckdb.connect(str(warehouse.database), read_only=True) as con:
        rows = con.execute(LATEST_GATED_ROUND).fetchall()
    if not rows:
        raise dg.Failure("No round has passed the gates yet: nothing to publish.")
    partition_key = rows[0][0]
    context.log.info(f"Publishing {partition_key} to {warehouse.published}")
    descriptions = mart_descriptions(dbt_project.manifest_path)
    published = publish_warehouse(warehouse.database, warehouse.published, partition_key, descriptions)
    folder = warehouse.published / "rounds" / partition_key
    written = write_round_files(published, warehouse.database, folder, partition_key)
    with duckdb.connect(str(published), read_only=True) as con:
        written[write_workbook(con, folder, partition_key, descriptions)] = []
        charts = write_charts(con, folder, partition_key)
        report = write_report(con, warehouse.database, folder, partition_key, charts)
    written |= {path: [] for path in [*charts, report]}
    write_datapackage(folder, written, partition_key)
    return dg.MaterializeResult(
        metadata={
            "round": partition_key,
            "warehouse_file": dg.MetadataValue.path(str(warehouse.published / LATEST)),
            "files": dg.MetadataValue.path(str(folder)),
            "round_report": dg.MetadataValue.path(str(report)),
            "warehouse_megabytes": round(published.stat().st_size / 1e6, 1),
            "files_written": len(written) + 1,
            "seconds": round(time.perf_counter() - started, 1),
        }
    )


defs = dg.Definitions(assets=[dtm_round_publication])
