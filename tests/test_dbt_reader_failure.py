"""When the build's reader of dbt's events fails (dagster-dbt raising on an event), dbt still
finishes its command and lets the warehouse go: it blocked for ever on its unread log pipe,
holding the DuckDB file, and the run, then waiting for that file, hung with it."""

import threading

import duckdb
import pytest

from orchestration.defs.dbt import dbt_environment, dbt_resource, let_dbt_finish
from orchestration.defs.dbt_project import dbt_project


# dagster-dbt's stream, left unread, warns when it is closed (its generator catches GeneratorExit).
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_dbt_finishes_and_frees_the_warehouse_when_its_events_are_no_longer_read(tmp_path):
    database = tmp_path / "dtm.duckdb"
    # Seeds at debug level: each insert's SQL in the log, far more than a pipe holds unread.
    with dbt_environment(DTM_WAREHOUSE_PATH=str(database)):
        invocation = dbt_resource.cli(
            ["seed", "--debug"],
            manifest=dbt_project.manifest_path,
            raise_on_error=False,
            target_path=tmp_path / "target",
        )
    events = invocation.stream_raw_events()
    next(events)  # the reader stops here, as one that raised
    finished = threading.Thread(target=let_dbt_finish, args=(invocation.process,), daemon=True)
    finished.start()
    finished.join(timeout=120)
    assert not finished.is_alive(), "dbt did not finish"
    assert invocation.process.returncode == 0
    # the file is free for a writer, and holds every seed
    with duckdb.connect(str(database)) as con:
        seeded = con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'reference'"
        ).fetchall()[0][0]
    assert seeded == 16
