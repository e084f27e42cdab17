"""Turn a KoBoToolbox export of key-informant reports (CSV, XLSX or KoBo JSON) into raw rows.

Exports differ by how they were asked for: XML field names with group paths (`ki/name`) or the
form's labels (`Key informant name`), select_multiple as a space-separated field, as 0/1 columns
or both, `_validation_status` as text or, in JSON, as an object. Every column is kept as text:
known ones under their canonical name (the header-alias table), the others in `extra_columns`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from orchestration.readers.round_files import (
    RejectedFile,
    csv_rows,
    decoded_text,
    ends_with_line_end,
    file_digest,
    open_workbook,
    refuse_if_cut,
    sheet_row_text,
)
from orchestration.reference import alias_lookup, header_aliases
from orchestration.rules import name_key

LIST_TYPE = "ki_report"
REQUIRED = ("submission_uuid", "submission_time", "place_id")
PERSONAL_COLUMNS = ("ki_name", "ki_phone", "device_id", "comments")


@dataclass
class KiExport:
    path: Path
    sha256: str
    size: int
    sheet: str | None
    header_form: str  # field | label | mixed
    frame: pd.DataFrame  # canonical columns (text), source_row_number, extra_columns
    unknown_columns: list[str] = field(default_factory=list)


def read_ki_export(path: Path) -> KiExport:
    sha256, size = file_digest(path)
    suffix = path.suffix.lower()
    sheet = None
    if suffix == ".json":
        header, rows = _json_rows(path)
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        # A cut XLSX fails its zip check (open_workbook); a worksheet's rows end at their last
        # filled cell and KoBo's trailing metadata may be empty, so no width check here.
        sheet, header, rows = _workbook_rows(path)
    elif suffix in (".csv", ".txt"):
        table = [row for row in csv_rows(path) if any(row)]
        if not table:
            raise RejectedFile(path.name, "the export is empty")
        header, rows = table[0], table[1:]
        # A CSV keeps every field of every row: a last row short of the others was cut.
        refuse_if_cut(
            path.name,
            None,
            list(enumerate(rows, start=1)),
            header,
            is_csv=True,
            line_end=ends_with_line_end(path),
        )
    else:
        raise RejectedFile(path.name, f"'{suffix}' is not a KoBo export format (CSV, XLSX, JSON)")
    frame, unknown, form = _to_frame(path.name, sheet, header, rows)
    return KiExport(path, sha256, size, sheet, form, frame, unknown)


def _json_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    try:
        data = json.loads(decoded_text(path, unmarked=("utf-8-sig",)))  # JSON is UTF-8 or marked
    except json.JSONDecodeError as error:
        raise RejectedFile(path.name, f"not KoBo JSON ({error})") from error
    records = data.get("results") if isinstance(data, dict) else data
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RejectedFile(path.name, "KoBo JSON holds a list of submissions (or {'results': [...]})")
    header: dict[str, None] = {}
    for record in records:
        header.update(dict.fromkeys(record))
    columns = list(header)
    return columns, [[_json_text(record.get(c)) for c in columns] for record in records]


def _json_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # KoBo's _validation_status: {"uid": "validation_status_…", …}
        return str(value.get("uid", "")) if "uid" in value or not value else json.dumps(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()


def _workbook_rows(path: Path) -> tuple[str, list[str], list[list[str]]]:
    workbook = open_workbook(path)
    # KoBo writes the main table first; repeat groups follow on sheets of their own.
    sheet = workbook.sheet_names[0]
    table = [sheet_row_text(row) for row in workbook.get_sheet_by_name(sheet).to_python()]
    table = [row for row in table if any(row)]
    if not table:
        raise RejectedFile(path.name, "the export is empty", sheet=sheet)
    return sheet, table[0], table[1:]


def _to_frame(
    name: str, sheet: str | None, header: list[str], rows: list[list[str]]
) -> tuple[pd.DataFrame, list[str], str]:
    lookup = alias_lookup(LIST_TYPE)
    canonical: list[str | None] = []
    for cell in header:
        column = lookup.get(name_key(cell))
        canonical.append(None if column in canonical else column)
    missing = [c for c in REQUIRED if c not in canonical]
    if missing:
        raise RejectedFile(
            name,
            f"the header lacks {', '.join(missing)} (KoBo's _uuid, _submission_time and the place "
            f"ID); header found: {', '.join(h for h in header[:12] if h)}",
            sheet=sheet,
            row=1,
        )
    width = len(header)
    known = {i: c for i, c in enumerate(canonical) if c}
    unknown = [i for i, c in enumerate(canonical) if c is None and header[i]]
    records = []
    for number, row in enumerate(rows, start=2):
        cells = (row + [""] * width)[:width]
        record = {column: (cells[i] or None) for i, column in known.items()}
        extra = {header[i]: cells[i] for i in unknown if cells[i]}
        record["extra_columns"] = json.dumps(extra, ensure_ascii=False) if extra else None
        record["source_row_number"] = number
        records.append(record)
    frame = pd.DataFrame.from_records(
        records, columns=[*known.values(), "extra_columns", "source_row_number"]
    )
    return frame, [header[i] for i in unknown], _header_form(header)


def _header_form(header: list[str]) -> str:
    """Whether the export used XML field names (`needs/priority_needs`) or the form's labels.
    Headers both forms share (`comments`/`Comments`) say nothing."""
    forms: dict[str, set[str]] = {}
    for alias in header_aliases():
        if alias.list_type == LIST_TYPE:
            forms.setdefault(name_key(alias.alias), set()).update(alias.eras)
    used = {next(iter(forms[key])) for key in map(name_key, header) if len(forms.get(key, ())) == 1}
    return used.pop() if len(used) == 1 else "mixed" if used else "unknown"
