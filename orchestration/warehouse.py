"""The raw layer of the working DuckDB file: batches, rejections and one table per list.

Every load is a batch (one file's rows for one partition) with a status. Staging reads accepted
batches only, so a later full refresh can never pull a superseded or quarantined file back in.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.readers.round_files import RejectedFile, RoundFile
from orchestration.reference import canonical_columns
from orchestration.rounds import RoundId
from orchestration.settings import ADMIN0_PCODE, OPERATION

# Master lists (one batch per file and round) ...
MASTER_LIST_TABLES = {"idp": "dtm_idp_master_list", "returnee": "dtm_returnee_master_list"}
# ... and the field families, whose files span rounds (one batch per file and round they touch).
FIELD_TABLES = {
    "ki_report": "kobo_ki_reports",
    "cluster_project": "cluster_projects",
    "cluster_activity": "cluster_activities",
    "cluster_reach": "cluster_reach",
}
ALL_RAW_TABLES = {**MASTER_LIST_TABLES, **FIELD_TABLES}
# The raw tables a landing file of each field family feeds (a workbook has one sheet per table).
FAMILY_TABLES = {
    "ki_report": ("ki_report",),
    "cluster_sheet": ("cluster_project", "cluster_activity", "cluster_reach"),
}
# raw.file_rejections.kind of a file refused as one of several versions of its round's list that
# arrived together (orchestration/list_versions.py)
CONFLICT = "conflict"
# Columns the loader computes (all text, as raw is): the informant key and the test marker are
# computed in Python from the personal columns, so dbt never needs to read those.
COMPUTED_COLUMNS = {
    "ki_report": ("informant_key", "marked_test"),
    "cluster_project": ("row_kind", "workbook_year"),
    "cluster_activity": ("row_kind", "workbook_year"),
    "cluster_reach": ("row_kind", "workbook_year", "reference_month"),
}
PROVENANCE_COLUMNS = {
    "batch_id": "VARCHAR NOT NULL",
    "partition_key": "VARCHAR NOT NULL",
    "operation": "VARCHAR NOT NULL",
    "admin0_pcode": "VARCHAR NOT NULL",
    "round_number": "INTEGER NOT NULL",
    "reporting_month": "VARCHAR NOT NULL",
    "file_date": "DATE NOT NULL",
    "source_file": "VARCHAR NOT NULL",
    "source_sha256": "VARCHAR NOT NULL",
    "sheet_name": "VARCHAR",
    "source_row_number": "INTEGER NOT NULL",
    "ingested_at": "TIMESTAMP NOT NULL",
}

_DDL = """
create schema if not exists raw;
create table if not exists raw.load_batches (
    batch_id varchar primary key,
    partition_key varchar not null,
    operation varchar not null,
    admin0_pcode varchar not null,
    round_number integer not null,
    reporting_month varchar not null,
    file_date date not null,
    list_type varchar not null,
    raw_table varchar not null,
    source_file varchar not null,
    source_sha256 varchar not null,
    source_size bigint not null,
    sheet_name varchar,
    header_row integer,
    row_count integer not null,
    header_map json,
    unknown_columns json,
    warnings json,
    has_totals_row boolean,           -- master lists: whether the file ended with its totals row
    status varchar not null,          -- pending | accepted | superseded | quarantined
    series varchar,                   -- what a newer batch of the partition supersedes (see settle)
    status_reason varchar,
    loaded_at timestamp not null,
    status_changed_at timestamp not null
);
create table if not exists raw.file_rejections (
    source_file varchar not null,
    source_sha256 varchar not null,
    partition_key varchar,
    list_type varchar,
    reason varchar not null,
    sheet_name varchar,
    row_number integer,
    column_name varchar,
    rejected_at timestamp not null,
    primary key (source_file, source_sha256)
);
create table if not exists raw.quality_failures (
    batch_id varchar not null,
    source_file varchar,
    sheet_name varchar,
    partition_key varchar,
    expectation varchar not null,
    columns varchar,
    severity varchar not null,        -- error (quarantines the batch) | warning
    description varchar,
    unexpected_count integer,
    sample_rows integer[],
    sample_values varchar[],
    checked_at timestamp not null
);
create table if not exists raw.field_file_footprints (
    source_sha256 varchar primary key,  -- a KI export's or workbook's bytes, as read once
    family varchar not null,
    workbook_year integer,
    days date[] not null                -- its submission days, or its reach rows' months
);
create table if not exists raw.erased_informants (
    informant_key varchar primary key,  -- reports of this key are never loaded again
    rows_erased integer not null,
    erased_at timestamp not null
);
create table if not exists raw.retention_runs (
    ran_at timestamp not null,
    retention_days integer not null,
    loaded_before timestamp not null,
    rows_erased integer not null
);
create table if not exists raw.sense_check_findings (
    partition_key varchar not null,
    previous_partition_key varchar not null,
    list_type varchar not null,
    check_name varchar not null,
    subject varchar not null,          -- a governorate p-code, 'national' or a Location ID
    previous_value bigint,
    current_value bigint,
    threshold double,
    severity varchar,                  -- hold (waits for sign-off) | warning
    description varchar,
    checked_at timestamp not null
);
create table if not exists raw.pipeline_state (
    name varchar primary key,          -- dbt_built_through: the batch-status mark dbt last built
    mark timestamp not null
);
create table if not exists raw.dbt_build_rounds (
    partition_key varchar primary key  -- the rounds the running (or last) dbt build covers
);
create table if not exists raw.round_reviews (
    partition_key varchar not null,
    status varchar not null,           -- awaiting_sign_off | signed_off | rejected | cleared
    batch_ids varchar[] not null,      -- the master-list batches the review is about
    reasons varchar,
    figures json,                      -- what the reviewer saw: the findings, with their figures
    decided_by varchar,
    note varchar,
    recorded_at timestamp not null
);
"""


@contextmanager
def connect(path: Path, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    connection = open_waiting(path, read_only=read_only)
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def connect_now(path: Path) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection without waiting, or None when the file cannot be opened so now
    (another process is writing it, or it does not exist): for a sensor tick or a run's launch,
    which plan everything rather than wait for the one writer."""
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        yield None
        return
    try:
        yield connection
    finally:
        connection.close()


# How long a connection waits for a process outside the writer lock to let the file go: the dbt
# of a run killed with kill -9 goes on to the end of its build.
LOCK_WAIT_SECONDS = 900


def _to_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def open_waiting(
    path: Path, *, read_only: bool = False, say: Callable[[str], None] = _to_stderr
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection; while another process holds the file's lock, wait (saying so once,
    with that process's pid) instead of failing."""
    waited = 0
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or waited >= LOCK_WAIT_SECONDS:
                raise
            if not waited:
                holder = (
                    str(error).split("(PID", 1)[-1].split(")")[0].strip() if "(PID" in str(error) else "?"
                )
                say(f"{path} is open in another process (pid {holder}); waiting for it to let go …")
            time.sleep(1)
            waited += 1


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw layer, and add any canonical column the alias table gained since."""
    con.execute(_DDL)
    con.execute("alter table raw.load_batches add column if not exists series varchar")
    con.execute("alter table raw.load_batches add column if not exists has_totals_row boolean")
    con.execute("alter table raw.sense_check_findings add column if not exists severity varchar")
    con.execute("alter table raw.pipeline_state add column if not exists value varchar")
    # A refusal's kind ('conflict': one of several versions of a list that arrived together),
    # and when it was withdrawn (its file loaded once the other versions were gone).
    con.execute("alter table raw.file_rejections add column if not exists kind varchar")
    con.execute("alter table raw.file_rejections add column if not exists withdrawn_at timestamp")
    for list_type, table in ALL_RAW_TABLES.items():
        columns = {
            **PROVENANCE_COLUMNS,
            **dict.fromkeys(canonical_columns(list_type), "VARCHAR"),
            **dict.fromkeys(COMPUTED_COLUMNS.get(list_type, ()), "VARCHAR"),
            "extra_columns": "JSON",
        }
        definition = ", ".join(f'"{name}" {kind}' for name, kind in columns.items())
        con.execute(f"create table if not exists raw.{table} ({definition})")
        existing = {
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns where table_schema = 'raw' "
                "and table_name = ?",
                [table],
            ).fetchall()
        }
        for name, kind in columns.items():
            if name not in existing:
                con.execute(f'alter table raw.{table} add column "{name}" {kind.replace(" NOT NULL", "")}')


@dataclass(frozen=True)
class LoadOutcome:
    batch_id: str
    source_file: str
    partition_key: str
    list_type: str
    rows: int
    status: str  # loaded | unchanged
    sha256: str = ""


@dataclass(frozen=True)
class Batch:
    """One file's rows for one round partition, with what provenance needs."""

    list_type: str
    round_id: RoundId
    file_date: date
    source_file: str
    sha256: str
    size: int
    sheet: str | None
    header_row: int | None
    frame: pd.DataFrame
    series: str | None = None  # None: the list type (master lists); else e.g. the workbook's year
    header_map: dict | None = None
    unknown_columns: list | None = None
    warnings: list | None = None
    has_totals_row: bool | None = None  # master lists only

    @property
    def batch_id(self) -> str:
        # A field file's batch is named by its file, which need not be its series (a workbook
        # continues the series of the one it replaces, workbook_versions): a copy under another
        # name is a batch of its own, so the warehouse records that it was loaded.
        source = f"/{self.source_file}" if self.series else ""
        return f"{self.round_id.partition_key}/{self.list_type}{source}/{self.sha256[:16]}"


def insert_batch(con: duckdb.DuckDBPyConnection, batch: Batch) -> LoadOutcome:
    """Load one batch as pending. The same bytes again change nothing; a new version of a
    partition's series supersedes the earlier batch once the gate accepts it (quality.gate)."""
    key = batch.round_id.partition_key
    if con.execute("select 1 from raw.load_batches where batch_id = ?", [batch.batch_id]).fetchall():
        return LoadOutcome(
            batch.batch_id,
            batch.source_file,
            key,
            batch.list_type,
            len(batch.frame),
            "unchanged",
            batch.sha256,
        )
    now = datetime.now(UTC).replace(tzinfo=None)
    table = ALL_RAW_TABLES[batch.list_type]
    frame = batch.frame.assign(
        batch_id=batch.batch_id,
        partition_key=key,
        operation=OPERATION,
        admin0_pcode=ADMIN0_PCODE,
        round_number=batch.round_id.round_number,
        reporting_month=batch.round_id.reporting_month,
        file_date=batch.file_date,
        source_file=batch.source_file,
        source_sha256=batch.sha256,
        sheet_name=batch.sheet,
        ingested_at=now,
    )
    con.execute("begin transaction")
    try:
        con.register("incoming_rows", frame)
        con.execute(f"insert into raw.{table} by name select * from incoming_rows")
        con.unregister("incoming_rows")
        # Pending until the quality gate settles it: staging reads accepted batches only.
        con.execute(
            "insert into raw.load_batches by name select ? as batch_id, ? as partition_key, "
            "? as operation, ? as admin0_pcode, ? as round_number, ? as reporting_month, "
            "? as file_date, ? as list_type, ? as raw_table, ? as source_file, ? as source_sha256, "
            "? as source_size, ? as sheet_name, ? as header_row, ? as row_count, ? as header_map, "
            "? as unknown_columns, ? as warnings, ? as has_totals_row, 'pending' as status, ? as series, "
            "? as loaded_at, ? as status_changed_at",
            [
                batch.batch_id,
                key,
                OPERATION,
                ADMIN0_PCODE,
                batch.round_id.round_number,
                batch.round_id.reporting_month,
                batch.file_date,
                batch.list_type,
                table,
                batch.source_file,
                batch.sha256,
                batch.size,
                batch.sheet,
                batch.header_row,
                len(frame),
                json.dumps(batch.header_map or {}, ensure_ascii=False),
                json.dumps(batch.unknown_columns or [], ensure_ascii=False),
                json.dumps(batch.warnings or []),
                batch.has_totals_row,
                batch.series,
                now,
                now,
            ],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return LoadOutcome(
        batch.batch_id, batch.source_file, key, batch.list_type, len(frame), "loaded", batch.sha256
    )


def load_round_file(con: duckdb.DuckDBPyConnection, round_file: RoundFile, source_name: str) -> LoadOutcome:
    """Load one master list as a pending batch of its round."""
    return insert_batch(
        con,
        Batch(
            list_type=round_file.list_type,
            round_id=round_file.round_id,
            file_date=round_file.file_date,
            source_file=source_name,
            sha256=round_file.sha256,
            size=round_file.size,
            sheet=round_file.sheet,
            header_row=round_file.header_row,
            frame=round_file.frame,
            header_map=round_file.header_map,
            unknown_columns=round_file.unknown_columns,
            warnings=round_file.warnings,
            has_totals_row=round_file.has_totals_row,
        ),
    )


def record_footprint(
    con: duckdb.DuckDBPyConnection, sha256: str, family: str, year: int | None, days
) -> None:
    """When a field file's rows fall, for the load plan (field_files.Footprint): kept once per bytes."""
    con.execute(
        "insert into raw.field_file_footprints values (?, ?, ?, ?) on conflict do nothing",
        [sha256, family, year, sorted(days)],
    )


def same_bytes_elsewhere(
    con: duckdb.DuckDBPyConnection, sha256: str, partition_key: str
) -> tuple[str, str] | None:
    """The file and round of an earlier batch with exactly these bytes in another round."""
    rows = con.execute(
        "select source_file, partition_key from raw.load_batches where source_sha256 = ? "
        "and partition_key <> ? order by loaded_at limit 1",
        [sha256, partition_key],
    ).fetchall()
    return rows[0] if rows else None


def record_rejection(
    con: duckdb.DuckDBPyConnection, error: RejectedFile, partition_key: str | None, list_type: str | None
) -> None:
    """A refused file, by its name in the landing folder and its sha256 (error.file, error.sha256),
    and the refusal's kind (error.kind)."""
    con.execute(
        # The first refusal of these bytes stands: refusing them again changes nothing.
        "insert into raw.file_rejections (source_file, source_sha256, partition_key, list_type, reason, "
        "sheet_name, row_number, column_name, rejected_at, kind) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "on conflict do nothing",
        [
            error.file,
            error.sha256,
            partition_key,
            list_type,
            error.reason,
            error.sheet,
            error.row,
            error.column,
            datetime.now(UTC).replace(tzinfo=None),
            error.kind,
        ],
    )


def batch_versions(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str, str]]:
    """(partition key, list type, sha256) of every batch the warehouse holds."""
    return set(con.execute("select partition_key, list_type, source_sha256 from raw.load_batches").fetchall())


def withdraw_loaded_conflicts(con: duckdb.DuckDBPyConnection) -> None:
    """Files refused as one of several versions of their list and loaded since, once they were
    the only one: their refusals no longer hold (refused_files lists files never loaded)."""
    con.execute(
        """
        update raw.file_rejections as refused set withdrawn_at = ?
        where refused.kind = ? and refused.withdrawn_at is null and exists (
            select 1 from raw.load_batches as batch
            where batch.source_file = refused.source_file and batch.source_sha256 = refused.source_sha256
        )
        """,
        [datetime.now(UTC).replace(tzinfo=None), CONFLICT],
    )


def change_mark(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The latest change of any batch's status or of any ledger (gate failures, sense-check
    findings, refused files, sign-off decisions): what a dbt build has to have seen (the marts
    carry them all). A ledger row written after its batch's status (the sense checks run after
    the gates) is seen too, so the next build does not count that ledger as changed again."""
    latest = [f"(select max({column}) from raw.{ledger})" for ledger, column in LEDGER_TIMES.items()]
    return con.execute(
        f"select greatest((select max(status_changed_at) from raw.load_batches), {', '.join(latest)})"
    ).fetchall()[0][0]


def record_build(con: duckdb.DuckDBPyConnection, mark: datetime | None, project: str) -> None:
    """dbt built every batch change up to `mark`, with the dbt project whose digest is
    `project` (written after a successful build only)."""
    if mark is not None:
        con.execute(
            "insert or replace into raw.pipeline_state (name, mark) values ('dbt_built_through', ?)", [mark]
        )
    con.execute(
        "insert or replace into raw.pipeline_state (name, mark, value) "
        "values ('dbt_project', current_timestamp, ?)",
        [project],
    )


def built_project(con: duckdb.DuckDBPyConnection) -> str | None:
    """The digest of the dbt project that last built the marts (None before any build)."""
    rows = con.execute("select value from raw.pipeline_state where name = 'dbt_project'").fetchall()
    return rows[0][0] if rows else None


_BUILT_MARK = (
    "(select coalesce(max(mark), timestamp '-infinity') from raw.pipeline_state "
    "where name = 'dbt_built_through')"
)
# When each ledger's rows were written: a ledger with rows newer than the last build changed.
LEDGER_TIMES = {
    "quality_failures": "checked_at",
    "sense_check_findings": "checked_at",
    "file_rejections": "coalesce(withdrawn_at, rejected_at)",
    "round_reviews": "recorded_at",
}


def changed_raw_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Raw tables with rows the last successful dbt build has not seen: the tables of batches
    pending or changed since, raw.load_batches with them, and ledgers with newer rows."""
    tables = {
        row[0]
        for row in con.execute(
            f"select distinct raw_table from raw.load_batches "
            f"where status = 'pending' or status_changed_at > {_BUILT_MARK}"
        ).fetchall()
    }
    if tables:
        tables.add("load_batches")
    for ledger, column in LEDGER_TIMES.items():
        newer = f"select exists (select 1 from raw.{ledger} where {column} > {_BUILT_MARK})"
        if con.execute(newer).fetchall()[0][0]:
            tables.add(ledger)
    return tables


def set_build_rounds(con: duckdb.DuckDBPyConnection, partition_keys: list[str]) -> None:
    """The rounds the next dbt build covers (raw.dbt_build_rounds): these, or every round a
    batch was ever loaded for when the list is empty."""
    con.execute("delete from raw.dbt_build_rounds")
    if partition_keys:
        con.executemany("insert into raw.dbt_build_rounds values (?)", [[key] for key in set(partition_keys)])
    else:
        con.execute("insert into raw.dbt_build_rounds select distinct partition_key from raw.load_batches")


def unfinished_rounds(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Rounds an interrupted run left undone: batches still pending (not gated), or batches or a
    sign-off decision changed since the last successful dbt build (not in the marts yet)."""
    return [
        row[0]
        for row in con.execute(
            f"""
            select partition_key from raw.load_batches
            where status = 'pending' or status_changed_at > {_BUILT_MARK}
            union
            select partition_key from raw.round_reviews where recorded_at > {_BUILT_MARK}
            order by 1
            """
        ).fetchall()
    ]


@dataclass(frozen=True)
class WarehouseStatus:
    known_files: set[tuple[str, str]]  # (landing name, sha256) of every file loaded or refused
    unfinished_rounds: list[str]  # what an interrupted run left undone (see unfinished_rounds)
    built_project: str | None = None  # the dbt project digest the marts were built with
    # (landing name, sha256) of files refused as one of several versions of a list that arrived
    # together: not known, so that a run loads the one left once the others are gone
    conflicted: set[tuple[str, str]] = field(default_factory=set)
    # (round, list type, sha256) of every master list's batch; (None, None, sha256) of every KI
    # export's and workbook's: the bytes a copy under another name brings again (landing.is_new)
    held_bytes: set[tuple[str | None, str | None, str]] = field(default_factory=set)


# A master list's batch holds its bytes for its round and list; a field file's for any round.
HELD_BYTES_SQL = f"""
    select distinct
        case when list_type in {tuple(MASTER_LIST_TABLES)} then partition_key end,
        case when list_type in {tuple(MASTER_LIST_TABLES)} then list_type end,
        source_sha256
    from raw.load_batches
"""


def warehouse_status(path: Path) -> WarehouseStatus:
    """What `dtm run` must do besides loading new files (empty when there is no warehouse)."""
    if not path.exists():
        return WarehouseStatus(set(), [])
    with connect(path) as con:
        ensure_raw_schema(con)
        known = {
            (name, digest)
            for name, digest in con.execute(
                "select source_file, source_sha256 from raw.load_batches "
                "union select source_file, source_sha256 from raw.file_rejections"
            ).fetchall()
        }
        conflicted = {
            (name, digest)
            for name, digest in con.execute(
                "select source_file, source_sha256 from raw.file_rejections "
                "where kind = ? and withdrawn_at is null",
                [CONFLICT],
            ).fetchall()
        }
        held_bytes = set(con.execute(HELD_BYTES_SQL).fetchall())
        return WarehouseStatus(
            known - conflicted, unfinished_rounds(con), built_project(con), conflicted, held_bytes
        )


def table_checksums(path: Path, schema: str) -> dict[str, tuple[int, int]]:
    """Each table of a schema: its row count and a checksum of its rows, in any order (how a
    run is compared with another: the fault-injection bench, the tests). Timestamps are left
    out: when a file was loaded or checked differs between two runs, what they hold must not."""
    with connect(path, read_only=True) as con:
        columns: dict[str, list[str]] = {}
        for table, column in con.execute(
            "select table_name, column_name from duckdb_columns() where schema_name = ? "
            "and data_type not like 'TIMESTAMP%' order by table_name, column_index",
            [schema],
        ).fetchall():
            columns.setdefault(table, []).append(f'"{column}"')
        return {
            table: con.execute(
                f'select count(*), coalesce(sum(hash(row({", ".join(names)}))), 0) from {schema}."{table}"'
            ).fetchall()[0]
            for table, names in columns.items()
        }
