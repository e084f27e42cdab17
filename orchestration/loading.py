"""Loading a run's rounds: landing files → raw batches → quality gates → sense checks.

Plain functions, no Dagster: the ingest asset (orchestration/defs/ingest.py) calls `load_rounds`
and builds its materializations and check results from the report it returns; bench/ and tests
read the same report.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Protocol, TypeVar

import duckdb

from orchestration import landing, list_versions, retention, review, workbook_versions, writer_lock
from orchestration.field_files import FieldRead, cluster_batches, footprint_of, ki_batches, read_field_file
from orchestration.informants import resolve_secret
from orchestration.landing_news import Known, needs_reading, read_known, sha256_of
from orchestration.quality.gate import GateOutcome, gate_pending
from orchestration.quality.sense_checks import Finding, record_findings, sense_check
from orchestration.readers.cluster_sheets import ClusterWorkbook
from orchestration.readers.round_files import RejectedFile, RoundFile, read_master_list
from orchestration.rules import accepted_batches_sql, count_sql
from orchestration.warehouse import (
    ALL_RAW_TABLES,
    FAMILY_TABLES,
    FIELD_TABLES,
    MASTER_LIST_TABLES,
    LoadOutcome,
    batch_versions,
    connect,
    ensure_raw_schema,
    insert_batch,
    load_round_file,
    record_footprint,
    record_rejection,
    same_bytes_elsewhere,
    withdraw_loaded_conflicts,
)

# Below this many files, starting worker processes costs more than it saves.
PARALLEL_FROM_FILES = 4
# Files read ahead of the one being loaded: enough to keep both workers busy. Reads queued
# without a bound (Executor.map) piled up in memory while the loader inserted and committed:
# 2,209 MB in `dtm run`'s process at the 6x sample once reading got faster.
READ_AHEAD = 4
T = TypeVar("T")
R = TypeVar("R")


class Log(Protocol):
    """What the loader reports progress to: Dagster's context.log, or a logging.Logger."""

    def info(self, msg: str) -> None: ...

    def warning(self, msg: str) -> None: ...


@dataclass
class LoadReport:
    """What a load did, for the UI, the command line, bench/ and tests."""

    partition_keys: list[str]
    missing: list[str] = field(default_factory=list)  # rounds of the run without a landing file
    outcomes: list[LoadOutcome] = field(default_factory=list)
    refused: list[RejectedFile] = field(default_factory=list)
    refused_for: dict[str, list[RejectedFile]] = field(default_factory=dict)  # by the raw table fed
    waiting: list[str] = field(default_factory=list)
    # field files not read: nothing new for the run's rounds; their batches of those rounds
    unread: list[str] = field(default_factory=list)
    unread_batches: int = 0
    informant_key_origin: str | None = None
    retention_blanked: int = 0
    gates: dict[str, GateOutcome] = field(default_factory=dict)
    findings: dict[str, list[Finding]] = field(default_factory=dict)
    # accepted rows per round of the run: master lists (round, locations, households,
    # individuals) and field families (round, then FIELD_TOTAL_SQL's columns)
    totals: dict[str, list[tuple]] = field(default_factory=dict)
    sign_off: review.Review | None = None  # the publication candidate's review, if it has one
    statuses: dict[str, str] = field(default_factory=dict)  # each batch of the run's, once settled

    @property
    def gate_seconds(self) -> float:
        return round(sum(gate.seconds for gate in self.gates.values()), 2)

    def settled(self, list_type: str) -> bool:
        """Whether the table's gate settled a batch in this run (accepted or quarantined)."""
        gate = self.gates.get(list_type)
        return bool(gate and (gate.accepted or gate.quarantined))

    def touched(self, list_type: str) -> bool:
        """Whether the run has news of this table: batches its gate settled, or files refused."""
        return self.settled(list_type) or bool(self.refused_for.get(list_type))


def load_rounds(
    database: Path, landing_dir: Path, partition_keys: list[str], label: str, log: Log
) -> LoadReport:
    """Read every landing file of these rounds (a KI export or workbook when it may hold
    something new for them: landing_news.needs_reading) and load it as a batch; refuse what
    cannot be read (file, sheet, row, column) and go on with the other files; then gate every
    pending batch and run the sense checks. Raises informants.SecretMissing before anything is
    loaded when a KI file to be read needs a secret that is not set."""
    keys = sorted(partition_keys)
    report = LoadReport(keys)
    files = landing.scan(landing_dir)
    grouped = landing.by_partition(files)
    todo = [f for key in keys for f in grouped.get(key, [])]
    report.missing = sorted(set(keys) - set(grouped))
    if report.missing:
        log.warning(f"No landing file for {len(report.missing)} round(s): {', '.join(report.missing[:10])}")
    field_reads = _read_field_files(database, files, set(keys), report, log)
    secret = _informant_secret(landing_dir, files, field_reads, report, log)
    with writer_lock.hold(database, say=log.info), connect(database) as con:
        ensure_raw_schema(con)
        for landing_file in files:
            if landing_file.round_id is None and landing_file.family not in landing.FIELD_FAMILIES:
                _refuse(con, report, landing.unassigned_rejection(landing_file), None, None)
        # Lists that arrived in several new versions first, a list at a time, then the rest.
        versions = list_versions.new_versions(todo, batch_versions(con))
        rest = [f for f in todo if not any(f in group for group in versions.values())]
        reads = chain(
            (read for group, files in versions.items() for read in list_versions.resolve(group, files)),
            zip(rest, _read_all(rest), strict=True),
        )
        for done, (landing_file, result) in enumerate(reads, start=1):
            if isinstance(result, RejectedFile):
                error = result.renamed(landing_file.name)
                _refuse(con, report, error, landing_file.round_id.partition_key, landing_file.list_type)
                log.warning(f"[{done}/{len(todo)}] refused {error}")
                continue
            if copied := same_bytes_elsewhere(con, result.sha256, landing_file.round_id.partition_key):
                error = RejectedFile(
                    landing_file.name,
                    f"the same bytes as {copied[0]} ({copied[1]}), already loaded: a copy of another "
                    "round's file under this round's name, not this round's own list",
                    sha256=result.sha256,
                )
                _refuse(con, report, error, landing_file.round_id.partition_key, landing_file.list_type)
                log.warning(f"[{done}/{len(todo)}] refused {error}")
                continue
            outcome = load_round_file(con, result, landing_file.name)
            report.outcomes.append(outcome)
            log.info(f"[{done}/{len(todo)}] {landing_file.name}: {outcome.rows:,} rows {outcome.status}")
        workbooks = _load_field_files(con, files, field_reads, set(keys), secret, report, log)
        withdraw_loaded_conflicts(con)
        report.retention_blanked = retention.erase_expired(con)
        if report.retention_blanked:
            log.info(f"Retention: personal columns of {report.retention_blanked:,} KI report(s) blanked")
        docs = database.parent / "quality"
        report.gates = {list_type: gate_pending(con, list_type, docs, label) for list_type in ALL_RAW_TABLES}
        workbook_versions.retire_rounds_left_out(con, workbooks)
        for gate in report.gates.values():
            log.info(
                f"Gate {gate.list_type}: {gate.validated_rows:,} rows in {gate.seconds} s, "
                f"{len(gate.accepted)} batch(es) accepted, {len(gate.quarantined)} quarantined"
            )
        report.findings = {list_type: sense_check(con, list_type, keys) for list_type in MASTER_LIST_TABLES}
        for list_type, found in report.findings.items():
            record_findings(con, list_type, keys, found)
        found = [f for findings in report.findings.values() for f in findings]
        report.sign_off = review.hold_if_doubtful(con, keys, found)
        if report.sign_off is not None and report.sign_off.status == review.AWAITING:
            key = report.sign_off.partition_key
            log.warning(
                f"{key} awaits sign-off before it is published: {report.sign_off.reasons}. Decide with "
                f"`dtm sign-off {key} --by NAME --note TEXT` or `dtm reject …` (or the review_round job)."
            )
        report.totals = round_totals(con, keys)
        report.statuses = dict(
            con.execute(
                "select batch_id, status from raw.load_batches "
                "where batch_id in (select unnest(?::varchar[]))",
                [[o.batch_id for o in report.outcomes]],
            ).fetchall()
        )
    return report


def _refuse(
    con: duckdb.DuckDBPyConnection,
    report: LoadReport,
    error: RejectedFile,
    partition_key: str | None,
    list_type: str | None,
) -> None:
    record_rejection(con, error, partition_key, list_type)
    report.refused.append(error)
    # A master list names its table; a KI export or workbook its family, which feeds several.
    for table in FAMILY_TABLES.get(list_type or "", (list_type,) if list_type in ALL_RAW_TABLES else ()):
        report.refused_for.setdefault(table, []).append(error)


def _read_all(todo: list[landing.LandingFile]) -> Iterator[RoundFile | RejectedFile]:
    """Read files in order, each once (a file identified by its content was read by the scan);
    reading is CPU-bound, so a batch of files uses two worker processes (spawned, not forked:
    forking a process that runs Dagster's threads can deadlock), at most `READ_AHEAD` files
    ahead of the one being loaded."""
    unread = [f.path for f in todo if f.read is None]
    if len(unread) <= PARALLEL_FROM_FILES:
        reads: Iterator = map(read_master_list, unread)
        yield from (f.read or next(reads) for f in todo)
        return
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        reads = read_ahead(pool, read_master_list, unread, READ_AHEAD)
        yield from (f.read or next(reads) for f in todo)


def read_ahead(pool: Executor, function: Callable[[T], R], items: Iterable[T], ahead: int) -> Iterator[R]:
    """`function` of each item, in order, through `pool`, with at most `ahead` calls submitted
    beyond the result being used (Executor.map submits every call at once)."""
    items = iter(items)
    pending = deque(pool.submit(function, item) for item in islice(items, ahead))
    while pending:
        result = pending.popleft().result()
        pending.extend(pool.submit(function, item) for item in islice(items, 1))
        yield result


def _read_field_files(
    database: Path,
    files: list[landing.LandingFile],
    keys: set[str],
    report: LoadReport,
    log: Log,
) -> dict[str, FieldRead]:
    """The KI exports and workbooks this load reads (landing_news.needs_reading). The others
    are bytes the warehouse has loaded under their name, with nothing new for these rounds and
    no row waiting: their
    batches of these rounds count as unchanged, as they would if read again. What the
    warehouse knows is read before the writer lock, without waiting: batches and footprints are
    never removed, so what another writer adds meanwhile can only make a file read needlessly."""
    known = read_known(database) or Known()
    rounds = landing.calendar(files)
    reads: dict[str, FieldRead] = {}
    unread: set[str] = set()
    for f in landing.field_files(files):
        sha256 = sha256_of(f)
        if needs_reading(known, f.name, f.family, sha256, rounds, keys):
            reads[f.name] = read_field_file(f.path, f.family)
        else:
            report.unread.append(f.name)
            unread.add(sha256)
    report.unread_batches = sum(
        1 for key, _, sha256, _, _ in known.batches if sha256 in unread and key in keys
    )
    if report.unread:
        log.info(
            f"{len(report.unread)} KI export(s) and workbook(s) hold nothing new for these rounds: "
            "already loaded, not read again"
        )
    return reads


def _informant_secret(
    landing_dir: Path,
    files: list[landing.LandingFile],
    reads: dict[str, FieldRead],
    report: LoadReport,
    log: Log,
) -> str | None:
    """The informant-key secret, or informants.SecretMissing before anything is loaded."""
    by_name = {f.name: f for f in files}
    ki_files = [
        (name, read.sha256)
        for name, read in reads.items()
        if by_name[name].family == "ki_report" and not isinstance(read, RejectedFile)
    ]
    if not ki_files:
        return None
    secret, report.informant_key_origin = resolve_secret(landing_dir, ki_files)
    log.info(f"Informant keys: HMAC-SHA256 keyed by {report.informant_key_origin}")
    return secret


def _load_field_files(
    con: duckdb.DuckDBPyConnection,
    files: list[landing.LandingFile],
    reads: dict[str, FieldRead],
    keys: set[str],
    secret: str | None,
    report: LoadReport,
    log: Log,
) -> list[workbook_versions.Version]:
    """Load the run's rounds' rows of every KI export and cluster workbook; note what waits.
    The workbooks loaded, with the rounds their reach rows fall in."""
    rounds = landing.calendar(files)
    workbooks = []
    erased = retention.erased_keys(con)
    by_name = {f.name: f for f in files}
    decisions = workbook_versions.decide(
        con, {n: r for n, r in reads.items() if isinstance(r, ClusterWorkbook)}
    )
    for name, read in reads.items():
        # a workbook's decision stands for its read: its series, its refusal, or its replacement
        decision = decisions.get(name, read)
        if isinstance(decision, RejectedFile):
            error = decision.renamed(name)
            _refuse(con, report, error, None, by_name[name].family)
            log.warning(f"refused {error}")
            continue
        if isinstance(decision, workbook_versions.Replaced):
            log.info(f"{name}: replaced by {decision.by}, a later version of its workbook: not loaded again")
            continue
        footprint = footprint_of(read)
        record_footprint(con, read.sha256, footprint.family, footprint.year, footprint.days)
        if isinstance(read, ClusterWorkbook):
            found = cluster_batches(read, name, rounds, keys, decision)
            workbooks.append(workbook_versions.Version(read.sha256, decision, found.reach_rounds))
        else:
            found = ki_batches(read, name, rounds, keys, secret, erased)
        if found.erased_rows:
            log.info(f"{name}: {found.erased_rows} report(s) of erased informants not loaded")
        report.waiting += found.waiting
        for batch in found.batches:
            outcome = insert_batch(con, batch)
            report.outcomes.append(outcome)
            if outcome.status == "loaded":
                log.info(f"{name} → {outcome.batch_id}: {outcome.rows:,} rows loaded")
    for note in report.waiting:
        log.info(note)
    return workbooks


# What the UI shows of each table's accepted rows per round (counts only: no personal data).
TOTAL_SQL = {
    "idp": f"count(*), sum({count_sql('households')}), sum({count_sql('individuals')})",
    "returnee": f"count(*), sum({count_sql('households')}), sum({count_sql('individuals')})",
    "ki_report": "count(*), count(distinct informant_key), count(distinct place_id)",
    "cluster_project": f"any_value(source_file), count(*), sum({count_sql('budget_usd')})",
    "cluster_activity": "any_value(source_file), count(*), "
    "count(*) filter (where lower(trim(headline)) = 'yes')",
    "cluster_reach": f"any_value(source_file), count(*), sum({count_sql('total')})",
}


def round_totals(con: duckdb.DuckDBPyConnection, keys: list[str]) -> dict[str, list[tuple]]:
    """Each table's accepted rows per round of the run (data rows only: no totals rows)."""
    return {
        list_type: con.execute(
            f"""
            select partition_key, {TOTAL_SQL[list_type]}
            from raw.{table}
            where partition_key in (select unnest(?::varchar[]))
              {"and row_kind = 'data'" if list_type.startswith("cluster_") else ""}
              and {accepted_batches_sql()}
            group by partition_key order by partition_key
            """,
            [keys],
        ).fetchall()
        for list_type, table in {**MASTER_LIST_TABLES, **FIELD_TABLES}.items()
    }
