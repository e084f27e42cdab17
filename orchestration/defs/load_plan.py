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

from pathlib import Path

from orchestration import landing
from orchestration.defs.freshness import round_freshness
from orchestration.defs.ingest import RAW_ASSET_KEYS, raw_tables
from orchestration.defs.selection import Selection
from orchestration.landing_news import Known, read_known, tables_with_news
from orchestration.warehouse import ALL_RAW_TABLES


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
