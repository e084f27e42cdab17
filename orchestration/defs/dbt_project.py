"""The dbt project, as Dagster sees it. Its manifest is built ahead (`make manifest`), never
parsed when the code location loads."""

from __future__ import annotations

from dagster_dbt import DbtProject

from orchestration.settings import DBT_PROJECT_DIR

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
