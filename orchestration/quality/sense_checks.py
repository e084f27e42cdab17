"""Round-over-round sense checks: the nation or a governorate moving more than a set share since
the previous round by reporting date, the location count falling, large locations appearing or
vanishing. Thresholds and severities live in one table (seed config/sense_check_thresholds.csv):
a `hold` finding on the round that would become the publication waits for a person's sign-off
(orchestration/review.py); `warning` findings are recorded and shown."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.quality.frames import GOVERNORATE_PCODE, governorate_join, register_reference
from orchestration.reference import read_seed
from orchestration.rules import accepted_batches_sql, count_sql
from orchestration.warehouse import MASTER_LIST_TABLES

INDIVIDUALS = count_sql("r.individuals")


@dataclass(frozen=True)
class Limit:
    threshold: float
    severity: str  # hold | warning
    description: str


@dataclass(frozen=True)
class Finding:
    list_type: str
    check_name: str
    partition_key: str
    previous_partition_key: str
    subject: str
    previous_value: int
    current_value: int
    threshold: float
    severity: str  # hold: the round waits for sign-off if it would be published; warning
    description: str


def thresholds(list_type: str) -> dict[str, Limit]:
    return {
        row["check_name"]: Limit(float(row["threshold"]), row["severity"], row["description"])
        for row in read_seed("config/sense_check_thresholds.csv")
        if row["list_type"] == list_type
    }


def sense_check(con: duckdb.DuckDBPyConnection, list_type: str, partition_keys: list[str]) -> list[Finding]:
    """Findings for these rounds against their previous round (accepted batches only)."""
    register_reference(con)
    limits = thresholds(list_type)
    con.execute(
        f"""
        create or replace temp table sense_rows as
        with batches as (
            select batch_id, partition_key, reporting_month, round_number
            from raw.load_batches where {accepted_batches_sql()} and list_type = ?
        ),
        ordered as (
            select *, lag(partition_key) over (order by reporting_month, round_number) as previous_key
            from batches
        )
        select o.partition_key, o.previous_key, r.location_id,
               coalesce({GOVERNORATE_PCODE}, r.governorate) as governorate, {INDIVIDUALS} as individuals
        from raw.{MASTER_LIST_TABLES[list_type]} r
        join ordered o using (batch_id)
        {governorate_join("r")}
        """,
        [list_type],
    )
    pairs = con.execute(
        "select distinct partition_key, previous_key from sense_rows "
        "where partition_key in (select unnest(?::varchar[])) and previous_key is not null",
        [partition_keys],
    ).fetchall()
    findings: list[Finding] = []
    for current, previous in pairs:
        found = _area_changes(con, current, previous) + _location_count(con, current, previous)
        found += _locations(con, current, previous, limits)
        for check, subject, before, after in found:
            limit = limits[check]
            findings.append(
                Finding(
                    list_type,
                    check,
                    current,
                    previous,
                    subject,
                    int(before),
                    int(after),
                    limit.threshold,
                    limit.severity,
                    limit.description,
                )
            )
    return [f for f in findings if _beyond(f)]


def _beyond(finding: Finding) -> bool:
    """Whether a measured move passes its threshold (the location checks are selected by it)."""
    before, after, limit = finding.previous_value, finding.current_value, finding.threshold
    if finding.check_name in ("location_appeared", "location_vanished"):
        return True
    if not before:
        return False
    if finding.check_name in ("national_change_share", "governorate_change_share"):
        return abs(after - before) / before > limit
    # governorate_loss_share, location_count_drop_share: only a fall counts
    return (before - after) / before > limit


Measure = tuple[str, str, int, int]  # check, subject, previous value, current value


def _area_changes(con, current: str, previous: str) -> list[Measure]:
    rows = con.execute(
        """
        with totals as (
            select partition_key, governorate as area, sum(individuals) as individuals from sense_rows
            where partition_key in (?, ?) group by all
            union all
            select partition_key, 'national', sum(individuals) from sense_rows
            where partition_key in (?, ?) group by all
        )
        select coalesce(c.area, p.area), coalesce(p.individuals, 0), coalesce(c.individuals, 0)
        from (select * from totals where partition_key = ?) c
        full join (select * from totals where partition_key = ?) p using (area)
        """,
        [current, previous, current, previous, current, previous],
    ).fetchall()
    measures: list[Measure] = []
    for area, before, after in rows:
        if area == "national":
            measures.append(("national_change_share", area, before, after))
        else:
            measures += [
                ("governorate_change_share", area, before, after),
                ("governorate_loss_share", area, before, after),
            ]
    return measures


def _location_count(con, current: str, previous: str) -> list[Measure]:
    counts = dict(
        con.execute(
            "select partition_key, count(distinct location_id) from sense_rows "
            "where partition_key in (?, ?) group by all",
            [current, previous],
        ).fetchall()
    )
    return [("location_count_drop_share", "locations", counts.get(previous, 0), counts.get(current, 0))]


def _locations(con, current: str, previous: str, limits: dict[str, Limit]) -> list[Measure]:
    measures: list[Measure] = []
    for check, present, absent in (
        ("location_appeared", current, previous),
        ("location_vanished", previous, current),
    ):
        rows = con.execute(
            """
            select location_id, individuals from sense_rows where partition_key = ? and individuals > ?
              and location_id not in (select location_id from sense_rows where partition_key = ?)
            order by individuals desc
            """,
            [present, limits[check].threshold, absent],
        ).fetchall()
        for location_id, individuals in rows:
            before, after = (0, individuals) if check == "location_appeared" else (individuals, 0)
            measures.append((check, location_id, before, after))
    return measures


def record_findings(
    con: duckdb.DuckDBPyConnection, list_type: str, checked: list[str], findings: list[Finding]
) -> None:
    """Keep the findings of the checked rounds, replacing what an earlier check found for them
    (unless it found the same: checking the same rounds again changes nothing)."""
    rows = [
        (
            f.partition_key,
            f.previous_partition_key,
            list_type,
            f.check_name,
            f.subject,
            f.previous_value,
            f.current_value,
            f.threshold,
            f.severity,
            f.description,
        )
        for f in findings
    ]
    earlier = con.execute(
        "select partition_key, previous_partition_key, list_type, check_name, subject, previous_value, "
        "current_value, threshold, severity, description from raw.sense_check_findings "
        "where list_type = ? and partition_key in (select unnest(?::varchar[]))",
        [list_type, checked],
    ).fetchall()
    if sorted(earlier, key=str) == sorted(rows, key=str):
        return
    con.execute(
        "delete from raw.sense_check_findings where list_type = ? "
        "and partition_key in (select unnest(?::varchar[]))",
        [list_type, checked],
    )
    if rows:
        con.executemany(
            "insert into raw.sense_check_findings by name select ? as partition_key, "
            "? as previous_partition_key, ? as list_type, ? as check_name, ? as subject, "
            "? as previous_value, ? as current_value, ? as threshold, ? as severity, ? as description, "
            "current_timestamp as checked_at",
            rows,
        )
