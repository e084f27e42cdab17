"""Ingest: landing files → raw tables of the working DuckDB file, one batch per file and round."""

import multiprocessing
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import dagster as dg
import duckdb

from orchestration import landing, retention
from orchestration.field_files import cluster_batches, ki_batches, read_or_refuse
from orchestration.informants import SecretMissing, resolve_secret
from orchestration.partitions import WAREHOUSE_POOL, round_partitions
from orchestration.quality.frames import count_sql
from orchestration.quality.gate import GateOutcome, gate_pending
from orchestration.quality.sense_checks import Finding, record_findings, sense_check
from orchestration.readers.cluster_sheets import ClusterWorkbook
from orchestration.readers.round_files import (
    RejectedFile,
    RoundFile,
    file_digest,
    read_or_refusal,
    read_round_file,
)
from orchestration.resources import WarehouseResource
from orchestration.warehouse import (
    ALL_RAW_TABLES,
    FIELD_TABLES,
    RAW_TABLES,
    LoadOutcome,
    connect,
    ensure_raw_schema,
    insert_batch,
    load_round_file,
    record_rejection,
)

# Below this many files, starting worker processes costs more than it saves.
PARALLEL_FROM_FILES = 4
GATE_CHECK = "great_expectations_suite"
SENSE_CHECK = "round_over_round"
LANDING_ROUND_FILES = dg.AssetKey(["landing", "dtm_round_files"])
LOAD_BATCHES = dg.AssetKey(["raw", "load_batches"])
RAW_ASSET_KEYS = {list_type: dg.AssetKey(["raw", table]) for list_type, table in ALL_RAW_TABLES.items()}
FIELD_DESCRIPTIONS = {
    "ki_report": "Key-informant reports (KoBoToolbox exports: CSV, XLSX, KoBo JSON), every field as "
    "text with provenance, one batch per export and round. The only place informants' names, "
    "phones and devices exist; the loader adds `informant_key` (a keyed HMAC) for everything "
    "downstream, and blanks personal columns after the retention period.",
    "cluster_project": "Cluster workbooks, sheet Projects: one row per HRP project (totals rows "
    "kept, marked row_kind = totals), one batch per workbook year.",
    "cluster_activity": "Cluster workbooks, sheet Activities: one row per activity of a project, "
    "with its unit, target and headline flag.",
    "cluster_reach": "Cluster workbooks, sheet Reach: one row per month, activity, place and "
    "population group, one batch per workbook and round holding the month.",
}

landing_round_files = dg.AssetSpec(
    LANDING_ROUND_FILES,
    description="The landing folder: DTM IDP and returnee master lists (CSV, XLSX), KoBoToolbox "
    "exports of key-informant reports (CSV, XLSX, JSON) and cluster workbooks (XLSX), as people "
    "send them. Never modified or deleted by the pipeline.",
    group_name="landing",
    kinds={"file"},
)


def _read_all(todo: list[landing.LandingFile]) -> Iterator[RoundFile | RejectedFile]:
    """Read files in order; reading is CPU-bound, so a batch of files uses two worker processes
    (spawned, not forked: forking a process that runs Dagster's threads can deadlock)."""
    paths = [f.path for f in todo]
    if len(paths) <= PARALLEL_FROM_FILES:
        yield from map(_read, paths)
        return
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield from pool.map(_read, paths)


def _read(path: Path) -> RoundFile | RejectedFile:
    # A function of the module, so worker processes can call it.
    return read_or_refusal(read_round_file, path)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RAW_ASSET_KEYS["idp"],
            deps=[LANDING_ROUND_FILES],
            group_name="raw",
            kinds={"duckdb"},
            description="DTM IDP master lists: every cell as text, canonical column "
            "names, provenance (file, sha256, sheet, row, round, month).",
        ),
        dg.AssetSpec(
            RAW_ASSET_KEYS["returnee"],
            deps=[LANDING_ROUND_FILES],
            group_name="raw",
            kinds={"duckdb"},
            description="DTM returnee master lists: every cell as text, canonical column "
            "names, provenance (file, sha256, sheet, row, round, month).",
        ),
        *[
            dg.AssetSpec(
                RAW_ASSET_KEYS[list_type],
                deps=[LANDING_ROUND_FILES],
                group_name="raw",
                kinds={"duckdb"},
                description=description,
            )
            for list_type, description in FIELD_DESCRIPTIONS.items()
        ],
        dg.AssetSpec(
            LOAD_BATCHES,
            deps=[LANDING_ROUND_FILES],
            group_name="raw",
            kinds={"duckdb"},
            description="One row per batch (one file's rows for one round) with its "
            "status: accepted, superseded by a re-issue, or quarantined.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            GATE_CHECK,
            asset=key,
            blocking=True,
            description="The Great Expectations suite of this raw table (expectations/): a batch "
            "failing a critical expectation is quarantined with its reasons and never reaches dbt.",
        )
        for key in RAW_ASSET_KEYS.values()
    ]
    + [
        dg.AssetCheckSpec(
            SENSE_CHECK,
            asset=key,
            description="Round-over-round sense checks (warnings): governorate and national changes "
            "and large locations appearing or vanishing, against thresholds in sense_check_thresholds.",
        )
        for key in (RAW_ASSET_KEYS[list_type] for list_type in RAW_TABLES)
    ],
    partitions_def=round_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Read every landing file of the run's rounds and load it as a batch; refuse what cannot
    be read, with the file, sheet, row and column, and go on with the other files."""
    keys = set(context.partition_keys)
    files = landing.scan(warehouse.landing)
    grouped = landing.by_partition(files)
    todo = [f for key in sorted(keys) for f in grouped.get(key, [])]
    missing = sorted(keys - set(grouped))
    if missing:
        context.log.warning(f"No landing file for {len(missing)} round(s): {', '.join(missing[:10])}")
    outcomes: list[LoadOutcome] = []
    rejections: list[tuple[str, str]] = []
    field_reads = {f.name: read_or_refuse(f.path, f.family) for f in landing.field_files(files)}
    secret = _informant_secret(context, warehouse, files, field_reads)
    with connect(warehouse.database) as con:
        ensure_raw_schema(con)
        unassigned = [f for f in files if f.round_id is None and f.family not in landing.FIELD_FAMILIES]
        _record_unassigned(con, unassigned, rejections)
        for done, (landing_file, result) in enumerate(zip(todo, _read_all(todo), strict=True), start=1):
            if isinstance(result, RejectedFile):
                error = RejectedFile(
                    landing_file.name,
                    result.reason,
                    sheet=result.sheet,
                    row=result.row,
                    column=result.column,
                )
                record_rejection(
                    con,
                    landing_file.name,
                    landing.fingerprint(landing_file),
                    error,
                    landing_file.round_id.partition_key,
                    landing_file.list_type,
                )
                rejections.append((landing_file.name, str(error)))
                context.log.warning(f"[{done}/{len(todo)}] refused {error}")
                continue
            outcome = load_round_file(con, result, landing_file.name)
            outcomes.append(outcome)
            context.log.info(
                f"[{done}/{len(todo)}] {landing_file.name}: {outcome.rows:,} rows {outcome.status}"
            )
        waiting = _load_field_files(context, con, files, field_reads, keys, secret, outcomes, rejections)
        blanked = retention.erase_expired(con)
        if blanked:
            context.log.info(f"Retention: personal columns of {blanked:,} KI report(s) blanked")
        docs = warehouse.database.parent / "quality"
        gates = {
            list_type: gate_pending(con, list_type, docs, context.run.run_id) for list_type in ALL_RAW_TABLES
        }
        for gate in gates.values():
            context.log.info(
                f"Gate {gate.list_type}: {gate.validated_rows:,} rows in {gate.seconds} s, "
                f"{len(gate.accepted)} batch(es) accepted, {len(gate.quarantined)} quarantined"
            )
        findings = {list_type: sense_check(con, list_type, sorted(keys)) for list_type in RAW_TABLES}
        for list_type, found in findings.items():
            record_findings(con, list_type, sorted(keys), found)
        totals = _round_totals(con, keys)
        field_totals = _field_totals(con, keys)
    yield from _materializations(outcomes, rejections, totals, gates, field_totals, waiting)
    yield from (_check_result(gate) for gate in gates.values())
    yield from (_sense_result(list_type, found) for list_type, found in findings.items())


def _check_result(gate: GateOutcome) -> dg.AssetCheckResult:
    """The suite's verdict in the UI. Quarantined batches never reach staging, so they fail the
    check with WARN severity: blocking stops dbt only on ERROR, and a bad file must not hold
    back the good files of the same run."""
    failures = [
        (
            f.batch_id.split("/")[0],
            f.severity,
            f.expectation,
            f.columns,
            f.unexpected_count,
            ", ".join(map(str, f.sample_rows)),
            f.description,
        )
        for f in gate.failures
    ]
    return dg.AssetCheckResult(
        asset_key=RAW_ASSET_KEYS[gate.list_type],
        check_name=GATE_CHECK,
        passed=not gate.failures,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_validated": gate.validated_rows,
            "batches_accepted": len(gate.accepted),
            "batches_quarantined": len(gate.quarantined),
            "quarantined": dg.MetadataValue.md("\n".join(f"- {b}" for b in gate.quarantined) or "none"),
            "failures": dg.MetadataValue.md(
                _md_table(
                    ["round", "severity", "expectation", "columns", "rows", "e.g. rows", "why"], failures[:50]
                )
                if failures
                else "none"
            ),
            "seconds": gate.seconds,
            **({"data_docs": dg.MetadataValue.path(str(gate.data_docs))} if gate.data_docs else {}),
        },
    )


def _sense_result(list_type: str, findings: list[Finding]) -> dg.AssetCheckResult:
    rows = [
        (
            f.partition_key,
            f.check_name,
            f.subject,
            f.previous_value,
            f.current_value,
            f.previous_partition_key,
        )
        for f in findings
    ]
    return dg.AssetCheckResult(
        asset_key=RAW_ASSET_KEYS[list_type],
        check_name=SENSE_CHECK,
        passed=not findings,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "findings": len(findings),
            "by_check": dg.MetadataValue.json(dict(Counter(f.check_name for f in findings))),
            "largest": dg.MetadataValue.md(
                _md_table(["round", "check", "subject", "previous", "current", "previous round"], rows[:50])
                if rows
                else "none"
            ),
        },
    )


def _record_unassigned(
    con: duckdb.DuckDBPyConnection, unassigned: list[landing.LandingFile], rejections: list[tuple[str, str]]
) -> None:
    for landing_file in unassigned:
        error = landing.unassigned_rejection(landing_file)
        record_rejection(con, landing_file.name, file_digest(landing_file.path)[0], error, None, None)
        rejections.append((landing_file.name, str(error)))


def _round_totals(con: duckdb.DuckDBPyConnection, keys: set[str]) -> dict[str, list[tuple]]:
    """Each list's accepted rows, households and individuals per round of the run."""
    totals: dict[str, list[tuple]] = {}
    for list_type, table in RAW_TABLES.items():
        totals[list_type] = con.execute(
            f"""
            select partition_key, count(*) as rows,
                   sum({count_sql("households")}) as households,
                   sum({count_sql("individuals")}) as individuals
            from raw.{table}
            where partition_key in (select unnest(?::varchar[]))
              and batch_id in (select batch_id from raw.load_batches where status = 'accepted')
            group by partition_key order by partition_key
            """,
            [sorted(keys)],
        ).fetchall()
    return totals


def _md_table(header: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |" for row in rows
    ]
    return "\n".join(lines)


def _materializations(
    outcomes: list[LoadOutcome],
    rejections: list[tuple[str, str]],
    totals: dict[str, list[tuple]],
    gates: dict[str, GateOutcome],
    field_totals: dict[str, list[tuple]],
    waiting: list[str],
):
    counts = Counter((o.list_type, o.status) for o in outcomes)
    for list_type in RAW_TABLES:
        key = RAW_ASSET_KEYS[list_type]
        rows = sum(o.rows for o in outcomes if o.list_type == list_type and o.status == "loaded")
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": rows,
                "files_loaded": counts[(list_type, "loaded")],
                "files_unchanged": counts[(list_type, "unchanged")],
                "batches_accepted": len(gates[list_type].accepted),
                "batches_quarantined": len(gates[list_type].quarantined),
                "rounds": dg.MetadataValue.md(
                    _md_table(["round", "locations", "households", "individuals"], totals[list_type][-40:])
                ),
            },
        )
    for list_type in FIELD_TABLES:
        yield dg.MaterializeResult(
            asset_key=RAW_ASSET_KEYS[list_type],
            metadata={
                "dagster/row_count": sum(
                    o.rows for o in outcomes if o.list_type == list_type and o.status == "loaded"
                ),
                "batches_loaded": counts[(list_type, "loaded")],
                "batches_unchanged": counts[(list_type, "unchanged")],
                "batches_accepted": len(gates[list_type].accepted),
                "batches_quarantined": len(gates[list_type].quarantined),
                "rounds": dg.MetadataValue.md(
                    _md_table(FIELD_TOTAL_HEADERS[list_type], field_totals[list_type][-40:])
                    if field_totals[list_type]
                    else "none"
                ),
                "waiting": dg.MetadataValue.md("\n".join(f"- {w}" for w in waiting) or "none"),
            },
        )
    yield dg.MaterializeResult(
        asset_key=LOAD_BATCHES,
        metadata={
            "batches_loaded": sum(1 for o in outcomes if o.status == "loaded"),
            "files_refused": len(rejections),
            "refused": dg.MetadataValue.md(
                _md_table(["file", "reason"], rejections[:50]) if rejections else "none"
            ),
        },
    )


def _informant_secret(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    files: list[landing.LandingFile],
    reads: dict,
) -> str | None:
    """The informant-key secret, or a refusal of the whole run before anything is loaded."""
    by_name = {f.name: f for f in files}
    ki_files = [
        (name, read.sha256)
        for name, read in reads.items()
        if by_name[name].family == "ki_report" and not isinstance(read, RejectedFile)
    ]
    if not ki_files:
        return None
    try:
        secret, origin = resolve_secret(warehouse.landing, ki_files)
    except SecretMissing as error:
        raise dg.Failure(description=str(error)) from None
    context.log.info(f"Informant keys: HMAC-SHA256 keyed by {origin}")
    return secret


def _load_field_files(
    context: dg.AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    files: list[landing.LandingFile],
    reads: dict,
    keys: set[str],
    secret: str | None,
    outcomes: list[LoadOutcome],
    rejections: list[tuple[str, str]],
) -> list[str]:
    """Load the run's rounds' rows of every KI export and cluster workbook; return what waits."""
    rounds = landing.calendar(files)
    erased = retention.erased_keys(con)
    waiting: list[str] = []
    by_name = {f.name: f for f in files}
    for name, read in reads.items():
        if isinstance(read, RejectedFile):
            error = RejectedFile(name, read.reason, sheet=read.sheet, row=read.row, column=read.column)
            record_rejection(con, name, file_digest(by_name[name].path)[0], error, None, by_name[name].family)
            rejections.append((name, str(error)))
            context.log.warning(f"refused {error}")
            continue
        if isinstance(read, ClusterWorkbook):
            found = cluster_batches(read, name, rounds, keys)
        else:
            found = ki_batches(read, name, rounds, keys, secret, erased)
        if found.erased_rows:
            context.log.info(f"{name}: {found.erased_rows} report(s) of erased informants not loaded")
        waiting += found.waiting
        for batch in found.batches:
            outcome = insert_batch(con, batch)
            outcomes.append(outcome)
            if outcome.status == "loaded":
                context.log.info(f"{name} → {outcome.batch_id}: {outcome.rows:,} rows loaded")
    for note in waiting:
        context.log.info(note)
    return waiting


FIELD_TOTAL_HEADERS = {
    "ki_report": ["round", "submissions", "informants", "places"],
    "cluster_project": ["round", "workbook", "projects", "budget (USD)"],
    "cluster_activity": ["round", "workbook", "activities", "headline activities"],
    "cluster_reach": ["round", "workbook", "rows", "people reached (total)"],
}
FIELD_TOTAL_SQL = {
    "ki_report": "count(*), count(distinct informant_key), count(distinct place_id)",
    "cluster_project": f"any_value(source_file), count(*), sum({count_sql('budget_usd')})",
    "cluster_activity": "any_value(source_file), count(*), "
    "count(*) filter (where lower(trim(headline)) = 'yes')",
    "cluster_reach": f"any_value(source_file), count(*), sum({count_sql('total')})",
}


def _field_totals(con: duckdb.DuckDBPyConnection, keys: set[str]) -> dict[str, list[tuple]]:
    """Accepted rows per round of the run, for the UI (counts only: no personal data)."""
    return {
        list_type: con.execute(
            f"""
            select partition_key, {FIELD_TOTAL_SQL[list_type]}
            from raw.{table}
            where partition_key in (select unnest(?::varchar[]))
              {"" if list_type == "ki_report" else "and row_kind = 'data'"}
              and batch_id in (select batch_id from raw.load_batches where status = 'accepted')
            group by partition_key order by partition_key
            """,
            [sorted(keys)],
        ).fetchall()
        for list_type, table in FIELD_TABLES.items()
    }


defs = dg.Definitions(assets=[landing_round_files, raw_tables])
