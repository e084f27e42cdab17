"""The Great Expectations gate: one suite run over every pending batch of a raw table, and a
verdict per batch. A batch that fails a critical expectation is quarantined with its reasons;
the others are accepted, so a bad file never holds back a good one."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.quality import gate_worker
from orchestration.quality.field_frames import FIELD_FRAMES
from orchestration.quality.frames import validation_frame
from orchestration.settings import PROJECT_ROOT
from orchestration.warehouse import ALL_RAW_TABLES

EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
INDEX_COLUMNS = ["batch_id", "source_row_number"]
SAMPLE_ROWS = 10
SAMPLE_VALUES = 5
SEVERITIES = {"critical": "error", "warning": "warning", "info": "warning"}


# Modules GX imports for expectations no suite here uses (KL divergence, the KS tests): loaded on
# first use instead. scipy.stats was 1.2 s of GX's 4 s import, on every process that gates.
IMPORTED_ON_FIRST_USE = ("scipy.stats",)


def _import_on_first_use(name: str) -> None:
    """Put `name` in sys.modules as a module that runs its code when first used (the standard
    library's LazyLoader)."""
    spec = None if name in sys.modules else importlib.util.find_spec(name)
    if spec is None:  # imported already, or not installed: nothing to defer
        return
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    # As an attribute of its package too: `from scipy import stats` finds it there, where the
    # import system's lookup would ask for its __spec__ and so load it.
    package, _, attribute = name.rpartition(".")
    if package:
        setattr(sys.modules[package], attribute, module)


@cache
def import_gx():
    """GX, imported once (in the gate worker, ahead of the gates; else by the first gate)."""
    # GX is imported only when a gate runs, and never phones home.
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in IMPORTED_ON_FIRST_USE:
        _import_on_first_use(name)
    import great_expectations as gx

    return gx


def load_suite(list_type: str) -> dict:
    path = EXPECTATIONS_DIR / f"{ALL_RAW_TABLES[list_type]}.json"
    return json.loads(path.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Failure:
    """One expectation failed by one batch."""

    batch_id: str
    expectation: str
    columns: str
    severity: str  # error | warning
    description: str
    unexpected_count: int
    sample_rows: tuple[int, ...]
    sample_values: tuple[str, ...]


@dataclass
class GateOutcome:
    list_type: str
    validated_rows: int = 0
    accepted: list[str] = field(default_factory=list)
    quarantined: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    data_docs: Path | None = None


def _columns_of(kwargs: dict) -> list[str]:
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_list" in kwargs:
        return list(kwargs["column_list"])
    return [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]


def validate(frame: pd.DataFrame, suite: dict):
    """GX's validation result of the frame against the suite (JSON as in expectations/)."""
    gx = import_gx()
    from great_expectations.expectations.registry import get_expectation_impl

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False}
    batch_definition = (
        context.data_sources.add_pandas("raw")
        .add_dataframe_asset(suite["name"])
        .add_batch_definition_whole_dataframe("pending_batches")
    )
    expectations = [
        get_expectation_impl(e["type"])(
            **e["kwargs"], severity=e.get("severity", "critical"), meta=e.get("meta")
        )
        for e in suite["expectations"]
    ]
    gx_suite = context.suites.add(gx.ExpectationSuite(name=suite["name"], expectations=expectations))
    return batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        gx_suite,
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": INDEX_COLUMNS},
    )


def failures_of(result) -> list[Failure]:
    failures = []
    # GX does not keep the suite's order in its results: each result carries its expectation.
    for outcome in result.results:
        if outcome.success:
            continue
        config = outcome.expectation_config
        columns = _columns_of(config.kwargs)
        severity = str(getattr(config.severity, "value", config.severity) or "critical").lower()
        by_batch: dict[str, list[dict]] = defaultdict(list)
        for row in outcome.result.get("unexpected_index_list") or []:
            by_batch[row["batch_id"]].append(row)
        for batch_id, rows in by_batch.items():
            failures.append(
                Failure(
                    batch_id=batch_id,
                    expectation=config.type,
                    columns=", ".join(columns),
                    severity=SEVERITIES[severity],
                    description=(config.meta or {}).get("description", ""),
                    unexpected_count=len(rows),
                    sample_rows=tuple(int(r["source_row_number"]) for r in rows[:SAMPLE_ROWS]),
                    sample_values=tuple(
                        " / ".join(str(r.get(c)) for c in columns if c not in INDEX_COLUMNS)
                        for r in rows[:SAMPLE_VALUES]
                    ),
                )
            )
    return failures


def check_frame(frame: pd.DataFrame, suite: dict, render: bool) -> tuple[list[Failure], str | None]:
    """The frame's failures against the suite and, with `render`, GX's HTML page of the
    validation (what the gate worker computes; gate_worker.check says where it runs)."""
    result = validate(frame, suite)
    if not render:
        return failures_of(result), None
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    return failures_of(result), DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))


def write_data_docs(
    html: str, outcome: GateOutcome, partitions: list[str], docs_dir: Path, label: str
) -> Path:
    """GX's HTML page of this validation, a CSV of its failures beside it, and a line in the
    page of each round it covered (docs_dir/rounds/<partition>.md), so docs are kept per round."""
    run_dir = docs_dir / "runs" / label
    run_dir.mkdir(parents=True, exist_ok=True)
    page = run_dir / f"{ALL_RAW_TABLES[outcome.list_type]}.html"
    page.write_text(html, encoding="utf-8")
    pd.DataFrame([f.__dict__ for f in outcome.failures], columns=list(Failure.__dataclass_fields__)).to_csv(
        run_dir / f"{ALL_RAW_TABLES[outcome.list_type]}_failures.csv", index=False
    )
    rounds_dir = docs_dir / "rounds"
    rounds_dir.mkdir(parents=True, exist_ok=True)
    for partition in partitions:
        with (rounds_dir / f"{partition}.md").open("a", encoding="utf-8") as index:
            verdict = (
                "quarantined" if any(b.startswith(partition) for b in outcome.quarantined) else "accepted"
            )
            index.write(
                f"- {label} {outcome.list_type}: {verdict}, [{page.name}]({page.relative_to(docs_dir)})\n"
            )
    return page


def gate_pending(
    con: duckdb.DuckDBPyConnection, list_type: str, docs_dir: Path | None = None, label: str = "adhoc"
) -> GateOutcome:
    """Validate every pending batch of a list, record failures, settle each batch's status,
    and write Data Docs under docs_dir."""
    started = time.perf_counter()
    outcome = GateOutcome(list_type)
    pending = [
        row[0]
        for row in con.execute(
            "select batch_id from raw.load_batches where status = 'pending' and list_type = ? "
            "order by batch_id",
            [list_type],
        ).fetchall()
    ]
    if not pending:
        return outcome
    build = FIELD_FRAMES.get(list_type)
    frame = build(con, pending) if build else validation_frame(con, list_type, pending)
    outcome.validated_rows = len(frame)
    outcome.failures, page = gate_worker.check(frame, load_suite(list_type), render=docs_dir is not None)
    errors: dict[str, list[Failure]] = defaultdict(list)
    for failure in outcome.failures:
        if failure.severity == "error":
            errors[failure.batch_id].append(failure)
    outcome.quarantined = sorted(errors)
    outcome.accepted = [b for b in pending if b not in errors]
    # One transaction: a run killed here leaves every batch pending and no failure recorded, so
    # the next run gates them again and records each failure once.
    con.execute("begin transaction")
    try:
        record_failures(con, outcome.failures)
        settle(con, outcome.accepted, {b: _reason(errors[b]) for b in outcome.quarantined})
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    if docs_dir is not None:
        partitions = sorted({b.split("/")[0] for b in pending})
        outcome.data_docs = write_data_docs(page, outcome, partitions, docs_dir, label)
    outcome.seconds = round(time.perf_counter() - started, 2)
    return outcome


def _reason(failures: list[Failure]) -> str:
    return "; ".join(
        f"{f.description} ({f.columns}: {f.unexpected_count} row(s), e.g. row {f.sample_rows[0]})"
        for f in failures
    )


def record_failures(con: duckdb.DuckDBPyConnection, failures: list[Failure]) -> None:
    rows = [
        (
            f.batch_id,
            f.expectation,
            f.columns,
            f.severity,
            f.description,
            f.unexpected_count,
            list(f.sample_rows),
            list(f.sample_values),
        )
        for f in failures
    ]
    if rows:
        con.executemany(
            "insert into raw.quality_failures select ?, b.source_file, b.sheet_name, b.partition_key, "
            "?, ?, ?, ?, ?, ?, ?, current_timestamp from raw.load_batches b where b.batch_id = ?",
            [(r[0], *r[1:], r[0]) for r in rows],
        )


def settle(con: duckdb.DuckDBPyConnection, accepted: list[str], quarantined: dict[str, str]) -> None:
    """Accepted batches supersede the earlier accepted batch of their round, list and series
    (a master list; a KI export or cluster workbook file); a quarantined batch leaves the
    last good one in place."""
    for batch_id in accepted:
        con.execute(
            """
            update raw.load_batches as older
            set status = 'superseded', status_changed_at = current_timestamp,
                status_reason = 'replaced by ' || newer.source_file
            from raw.load_batches as newer
            where newer.batch_id = ? and older.partition_key = newer.partition_key
              and older.list_type = newer.list_type and older.status = 'accepted'
              and older.series is not distinct from newer.series
            """,
            [batch_id],
        )
        con.execute(
            "update raw.load_batches set status = 'accepted', status_changed_at = current_timestamp "
            "where batch_id = ?",
            [batch_id],
        )
    for batch_id, reason in quarantined.items():
        con.execute(
            "update raw.load_batches set status = 'quarantined', status_reason = ?, "
            "status_changed_at = current_timestamp where batch_id = ?",
            [reason, batch_id],
        )
