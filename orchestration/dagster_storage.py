"""Dagster's SQLite storage (make run, make ui, dtm, the tests) with its databases' engines kept
for the life of the process, in the same files as Dagster's default storage.

Dagster's own SQLite classes make a new SQLAlchemy engine for every statement they run: a new
connection, SQL compiled again (SQLAlchemy's cache belongs to the engine) and an fsync per
commit. Measured here: 11.5 ms an asset event (21 on a busy machine), and a new round's dbt run
writes about 500 events. With one engine per database and `synchronous = NORMAL` on Dagster's
WAL (a commit is durable once the WAL is checkpointed: a power cut may lose the last events,
never the database), 2-3 ms. The service (deploy/dagster.yaml) keeps PostgreSQL.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import yaml
from dagster import DagsterInstance
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine

# A run's own event database is written while it runs; the index database always. A few runs'
# engines are kept (a dtm run starts three runs one after another).
KEPT_RUN_ENGINES = 4


def _engine(conn_string: str, **connect_args: Any) -> Engine:
    engine = create_engine(conn_string, connect_args={"check_same_thread": False, **connect_args})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        dbapi_connection.execute("pragma synchronous = NORMAL")

    return engine


class KeptEngines:
    """Engines by connection string, the least recently used disposed beyond `size`."""

    def __init__(self, size: int, **connect_args: Any):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._size = size
        self._connect_args = connect_args
        self._lock = threading.Lock()

    def get(self, conn_string: str) -> Engine:
        with self._lock:
            engine = self._engines.pop(conn_string, None) or _engine(conn_string, **self._connect_args)
            self._engines[conn_string] = engine
            while len(self._engines) > self._size:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    def dispose(self) -> None:
        with self._lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()


class KeptSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's per-run SQLite event log (DAGSTER_HOME/history/runs/), its engines kept."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # Set before Dagster's constructor, which may reindex through _connect.
        self._kept = KeptEngines(KEPT_RUN_ENGINES + 1, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._kept.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the index database has this table, through its kept engine: Dagster asks it
        for every asset check event (`supports_asset_checks`), with a new engine each time."""
        engine = self._kept.get(self.conn_string_for_shard(INDEX_SHARD_NAME))
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))

    def dispose(self) -> None:
        super().dispose()
        self._kept.dispose()


class KeptSqliteRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage (DAGSTER_HOME/history/runs.db), its engine kept."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None):
        self._kept = KeptEngines(1)
        super().__init__(conn_string, inst_data)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._kept.get(self._conn_string).connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._kept.dispose()


class KeptSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage under a Dagster home (history/, schedules/), with the run storage
    and the event log above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self.base_dir = base_dir
        # Dagster's own folders under the home, as DagsterSqliteStorage lays them out
        self._run_storage = KeptSqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptSqliteEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: dict):
        return cls.from_local(inst_data=inst_data, **config_value)


class KeptSqliteInstance(DagsterInstance):
    """The instance of config/dagster.yaml (`instance_class`): Dagster's own, whose default storage
    is KeptSqliteStorage in the Dagster home's folder, found however the instance is made
    (DAGSTER_HOME, DagsterInstance.from_config(folder))."""

    @classmethod
    def config_schema(cls) -> dict:
        return {}

    @staticmethod
    def config_defaults(base_dir: str) -> dict[str, ConfigurableClassData | None]:
        storage = ConfigurableClassData(
            __name__, KeptSqliteStorage.__name__, yaml.dump({"base_dir": base_dir})
        )
        return {**InstanceRef.config_defaults(base_dir), "storage": storage}
