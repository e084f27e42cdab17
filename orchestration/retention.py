"""Retention of informants' personal data in the raw layer, and erasure of one informant.

Personal columns (name, phone, device id and the free-text comments, which can name people) are
blanked in raw once they have been held longer than the retention period; the informant key,
computed at load time, keeps counting reports. Erasing one informant deletes every report of
their key from raw and remembers the key, so re-reading a landing file never brings them back.
The landing folder is not the pipeline's to change: the erase command lists the files there that
still hold the person, for the data owner to replace at the source.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from orchestration.readers.ki_reports import PERSONAL_COLUMNS

RETENTION_VARIABLE = "DTM_KI_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 365
TABLE = "raw.kobo_ki_reports"


def retention_days() -> int:
    return int(os.environ.get(RETENTION_VARIABLE, DEFAULT_RETENTION_DAYS))


def erase_expired(
    con: duckdb.DuckDBPyConnection,
    now: datetime | None = None,
    days: int | None = None,
    *,
    log_empty: bool = False,
) -> int:
    """Blank the personal columns of reports loaded more than `days` ago; rows blanked. A pass
    that blanks something is logged in raw.retention_runs (an empty one only when asked, by the
    command: a load that finds nothing expired changes nothing)."""
    now = now or datetime.now(UTC).replace(tzinfo=None)
    days = retention_days() if days is None else days
    cutoff = now - timedelta(days=days)
    holding = " or ".join(f"{c} is not null" for c in PERSONAL_COLUMNS)
    (count,) = con.execute(
        f"select count(*) from {TABLE} where ingested_at < ? and ({holding})", [cutoff]
    ).fetchall()[0]
    if count:
        blanks = ", ".join(f"{c} = null" for c in PERSONAL_COLUMNS)
        con.execute(f"update {TABLE} set {blanks} where ingested_at < ? and ({holding})", [cutoff])
    if count or log_empty:
        con.execute("insert into raw.retention_runs values (?, ?, ?, ?)", [now, days, cutoff, count])
    return count


@dataclass(frozen=True)
class Erasure:
    informant_key: str
    rows_erased: int
    source_files: list[str]


def erase_informant(con: duckdb.DuckDBPyConnection, key: str) -> Erasure:
    """Delete every raw report of one informant and remember their key."""
    files = [
        row[0]
        for row in con.execute(
            f"select distinct source_file from {TABLE} where informant_key = ? order by 1", [key]
        ).fetchall()
    ]
    (count,) = con.execute(f"select count(*) from {TABLE} where informant_key = ?", [key]).fetchall()[0]
    con.execute(f"delete from {TABLE} where informant_key = ?", [key])
    con.execute(
        "insert or replace into raw.erased_informants values (?, "
        "coalesce((select rows_erased from raw.erased_informants where informant_key = ?), 0) + ?, ?)",
        [key, key, count, datetime.now(UTC).replace(tzinfo=None)],
    )
    return Erasure(key, count, files)


def erased_keys(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute("select informant_key from raw.erased_informants").fetchall()}
