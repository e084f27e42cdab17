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
create table if not exists generations (generation integer primary key, at text not null, files integer)
"""


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


def observe(state: Path, files: list[landing.LandingFile], *, rehash: bool = False) -> Observation:
    """Record the landing folder's files and return those new or changed since the last look.
    A file is hashed again only when its size or modification time moved (or `rehash`), so a
    look does not re-read the whole landing zone; files gone from the folder are forgotten."""
    state.parent.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    with closing(sqlite3.connect(state)) as con, con:
        con.executescript(SCHEMA)
        known = {
            row[0]: row[1:]
            for row in con.execute("select name, size, mtime_ns, sha256 from landing_files").fetchall()
        }
        generation = con.execute("select coalesce(max(generation), 0) from generations").fetchall()[0][0]
        changed: list[Observed] = []
        rows = []
        for landing_file in files:
            stat = landing_file.path.stat()
            previous = known.get(landing_file.name)
            if previous and not rehash and previous[:2] == (stat.st_size, stat.st_mtime_ns):
                continue
            digest = landing.fingerprint(landing_file)
            rows.append((landing_file.name, stat.st_size, stat.st_mtime_ns, digest))
            if previous is None or previous[2] != digest:
                changed.append(
                    Observed(landing_file, digest, stat.st_size, previous[2] if previous else None)
                )
        gone = set(known) - {f.name for f in files}
        if rows or gone:
            generation += 1
            con.executemany(
                "insert or replace into landing_files values (?, ?, ?, ?, ?, ?)",
                [(*row, now, generation) for row in rows],
            )
            con.executemany("delete from landing_files where name = ?", [(name,) for name in gone])
            con.execute("insert into generations values (?, ?, ?)", [generation, now, len(files)])
    return Observation(generation, changed, first=not known)
