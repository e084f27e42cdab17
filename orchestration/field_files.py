"""Key-informant exports and cluster workbooks → batches, one per file and round partition.

A KI submission belongs to the round whose period holds its `_submission_time`; a reach row to
the round holding its month; a workbook's Projects and Activities rows to the round holding
January of its year. Rows after the latest known round wait in the landing folder (they load
when that round's master list arrives); the run says how many.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from pathlib import Path

import pandas as pd

from orchestration.informants import informant_keys
from orchestration.readers.cluster_sheets import ClusterWorkbook, read_cluster_workbook
from orchestration.readers.ki_reports import KiExport, read_ki_export
from orchestration.readers.round_files import RejectedFile, read_or_refusal
from orchestration.rounds import RoundCalendar, RoundId, parse_month
from orchestration.warehouse import Batch

_TEST = re.compile(r"\btest", re.IGNORECASE)


@dataclass
class FieldBatches:
    batches: list[Batch] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # rows no known round holds yet, and why
    erased_rows: int = 0
    # every round a workbook's reach rows fall in (its totals rows' too), whatever a load takes
    reach_rounds: frozenset[str] = frozenset()


def read_placeable_ki_export(path: Path) -> KiExport:
    """A KI export whose submissions can be placed in rounds. A submission whose time cannot be
    read goes with the file's latest round, where the gate stops it (ki_partitions); when no
    submission's time can be read there is no such round, and the file is refused, naming the
    first row (its rows would otherwise wait, said to be before the earliest round, for ever)."""
    export = read_ki_export(path)
    times = export.frame["submission_time"]
    if len(times) and times.map(_submission_day).isna().all():
        first = export.frame.iloc[0]
        raise RejectedFile(
            path.name,
            f"no submission has a readable time ({first['submission_time']!r} in the first), so no "
            "round can hold them",
            sheet=export.sheet,
            row=int(first["source_row_number"]),
            column="_submission_time",
        )
    return export


READERS = {"ki_report": read_placeable_ki_export, "cluster_sheet": read_cluster_workbook}


def _waiting_note(source_name: str, what: str, days: pd.Series, calendar: RoundCalendar) -> list[str]:
    """Why rows belong to no known round yet: before the earliest round or after the latest."""
    notes = []
    if calendar.latest is None:
        return [f"{source_name}: {len(days)} {what} wait: the landing folder holds no round's master list"]
    late = int((days > calendar.latest).sum())
    early = len(days) - late
    if late:
        notes.append(
            f"{source_name}: {late} {what} after the latest round ({calendar.latest}) wait for that "
            "round's master list"
        )
    if early:
        notes.append(
            f"{source_name}: {early} {what} before the earliest round's period ({calendar.dates[0]}) "
            "wait for an earlier round's master list"
        )
    return notes


def _submission_day(text: object) -> date | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).date()
    except ValueError:
        return None


def ki_partitions(export: KiExport, calendar: RoundCalendar) -> pd.Series:
    """The round partition of every submission (None: no known round holds it yet). A submission
    whose time cannot be read goes with the file's latest round, where the gate stops it."""
    days = export.frame["submission_time"].map(_submission_day)
    keys = days.map(lambda d: calendar.round_holding(d) if d else None)
    fallback = max(keys.dropna(), default=None, key=lambda k: calendar.keys.index(k))
    return keys.where(days.notna(), fallback)


def main_round(year: int, reach_rounds: set[str], calendar: RoundCalendar) -> str | None:
    """The partition of a workbook's Projects and Activities rows: the round holding January of
    its year, else the earliest round its reach rows fall in."""
    return calendar.round_of_month(date(year, 1, 1)) or min(
        reach_rounds, default=None, key=calendar.keys.index
    )


def workbook_partitions(book: ClusterWorkbook, calendar: RoundCalendar) -> tuple[pd.Series, str | None]:
    """The partition of each reach row, and the partition of the workbook's Projects and
    Activities rows (main_round)."""
    reach = book.sheets["cluster_reach"].frame
    months = reach["reporting_month"].map(parse_month)
    keys = months.map(lambda m: calendar.round_of_month(m) if m else None)
    main = main_round(book.year, set(keys.dropna()), calendar)
    keys = keys.where(months.notna() & (reach["row_kind"] == "data"), main)
    return keys, main


@dataclass(frozen=True)
class Footprint:
    """When a field file's rows fall: a KI export's submission days, a workbook's year and its
    reach rows' months. Enough to tell the rounds its rows belong to under any calendar without
    reading the file again (the load plan does, from the warehouse's record of it)."""

    family: str
    days: frozenset[date]
    year: int | None = None

    def _round(self, calendar: RoundCalendar, day: date) -> str | None:
        # As the loader maps rows: a submission to the round holding its day (ki_partitions), a
        # reach row to the round holding its month (workbook_partitions).
        return calendar.round_holding(day) if self.family == "ki_report" else calendar.round_of_month(day)

    def partitions(self, calendar: RoundCalendar) -> dict[str, set[str]]:
        """The rounds each of the file's raw tables gets rows of (no round: the rows wait)."""
        rounds = {key for day in self.days if (key := self._round(calendar, day))}
        if self.family == "ki_report":
            return {"ki_report": rounds}
        assert self.year is not None  # a workbook always has its year
        # A workbook's Projects and Activities (and its reach totals rows) go to its main round.
        main = main_round(self.year, rounds, calendar)
        if main is None:
            return {"cluster_project": set(), "cluster_activity": set(), "cluster_reach": set()}
        return {"cluster_project": {main}, "cluster_activity": {main}, "cluster_reach": rounds | {main}}

    def waits(self, calendar: RoundCalendar) -> bool:
        """Whether some of the file's rows belong to no round under this calendar (the loader
        says how many, and why), or no row's day could be read."""
        return not self.days or any(self._round(calendar, day) is None for day in self.days)


def footprint_of(read: KiExport | ClusterWorkbook) -> Footprint:
    if isinstance(read, KiExport):
        days = read.frame["submission_time"].map(_submission_day).dropna()
        return Footprint("ki_report", frozenset(days))
    # Every reach row's month: a totals row's goes to the main round, so the reach rounds are
    # at most these, and the main round falls back on the earliest of them as it does loading.
    months = read.sheets["cluster_reach"].frame["reporting_month"].map(parse_month).dropna()
    return Footprint("cluster_sheet", frozenset(months), read.year)


@cache
def file_footprint(path: Path, family: str, sha256: str) -> Footprint | None:
    """A field file's footprint (None: it cannot be read), read once in a process for these
    bytes: the landing sensor and `dtm` read a new file to find its rounds, and then plan the
    load from the same footprint."""
    read = read_field_file(path, family)
    return None if isinstance(read, RejectedFile) else footprint_of(read)


def ki_batches(
    export: KiExport,
    source_name: str,
    calendar: RoundCalendar,
    wanted: set[str],
    secret: str,
    erased: set[str],
) -> FieldBatches:
    # Only the rows this run loads or reports as waiting are keyed (HMAC of every submission
    # was most of a new round's load of twelve exports).
    all_keys = ki_partitions(export, calendar)
    frame = export.frame[all_keys.isin(wanted) | all_keys.isna()].copy()
    names = frame["ki_name"] if "ki_name" in frame else pd.Series(None, index=frame.index)
    frame["informant_key"] = informant_keys(secret, frame)
    enumerators = frame["enumerator_id"] if "enumerator_id" in frame else pd.Series("", index=frame.index)
    frame["marked_test"] = [
        "true" if any(isinstance(v, str) and _TEST.search(v) for v in (n, e)) else "false"
        for n, e in zip(names, enumerators, strict=True)
    ]
    result = FieldBatches()
    gone = frame["informant_key"].isin(erased)
    result.erased_rows = int(gone.sum())
    frame = frame[~gone]
    keys = all_keys[frame.index]
    if keys.isna().any():
        days = frame["submission_time"][keys.isna()].map(_submission_day)
        result.waiting += _waiting_note(source_name, "submission(s)", days, calendar)
    for key, rows in frame.groupby(keys, sort=True):
        if key in wanted:
            result.batches.append(
                _batch("ki_report", key, calendar, source_name, export, export.sheet, 1, rows, source_name)
            )
    return result


def cluster_batches(
    book: ClusterWorkbook, source_name: str, calendar: RoundCalendar, wanted: set[str], series: str
) -> FieldBatches:
    """The workbook's batches of the wanted rounds, of the series it continues (workbook_versions)."""
    result = FieldBatches()
    keys, main = workbook_partitions(book, calendar)
    if main is None:
        result.waiting.append(f"{source_name}: no known round holds any month of {book.year}")
        return result
    reach = book.sheets["cluster_reach"]
    frame = reach.frame.assign(
        reference_month=reach.frame["reporting_month"].map(lambda t: (m := parse_month(t)) and m.isoformat())
    )
    if keys.isna().any():
        months = reach.frame["reporting_month"][keys.isna()].map(parse_month)
        result.waiting += _waiting_note(source_name, "reach row(s)", months, calendar)
    result.reach_rounds = frozenset(keys.dropna())
    pieces = [("cluster_reach", key, rows) for key, rows in frame.groupby(keys, sort=True)]
    pieces += [(lt, main, book.sheets[lt].frame) for lt in ("cluster_project", "cluster_activity")]
    year = str(book.year)
    for list_type, key, rows in pieces:
        if key in wanted:
            sheet = book.sheets[list_type]
            result.batches.append(
                _batch(
                    list_type,
                    key,
                    calendar,
                    source_name,
                    book,
                    sheet.sheet,
                    sheet.header_row,
                    rows.assign(workbook_year=year),
                    series,
                    sheet.header_map,
                    sheet.unknown_columns,
                )
            )
    return result


def _batch(
    list_type: str,
    key: str,
    calendar: RoundCalendar,
    source_name: str,
    read: KiExport | ClusterWorkbook,
    sheet: str | None,
    header_row: int,
    rows: pd.DataFrame,
    series: str,
    header_map: dict | None = None,
    unknown: list | None = None,
) -> Batch:
    return Batch(
        list_type=list_type,
        round_id=RoundId.from_partition_key(key),
        file_date=calendar.dates[calendar.keys.index(key)],
        source_file=source_name,
        sha256=read.sha256,
        size=read.size,
        sheet=sheet,
        header_row=header_row,
        frame=rows.reset_index(drop=True),
        series=series,
        header_map=header_map,
        unknown_columns=unknown if unknown is not None else getattr(read, "unknown_columns", None),
    )


FieldRead = KiExport | ClusterWorkbook | RejectedFile


def read_field_file(path: Path, family: str) -> FieldRead:
    """A KI export or cluster workbook, or its refusal."""
    return read_or_refusal(READERS[family], path)
