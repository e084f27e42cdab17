"""Jobs: load rounds end to end (ingest → dbt), one run for any number of rounds."""

from __future__ import annotations

import dagster as dg

rounds_job = dg.define_asset_job(
    "load_rounds",
    selection=dg.AssetSelection.groups("raw", "reference", "staging", "intermediate", "marts"),
    description="Ingest the landing files of the selected rounds and build every dbt model. "
    "A range of rounds runs as one run: dbt is called once, not once a round.",
)

defs = dg.Definitions(jobs=[rounds_job])
