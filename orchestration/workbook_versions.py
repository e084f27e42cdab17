"""Cluster workbooks that hold the same projects: a re-issue, a copy, or versions that arrived
together.

Each cluster's programme unit keeps one workbook per year (DATA_CONTRACTS), so a year has as
many workbooks as clusters report, each with its own projects; a project (its year and HRP code)
is in one of them. A workbook's batches carry a series, and an accepted batch supersedes the
earlier one of its round, list and series (quality.gate.settle). The series was the file's name,
so a copy of a workbook (`… (1).xlsx`) or a corrected one under a new name (`…_v2.xlsx`) loaded
beside the first: every project twice, and dbt's uniqueness tests failed every build until one
file was removed, with nothing but dbt's test output to say why.

Now a workbook continues the series of the loaded workbook it replaces: one with its name (a
re-issue), else the one whose projects it holds (a corrected version under another name). One
that shares projects with a loaded workbook and replaces none of them is refused, naming it.
Workbooks that arrive together sharing projects are one workbook when their rows are the same
(a copy), else refused each, naming the others, until only one is left (as list_versions does
for master lists). A replaced version left in the landing folder loads nothing more (Replaced),
and once a version's reach passes the gate, the earlier versions' reach of rounds it has no
rows for goes too (retire_rounds_left_out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from orchestration.list_versions import comparable
from orchestration.readers.cluster_sheets import ClusterWorkbook
from orchestration.readers.round_files import RejectedFile
from orchestration.rules import hrp_code, hrp_code_sql
from orchestration.warehouse import ALL_RAW_TABLES, CONFLICT, FAMILY_TABLES

WORKBOOK_LISTS = FAMILY_TABLES["cluster_sheet"]
# Columns that say where a row was, not what it holds.
PLACE_COLUMNS = ("source_row_number", "extra_columns")
SHOWN_CODES = 3

# What a load's batches of workbooks are or will be: a series, its files and its projects, for
# batches that stand (accepted) or are about to be gated (pending).
HELD_SQL = "\n    union all\n".join(
    f"""
    select cast(r.workbook_year as integer) as year, b.series, b.source_file, {hrp_code_sql("r.hrp_code")}
        as hrp_code
    from raw.{table} as r join raw.load_batches as b using (batch_id)
    where b.status in ('accepted', 'pending') and r.row_kind = 'data' and r.hrp_code is not null"""
    for table in (ALL_RAW_TABLES[list_type] for list_type in WORKBOOK_LISTS)
)


@dataclass(frozen=True)
class Held:
    """A series of workbook batches in the warehouse: its year, the files it holds rows of, and
    the projects (HRP codes) of its rows."""

    year: int
    series: str
    files: frozenset[str]
    projects: frozenset[str]


def held(con: duckdb.DuckDBPyConnection) -> list[Held]:
    rows = con.execute(
        f"select year, series, list(distinct source_file), list(distinct hrp_code) from ({HELD_SQL}) "
        "group by year, series order by year, series"
    ).fetchall()
    return [Held(year, series, frozenset(files), frozenset(codes)) for year, series, files, codes in rows]


def series_of_files(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], str]:
    """The series of each workbook file the warehouse has batches of, by (name, sha256)."""
    return {
        (name, sha): series
        for name, sha, series in con.execute(
            "select source_file, source_sha256, any_value(series) from raw.load_batches "
            "where list_type in (select unnest(?::varchar[])) group by all",
            [list(WORKBOOK_LISTS)],
        ).fetchall()
    }


def projects_of(book: ClusterWorkbook) -> frozenset[str]:
    """The HRP codes of a workbook's data rows, on any of its sheets."""
    return frozenset(
        hrp_code(code)
        for sheet in book.sheets.values()
        for code, kind in zip(sheet.frame.get("hrp_code", []), sheet.frame["row_kind"], strict=True)
        if kind == "data" and isinstance(code, str) and code.strip()
    )


def _cell(column: str, value: object) -> object:
    return hrp_code(value) if column == "hrp_code" and isinstance(value, str) else comparable(value, True)


def rows_held(book: ClusterWorkbook) -> Counter:
    """What a workbook holds for the marts, however it was written: each sheet's rows in any
    order, numbers as numbers, HRP codes as read."""
    return Counter(
        (list_type, *((c, _cell(c, v)) for c, v in row.items()))
        for list_type, sheet in book.sheets.items()
        for row in sheet.frame[[c for c in sheet.frame.columns if c not in PLACE_COLUMNS]].to_dict("records")
    )


def summary(book: ClusterWorkbook) -> str:
    projects = book.sheets["cluster_project"].frame
    data = projects[projects["row_kind"] == "data"]
    budget = sum(n for n in (comparable(b, True) for b in data.get("budget_usd", [])) if isinstance(n, int))
    return f"{len(projects_of(book))} project(s), USD {budget:,} of budgets"


def _codes(codes: Iterable[str]) -> str:
    ordered = sorted(codes)
    shown = ", ".join(ordered[:SHOWN_CODES])
    return shown + (f" and {len(ordered) - SHOWN_CODES} more" if len(ordered) > SHOWN_CODES else "")


def _overlapping(names: list[str], projects: dict[str, frozenset[str]]) -> list[list[str]]:
    """The workbooks in groups that share projects, directly or through another of them."""
    groups: list[list[str]] = []
    for name in names:
        joined = [g for g in groups if any(projects[name] & projects[other] for other in g)]
        merged = [name] + [other for g in joined for other in g]
        groups = [g for g in groups if g not in joined] + [sorted(merged)]
    return groups


def _against_loaded(name: str, book: ClusterWorkbook, year_held: list[Held]) -> str | RejectedFile:
    """The series a new workbook continues, or why it cannot be loaded beside what is."""
    mine = projects_of(book)
    own = next((h for h in year_held if name in h.files), None)
    sharing = [h for h in year_held if h.projects & mine and h is not own]
    if own is None and len(sharing) == 1 and sharing[0].projects <= mine:
        return sharing[0].series  # a corrected version under another name: it replaces the loaded one
    if own is None and not sharing:
        return name  # a workbook of projects no loaded workbook holds
    if own is not None and not sharing:
        return own.series  # a re-issue under its own name
    others = " and ".join(sorted(f for h in sharing for f in h.files))
    shared = set().union(*(h.projects & mine for h in sharing))
    if own is None and len(sharing) == 1:
        missing = sharing[0].projects - mine
        reason = (
            f"holds {len(shared)} of the {book.year} projects of {others}, loaded ({_codes(shared)}), but "
            f"not {_codes(missing)}: a workbook under another name replaces a loaded one only when it "
            f"holds all its projects, so this one is not loaded and {others} stays. Re-issue it under "
            f"the name {others}, or with all of its projects"
        )
    else:
        reason = (
            f"holds {book.year} projects that {others} holds too, loaded ({_codes(shared)}): a project is "
            "in one workbook of its year, and this one replaces "
            + ("another" if own else "more than one")
            + ", so it is not loaded and the loaded workbooks stay. Hold each project in one workbook"
        )
    return RejectedFile(name, reason, sha256=book.sha256)


@dataclass(frozen=True)
class Replaced:
    """A loaded workbook a later version replaced (none of its batches stands): read again for
    a round its rows newly fall in, it loads nothing, or it would supersede its replacement there."""

    by: str


Decision = str | RejectedFile | Replaced


def resolve(
    books: dict[str, ClusterWorkbook],
    year_held: dict[int, list[Held]],
    loaded: dict[tuple[str, str], str],
) -> dict[str, Decision]:
    """Each workbook read by a load (by name): the series its batches carry, its refusal, or
    that it was replaced. `loaded`: the series of files the warehouse has batches of, by (name,
    sha256): a file read again (its batches of other rounds) continues its series, unless a later
    version holds the series now."""
    decisions: dict[str, Decision] = {}
    new = []
    for name, book in sorted(books.items()):
        if (series := loaded.get((name, book.sha256))) is None:
            new.append(name)
            continue
        standing = next((h for h in year_held.get(book.year, []) if h.series == series), None)
        if standing is not None and name not in standing.files:
            decisions[name] = Replaced(" and ".join(sorted(standing.files)))
        else:
            decisions[name] = series
    for year in sorted({books[name].year for name in new}):
        names = [name for name in new if books[name].year == year]
        projects = {name: projects_of(books[name]) for name in names}
        for group in _overlapping(names, projects):
            first = books[group[0]]
            if len(group) > 1 and any(rows_held(books[n]) != rows_held(first) for n in group[1:]):
                for name in group:
                    others = "; ".join(f"{o} ({summary(books[o])})" for o in group if o != name)
                    decisions[name] = RejectedFile(
                        name,
                        f"the {year} workbook with these projects arrived in {len(group)} versions with "
                        f"different rows, this one with {summary(books[name])}, and {others}: which is "
                        "current cannot be told, so none is loaded (the projects keep the workbook they "
                        "had, if any). Leave only the current version in the landing folder; the next "
                        "run loads it",
                        sha256=books[name].sha256,
                        kind=CONFLICT,
                    )
                continue
            # One workbook, however many copies: the copies continue its series.
            decision = _against_loaded(group[0], first, year_held.get(year, []))
            for name in group:
                decisions[name] = (
                    RejectedFile(name, decision.reason, sha256=books[name].sha256)
                    if isinstance(decision, RejectedFile)
                    else decision
                )
    return decisions


def decide(con: duckdb.DuckDBPyConnection, books: dict[str, ClusterWorkbook]) -> dict[str, Decision]:
    """resolve() against what the warehouse holds."""
    if not books:
        return {}
    by_year: dict[int, list[Held]] = {}
    for series in held(con):
        by_year.setdefault(series.year, []).append(series)
    return resolve(books, by_year, series_of_files(con))


@dataclass(frozen=True)
class Version:
    """A workbook a load read: its bytes, its series, and the rounds its reach rows fall in."""

    sha256: str
    series: str
    reach_rounds: frozenset[str]


def retire_rounds_left_out(con: duckdb.DuckDBPyConnection, versions: list[Version]) -> None:
    """Once a version's reach is accepted, the reach of the earlier versions of its workbook in
    rounds it has no rows for goes too: a corrected workbook that drops a month (a month typed
    wrong, reported twice) otherwise left the first version's rows of that month in the marts,
    where no batch of the new version superseded them (the gate supersedes round by round). A
    version whose reach failed the gate retires nothing: the last good one stays."""
    for version in versions:
        con.execute(
            """
            update raw.load_batches as older
            set status = 'superseded', status_changed_at = ?,
                status_reason = 'replaced by ' || newer.source_file || ', which has no rows for this round'
            from (
                select any_value(source_file) as source_file from raw.load_batches
                where source_sha256 = ? and series = ? and list_type = 'cluster_reach'
                    and status = 'accepted'
            ) as newer
            where newer.source_file is not null and older.series = ? and older.list_type = 'cluster_reach'
                and older.status = 'accepted' and older.source_sha256 <> ?
                and older.partition_key not in (select unnest(?::varchar[]))
            """,
            [
                datetime.now(UTC).replace(tzinfo=None),
                version.sha256,
                version.series,
                version.series,
                version.sha256,
                sorted(version.reach_rounds),
            ],
        )
