"""Ingest: landing files → raw tables of the working DuckDB file, one batch per file and round.

The work is orchestration/loading.py's; this module declares the assets and checks and turns
the load report into what the UI shows."""

from collections import Counter
from decimal import Decimal
from pathlib import Path

import dagster as dg
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from orchestration.defs.partitions import (
    ROUNDS_PARTITIONS_NAME,
    WAREHOUSE_POOL,
    round_partitions,
    run_round_partitions,
)
from orchestration.defs.resources import WarehouseResource
from orchestration.informants import SecretMissing
from orchestration.landing_state import LANDING_ROUND_FILES
from orchestration.loading import LoadReport, load_rounds
from orchestration.quality.gate import GateOutcome
from orchestration.quality.sense_checks import Finding
from orchestration.readers.round_files import RejectedFile
from orchestration.review import Review
from orchestration.rounds import sort_partition_keys
from orchestration.warehouse import ALL_RAW_TABLES, MASTER_LIST_TABLES

GATE_CHECK = "great_expectations_suite"
SENSE_CHECK = "round_over_round"
# A check's evaluations, not the record of a run that planned it and has not evaluated it yet.
EVALUATED = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}
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


def _spec(key: dg.AssetKey, description: str, *, per_round: bool) -> dg.AssetSpec:
    """A raw table is per round: a round's partition is materialized only by a run that loaded
    a batch of it (skippable: the step reports each round itself). The ledgers are one table
    across rounds."""
    return dg.AssetSpec(
        key,
        deps=[LANDING_ROUND_FILES],
        group_name="raw",
        kinds={"duckdb"},
        description=description,
        partitions_def=round_partitions if per_round else None,
        skippable=per_round,
    )


@dg.multi_asset(
    specs=[
        *(_spec(RAW_ASSET_KEYS[t], text, per_round=True) for t, text in RAW_DESCRIPTIONS.items()),
        _spec(LOAD_BATCHES, LOAD_BATCHES_DESCRIPTION, per_round=False),
        *(_spec(key, text, per_round=False) for key, text in QUALITY_DESCRIPTIONS.items()),
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
    backfill_policy=dg.BackfillPolicy.single_run(),
    pool=WAREHOUSE_POOL,
    # A load run plans the tables its files bring news of (orchestration/defs/load_plan.py).
    can_subset=True,
)
def raw_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Read every landing file of the run's rounds and load it as a batch; refuse what cannot
    be read, with the file, sheet, row and column, and go on with the other files."""
    ordered = context.instance.get_dynamic_partitions(ROUNDS_PARTITIONS_NAME)
    # The round partitions from the run's tags: the op's assets are per round and across
    # rounds, so Dagster gives the op no partition range of its own.
    keys = run_round_partitions(context.run.tags, ordered)
    try:
        report = load_rounds(warehouse.database, warehouse.landing, keys, context.run.run_id, context.log)
    except SecretMissing as error:
        raise dg.Failure(description=str(error)) from None
    for event in round_materializations(report):
        context.log_event(event)
    # The ledgers change in every load: one the run did not plan (a person picked one raw
    # table in the catalog) is still reported.
    for ledger in _ledger_materializations(report):
        if ledger.asset_key in context.selected_asset_keys:
            yield ledger
        else:
            context.log_event(dg.AssetMaterialization(ledger.asset_key, metadata=ledger.metadata))
    yield from report_checks(context, _check_results(report, warehouse.database.parent))


def _check_results(report: LoadReport, warehouse_dir: Path) -> list[dg.AssetCheckResult]:
    """The gates of the tables the run has news of (batches settled, files refused), and the
    sense checks of the master lists whose gate settled a batch."""
    gates = [
        _check_result(gate, report.refused_for.get(list_type, []), warehouse_dir)
        for list_type, gate in report.gates.items()
        if report.touched(list_type)
    ]
    senses = [
        _sense_result(list_type, found, report.sign_off)
        for list_type, found in report.findings.items()
        if report.settled(list_type)
    ]
    return gates + senses


def report_checks(context: dg.AssetExecutionContext, results: list[dg.AssetCheckResult]):
    """Yield the planned checks' results and log the others': every result is of what the run
    found. A planned check with nothing found restates the table's standing result, which a
    pass over no rows would have hidden, and a skip would have put behind a skipped status."""
    planned = context.selected_asset_check_keys
    for result in results:
        key = dg.AssetCheckKey(result.asset_key, result.check_name)
        if key in planned:
            yield result
        else:
            context.log_event(_evaluation(context, result))
    found = {dg.AssetCheckKey(result.asset_key, result.check_name) for result in results}
    yield from (_restated(context.instance, key) for key in sorted(planned - found))


def _evaluation(context: dg.AssetExecutionContext, result: dg.AssetCheckResult) -> dg.AssetCheckEvaluation:
    """A result as the event Dagster records for a check the run did not plan, with the table's
    latest materialization as its target (what a planned check's result gets)."""
    latest = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=result.asset_key), limit=1
    ).records
    target = (
        AssetCheckEvaluationTargetMaterializationData(
            run_id=latest[0].run_id, storage_id=latest[0].storage_id, timestamp=latest[0].timestamp
        )
        if latest
        else None
    )
    return dg.AssetCheckEvaluation(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        metadata=result.metadata,
        target_materialization_data=target,
        severity=result.severity,
        description=result.description,
        # What a planned result carries: the spec's (of the whole asset, not the run's subset).
        blocking=raw_tables.get_spec_for_check_key(
            dg.AssetCheckKey(result.asset_key, result.check_name)
        ).blocking,
    )


def _restated(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> dg.AssetCheckResult:
    """The check's latest evaluation again, saying it stands: the run brought this table nothing
    to check (its files were loaded already, or hold no row of the run's rounds)."""
    records = instance.event_log_storage.get_asset_check_execution_history(key, limit=1, status=EVALUATED)
    if not records or records[0].event is None or records[0].event.dagster_event is None:
        return dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description="Nothing new for this table in this run, and no earlier result of this "
            "check to stand.",
            metadata={"new_in_this_run": "no batch, no refused file"},
        )
    previous = records[0].event.dagster_event.event_specific_data
    # The run that evaluated it, however often it has been restated since.
    origin = previous.metadata.get("stands_from_run")
    run_id = origin.value if origin is not None else records[0].run_id
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=previous.passed,
        severity=previous.severity,
        description=f"Nothing new for this table in this run: run {run_id[:8]}'s result stands.",
        metadata={
            **previous.metadata,
            "stands_from_run": dg.MetadataValue.dagster_run(run_id),
            "new_in_this_run": "no batch, no refused file",
        },
    )


def _check_result(gate: GateOutcome, refused: list[RejectedFile], warehouse_dir: Path) -> dg.AssetCheckResult:
    """The suite's verdict in the UI. Quarantined batches never reach staging, so they fail the
    check with WARN severity: blocking stops dbt only on ERROR, and a bad file must not hold
    back the good files of the same run. A file of the table that could not be read fails it
    too: nothing of it reached the suite."""
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
        passed=not gate.failures and not refused,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "rows_validated": gate.validated_rows,
            "files_refused": table_metadata(["file", "reason"], [(e.file, str(e)) for e in refused]),
            "batches_accepted": len(gate.accepted),
            "batches_quarantined": len(gate.quarantined),
            "quarantined": dg.MetadataValue.md("\n".join(f"- {b}" for b in gate.quarantined) or "none"),
            # The validation results themselves, every failed expectation (marts.gate_failures
            # holds them too); GX's HTML page is named relative to the warehouse folder, so the
            # name stays right when the folder moves or the run history is copied.
            "failures": table_metadata(
                ["round", "severity", "expectation", "columns", "rows", "e.g. rows", "why"], failures
            ),
            "seconds": gate.seconds,
            **(
                {
                    "data_docs_in_the_warehouse_folder": dg.MetadataValue.path(
                        _relative(gate.data_docs, warehouse_dir)
                    )
                }
                if gate.data_docs
                else {}
            ),
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
            "findings_table": table_metadata(
                ["round", "severity", "check", "subject", "previous", "current", "previous round"], rows
            ),
            "sign_off": dg.MetadataValue.md(
                f"{sign_off.partition_key}: {sign_off.status} ({sign_off.reasons})"
                if sign_off
                else "no round of this run awaits sign-off"
            ),
        },
    )


def _relative(path: Path, warehouse_dir: Path) -> str:
    """A path under the warehouse folder, relative to it (quality/runs/…)."""
    try:
        return str(path.relative_to(warehouse_dir))
    except ValueError:
        return str(path)


def round_materializations(report: LoadReport) -> list[dg.AssetMaterialization]:
    """One materialization per raw table and round that received a batch in this run, with that
    round's own files, rows, batch verdicts and totals; in round order, so the newest round is the
    asset's latest materialization. A round whose files were all unchanged is not materialized
    again (its data did not change), and a round without a file for the table never is."""
    reasons: dict[str, list[str]] = {}
    for gate in report.gates.values():
        for failure in gate.failures:
            reasons.setdefault(failure.batch_id, []).append(f"{failure.expectation} ({failure.severity})")
    totals = {(list_type, row[0]): row[1:] for list_type, rows in report.totals.items() for row in rows}
    loaded: dict[tuple[str, str], list] = {}
    for outcome in report.outcomes:
        if outcome.status == "loaded":
            loaded.setdefault((outcome.list_type, outcome.partition_key), []).append(outcome)
    events = []
    position = {key: i for i, key in enumerate(sort_partition_keys(list({k for _, k in loaded})))}
    for (list_type, key), outcomes in sorted(
        loaded.items(), key=lambda item: (position[item[0][1]], item[0][0])
    ):
        headers = ROUND_TOTAL_HEADERS[list_type]
        batches = [
            (
                o.source_file,
                o.sha256,
                o.rows,
                report.statuses[o.batch_id],
                "; ".join(reasons.get(o.batch_id, ())),
            )
            for o in outcomes
        ]
        quarantined = sum(1 for batch in batches if batch[3] == "quarantined")
        events.append(
            dg.AssetMaterialization(
                asset_key=RAW_ASSET_KEYS[list_type],
                partition=key,
                description=f"{key}: {len(batches)} batch(es) loaded, {quarantined} quarantined",
                metadata={
                    "dagster/row_count": sum(o.rows for o in outcomes),
                    "files": table_metadata(
                        ["file", "sha256", "rows", "batch status", "quarantined for"], batches
                    ),
                    "batch_statuses": dg.MetadataValue.json(dict(Counter(batch[3] for batch in batches))),
                    "batches_quarantined": quarantined,
                    "accepted_rows_of_the_round": dg.MetadataValue.json(
                        dict(zip(headers, map(_plain, totals.get((list_type, key), ())), strict=False))
                    ),
                },
            )
        )
    return events


def _plain(value):
    """A DuckDB value as JSON takes it: sums come back as Decimal (whole counts as int, amounts
    such as a budget in USD with their cents)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def table_metadata(header: list[str], rows: list[tuple]) -> dg.MetadataValue:
    """Rows as a Dagster metadata table, every row (the UI pages it): never cut silently."""
    return dg.MetadataValue.table(
        records=[dg.TableRecord(dict(zip(header, map(_cell, row), strict=True))) for row in rows],
        schema=dg.TableSchema(
            columns=[
                dg.TableColumn(name, "int" if rows and isinstance(rows[0][i], int) else "string")
                for i, name in enumerate(header)
            ]
        ),
    )


def _cell(value):
    return value if isinstance(value, int | float | bool) or value is None else str(value)


def _ledger_materializations(report: LoadReport):
    """The ledgers across rounds: what this run added to them."""
    refused = [(error.file, str(error)) for error in report.refused]
    yield dg.MaterializeResult(
        asset_key=LOAD_BATCHES,
        metadata={
            "rounds_of_the_run": len(report.partition_keys),
            "rounds_without_a_landing_file": len(report.missing),
            "batches_loaded": sum(1 for o in report.outcomes if o.status == "loaded"),
            "batches_unchanged": sum(1 for o in report.outcomes if o.status == "unchanged")
            + report.unread_batches,
            "files_refused": len(refused),
            "refused": table_metadata(["file", "reason"], refused),
            "waiting": dg.MetadataValue.md("\n".join(f"- {w}" for w in report.waiting) or "none"),
            "gate_seconds": report.gate_seconds,
        },
    )
    gates = report.gates
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


# The names of loading.TOTAL_SQL's columns: what a round's accepted rows add up to.
ROUND_TOTAL_HEADERS = {
    "idp": ["locations", "households", "individuals"],
    "returnee": ["locations", "households", "individuals"],
    "ki_report": ["submissions", "informants", "places"],
    "cluster_project": ["workbook", "projects", "budget_usd"],
    "cluster_activity": ["workbook", "activities", "headline_activities"],
    "cluster_reach": ["workbook", "rows", "people_reached"],
}


defs = dg.Definitions(assets=[landing_round_files, raw_tables])
