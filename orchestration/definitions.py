"""The Dagster code location: one module per area, merged."""

from __future__ import annotations

import dagster as dg

from orchestration import jobs, sensors
from orchestration.assets import dbt, ingest
from orchestration.resources import default_warehouse

defs = dg.Definitions.merge(
    ingest.defs,
    dbt.defs,
    jobs.defs,
    sensors.defs,
    dg.Definitions(resources={"warehouse": default_warehouse()}),
)
