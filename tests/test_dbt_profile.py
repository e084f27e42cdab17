"""dbt as the builds run it (dtm-dbt, the project's profile and flags): its DuckDB is bounded, at
2 GB or at DTM_DBT_MEMORY_LIMIT, and it sends no usage statistics.

Without a bound DuckDB keeps every block it reads, up to 80% of the machine's memory: the 6x
sample's first build held 3,968 MB, and 2,131 MB under the bound, no slower (it spills instead).
dbt's usage statistics are on unless a project turns them off: every command wrote a cookie
(.user.yml) beside the profile and posted events to dbt Labs' collector, which nothing here may
reach."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb

from orchestration.dbt_scope import DBT_VARS_ARGS
from orchestration.defs.dbt import DBT_EXECUTABLE
from orchestration.defs.dbt_project import dbt_project

PROJECT = dbt_project.project_dir


def dbt_memory_limit(folder: Path, **variables: str) -> str:
    """The memory limit of the DuckDB that dbt opens on a warehouse in `folder`, from the parse
    `make manifest` prepared (with the builds' --vars); the profile is read from `folder`, where
    dbt would leave its usage-statistics cookie."""
    target = folder / "target"
    target.mkdir(parents=True)
    shutil.copy(PROJECT / dbt_project.target_path / "partial_parse.msgpack", target)
    shutil.copy(PROJECT / "profiles.yml", folder)
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith(("DTM_", "DBT_"))},
        "DTM_WAREHOUSE_PATH": str(folder / "dtm.duckdb"),
        "DBT_TARGET_PATH": str(target),
        "DBT_PROFILES_DIR": str(folder),
        "DBT_LOG_PATH": str(folder / "logs"),
        **variables,
    }
    query = "select current_setting('memory_limit') as memory_limit"
    done = subprocess.run(
        [DBT_EXECUTABLE, "--quiet", "show", *DBT_VARS_ARGS, "--inline", query, "--output", "json"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout[done.stdout.index("{") :])["show"][0]["memory_limit"]


def duckdb_shows(limit: str) -> str:
    """`limit` as DuckDB shows a memory limit set to it."""
    with duckdb.connect(config={"memory_limit": limit}) as con:
        return con.execute("select current_setting('memory_limit')").fetchall()[0][0]


def test_dbts_duckdb_is_bounded_at_2_gb_unless_another_bound_is_set(tmp_path):
    assert dbt_memory_limit(tmp_path / "default") == duckdb_shows("2GB")
    assert dbt_memory_limit(tmp_path / "set", DTM_DBT_MEMORY_LIMIT="300MB") == duckdb_shows("300MB")
    # no usage-statistics cookie: dbt's tracking, which posts each command's events, is off
    assert not list(tmp_path.rglob(".user.yml"))
