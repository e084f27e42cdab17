"""Publication: the latest round that passed every gate, as a read-only warehouse for BI tools
and files for people (the monthly schedule is in jobs.py)."""

import dagster as dg

from orchestration.defs.dbt import dtm_dbt_models
from orchestration.defs.dbt_project import dbt_project
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.publish.publication import NothingToPublish, Publication, publish_latest

PUBLICATION = dg.AssetKey(["publication", "dtm_round_publication"])
MARTS = [key for key in dtm_dbt_models.keys if key.path[0] == "marts"]


def publish(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> Publication:
    """The latest publishable round, published; a Dagster failure when there is none."""
    try:
        return publish_latest(
            warehouse.database, warehouse.published, dbt_project.manifest_path, say=context.log.info
        )
    except NothingToPublish as error:
        raise dg.Failure(str(error)) from None


@dg.asset(
    key=PUBLICATION,
    deps=MARTS,
    group_name="publication",
    kinds={"duckdb", "parquet", "csv"},
    pool=WAREHOUSE_POOL,
    description="dtm_latest.duckdb (the marts alone, read-only, readable by DuckDB 1.x drivers) "
    "and a folder per round of Parquet, CSV, HXL, DTM-API JSON and a Frictionless datapackage. "
    "Publishes the latest round that passed every gate and, where its figures moved beyond a "
    "threshold, was signed off; rounds held back are left out and named in publication_info.",
)
def dtm_round_publication(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    done = publish(context, warehouse)
    return dg.MaterializeResult(
        metadata={
            "round": done.partition_key,
            "warehouse_file": dg.MetadataValue.path(str(done.warehouse_file)),
            "files": dg.MetadataValue.path(str(done.folder)),
            "round_report": dg.MetadataValue.path(str(done.round_report)),
            "warehouse_megabytes": done.megabytes,
            "files_written": done.files_written,
            "seconds": done.seconds,
            "signed_off": dg.MetadataValue.md(
                f"{done.sign_off.decided_by}, {done.sign_off.at:%Y-%m-%d %H:%M} UTC: {done.sign_off.note}"
                if done.sign_off
                else "not needed"
            ),
            "withheld": dg.MetadataValue.md(
                "\n".join(f"- {w.partition_key}: {w.why}" for w in done.withheld) or "none"
            ),
        }
    )


defs = dg.Definitions(assets=[dtm_round_publication])
