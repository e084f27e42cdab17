"""`dtm run` killed with kill -9 at five different stages is finished by the next run (the marts
equal a clean run's, nothing pending, nothing half-written), and two writers at once are told so
in one sentence, never with DuckDB's lock traceback."""

import subprocess
from pathlib import Path

import duckdb
import pytest

from orchestration import writer_lock
from tests.runs import DTM, ROUND, data_dir, dtm, marts_checksums, publication_info, run_until, sample_landing


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return sample_landing(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory, sample) -> dict:
    root = tmp_path_factory.mktemp("clean")
    env = data_dir(root, sample)
    done = dtm(env, "run")
    assert f"Published: {ROUND}" in done.stdout
    # dbt's server ends as dtm-dbt does, its exit handlers run: multiprocessing's resource tracker
    # has nothing left to warn about in the run's output ("leaked semaphore objects").
    assert "resource_tracker" not in done.stdout + done.stderr, done.stderr[-2000:]
    return {"root": root, "env": env, "marts": marts_checksums(root / "warehouse" / "dtm.duckdb")}


def test_runs_killed_at_five_stages_are_finished_by_the_next_run(tmp_path, sample, clean):
    env = data_dir(tmp_path, sample)
    stages = {
        "reading": "Loading 1 round(s)",
        "loading": "[1/2]",
        "gating": "Gate idp:",
        "dbt": "dbt build for",
        "publishing": "Publishing IRQ-conflict",
    }
    for stage, marker in stages.items():
        printed = run_until(env, marker)
        assert "Traceback" not in printed, stage
    # Two `dtm run`s at once: one finishes the work, the other says it waits, then finds it done.
    first, second = (
        subprocess.Popen(
            [str(DTM), "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    )
    outputs = [process.communicate(timeout=900)[0] for process in (first, second)]
    assert first.returncode == second.returncode == 0, outputs
    assert "Traceback" not in "".join(outputs)
    (finished,) = [o for o in outputs if "interrupted run left undone" in o or "publication is behind" in o]
    (waited,) = [o for o in outputs if o is not finished]
    assert "is being written by pid" in waited and "waiting for it to finish" in waited
    assert "already loaded and published" in waited
    database = tmp_path / "warehouse" / "dtm.duckdb"
    assert marts_checksums(database) == clean["marts"]
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("select count(*) from raw.load_batches where status = 'pending'").fetchall() == [
            (0,)
        ]
        assert con.execute("select count(*) from raw.load_batches").fetchall() == [(2,)]
    leftovers = [p.name for p in (tmp_path / "published").rglob(".*") if not p.name.endswith(".lock")]
    assert leftovers == []
    assert publication_info(tmp_path)["partition_key"] == ROUND
    # `--no-wait` while another writer holds the warehouse: one sentence and exit 3.
    with writer_lock.hold(database):
        busy = dtm(env, "run", "--no-wait", check=False)
    assert busy.returncode == 3 and "is being written by pid" in busy.stderr
    assert "Traceback" not in busy.stdout + busy.stderr


def test_marts_built_by_another_version_of_the_models_are_rebuilt_by_the_next_run(tmp_path, clean):
    """An upgrade: the marts were built by older models (a column the publication needs is
    missing). `dtm run` with nothing new to load says so, rebuilds them whole and publishes."""
    import shutil

    root = tmp_path / "upgraded"
    shutil.copytree(clean["root"], root)
    env = {
        **clean["env"],
        "DAGSTER_HOME": str(root / "home"),
        "DTM_DATA_DIR": str(root),
    }
    database = root / "warehouse" / "dtm.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute("update raw.pipeline_state set value = 'an older project' where name = 'dbt_project'")
        con.execute("alter table marts.dim_round drop column is_publishable")
    done = dtm(env, "run")
    assert "built by another version of the dbt project" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
    assert marts_checksums(database) == clean["marts"]
    assert publication_info(root)["partition_key"] == ROUND
    again = dtm(env, "run")
    assert "already loaded and published" in again.stdout
