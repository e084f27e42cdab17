"""Turn a cluster's yearly workbook (sheets Projects, Activities, Reach) into raw rows.

Real sheets have title rows, header cells merged over two rows (`Target beneficiaries` over
`Total | Female | Male`), totals rows, and HRP codes typed in many ways. The reader keeps every
row as text: totals rows are kept too, marked `row_kind = totals`, because a stated total that
differs from the sum of its rows is a finding to show (the 2018 appeal total is one dollar off),
never something to fix or drop.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from orchestration.readers.round_files import RejectedFile, file_digest, open_workbook, sheet_row_text
from orchestration.reference import alias_lookup
from orchestration.rounds import parse_month
from orchestration.rules import name_key

SHEETS = {"cluster_project": "Projects", "cluster_activity": "Activities", "cluster_reach": "Reach"}
REQUIRED = {
    "cluster_project": ("hrp_code", "budget_usd", "target_total"),
    "cluster_activity": ("hrp_code", "activity", "headline"),
    "cluster_reach": ("reporting_month", "hrp_code", "activity", "total"),
}
HEADER_SEARCH_ROWS = 15
_TOTALS = re.compile(r"^\s*(grand\s+)?totals?\b", re.IGNORECASE)
_YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")


@dataclass
class SheetRows:
    list_type: str
    sheet: str
    header_row: int
    frame: pd.DataFrame  # canonical columns (text), row_kind, source_row_number, extra_columns
    header_map: dict[str, str]
    unknown_columns: list[str]


@dataclass
class ClusterWorkbook:
    path: Path
    sha256: str
    size: int
    year: int
    sheets: dict[str, SheetRows]


def read_cluster_workbook(path: Path) -> ClusterWorkbook:
    sha256, size = file_digest(path)
    workbook = open_workbook(path)
    by_name = {name.strip().lower(): name for name in workbook.sheet_names}
    if missing := [wanted for wanted in SHEETS.values() if wanted.lower() not in by_name]:
        raise RejectedFile(
            path.name,
            f"no sheet '{missing[0]}' (a cluster workbook has Projects, Activities and Reach; "
            f"found: {', '.join(workbook.sheet_names)})",
        )
    sheets = {}
    for list_type, wanted in SHEETS.items():
        sheet = by_name[wanted.lower()]
        rows = [sheet_row_text(row) for row in workbook.get_sheet_by_name(sheet).to_python()]
        sheets[list_type] = _read_sheet(path.name, sheet, list_type, rows)
    return ClusterWorkbook(path, sha256, size, _year(path, sheets["cluster_reach"].frame), sheets)


def _year(path: Path, reach: pd.DataFrame) -> int:
    """The workbook's year: from its name, else the months its reach rows report."""
    if match := _YEAR.search(path.stem):
        return int(match[1])
    years = {m.year for m in map(parse_month, reach.get("reporting_month", pd.Series(dtype=str))) if m}
    if len(years) == 1:
        return years.pop()
    raise RejectedFile(path.name, "cannot tell the workbook's year: put it in the file name (…_2018.xlsx)")


def _header_candidates(rows: list[list[str]], index: int) -> list[tuple[int, list[str]]]:
    """Header readings starting at a row: the row alone, and the row over the next one with
    merged parent cells carried right (`Target beneficiaries` + `Female`)."""
    top = rows[index]
    single = (1, top)
    if index + 1 >= len(rows):
        return [single]
    below = rows[index + 1]
    width = max(len(top), len(below))
    top, below = top + [""] * (width - len(top)), below + [""] * (width - len(below))
    combined, parent = [], ""
    for upper, lower in zip(top, below, strict=True):
        if upper:
            parent = upper
        elif not lower:
            parent = ""
        combined.append(f"{parent} {lower}".strip() if lower else upper)
    return [single, (2, combined)]


def _read_sheet(name: str, sheet: str, list_type: str, rows: list[list[str]]) -> SheetRows:
    lookup = alias_lookup(list_type)
    best: tuple[int, int, int, list[str]] | None = None  # (known, index, height, header)
    for index in range(min(HEADER_SEARCH_ROWS, len(rows))):
        for height, header in _header_candidates(rows, index):
            known = len({lookup[k] for k in map(name_key, header) if k in lookup})
            if best is None or known > best[0]:
                best = (known, index, height, header)
    if best is None or best[0] < len(REQUIRED[list_type]):
        raise RejectedFile(name, f"no header row with {', '.join(REQUIRED[list_type])}", sheet=sheet)
    _, index, height, header = best
    canonical: list[str | None] = []
    for cell in header:
        column = lookup.get(name_key(cell))
        canonical.append(None if column in canonical else column)
    missing = [c for c in REQUIRED[list_type] if c not in canonical]
    if missing:
        raise RejectedFile(
            name, f"the header lacks {', '.join(missing)}", sheet=sheet, row=index + 1, column=missing[0]
        )
    known = {i: c for i, c in enumerate(canonical) if c}
    unknown = [i for i, c in enumerate(canonical) if c is None and header[i]]
    width = len(header)
    records = []
    for number, row in enumerate(rows[index + height :], start=index + height + 1):
        cells = (row + [""] * width)[:width]
        if not any(cells):
            continue
        first = next(cell for cell in cells if cell)
        record = {column: (cells[i] or None) for i, column in known.items()}
        record["row_kind"] = "totals" if _TOTALS.match(first) else "data"
        extra = {header[i]: cells[i] for i in unknown if cells[i]}
        record["extra_columns"] = json.dumps(extra, ensure_ascii=False) if extra else None
        record["source_row_number"] = number
        records.append(record)
    frame = pd.DataFrame.from_records(
        records, columns=[*known.values(), "row_kind", "extra_columns", "source_row_number"]
    )
    return SheetRows(
        list_type,
        sheet,
        index + 1,
        frame,
        {header[i]: c for i, c in known.items()},
        [header[i] for i in unknown],
    )
