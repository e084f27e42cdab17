"""What the landing folder held when it was last looked at: one row per file (size, modification
time, sha256) in a SQLite table in the operations folder beside the warehouse.

Not in the warehouse: a sensor tick must never wait for the one DuckDB writer. Not in the
sensor's cursor: the cursor would grow with every file (the UI showed every file's hash); it is
the table's generation instead. The landing sensor and `dtm run` both observe through it, so a
file is observed once, whoever sees it first.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG

from orchestration import landing

STATE_FILE = "landing_files.sqlite"
LANDING_ROUND_FILES = dg.AssetKey(["landing", "dtm_round_files"])

SCHEMA = """
create table if not exists landing_files (
    name text primary key,
    size integer not null,
    mtime_ns integer not null,
    sha256 text not null,
    observed_at text not null,
    generation integer not null
);
create table if not exists generations (generation integer primary key, at text not null, files integer);
create table if not exists acknowledged (generation integer primary key)
"""
# Columns a state table written by an earlier version lacks.
ADDED_COLUMNS = {
    "landing_files": ("previous_sha256 text",),
    "generations": ("by_sensor integer not null default 0",),
}


@dataclass(frozen=True)
class Observed:
    """A file new to the landing folder or changed since it was last seen."""

    file: landing.LandingFile
    sha256: str
    size: int
    previous_sha256: str | None

    def observation(self) -> dg.AssetObservation:
        """The landing asset's observation of this file; its data version is the file's sha256."""
        rounds = self.file.round_id.partition_key if self.file.round_id else "read from its rows"
        return dg.AssetObservation(
            asset_key=LANDING_ROUND_FILES,
            description=f"{self.file.name}: {'changed' if self.previous_sha256 else 'new'}",
            metadata={
                "file": self.file.name,
                "sha256": self.sha256,
                "previous_sha256": self.previous_sha256 or "none (a new file)",
                "size_bytes": self.size,
                "family": self.file.family or "not a known kind of file",
                "round": rounds,
            },
            tags={DATA_VERSION_TAG: self.sha256},
        )


@dataclass(frozen=True)
class Observation:
    generation: int
    changed: list[Observed]
    first: bool  # the table knew no file before: nothing can be told changed from new


def state_path(warehouse_dir: Path) -> Path:
    return warehouse_dir / "operations" / STATE_FILE


def _migrate(con: sqlite3.Connection) -> None:
    con.executescript(SCHEMA)
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in con.execute(f"pragma table_info({table})")}
        for column in columns:
            if column.split()[0] not in present:
                con.execute(f"alter table {table} add column {column}")


def observe(state: Path, files: list[landing.LandingFile]) -> Observation:
    """Record the landing folder's files and return those new or changed since the last look.
    A file is hashed again only when its size or modification time moved, so a look does not
    re-read the whole landing zone; files gone from the folder are forgotten."""
    return _observe(state, files, by_sensor=False, cursor=None)


def observe_as_sensor(state: Path, files: list[landing.LandingFile], cursor: str | None) -> Observation:
    """The landing sensor's look. Its cursor is the last generation whose tick Dagster stored:
    the files a later tick recorded are returned again, since that tick's run requests were
    lost with it (seen: a tick that failed on its storage after looking). Without a cursor
    every file is hashed again."""
    return _observe(state, files, by_sensor=True, cursor=cursor)


def _observe(
    state: Path, files: list[landing.LandingFile], *, by_sensor: bool, cursor: str | None
) -> Observation:
    state.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    rehash = by_sensor and cursor is None
    with closing(sqlite3.connect(state)) as con, con:
        _migrate(con)
        since = _unacknowledged_since(con, cursor) if by_sensor else None
        known = {
            row[0]: row[1:]
            for row in con.execute("select name, size, mtime_ns, sha256 from landing_files").fetchall()
        }
        generation = con.execute("select coalesce(max(generation), 0) from generations").fetchall()[0][0]
        changed: list[Observed] = []
        moved = []  # the same bytes, a new size or time
        mtimes: dict[str, int] = {}
        for landing_file in files:
            stat = landing_file.path.stat()
            mtimes[landing_file.name] = stat.st_mtime_ns
            previous = known.get(landing_file.name)
            if previous and not rehash and previous[:2] == (stat.st_size, stat.st_mtime_ns):
                continue
            digest = landing.fingerprint(landing_file)
            if previous is None or previous[2] != digest:
                changed.append(
                    Observed(landing_file, digest, stat.st_size, previous[2] if previous else None)
                )
            elif previous[:2] != (stat.st_size, stat.st_mtime_ns):
                moved.append((stat.st_size, stat.st_mtime_ns, landing_file.name))
        gone = set(known) - {f.name for f in files}
        lost = _lost_ticks(con, since, files, {o.file.name for o in changed})
        if changed or moved or gone:
            generation += 1
            con.executemany(
                "insert or replace into landing_files "
                "(name, size, mtime_ns, sha256, observed_at, generation, previous_sha256) "
                "values (?, ?, ?, ?, ?, ?, ?)",
                [
                    (o.file.name, o.size, mtimes[o.file.name], o.sha256, now, generation, o.previous_sha256)
                    for o in changed
                ],
            )
            con.executemany("update landing_files set size = ?, mtime_ns = ? where name = ?", moved)
            con.executemany("delete from landing_files where name = ?", [(name,) for name in gone])
            con.execute(
                "insert into generations (generation, at, files, by_sensor) values (?, ?, ?, ?)",
                [generation, now, len(files), int(by_sensor)],
            )
    first = not known or (since == 0 and bool(lost))
    return Observation(generation, lost + changed, first=first)


def _unacknowledged_since(con: sqlite3.Connection, sensor_cursor: str | None) -> int | None:
    """The generation after which the sensor's ticks were not stored: its cursor; with no
    cursor, 0 if no tick of it was ever stored (its first ticks were lost), else None (the
    cursor was reset: every file is hashed again, and only true changes count)."""
    if sensor_cursor is not None:
        con.execute("insert or ignore into acknowledged values (?)", [int(sensor_cursor)])
        return int(sensor_cursor)
    stored = con.execute("select count(*) from acknowledged").fetchall()[0][0]
    return None if stored else 0


def _lost_ticks(
    con: sqlite3.Connection, since: int | None, files: list[landing.LandingFile], changed: set[str]
) -> list[Observed]:
    """The files the sensor's unstored ticks recorded, as they recorded them."""
    if since is None:
        return []
    present = {f.name: f for f in files}
    rows = con.execute(
        "select name, sha256, size, previous_sha256 from landing_files join generations using (generation) "
        "where generation > ? and by_sensor = 1 order by name",
        [since],
    ).fetchall()
    return [
        Observed(present[name], sha256, size, previous)
        for name, sha256, size, previous in rows
        if name in present and name not in changed
    ]
