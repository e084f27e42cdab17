"""The dbt project, as Dagster sees it. Its manifest is built ahead (`make manifest`), never
parsed when the code location loads."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from orchestration.dbt_scope import DBT_VARS_ARGS
from orchestration.settings import DBT_PROJECT_DIR

# Parsed with the builds' own --vars: dbt keeps a parse (partial parsing) only for the vars it was
# made with, and a warehouse's first build starts from this one.
dbt_project = DbtProject(
    project_dir=DBT_PROJECT_DIR,
    profiles_dir=DBT_PROJECT_DIR,
    prepare_project_cli_args=["parse", "--quiet", *DBT_VARS_ARGS],
)


@cache
def load_manifest(manifest_path: Path = dbt_project.manifest_path) -> dict:
    """dbt's prepared manifest (read once a process)."""
    return json.loads(manifest_path.read_text(encoding="utf-8"))


@cache
def project_digest(manifest_path: Path = dbt_project.manifest_path) -> str:
    """What the marts depend on in the dbt project: every node's and seed's checksum and
    declared columns, and the project's macros, from the manifest (not its timestamps or paths,
    which change with every build and clone). Marts built with another digest are rebuilt whole."""
    manifest = load_manifest(manifest_path)
    parts = sorted(
        f"{unique_id}:{node.get('checksum', {}).get('checksum', '')}:"
        + ",".join(f"{name} {column.get('data_type')}" for name, column in sorted(node["columns"].items()))
        for unique_id, node in manifest["nodes"].items()
    )
    parts += sorted(
        f"{unique_id}:{hashlib.sha256(macro['macro_sql'].encode()).hexdigest()}"
        for unique_id, macro in manifest["macros"].items()
        if macro["package_name"] == manifest["metadata"].get("project_name", "dtm_warehouse")
    )
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
