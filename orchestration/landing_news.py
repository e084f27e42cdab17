"""What the landing files bring that the warehouse does not hold yet: the raw tables a load of
some rounds gives a batch to (the load plan), and the field files a load need not read again.

Both read what the warehouse knows (`Known`): its batches, and the footprint of every KI export
and workbook it has read, by sha256, which tells the rounds a field file's rows fall in under
the calendar the landing folder's master lists make now.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb

from orchestration import landing
from orchestration.field_files import Footprint, file_footprint
from orchestration.rounds import RoundCalendar
from orchestration.warehouse import FAMILY_TABLES, MASTER_LIST_TABLES, connect_now

# Every batch: its round, list, bytes, whether it still waits for its gate, and its file's name.
BATCHES_SQL = (
    "select partition_key, list_type, source_sha256, status = 'pending', source_file from raw.load_batches"
)
FOOTPRINTS_SQL = "select source_sha256, family, workbook_year, days from raw.field_file_footprints"


@dataclass(frozen=True)
class Known:
    """What the warehouse knows of the landing files: BATCHES_SQL's rows, and the footprint of
    every field file it has read, by its sha256."""

    batches: list[tuple[str, str, str, bool, str]] = field(default_factory=list)
    footprints: dict[str, Footprint] = field(default_factory=dict)

    @classmethod
    def read(cls, con: duckdb.DuckDBPyConnection) -> Known:
        batches = con.execute(BATCHES_SQL).fetchall()
        try:
            rows = con.execute(FOOTPRINTS_SQL).fetchall()
        except duckdb.CatalogException:  # a warehouse from before footprints: every field file is news
            rows = []
        return cls(
            batches, {sha256: Footprint(family, frozenset(days), year) for sha256, family, year, days in rows}
        )

    @cached_property
    def batch_keys(self) -> set[tuple[str, str, str]]:
        """(round, list type, sha256) of every batch."""
        return {(key, list_type, sha256) for key, list_type, sha256, _, _ in self.batches}

    @cached_property
    def sources(self) -> set[tuple[str, str]]:
        """(file name, sha256) of every file loaded: its bytes under its name."""
        return {(name, sha256) for _, _, sha256, _, name in self.batches}


def read_known(database: Path) -> Known | None:
    """What the warehouse knows now (nothing when there is none yet); None when another process
    is writing it: a sensor does not wait, and plans every table (a loader reads every file)."""
    if not database.exists():
        return Known()
    with connect_now(database) as con:
        if con is None:
            return None
        try:
            return Known.read(con)
        except duckdb.CatalogException:  # no raw layer yet: nothing is known
            return Known()


def sha256_of(landing_file: landing.LandingFile) -> str:
    """The file's sha256: from the read the scan made of it, else hashed now."""
    return landing_file.read.sha256 if landing_file.read is not None else landing.fingerprint(landing_file)


def field_file_news(
    footprint: Footprint | None,
    family: str,
    sha256: str,
    calendar: RoundCalendar,
    keys: set[str],
    batches: set[tuple[str, str, str]],
) -> set[str]:
    """The raw tables a field file with this footprint gives a batch to in a load of these
    rounds: those with rows of one of the rounds that are not a batch of these bytes yet; every
    table of its family when it cannot be read (it is refused, and its tables told so)."""
    if footprint is None:
        return set(FAMILY_TABLES[family])
    return {
        table
        for table, rounds in footprint.partitions(calendar).items()
        if any((key, table, sha256) not in batches for key in rounds & keys)
    }


def tables_with_news(known: Known, files: list[landing.LandingFile], keys: set[str]) -> set[str]:
    """The raw tables (list types) a load of these rounds gives a batch to or refuses a file
    of: a master list of one of the rounds whose bytes are not a batch of its round yet; a KI
    export or workbook with rows of one of the rounds (under the calendar the landing folder
    makes now) that are not a batch yet, or that cannot be read; and every table with a batch
    that an interrupted run left pending. A file refused before is refused again, and is news again:
    its table's gate reports the refusal."""
    batches = known.batch_keys
    news = {list_type for _, list_type, _, pending, _ in known.batches if pending}
    calendar = landing.calendar(files)
    for f in files:
        if f.list_type in MASTER_LIST_TABLES and f.round_id is not None:
            key = f.round_id.partition_key
            if key in keys and (key, f.list_type, sha256_of(f)) not in batches:
                news.add(f.list_type)
        elif f.family in FAMILY_TABLES:
            sha256 = sha256_of(f)
            # A file the warehouse has not read: read here, once (the launcher read it already
            # to find its rounds).
            footprint = known.footprints.get(sha256) or file_footprint(f.path, f.family, sha256)
            news |= field_file_news(footprint, f.family, sha256, calendar, keys, batches)
    return news


def needs_reading(
    known: Known, name: str, family: str, sha256: str, calendar: RoundCalendar, keys: set[str]
) -> bool:
    """Whether a load of these rounds reads a field file: unless the warehouse has loaded these
    bytes under this name, holds every batch they give these rounds, and every row of them
    falls in a round (the loader reads a file whose rows wait, to say how many). A copy of a
    loaded file under another name is read: `dtm` counts a file as seen once it is loaded under
    its name, and would load its rounds again in every run."""
    footprint = known.footprints.get(sha256)
    if (name, sha256) not in known.sources or footprint is None or footprint.waits(calendar):
        return True
    return bool(field_file_news(footprint, family, sha256, calendar, keys, known.batch_keys))
