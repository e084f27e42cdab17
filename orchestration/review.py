"""Sign-off: a round whose figures moved beyond a threshold is held from publication until a
person signs it off or rejects it. Plain functions over the working file, no Dagster.

A round under review stays in the warehouse and the marts (dim_round says so); the publication
keeps the previous publishable round and says why. Only a round that would become the
publication is held: history loaded in bulk (IOM's 2014 rounds moved by far more than any
threshold) has its findings recorded, not held. Every decision is kept with who made it, when,
their note and the figures they saw.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from orchestration.quality.sense_checks import Finding
from orchestration.rounds import UnknownRound, resolve_round
from orchestration.rules import accepted_batches_sql

# awaiting_sign_off and rejected keep a round out of the publication (marts.dim_round says so).
AWAITING, SIGNED_OFF, REJECTED, CLEARED = "awaiting_sign_off", "signed_off", "rejected", "cleared"


class ReviewError(Exception):
    """A decision that cannot be taken (no such round, nothing to decide): one clear sentence."""


@dataclass(frozen=True)
class Review:
    partition_key: str
    status: str
    batch_ids: list[str]
    reasons: str
    figures: dict
    decided_by: str | None
    note: str | None
    at: datetime

    @property
    def why(self) -> str:
        """Why the round is held back from publications."""
        if self.status == REJECTED:
            return f"rejected at sign-off by {self.decided_by} ({self.note}); it moved: {self.reasons}"
        return f"awaiting sign-off: {self.reasons}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _master_list_batches(con: duckdb.DuckDBPyConnection, partition_key: str) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            f"select batch_id from raw.load_batches where partition_key = ? and {accepted_batches_sql()} "
            "and list_type in ('idp', 'returnee') order by batch_id",
            [partition_key],
        ).fetchall()
    ]


def publication_candidate(con: duckdb.DuckDBPyConnection) -> str | None:
    """The round the publication would take: the latest by reporting date with an accepted
    master list."""
    rows = con.execute(
        f"""
        select partition_key from raw.load_batches
        where {accepted_batches_sql()} and list_type in ('idp', 'returnee')
        group by partition_key
        order by any_value(reporting_month) desc, any_value(round_number) desc limit 1
        """
    ).fetchall()
    return rows[0][0] if rows else None


def current(con: duckdb.DuckDBPyConnection, partition_key: str) -> Review | None:
    rows = con.execute(
        "select partition_key, status, batch_ids, reasons, figures, decided_by, note, recorded_at "
        "from raw.round_reviews where partition_key = ? order by recorded_at desc limit 1",
        [partition_key],
    ).fetchall()
    if not rows:
        return None
    key, status, batch_ids, reasons, figures, by, note, at = rows[0]
    return Review(key, status, list(batch_ids), reasons, json.loads(figures), by, note, at)


def _record(
    con: duckdb.DuckDBPyConnection,
    partition_key: str,
    status: str,
    batch_ids: list[str],
    reasons: str,
    figures: dict,
    by: str | None = None,
    note: str | None = None,
) -> Review:
    at = _now()
    con.execute(
        "insert into raw.round_reviews values (?, ?, ?, ?, ?, ?, ?, ?)",
        [partition_key, status, batch_ids, reasons, json.dumps(figures, default=str), by, note, at],
    )
    return Review(partition_key, status, batch_ids, reasons, figures, by, note, at)


def hold_if_doubtful(
    con: duckdb.DuckDBPyConnection, checked: list[str], findings: list[Finding]
) -> Review | None:
    """After the sense checks: put the publication candidate in awaiting_sign_off when one of
    its findings has the severity `hold`, unless a person already decided on these very batches;
    clear a hold its corrected batches no longer call for. Rounds other than the candidate are
    marked by their findings only."""
    candidate = publication_candidate(con)
    if candidate is None or candidate not in checked:
        return None
    batches = _master_list_batches(con, candidate)
    holds = [f for f in findings if f.partition_key == candidate and f.severity == "hold"]
    review = current(con, candidate)
    if review is not None and review.batch_ids == batches and review.status in (SIGNED_OFF, REJECTED):
        return review
    if not holds:
        if review is not None and review.status == AWAITING:
            return _record(
                con, candidate, CLEARED, batches, "the round's batches no longer move beyond a threshold", {}
            )
        return review
    figures = {
        "findings": [
            {
                "list": f.list_type,
                "check": f.check_name,
                "subject": f.subject,
                "previous_round": f.previous_partition_key,
                "previous": f.previous_value,
                "current": f.current_value,
                "threshold": f.threshold,
            }
            for f in holds
        ]
    }
    reasons = "; ".join(
        f"{f.description}: {f.subject} {f.previous_value:,} → {f.current_value:,}" for f in holds
    )
    if review is not None and review.status == AWAITING and review.batch_ids == batches:
        return review
    return _record(con, candidate, AWAITING, batches, reasons, figures)


def decide(con: duckdb.DuckDBPyConnection, round_text: str, decision: str, by: str, note: str) -> Review:
    """Sign off or reject the round under review. Rejecting quarantines its batches (and puts
    back the batches they superseded, as a quarantine does), so the round leaves the marts at
    the next dbt run."""
    if decision not in (SIGNED_OFF, REJECTED):
        raise ReviewError(f"A decision is {SIGNED_OFF} or {REJECTED}, not {decision}.")
    if not by.strip():
        raise ReviewError("Say who decides (--by NAME): the decision is recorded under that name.")
    try:
        partition_key = resolve_round(con, round_text)
    except UnknownRound as error:
        raise ReviewError(str(error)) from None
    review = current(con, partition_key)
    if review is None or review.status != AWAITING:
        state = review.status if review else "not under review"
        raise ReviewError(f"{partition_key} is not awaiting sign-off ({state}): there is nothing to decide.")
    con.execute("begin transaction")
    try:
        decided = _record(
            con, partition_key, decision, review.batch_ids, review.reasons, review.figures, by.strip(), note
        )
        if decision == REJECTED:
            _quarantine(con, review.batch_ids, f"rejected at sign-off by {by.strip()}: {note}")
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return decided


def _quarantine(con: duckdb.DuckDBPyConnection, batch_ids: list[str], reason: str) -> None:
    for batch_id in batch_ids:
        con.execute(
            """
            update raw.load_batches as older
            set status = 'accepted', status_reason = null, status_changed_at = current_timestamp
            from raw.load_batches as rejected
            where rejected.batch_id = ? and older.status = 'superseded'
              and older.partition_key = rejected.partition_key and older.list_type = rejected.list_type
              and older.series is not distinct from rejected.series
              and older.status_reason = 'replaced by ' || rejected.source_file
            """,
            [batch_id],
        )
        con.execute(
            "update raw.load_batches set status = 'quarantined', status_reason = ?, "
            "status_changed_at = current_timestamp where batch_id = ?",
            [reason, batch_id],
        )
