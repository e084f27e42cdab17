"""Publication: the latest round that passed every gate, as a read-only warehouse for BI tools
and files for people (the monthly schedule is in jobs.py), and any publishable round's folder
on request (the publish_chosen_round job)."""

from typing import TYPE_CHECKING

import dagster as dg
from pydantic import Field

from orchestration import settings
from orchestration.defs.dbt import dtm_dbt_models
from orchestration.defs.dbt_project import dbt_project
from orchestration.defs.partitions import WAREHOUSE_POOL
from orchestration.defs.resources import WarehouseResource
from orchestration.publish import publication
from orchestration.publish.publication import NothingToPublish, Publication
from orchestration.publish.warehouse_file import LATEST, PUBLISHED_SCHEMA

if TYPE_CHECKING:
    from orchestration.publish.postgres_marts import PostgresPublication

PUBLICATION = dg.AssetKey(["publication", "dtm_round_publication"])
POSTGRES_MARTS = dg.AssetKey(["publication", "postgres_marts"])
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
    if done.is_latest and settings.marts_postgres():
        serve_from_postgres(context, warehouse)
    return dg.Output(None, metadata=_metadata(done))


def serve_from_postgres(context, warehouse: WarehouseResource) -> "PostgresPublication":
    # psycopg is imported where a server is named, not by every process that loads the
    # definitions (a quarter of a second each).
    from orchestration.publish import postgres_marts

    try:
        return postgres_marts.publish_marts(
            warehouse.published / LATEST,
            settings.marts_postgres(),
            settings.marts_reader_role(),
            say=context.log.info,
        )
    except postgres_marts.PostgresPublicationError as error:
        raise dg.Failure(str(error)) from None


@dg.asset(
    key=POSTGRES_MARTS,
    deps=[PUBLICATION],
    group_name="publication",
    kinds={"postgres"},
    description="The published marts (dtm_latest.duckdb's tables, withheld rounds left out) served from "
    "PostgreSQL, schema marts, with the tables' and columns' descriptions, SELECT for the read-only "
    "BI role. Built in a schema of its own and swapped in by one transaction: a BI query sees the "
    "whole previous publication or the whole new one. Defined where DTM_MARTS_POSTGRES names the "
    "server.",
)
def postgres_marts_asset(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    done = serve_from_postgres(context, warehouse)
    return dg.MaterializeResult(
        metadata={
            "round": done.partition_key,
            "server": done.server,
            "schema": PUBLISHED_SCHEMA,
            "reader_role": settings.marts_reader_role(),
            "tables": len(done.rows),
            "rows": sum(done.rows.values()),
            "rows_per_table": dg.MetadataValue.md(
                "\n".join(f"- {table}: {count:,}" for table, count in done.rows.items())
            ),
            "seconds": done.seconds,
            "swap_seconds": done.swap_seconds,
        }
    )


# The PostgreSQL target exists where it is configured: a deployment without a server has no
# asset that could only fail.
defs = dg.Definitions(
    assets=[dtm_round_publication, *([postgres_marts_asset] if settings.marts_postgres() else [])]
)
