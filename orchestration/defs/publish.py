"""Publication: the latest round that passed every gate, as a read-only warehouse for BI tools
and files for people (the monthly schedule is in jobs.py), and any publishable round's folder
on request (the publish_chosen_round job)."""

import dagster as dg
from pydantic import Field

from orchestration.defs.dbt import dtm_dbt_models
from orchestration.defs.dbt_project import dbt_project
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.publish import publication
from orchestration.publish.publication import NothingToPublish, Publication

PUBLICATION = dg.AssetKey(["publication", "dtm_round_publication"])
MARTS = [key for key in dtm_dbt_models.keys if key.path[0] == "marts"]


def publish(context, warehouse: WarehouseResource, round_text: str | None = None) -> Publication:
    """The latest publishable round (or the one asked for), published; a Dagster failure that
    says why when it may not be."""
    try:
        partition_key = (
            None if round_text is None else publication.resolve_round(warehouse.database, round_text)
        )
        return publication.publish(
            warehouse.database,
            warehouse.published,
            dbt_project.manifest_path,
            partition_key,
            say=context.log.info,
        )
    except NothingToPublish as error:
        raise dg.Failure(str(error)) from None


def _metadata(done: Publication) -> dict:
    return {
        "round": done.partition_key,
        "warehouse_file": dg.MetadataValue.path(str(done.warehouse_file))
        if done.warehouse_file
        else "dtm_latest.duckdb unchanged: an earlier round",
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


@dg.asset(
    key=PUBLICATION,
    deps=MARTS,
    group_name="publication",
    kinds={"duckdb", "parquet", "csv"},
    pool=WAREHOUSE_POOL,
    description="dtm_latest.duckdb (the marts alone, read-only, readable by DuckDB 1.x drivers) "
    "and a folder per round of Parquet, CSV, HXL, DTM-API JSON (admin1 and admin2), an XLSX "
    "workbook, charts, a round report and a Frictionless datapackage. Publishes the latest round "
    "that marts.dim_round calls publishable (passed every gate and, where its figures moved "
    "beyond a threshold, signed off); rounds held back are left out and named in "
    "publication_info.",
)
def dtm_round_publication(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata=_metadata(publish(context, warehouse)))


class RoundConfig(dg.Config):
    round: str = Field(description="The round to publish: its partition key or its number.")


@dg.op(pool=WAREHOUSE_POOL)
def publish_round_folder(context: dg.OpExecutionContext, config: RoundConfig, warehouse: WarehouseResource):
    """Write the folder of files of the round (it must be publishable); dtm_latest.duckdb moves
    only when it is the latest publishable round."""
    done = publish(context, warehouse, config.round)
    return dg.Output(None, metadata=_metadata(done))


defs = dg.Definitions(assets=[dtm_round_publication])
