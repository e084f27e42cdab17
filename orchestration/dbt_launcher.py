"""`dtm-dbt`: the dbt command the orchestration runs. It is dbt itself, started in the warehouse's
folder, with the profile given the warehouse by its file name alone.

dbt keeps its parse of the project (partial parsing) only while the profile renders the same,
and the profile holds the warehouse's path: every new warehouse (a first run, a moved data
folder, each test's) parsed the whole project again, 6 s. Named from its own folder, every
warehouse called dtm.duckdb renders `dtm.duckdb`, as the parse prepared by `make manifest` does,
so a new warehouse's first build starts from that parse.
"""

from __future__ import annotations

import os
from pathlib import Path

from orchestration import process_exit

WAREHOUSE_VARIABLE = "DTM_WAREHOUSE_PATH"


def main() -> None:
    process_exit.arm()
    database = Path(os.environ[WAREHOUSE_VARIABLE]).resolve()
    # dbt finds its project, profile and target through absolute paths that dagster-dbt sets
    # (DBT_PROJECT_DIR, DBT_PROFILES_DIR, DBT_TARGET_PATH): only the warehouse is relative.
    os.chdir(database.parent)
    os.environ[WAREHOUSE_VARIABLE] = database.name
    from dbt.cli.main import cli

    try:
        cli()
    except SystemExit as stop:  # how dbt's command line ends, with dbt's own exit code
        if not isinstance(stop.code, int | None):
            raise
        process_exit.finish(stop.code)
