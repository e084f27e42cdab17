"""The Dagster code location: one module per area (orchestration/defs/), merged."""

from __future__ import annotations

import dagster as dg

from orchestration.defs import dbt, freshness, ingest, jobs, publish, review, sensors
from orchestration.defs.resources import WarehouseResource, default_warehouse


def build_definitions(warehouse: WarehouseResource) -> dg.Definitions:
    """The whole code location against one warehouse (tests pass a temporary one)."""
    return dg.Definitions.merge(
        ingest.defs,
        dbt.defs,
        publish.defs,
        review.defs,
        freshness.defs,
        jobs.defs,
        sensors.defs,
        dg.Definitions(resources={"warehouse": warehouse}),
    )


defs = build_definitions(default_warehouse())
