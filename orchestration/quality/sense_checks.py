"""Round-over-round sense checks (warnings, never blocking): a governorate or the nation moving
more than a set share since the previous round by reporting date, and large locations that
appear or vanish. Thresholds live in one table (seed config/sense_check_thresholds.csv)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from orchestration.quality.frames import GOVERNORATE_PCODE, governorate_join, register_reference
from orchestration.reference import read_seed
from orchestration.rules import accepted_batches_sql, count_sql
from orchestration.warehouse import MASTER_LIST_TABLES

INDIVIDUALS = count_sql("r.individuals")


@dataclass(frozen=True)
class Finding:
    check_name: str
    partition_key: str
    previous_partition_key: str
    subject: str
    previous_value: int
    current_value: int
    threshold: float
    description: str


def thresholds(list_type: str) -> dict[str, tuple[float, str]]:
    return {
        row["check_name"]: (float(row["threshold"]), row["description"])
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
        findings += _area_changes(con, current, previous, limits)
        findings += _locations(con, current, previous, limits)
    return findings


def _area_changes(con, current: str, previous: str, limits) -> list[Finding]:
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
    findings = []
    for area, before, after in rows:
        check = "national_change_share" if area == "national" else "governorate_change_share"
        limit, description = limits[check]
        if before and abs(after - before) / before > limit:
            findings.append(
                Finding(check, current, previous, area, int(before), int(after), limit, description)
            )
    return findings


def _locations(con, current: str, previous: str, limits) -> list[Finding]:
    findings = []
    for check, present, absent in (
        ("location_appeared", current, previous),
        ("location_vanished", previous, current),
    ):
        limit, description = limits[check]
        rows = con.execute(
            """
            select location_id, individuals from sense_rows where partition_key = ? and individuals > ?
              and location_id not in (select location_id from sense_rows where partition_key = ?)
            order by individuals desc
            """,
            [present, limit, absent],
        ).fetchall()
        for location_id, individuals in rows:
            before, after = (0, individuals) if check == "location_appeared" else (individuals, 0)
            findings.append(
                Finding(check, current, previous, location_id, int(before), int(after), limit, description)
            )
    return findings


def record_findings(
    con: duckdb.DuckDBPyConnection, list_type: str, checked: list[str], findings: list[Finding]
) -> None:
    """Keep the findings of the checked rounds, replacing what an earlier check found for them."""
    con.execute(
        "delete from raw.sense_check_findings where list_type = ? "
        "and partition_key in (select unnest(?::varchar[]))",
        [list_type, checked],
    )
    if findings:
        con.executemany(
            "insert into raw.sense_check_findings values (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)",
            [
                (
                    f.partition_key,
                    f.previous_partition_key,
                    list_type,
                    f.check_name,
                    f.subject,
                    f.previous_value,
                    f.current_value,
                    f.threshold,
                    f.description,
                )
                for f in findings
            ],
        )
