"""The SQLite storage of config/dagster.yaml: Dagster's own files and tables, engines kept for the
process. What one process wrote, another reads; a Dagster home that Dagster's default storage
wrote keeps its history."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
from sqlalchemy import text

from orchestration.dagster_storage import (
    KEPT_RUN_ENGINES,
    KeptSqliteEventLogStorage,
    KeptSqliteInstance,
    KeptSqliteRunStorage,
)

ROOT = Path(__file__).resolve().parents[1]


@dg.asset
def counted() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 7})


def _home(tmp_path: Path, name: str, config: str | None) -> Path:
    home = tmp_path / name
    home.mkdir()
    if config:
        shutil.copy(config, home / "dagster.yaml")
    else:
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def _materialize_in_process(home: Path, times: int) -> None:
    """`times` runs of `counted` in a process of their own, on the instance of `home`."""
    script = (
        "import dagster as dg; from tests.test_dagster_storage import counted\n"
        f"with dg.DagsterInstance.get() as instance:\n"
        f"    for _ in range({times}):\n"
        "        assert dg.materialize([counted], instance=instance).success\n"
    )
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True, capture_output=True)


def _instance(home: Path, monkeypatch) -> dg.DagsterInstance:
    # As the tests and tools make one: from the folder, with no DAGSTER_HOME set.
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return dg.DagsterInstance.from_config(str(home))


def test_what_one_process_writes_another_reads_in_dagsters_own_files(tmp_path, monkeypatch):
    home = _home(tmp_path, "home", ROOT / "config" / "dagster.yaml")
    # More runs than engines kept: the oldest run's engine is let go, its events stay.
    _materialize_in_process(home, KEPT_RUN_ENGINES + 2)
    with _instance(home, monkeypatch) as instance:
        assert isinstance(instance, KeptSqliteInstance)
        assert isinstance(instance.event_log_storage, KeptSqliteEventLogStorage)
        assert isinstance(instance.run_storage, KeptSqliteRunStorage)
        runs = instance.get_runs()
        assert len(runs) == KEPT_RUN_ENGINES + 2
        assert all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        events = instance.fetch_materializations(dg.AssetKey("counted"), limit=100).records
        assert len(events) == KEPT_RUN_ENGINES + 2
        assert {e.asset_materialization.metadata["rows"].value for e in events} == {7}
        for run in runs:
            assert (home / "history" / "runs" / f"{run.run_id}.db").exists()
        with instance.event_log_storage.index_connection() as conn:
            assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
            # 1 = NORMAL: a commit is not an fsync (Dagster's default, FULL, is 2)
            assert conn.execute(text("pragma synchronous")).scalar() == 1
        with instance.run_storage.connect() as conn:
            assert conn.execute(text("pragma synchronous")).scalar() == 1


def test_a_home_written_by_dagsters_default_storage_keeps_its_history(tmp_path, monkeypatch):
    home = _home(tmp_path, "home", None)
    _materialize_in_process(home, 2)
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    _materialize_in_process(home, 1)
    with _instance(home, monkeypatch) as instance:
        assert len(instance.get_runs()) == 3
        assert len(instance.fetch_materializations(dg.AssetKey("counted"), limit=10).records) == 3


def test_dtm_run_by_hand_keeps_its_history_where_the_makefile_does(tmp_path, monkeypatch):
    """`.venv/bin/dtm` outside make: DAGSTER_HOME unset means the Makefile's folder, and a Dagster
    home without settings gets the project's (storage, the writer's pool), as make prepares it."""
    from orchestration import settings
    from orchestration.cli import dagster_instance

    makefile = (ROOT / "Makefile").read_text()
    assert "export DAGSTER_HOME ?= $(CURDIR)/.dagster_home" in makefile
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert settings.dagster_home() == ROOT / ".dagster_home"

    home = tmp_path / "not yet made" / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    instance = dagster_instance()
    try:
        assert isinstance(instance, KeptSqliteInstance)
        assert Path(instance.root_directory) == home
        assert (home / "dagster.yaml").read_text() == (ROOT / "config" / "dagster.yaml").read_text()
        instance.add_dynamic_partitions("rounds", ["IRQ-conflict-R134-2024-12"])
    finally:
        instance.dispose()
    # what the next `dtm` finds: the same history
    again = dagster_instance()
    try:
        assert again.get_dynamic_partitions("rounds") == ["IRQ-conflict-R134-2024-12"]
    finally:
        again.dispose()


def test_publishing_before_anything_was_loaded_says_what_to_do(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DTM_")},
        "DAGSTER_HOME": str(tmp_path / "home"),
        "DTM_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dtm")), "publish"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    database = tmp_path / "warehouse" / "dtm.duckdb"
    assert done.stdout.strip() == f"No warehouse yet at {database}: `dtm run` loads the landing folder first."
    assert done.stderr == ""
