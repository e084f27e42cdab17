"""Ingest: landing files → raw tables of the working DuckDB file, one batch per file and round.

The work is orchestration/loading.py's; this module declares the assets and checks and turns
the load report into what the UI shows."""

from collections import Counter

import dagster as dg

from orchestration.defs.partitions import WAREHOUSE_POOL, round_partitions
from orchestration.defs.resources import WarehouseResource
from orchestration.informants import SecretMissing
from orchestration.loading import LoadReport, load_rounds
from orchestration.quality.gate import GateOutcome
from orchestration.quality.sense_checks import Finding
from orchestration.review import Review
from orchestration.warehouse import ALL_RAW_TABLES, FIELD_TABLES, MASTER_LIST_TABLES

GATE_CHECK = "great_expectations_suite"
SENSE_CHECK = "round_over_round"
LANDING_ROUND_FILES = dg.AssetKey(["landing", "dtm_round_files"])
LOAD_BATCHES = dg.AssetKey(["raw", "load_batches"])
RAW_ASSET_KEYS = {list_type: dg.AssetKey(["raw", table]) for list_type, table in ALL_RAW_TABLES.items()}
RAW_DESCRIPTIONS = {
    "idp": "DTM IDP master lists: every cell as text, canonical column names, provenance (file, "
    "sha256, sheet, row, round, month).",
    "returnee": "DTM returnee master lists: every cell as text, canonical column names, provenance "
    "(file, sha256, sheet, row, round, month).",
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
# What the gates, sense checks and readers record beside the batches (dbt sources of the
# quality marts: round_quality, gate_failures, sense_check_findings, refused_files).
QUALITY_FAILURES = dg.AssetKey(["raw", "quality_failures"])
SENSE_CHECK_FINDINGS = dg.AssetKey(["raw", "sense_check_findings"])
FILE_REJECTIONS = dg.AssetKey(["raw", "file_rejections"])
QUALITY_DESCRIPTIONS = {
    QUALITY_FAILURES: "Every expectation a batch failed in the quality gate, with its severity (error "
    "quarantines the batch), failing rows and samples.",
    SENSE_CHECK_FINDINGS: "Round-over-round moves beyond a threshold of sense_check_thresholds (hold or "
    "warning), one row per round, list, check and subject.",
    FILE_REJECTIONS: "Landing files the readers refused, with the reason, sheet, row and column.",
}
LOAD_BATCHES_DESCRIPTION = (
    "One row per batch (one file's rows for one round) with its status: accepted, superseded by a "
    "re-issue, or quarantined."
)

landing_round_files = dg.AssetSpec(
    LANDING_ROUND_FILES,
    description="The landing folder: DTM IDP and returnee master lists (CSV, XLSX), KoBoToolbox "
    "exports of key-informant reports (CSV, XLSX, JSON) and cluster workbooks (XLSX), as people "
    "send them. Never modified or deleted by the pipeline.",
    group_name="landing",
    kinds={"file"},
)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(key, deps=[LANDING_ROUND_FILES], group_name="raw", kinds={"duckdb"}, description=text)
        for key, text in [
            *((RAW_ASSET_KEYS[list_type], text) for list_type, text in RAW_DESCRIPTIONS.items()),
            (LOAD_BATCHES, LOAD_BATCHES_DESCRIPTION),
            *QUALITY_DESCRIPTIONS.items(),
        ]
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
            description="Round-over-round sense checks against sense_check_thresholds: a national "
            "move, a governorate's loss or a fall in locations beyond its threshold holds the round "
            "that would be published until a person signs it off (review_round job); the rest warn.",
        )
        for key in (RAW_ASSET_KEYS[list_type] for list_type in MASTER_LIST_TABLES)
    ],
    partitions_def=round_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Read every landing file of the run's rounds and load it as a batch; refuse what cannot
    be read, with the file, sheet, row and column, and go on with the other files."""
    try:
        report = load_rounds(
            warehouse.database, warehouse.landing, context.partition_keys, context.run.run_id, context.log
        )
    except SecretMissing as error:
        raise dg.Failure(description=str(error)) from None
    yield from _materializations(report)
    yield from (_check_result(gate) for gate in report.gates.values())
    yield from (
        _sense_result(list_type, found, report.sign_off) for list_type, found in report.findings.items()
    )


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


def _sense_result(list_type: str, findings: list[Finding], sign_off: Review | None) -> dg.AssetCheckResult:
    rows = [
        (
            f.partition_key,
            f.severity,
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
                _md_table(
                    ["round", "severity", "check", "subject", "previous", "current", "previous round"],
                    rows[:50],
                )
                if rows
                else "none"
            ),
            "sign_off": dg.MetadataValue.md(
                f"{sign_off.partition_key}: {sign_off.status} ({sign_off.reasons})"
                if sign_off
                else "no round of this run awaits sign-off"
            ),
        },
    )


def _md_table(header: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += [
        "| " + " | ".join(f"{v:,}" if isinstance(v, int) else str(v) for v in row) + " |" for row in rows
    ]
    return "\n".join(lines)


def _materializations(report: LoadReport):
    counts = Counter((o.list_type, o.status) for o in report.outcomes)
    gates = report.gates
    for list_type in MASTER_LIST_TABLES:
        key = RAW_ASSET_KEYS[list_type]
        rows = sum(o.rows for o in report.outcomes if o.list_type == list_type and o.status == "loaded")
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "dagster/row_count": rows,
                "files_loaded": counts[(list_type, "loaded")],
                "files_unchanged": counts[(list_type, "unchanged")],
                "batches_accepted": len(gates[list_type].accepted),
                "batches_quarantined": len(gates[list_type].quarantined),
                "rounds": dg.MetadataValue.md(
                    _md_table(
                        ["round", "locations", "households", "individuals"], report.totals[list_type][-40:]
                    )
                ),
            },
        )
    for list_type in FIELD_TABLES:
        yield dg.MaterializeResult(
            asset_key=RAW_ASSET_KEYS[list_type],
            metadata={
                "dagster/row_count": sum(
                    o.rows for o in report.outcomes if o.list_type == list_type and o.status == "loaded"
                ),
                "batches_loaded": counts[(list_type, "loaded")],
                "batches_unchanged": counts[(list_type, "unchanged")],
                "batches_accepted": len(gates[list_type].accepted),
                "batches_quarantined": len(gates[list_type].quarantined),
                "rounds": dg.MetadataValue.md(
                    _md_table(FIELD_TOTAL_HEADERS[list_type], report.totals[list_type][-40:])
                    if report.totals[list_type]
                    else "none"
                ),
                "waiting": dg.MetadataValue.md("\n".join(f"- {w}" for w in report.waiting) or "none"),
            },
        )
    refused = [(error.file, str(error)) for error in report.refused]
    yield dg.MaterializeResult(
        asset_key=LOAD_BATCHES,
        metadata={
            "batches_loaded": sum(1 for o in report.outcomes if o.status == "loaded"),
            "files_refused": len(refused),
            "refused": dg.MetadataValue.md(
                _md_table(["file", "reason"], refused[:50]) if refused else "none"
            ),
            "gate_seconds": report.gate_seconds,
        },
    )
    # What the run recorded beside the batches, by severity.
    recorded = (
        (QUALITY_FAILURES, [f.severity for gate in gates.values() for f in gate.failures]),
        (SENSE_CHECK_FINDINGS, [f.severity for found in report.findings.values() for f in found]),
    )
    for key, severities in recorded:
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={"recorded_this_run": len(severities), **Counter(severities)},
        )
    yield dg.MaterializeResult(asset_key=FILE_REJECTIONS, metadata={"recorded_this_run": len(refused)})


FIELD_TOTAL_HEADERS = {
    "ki_report": ["round", "submissions", "informants", "places"],
    "cluster_project": ["round", "workbook", "projects", "budget (USD)"],
    "cluster_activity": ["round", "workbook", "activities", "headline activities"],
    "cluster_reach": ["round", "workbook", "rows", "people reached (total)"],
}


defs = dg.Definitions(assets=[landing_round_files, raw_tables])
