"""The code location's definitions, one module per area. dagster-dbt is imported first, without
dbt-core (dagster_dbt_import.py)."""

from orchestration.defs.dagster_dbt_import import import_dagster_dbt

import_dagster_dbt()
