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
import sys
from pathlib import Path

from orchestration import dbt_server, process_exit

WAREHOUSE_VARIABLE = "DTM_WAREHOUSE_PATH"


def main() -> None:
    process_exit.arm()
    # The dbt that `dtm` started ahead of this build takes the command, if there is one.
    if (code := dbt_server.delegate(sys.argv[1:])) is not None:
        process_exit.finish(code)
    try:
        run_dbt()
    except SystemExit as stop:  # how dbt's command line ends, with dbt's own exit code
        if not isinstance(stop.code, int | None):
            raise
        process_exit.finish(stop.code)


def run_dbt() -> None:
    """dbt's command line on sys.argv, in the warehouse's folder; ends with SystemExit."""
    # Without a warehouse named, this is plain dbt (the profile's default warehouse).
    if named := os.environ.get(WAREHOUSE_VARIABLE):
        database = Path(named).resolve()
        # dbt finds its project and profile through absolute paths (dagster-dbt sets them; by
        # hand, the folder it was started in, as plain dbt looks there): only the warehouse is
        # relative to the folder dbt runs in.
        here = Path.cwd()
        os.environ.setdefault("DBT_PROJECT_DIR", str(here))
        if (here / "profiles.yml").exists():
            os.environ.setdefault("DBT_PROFILES_DIR", str(here))
        os.chdir(database.parent)
        os.environ[WAREHOUSE_VARIABLE] = database.name
    # Imported here, as dbt is: a dtm-dbt that hands its command to the server never loads dbt.
    from dbt.cli.main import cli

    from orchestration.dbt_log_lines import make_only_written_lines

    make_only_written_lines()

    # Named as it was started (click would name it after the server's module, in the server).
    cli(prog_name=Path(sys.argv[0]).name)
