"""Turn a DTM master-list file (CSV or XLSX, any header era) into raw rows of text.

Nothing is narrowed: every column is kept, known ones under their canonical name (through the
one header-alias table), unknown ones in `extra_columns`. Each file is checked against its own
totals row, which is never loaded as a location.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
from python_calamine import CalamineWorkbook

from orchestration.reference import alias_lookup
from orchestration.rounds import NAMING_HINT, RoundId, parse_round_text
from orchestration.rules import name_key, parse_count

T = TypeVar("T")
HEADER_SEARCH_ROWS = 30
MIN_KNOWN_HEADERS = 5
# Unicode text a spreadsheet saves with a byte-order mark (Excel's "Unicode Text" is UTF-16 LE
# with its mark, tab-separated): UTF-32's marks first, since UTF-16 LE's begins UTF-32 LE's.
BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# Unmarked text: UTF-8, else Windows-1256 (Arabic Windows exports); by the names people know.
UNMARKED_ENCODINGS = {"utf-8-sig": "UTF-8", "cp1256": "Windows-1256"}
_TOTALS = re.compile(r"^\s*totals?\b", re.IGNORECASE)
_LOCATIONS_IN_TOTALS = re.compile(r"locations?\s*:?\s*([\d,.\s]+)", re.IGNORECASE)
# A count cell the fast path of the totals check may sum as it is.
_PLAIN_COUNT = r"-?[0-9]+"
# What the fast path finds in the count cells, joined a cell a line, when one is not plain.
_NOT_PLAIN_COUNTS = re.compile(r"[^0-9\n-]")


class RejectedFile(Exception):
    """A file the warehouse refuses, with where and why: file, sheet, row, column."""

    def __init__(
        self,
        file: str,
        reason: str,
        *,
        sheet: str | None = None,
        row: int | None = None,
        column: str | None = None,
        sha256: str | None = None,
        kind: str | None = None,
    ) -> None:
        self.file, self.reason, self.sheet, self.row, self.column = file, reason, sheet, row, column
        self.sha256 = sha256  # of the refused bytes, so a refusal is recorded without hashing again
        self.kind = kind  # raw.file_rejections.kind: None, or warehouse.CONFLICT
        where = ", ".join(
            part
            for part in (
                f"sheet '{sheet}'" if sheet else "",
                f"row {row}" if row else "",
                f"column '{column}'" if column else "",
            )
            if part
        )
        super().__init__(f"{file}{' (' + where + ')' if where else ''}: {reason}")

    def renamed(self, file: str) -> RejectedFile:
        """The same refusal under the name provenance records (the path in the landing folder)."""
        return _rebuild_rejection(
            file, self.reason, self.sheet, self.row, self.column, self.sha256, self.kind
        )

    def __reduce__(self):
        # Readers run in worker processes: the refusal must cross back whole.
        return (
            _rebuild_rejection,
            (self.file, self.reason, self.sheet, self.row, self.column, self.sha256, self.kind),
        )


def read_or_refusal(read: Callable[[Path], T], path: Path) -> T | RejectedFile:
    """What a reader makes of a file, or the refusal (with the file's sha256): a file no rule
    foresaw must not stop the run, so an unexpected error refuses the file too, saying why."""
    try:
        return read(path)
    except RejectedFile as error:
        refusal = error
    except Exception as error:
        refusal = RejectedFile(path.name, f"the reader failed on this file ({type(error).__name__}: {error})")
    if refusal.sha256 is None:
        refusal.sha256 = file_digest(path)[0]
    return refusal


def read_master_list(path: Path) -> RoundFile | RejectedFile:
    """A master list, or its refusal. A function of the module, so worker processes can call it."""
    return read_or_refusal(read_round_file, path)


def _rebuild_rejection(
    file: str,
    reason: str,
    sheet: str | None,
    row: int | None,
    column: str | None,
    sha256: str | None,
    kind: str | None = None,
) -> RejectedFile:
    return RejectedFile(file, reason, sheet=sheet, row=row, column=column, sha256=sha256, kind=kind)


@dataclass
class RoundFile:
    """A master-list file read into canonical raw rows, with its provenance."""

    path: Path
    sha256: str
    size: int
    list_type: str
    round_id: RoundId
    file_date: date
    sheet: str | None
    header_row: int
    frame: pd.DataFrame  # canonical columns (text), source_row_number, extra_columns
    header_map: dict[str, str | None]  # header as printed → canonical column (None: unknown)
    warnings: list[str] = field(default_factory=list)
    has_totals_row: bool = True

    @property
    def unknown_columns(self) -> list[str]:
        return [header for header, canonical in self.header_map.items() if canonical is None]


def file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_round_file(path: Path) -> RoundFile:
    """Read one master list; raise RejectedFile naming the file, sheet, row and column."""
    sha256, size = file_digest(path)
    try:
        return _read_round_file(path, sha256, size)
    except RejectedFile as error:
        error.sha256 = sha256
        raise


def _read_round_file(path: Path, sha256: str, size: int) -> RoundFile:
    name = path.name
    named = parse_round_text(path.stem)
    if size == 0:
        raise RejectedFile(name, "the file is empty")
    sheet, rows = _load_rows(path, named.list_type)
    list_type = named.list_type
    header_index = _find_header(rows, list_type)
    if header_index is None:
        expected = "IDP or returnee" if list_type is None else list_type.upper()
        raise RejectedFile(
            name,
            f"no header row of a DTM {expected} master list in the first "
            f"{HEADER_SEARCH_ROWS} rows (looked for Governorate, Families/Households, "
            "Individuals, …)",
            sheet=sheet,
        )
    titled = parse_round_text(" ".join(" ".join(r) for r in rows[:header_index]))
    list_type = list_type or titled.list_type
    round_number = named.round_number or titled.round_number
    file_date = named.file_date or titled.file_date
    if list_type is None or round_number is None or file_date is None:
        missing = [
            what
            for what, value in (
                ("IDP or Returnee", list_type),
                ("round number", round_number),
                ("date", file_date),
            )
            if value is None
        ]
        raise RejectedFile(
            name,
            f"cannot tell the {', '.join(missing)} from the name or the title rows: {NAMING_HINT}",
            sheet=sheet,
        )
    header = rows[header_index]
    header_map, canonical_by_position = _map_header(name, sheet, header_index, header, list_type)
    body, totals_row, totals_index = _split_body(name, sheet, rows, header_index)
    if not body:
        raise RejectedFile(name, "no location rows below the header", sheet=sheet, row=header_index + 1)
    is_csv = sheet is None
    if totals_row is None:
        refuse_if_cut(
            name, sheet, body, header, is_csv=is_csv, line_end=not is_csv or ends_with_line_end(path)
        )
    elif is_csv and len(totals_row) < len(header):
        # A CSV writes every field of every row: a totals row short of the header was cut.
        raise RejectedFile(
            name,
            f"the totals row stops after {len(totals_row)} of the header's {len(header)} fields: "
            "the file was cut off",
            row=totals_index + 1,
            column=header[len(totals_row)],
        )
    frame = _to_frame(body, header, canonical_by_position, header_index)
    warnings = []
    if totals_row is None:
        warnings.append("no totals row: the location count and column sums could not be checked")
    else:
        _check_totals(name, sheet, frame, totals_row, totals_index, header, canonical_by_position)
    return RoundFile(
        path,
        sha256,
        size,
        list_type,
        RoundId.of(round_number, file_date),
        file_date,
        sheet,
        header_index + 1,
        frame,
        header_map,
        warnings,
        has_totals_row=totals_row is not None,
    )


def _load_rows(path: Path, list_type: str | None) -> tuple[str | None, list[list[str]]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"):
        return _load_workbook(path, list_type)
    if suffix in (".csv", ".txt"):
        return None, csv_rows(path)
    raise RejectedFile(path.name, f"'{suffix}' is not a format the warehouse reads (CSV or XLSX)")


def byte_order_mark(raw: bytes) -> tuple[bytes, str | None]:
    """The byte-order mark the bytes start with and the encoding it names (b"", None: none)."""
    return next(
        ((mark, encoding) for mark, encoding in BYTE_ORDER_MARKS if raw.startswith(mark)), (b"", None)
    )


def decoded_text(path: Path, unmarked: tuple[str, ...] = tuple(UNMARKED_ENCODINGS)) -> str:
    """The file's text: in the encoding its byte-order mark names, else the first of `unmarked`
    that decodes it."""
    raw = path.read_bytes()
    mark, marked = byte_order_mark(raw)
    if marked is not None:
        try:
            return raw[len(mark) :].decode(marked)
        except UnicodeDecodeError as error:
            raise RejectedFile(
                path.name,
                f"the file is marked as {marked.upper()} text but is not ({error.reason} at byte "
                f"{len(mark) + error.start:,}): it is cut off or damaged",
            ) from None
    for encoding in unmarked:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RejectedFile(path.name, f"the text is not {' or '.join(UNMARKED_ENCODINGS[e] for e in unmarked)}")


def csv_rows(path: Path) -> list[list[str]]:
    text = decoded_text(path)
    if "\x00" in text:
        raise RejectedFile(path.name, "the file holds binary data (NUL bytes), not CSV text")
    try:
        dialect = csv.Sniffer().sniff(text[:20000], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows: list[list[str]] = []
    try:
        # Strict first: it is the only way to tell a quote left open at the end of the file.
        # newline="": the csv module tells line ends itself, so lines ending in a lone CR (old
        # Mac exports) read as LF or CRLF ones do, and a line end in a quoted cell stays text.
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            rows.append([cell.strip() for cell in row])
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            raise RejectedFile(
                path.name,
                "the file ends inside a quoted cell (a quote opened and never closed): "
                "it was cut off before its end",
                row=len(rows) + 1,
            ) from None
        # Quoting a strict parser refuses elsewhere ('"a"b') is read as spreadsheets read it.
        rows = [
            [cell.strip() for cell in row]
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        ]
    return rows


def ends_with_line_end(path: Path) -> bool:
    """Whether the text's last character ends a line (in UTF-16 and UTF-32 too)."""
    with path.open("rb") as handle:
        _, marked = byte_order_mark(handle.read(4))
        encoding = marked or "ascii"
        width = len("\n".encode(encoding))
        handle.seek(-min(width, path.stat().st_size), 2)
        return handle.read() in ("\n".encode(encoding), "\r".encode(encoding))


def open_workbook(path: Path) -> CalamineWorkbook:
    """A workbook to read, or a refusal. An XLSX is a zip whose every part carries its length
    and CRC: a file cut off or damaged in transit fails that check even where a lenient reader
    would still open what is left."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        try:
            with zipfile.ZipFile(path) as archive:
                damaged = archive.testzip()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
            raise RejectedFile(
                path.name,
                f"not a readable workbook: its zip structure is broken ({error}): "
                "the file is cut off or damaged",
            ) from None
        if damaged is not None:
            raise RejectedFile(
                path.name,
                f"not a readable workbook: its part {damaged} does not match its own length and checksum "
                "(the file is cut off or damaged)",
            )
    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as error:  # calamine raises its own error types for broken workbooks
        raise RejectedFile(path.name, f"not a readable workbook ({error})") from error


def _load_workbook(path: Path, list_type: str | None) -> tuple[str, list[list[str]]]:
    workbook = open_workbook(path)
    names = list(workbook.sheet_names)
    # The data sheet is named like `RETURNEE DATASET`; otherwise the first sheet with a header.
    ordered = sorted(names, key=lambda n: (0 if "DATASET" in n.upper() else 1, names.index(n)))
    for sheet in ordered:
        rows = [sheet_row_text(row) for row in workbook.get_sheet_by_name(sheet).to_python()]
        if _find_header(rows, list_type) is not None:
            return sheet, rows
    raise RejectedFile(path.name, f"no sheet holds a DTM master-list header (sheets: {', '.join(names)})")


def sheet_row_text(row: list) -> list[str]:
    """A worksheet row as text. The hot loop of XLSX reading: numbers first, one comprehension."""
    return [
        (f"{value:.0f}" if value.is_integer() else repr(value))
        if type(value) is float
        else value.strip()
        if type(value) is str
        else _cell_text(value)
        for value in row
    ]


def _cell_text(value: object) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip() if value is not None else ""


def _find_header(rows: list[list[str]], list_type: str | None) -> int | None:
    lookups = [alias_lookup(list_type)] if list_type else [alias_lookup("idp"), alias_lookup("returnee")]
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        keys = {name_key(cell) for cell in row if cell}
        for lookup in lookups:
            known = {lookup[k] for k in keys if k in lookup}
            if (
                len(known) >= MIN_KNOWN_HEADERS
                and "governorate" in known
                and ("households" in known or "individuals" in known)
            ):
                return index
    return None


def _map_header(
    name: str, sheet: str | None, header_index: int, header: list[str], list_type: str
) -> tuple[dict[str, str | None], list[str | None]]:
    lookup = alias_lookup(list_type)
    header_map: dict[str, str | None] = {}
    by_position: list[str | None] = []
    seen: dict[str, str] = {}
    for position, cell in enumerate(header):
        canonical = lookup.get(name_key(cell)) if cell else None
        if canonical is not None:
            if canonical in seen:
                raise RejectedFile(
                    name,
                    f"columns '{seen[canonical]}' and '{cell}' both mean {canonical}",
                    sheet=sheet,
                    row=header_index + 1,
                    column=cell,
                )
            seen[canonical] = cell
        label = cell or f"(column {position + 1})"
        header_map[label] = canonical
        by_position.append(canonical)
    for required in ("location_id", "governorate", "district", "households", "individuals"):
        if required not in seen:
            raise RejectedFile(
                name,
                f"required column {required} is missing (no known spelling of it in the header)",
                sheet=sheet,
                row=header_index + 1,
            )
    return header_map, by_position


def _split_body(
    name: str, sheet: str | None, rows: list[list[str]], header_index: int
) -> tuple[list[tuple[int, list[str]]], list[str] | None, int | None]:
    body: list[tuple[int, list[str]]] = []
    totals_row, totals_index = None, None
    for index in range(header_index + 1, len(rows)):
        row = rows[index]
        if not any(row):
            continue
        if totals_row is not None:
            raise RejectedFile(name, "data after the totals row", sheet=sheet, row=index + 1)
        first = next(cell for cell in row if cell)
        if _TOTALS.match(first):
            totals_row, totals_index = row, index
            continue
        body.append((index, row))
    return body, totals_row, totals_index


def refuse_if_cut(
    name: str,
    sheet: str | None,
    body: list[tuple[int, list[str]]],
    header: list[str],
    *,
    is_csv: bool,
    line_end: bool,
) -> None:
    """A file whose last location row stops short of every other row was cut off (a copy that
    stopped, a download that broke): refused, naming the row and the first missing column. A
    CSV's rows keep their empty cells, so a field count tells; a worksheet's row ends at its last
    filled cell. Only a file without a totals row is checked: a totals row that agrees proves
    the end."""
    if len(body) < 2:
        return

    def width(row: list[str]) -> int:
        if is_csv:
            return len(row)
        return next((i + 1 for i in range(len(row) - 1, -1, -1) if row[i]), 0)

    index, last = body[-1]
    others = min(width(row) for _, row in body[:-1])
    cut = width(last)
    if cut < others:
        missing = header[cut] if cut < len(header) else f"(column {cut + 1})"
        ending = "" if line_end else " and no line end"
        raise RejectedFile(
            name,
            f"the file ends in the middle of a row: its last row has {cut} of the {others} or more "
            f"cells every other row has{ending}, so the file was cut off (missing from '{missing}' on)",
            sheet=sheet,
            row=index + 1,
            column=missing,
        )


def _to_frame(
    body: list[tuple[int, list[str]]],
    header: list[str],
    canonical_by_position: list[str | None],
    header_index: int,
) -> pd.DataFrame:
    width = len(header)
    # Rows may stop short of the widest (trailing empty cells left out): padded here, as pandas
    # 3 pads them with a warning and pandas 4 will refuse to.
    widest = max((len(row) for _, row in body), default=0)
    cells = pd.DataFrame([row + [None] * (widest - len(row)) for _, row in body], dtype="string")
    for position in range(cells.shape[1], width):
        cells[position] = pd.NA
    cells = cells.replace("", pd.NA)
    frame = pd.DataFrame(
        {canonical: cells[i] for i, canonical in enumerate(canonical_by_position) if canonical},
        dtype="string",
    )
    frame.insert(0, "source_row_number", pd.array([i + 1 for i, _ in body], dtype="int64"))
    # Unknown columns, and cells beyond the header, are kept as JSON: raw is never narrowed.
    unknown = {i: header[i] or f"(column {i + 1})" for i, c in enumerate(canonical_by_position) if c is None}
    unknown.update({i: f"(column {i + 1})" for i in range(width, cells.shape[1])})
    extras = [None] * len(frame)
    if unknown:
        picked = cells[list(unknown)].rename(columns=unknown)
        extras = [
            json.dumps({k: v for k, v in row.items() if not pd.isna(v)}, ensure_ascii=False) or None
            for row in picked.to_dict("records")
        ]
        extras = [e if e != "{}" else None for e in extras]
    frame["extra_columns"] = pd.array(extras, dtype="string")
    return frame


def count_columns(columns: list[str | None]) -> list[str]:
    """The canonical columns that hold counts: checked against the totals row."""
    return [c for c in columns if c and (c in ("households", "individuals") or "__" in c)]


def _check_totals(
    name: str,
    sheet: str | None,
    frame: pd.DataFrame,
    totals: list[str],
    totals_index: int,
    header: list[str],
    canonical_by_position: list[str | None],
) -> None:
    row_number = totals_index + 1
    first = next(cell for cell in totals if cell)
    if match := _LOCATIONS_IN_TOTALS.search(first):
        stated = parse_count(match[1].strip())
        if stated != len(frame):
            raise RejectedFile(
                name,
                f"the totals row states {stated:,} locations but the file has {len(frame):,} location rows",
                sheet=sheet,
                row=row_number,
            )
    fast = _plain_sums(frame, count_columns(canonical_by_position))
    for position, canonical in enumerate(canonical_by_position):
        if canonical not in count_columns([canonical]) or position >= len(totals):
            continue
        try:
            stated = parse_count(totals[position])
        except ValueError:
            raise RejectedFile(
                name,
                f"the totals row has '{totals[position]}', not a number",
                sheet=sheet,
                row=row_number,
                column=header[position],
            ) from None
        if stated is None:
            continue
        total, bad_index = (fast[canonical], None) if fast else _column_sum(frame[canonical])
        if bad_index is not None:
            raise RejectedFile(
                name,
                f"'{frame[canonical].iloc[bad_index]}' is not a count",
                sheet=sheet,
                row=int(frame["source_row_number"].iloc[bad_index]),
                column=header[position],
            )
        if total != stated:
            raise RejectedFile(
                name,
                f"the column sums to {total:,} but the totals row states {stated:,}",
                sheet=sheet,
                row=row_number,
                column=header[position],
            )


def _plain_sums(frame: pd.DataFrame, columns: list[str]) -> dict[str, int] | None:
    """Every count column summed at once, when all cells are plain whole numbers (the usual
    case); None sends the file down the cell-by-cell path, which names a bad cell.

    A plain count is `-?[0-9]+`. The cells are checked as one text, a cell a line: no other
    character and no line end inside a cell; int() then refuses the rest ('', '-', '1-2').
    One pass in C, not a regular expression per cell: the largest list of the 6x sample's
    totals check took 0.82 s, half of reading the file, and takes 0.23 s."""
    if not columns:
        return {}
    cells = np.concatenate([frame[c].to_numpy(dtype=object, na_value="0") for c in columns])
    text = "\n".join(cells.tolist())
    if _NOT_PLAIN_COUNTS.search(text) or text.count("\n") != max(len(cells) - 1, 0):
        return None
    try:
        numbers = cells.astype(np.int64).reshape(len(columns), len(frame))
    except (ValueError, TypeError, OverflowError):
        return None
    return dict(zip(columns, numbers.sum(axis=1).tolist(), strict=True))


def _column_sum(column: pd.Series) -> tuple[int, int | None]:
    """The sum of a count column, or the position of its first cell that is not a count."""
    plain = column.str.fullmatch(_PLAIN_COUNT).fillna(False)
    total = int(pd.to_numeric(column[plain]).sum())
    # Thousands separators, `6.0` and anything that is not a count take the one count rule.
    for position in (~plain & column.notna()).to_numpy().nonzero()[0]:
        try:
            total += parse_count(column.iloc[position]) or 0
        except ValueError:
            return 0, int(position)
    return total, None
