"""What a load run plans, as Dagster assets and checks: the raw tables that its rounds' landing
files give a batch to (or have a file refused), read from the landing folder and the warehouse
when the run is launched (by `dtm`, or by the landing sensor).

A check planned and not evaluated shows in the UI as skipped, and one evaluated over nothing
would show a pass (0 rows) over the result that still holds for its table: a quarantined
workbook's failed gate behind a round that brought no workbook. So a run plans the gates and
sense checks of the tables with news, and the ingest step reports what it found: a table the
plan missed (a KI export's rows that a new round now holds) is reported all the same, and a table
planned that brought nothing new has its standing result restated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from orchestration import landing
from orchestration.defs.freshness import round_freshness
from orchestration.defs.ingest import RAW_ASSET_KEYS, raw_tables
from orchestration.defs.selection import Selection
from orchestration.field_files import Footprint, file_footprint
from orchestration.warehouse import ALL_RAW_TABLES, FAMILY_TABLES, MASTER_LIST_TABLES, connect_now

# Every batch: its round, list, bytes and whether it still waits for its gate.
BATCHES_SQL = "select partition_key, list_type, source_sha256, status = 'pending' from raw.load_batches"
FOOTPRINTS_SQL = "select source_sha256, family, workbook_year, days from raw.field_file_footprints"


@dataclass(frozen=True)
class Known:
    """What the warehouse knows of the landing files: BATCHES_SQL's rows, and the footprint of
    every field file it has read, by its sha256."""

    batches: list[tuple[str, str, str, bool]] = field(default_factory=list)
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


def _sha256(landing_file: landing.LandingFile) -> str:
    """The file's sha256: from the read the scan made of it, else hashed now."""
    return landing_file.read.sha256 if landing_file.read is not None else landing.fingerprint(landing_file)


def tables_with_news(known: Known, files: list[landing.LandingFile], keys: set[str]) -> set[str]:
    """The raw tables (list types) a load of these rounds gives a batch to or refuses a file
    of: a master list of one of the rounds whose bytes are not a batch of its round yet; a KI
    export or workbook with rows of one of the rounds (under the calendar the landing folder
    makes now) that are not a batch yet, or that cannot be read; and every table with a batch
    that an interrupted run left pending. A file refused before is refused again, and is news again:
    its table's gate reports the refusal."""
    batches = {(key, list_type, sha256) for key, list_type, sha256, _ in known.batches}
    news = {list_type for _, list_type, _, pending in known.batches if pending}
    calendar = landing.calendar(files)
    for f in files:
        if f.list_type in MASTER_LIST_TABLES and f.round_id is not None:
            key = f.round_id.partition_key
            if key in keys and (key, f.list_type, _sha256(f)) not in batches:
                news.add(f.list_type)
        elif f.family in FAMILY_TABLES:
            sha256 = _sha256(f)
            # A file the warehouse has not read: read here, once (the launcher read it already
            # to find its rounds); one that cannot be read is refused, and its tables told so.
            footprint = known.footprints.get(sha256) or file_footprint(f.path, f.family, sha256)
            if footprint is None:
                news.update(FAMILY_TABLES[f.family])
                continue
            for table, rounds in footprint.partitions(calendar).items():
                if any((key, table, sha256) not in batches for key in rounds & keys):
                    news.add(table)
    return news


def planned_selection(news: set[str]) -> Selection | None:
    """The ingest's assets and checks for these tables (the ledgers and the landing folder's
    freshness always); None when that is every one of them."""
    left_out = {RAW_ASSET_KEYS[t] for t in ALL_RAW_TABLES if t not in news}
    if not left_out:
        return None
    return Selection(
        frozenset(k for k in raw_tables.keys if k not in left_out),
        frozenset(
            k for k in [*raw_tables.check_keys, *round_freshness.check_keys] if k.asset_key not in left_out
        ),
    )


def read_known(database: Path) -> Known | None:
    """What the warehouse knows now (nothing when there is none yet); None when another process
    is writing it: a sensor does not wait, and plans every table."""
    if not database.exists():
        return Known()
    with connect_now(database) as con:
        if con is None:
            return None
        try:
            return Known.read(con)
        except duckdb.CatalogException:  # no raw layer yet: nothing is known
            return Known()


def launch_selection(database: Path, files: list[landing.LandingFile], keys: set[str]) -> Selection | None:
    """What a load of these rounds launched now plans; None (every asset and check) when another
    process is writing the warehouse, and the step restates what it planned and found nothing
    new for."""
    return plan_for(read_known(database), files, keys)


def plan_for(known: Known | None, files: list[landing.LandingFile], keys: set[str]) -> Selection | None:
    """The plan of a load of these rounds given what the warehouse knows (None: unknown)."""
    return None if known is None else planned_selection(tables_with_news(known, files, keys))


def plan_text(selection: Selection | None) -> str:
    """What a load's plan covers, in words for `dtm`'s output."""
    if selection is None:
        return "planning every raw table"
    tables = sorted(k.path[-1] for k in selection.assets if k in RAW_ASSET_KEYS.values())
    if not tables:
        return "no raw table has anything new: every table's checks keep their results"
    return f"planning {', '.join(tables)}"
