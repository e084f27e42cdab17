"""For people: an XLSX workbook (a formatted sheet per mart and a README sheet), charts (PNG and
SVG) and a one-page HTML round report with the headline figures, the charts, the gate results
and the reconciliation table."""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import xlsxwriter

from orchestration.publish.warehouse_file import PUBLISHED_SCHEMA, published_tables, round_rows
from orchestration.rules import formula_safe_text

EXCEL_MAX_ROWS = 1_048_575
# Breakdown facts run to tens of thousands of rows a round: Parquet and CSV carry them.
NOT_IN_WORKBOOK = frozenset({"fct_idp_breakdowns", "fct_returnee_breakdowns"})


# Number formats by what a column holds (data, not branches): shares are fractions shown as
# percents, identifiers are plain integers, counts and money get thousands separators.
SHARE_FORMAT, COUNT_FORMAT, PLAIN_FORMAT, DECIMAL_FORMAT = "0.0%", "#,##0", "0", "#,##0.00"
PLAIN_INTEGERS = ("round_number", "dtm_round", "year", "source_row_number", "header_row")
DATE_FORMAT, TIMESTAMP_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"


def number_format(column: str, kind: str) -> str | None:
    """The Excel number format of a column, from its name and DuckDB type."""
    if kind == "DATE":
        return DATE_FORMAT
    if kind.startswith("TIMESTAMP"):
        return TIMESTAMP_FORMAT
    if kind in ("DOUBLE", "FLOAT") or kind.startswith("DECIMAL"):
        return SHARE_FORMAT if "share" in column else DECIMAL_FORMAT
    if kind in ("BIGINT", "INTEGER", "HUGEINT", "SMALLINT", "UBIGINT", "UINTEGER"):
        return PLAIN_FORMAT if column.endswith(PLAIN_INTEGERS) else COUNT_FORMAT
    return None


def published_comments(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, dict[str, str]]]:
    """Each published table's description and its columns', as the file itself carries them."""
    tables = dict(
        con.execute(
            "select table_name, coalesce(comment, '') from duckdb_tables() where schema_name = ?",
            [PUBLISHED_SCHEMA],
        ).fetchall()
    )
    comments: dict[str, tuple[str, dict[str, str]]] = {name: (text, {}) for name, text in tables.items()}
    for table, column, text in con.execute(
        "select table_name, column_name, coalesce(comment, '') from duckdb_columns() where schema_name = ?",
        [PUBLISHED_SCHEMA],
    ).fetchall():
        comments[table][1][column] = text
    return comments


def write_workbook(con: duckdb.DuckDBPyConnection, folder: Path, partition_key: str) -> Path:
    """One formatted sheet per mart (the round's rows: real numbers and Excel dates, shares as
    percents) and a README sheet that describes every sheet and every column."""
    path = folder / f"dtm_iraq_{partition_key}.xlsx"
    book = xlsxwriter.Workbook(
        str(path), {"constant_memory": True, "strings_to_formulas": False, "remove_timezone": True}
    )
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    formats = {
        code: book.add_format({"num_format": code})
        for code in (SHARE_FORMAT, COUNT_FORMAT, PLAIN_FORMAT, DECIMAL_FORMAT, DATE_FORMAT, TIMESTAMP_FORMAT)
    }
    comments = published_comments(con)
    readme = book.add_worksheet("README")
    readme.write_row(0, 0, ["sheet", "column", "what it means", "where it comes from"], bold)
    readme.set_column(0, 1, 28)
    readme.set_column(2, 2, 90, wrap)
    readme.set_column(3, 3, 44, wrap)
    line = 1
    for table, table_columns in published_tables(con).items():
        description, columns = comments.get(table, ("", {}))
        in_book = table not in NOT_IN_WORKBOOK
        where = (
            f"sheet {table[:31]}" if in_book else f"{table}.parquet and {table}.csv (too long for a sheet)"
        )
        readme.write_row(line, 0, [table, "(the table)", description, f"{where}; marts.{table}"])
        line += 1
        for column, kind in table_columns:
            readme.write_row(
                line, 0, [table, column, columns.get(column, ""), f"marts.{table}.{column} ({kind.lower()})"]
            )
            line += 1
        if in_book:
            _write_sheet(
                book.add_worksheet(table[:31]), con, table, table_columns, partition_key, bold, formats
            )
    book.close()
    return path


def _write_sheet(sheet, con, table, columns, partition_key, bold, formats) -> None:
    names = [name for name, _ in columns]
    cell_formats = [formats.get(number_format(name, kind) or "") for name, kind in columns]
    sheet.write_row(0, 0, names, bold)
    sheet.freeze_panes(1, 0)
    where = round_rows(columns, partition_key)
    rows = con.execute(f"select * from {PUBLISHED_SCHEMA}.{table} {where} limit {EXCEL_MAX_ROWS}").fetchall()
    for offset, row in enumerate(rows, start=1):
        for index, value in enumerate(row):
            _write_cell(sheet, offset, index, value, cell_formats[index])
    sheet.autofilter(0, 0, max(len(rows), 1), max(len(names) - 1, 0))
    sheet.set_column(0, max(len(names) - 1, 0), 16)


def _write_cell(sheet, row: int, column: int, value, cell_format) -> None:
    """A cell as its type: numbers as numbers, dates as Excel dates, text defused."""
    if value is None:
        return
    if isinstance(value, bool):
        sheet.write_boolean(row, column, value)
    elif isinstance(value, int | float | Decimal):
        sheet.write_number(row, column, float(value) if isinstance(value, Decimal) else value, cell_format)
    elif isinstance(value, date):  # datetime is a date too
        sheet.write_datetime(row, column, value, cell_format)
    else:
        sheet.write_string(row, column, formula_safe_text(str(value)))


def project_year(con, partition_key) -> int | None:
    """The HRP year to show with a round: its own year if the cluster sheets have it, else the
    latest year before it, else the latest year."""
    row = con.execute(
        f"""
        select coalesce(
            max(year) filter (where year <= (
                select year(reporting_date) from {PUBLISHED_SCHEMA}.dim_round where partition_key = ?
            )),
            max(year)
        )
        from {PUBLISHED_SCHEMA}.project_beneficiaries_vs_budget
        """,
        [partition_key],
    ).fetchall()
    return row[0][0] if row else None


def round_title(con: duckdb.DuckDBPyConnection, partition_key: str) -> str:
    """The round as people name it: "Round 134, 31 December 2024"."""
    number, day = con.execute(
        f"select round_number, reporting_date from {PUBLISHED_SCHEMA}.dim_round where partition_key = ?",
        [partition_key],
    ).fetchall()[0]
    return f"Round {number}, {day.day} {day:%B %Y}"


def write_report(
    con: duckdb.DuckDBPyConnection, folder: Path, partition_key: str, charts: list[Path]
) -> Path:
    """The round on one page, from the published marts: headline figures, charts, the round's
    quality (files, gate, sense checks, sign-off), key informants' needs, reconciliation and
    projects."""

    def frame(sql: str, params: list | None = None) -> pd.DataFrame:
        return con.execute(sql, params if params is not None else [partition_key]).df()

    title = round_title(con, partition_key)
    headline = frame(
        'select idps as "IDPs", idp_households as "IDP households", idp_locations as "IDP locations", '
        'camp_share as "IDPs in camps (share)", '
        'critical_shelter_share as "IDPs in critical shelters (share)", '
        'returnees as "Returnees", returnee_households as "Returnee households", '
        'returnee_locations as "Returnee locations" '
        f"from {PUBLISHED_SCHEMA}.national_figures_by_round where partition_key = ?"
    )
    quality = frame(
        "select batches_accepted, batches_quarantined, files_refused, critical_failures, warning_failures, "
        "hold_findings, warning_findings, coalesce(review_status, 'not needed') as sign_off, decided_by, "
        f"next_round_overdue_after from {PUBLISHED_SCHEMA}.round_quality where partition_key = ?"
    )
    files = frame(
        "select source_file, list_type, status, coalesce(status_reason, '') as reason "
        f"from {PUBLISHED_SCHEMA}.round_files where partition_key = ? order by loaded_at, source_file"
    )
    failures = frame(
        "select source_file, expectation, checked_columns, severity, failing_rows, description "
        f"from {PUBLISHED_SCHEMA}.gate_failures where partition_key = ? order by checked_at, expectation"
    )
    findings = frame(
        "select list_type, check_name, subject, previous_value, current_value, severity "
        f"from {PUBLISHED_SCHEMA}.sense_check_findings where partition_key = ? order by list_type, check_name"
    )
    needs = frame(
        'select admin1_name as governorate, need, share_of_locations as "locations naming it (share)", '
        "assessed_locations, informants "
        f"from {PUBLISHED_SCHEMA}.ki_priority_needs_by_governorate "
        "where partition_key = ? and not is_suppressed and share_of_locations > 0 "
        "qualify row_number() over (partition by admin1_pcode order by share_of_locations desc, need) <= 3 "
        "order by admin1_name, share_of_locations desc"
    )
    reconciliation = frame(
        f"select figure, scope, dtm_round, published_value, warehouse_value, difference, unit, status "
        f"from {PUBLISHED_SCHEMA}.reconciliation where dtm_round is not null order by dtm_round",
        [],
    )
    year = project_year(con, partition_key)
    projects = frame(
        "select hrp_code, cluster, budget_usd, target_beneficiaries, people_reached, people_reached_status, "
        "share_of_target_reached, budget_per_person_reached_usd, iom_identified_needs_usd, "
        "needs_gap_to_budget_usd "
        f"from {PUBLISHED_SCHEMA}.project_beneficiaries_vs_budget where year = ? order by hrp_code",
        [year],
    )
    project_gaps = frame(
        "select year, hrp_code, check_name, stated_value, computed_value, difference, status "
        f"from {PUBLISHED_SCHEMA}.project_reconciliation "
        "where status in ('differs', 'above target', 'detected') "
        "order by year, hrp_code nulls first, check_name",
        [],
    )
    figures = "".join(
        f'<figure><img src="{c.name}" alt="{html.escape(c.stem)}"></figure>'
        for c in charts
        if c.suffix == ".png"
    )
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>IOM DTM Iraq, {html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px}}
td.n{{text-align:right}}th{{background:#DDEBF7}}figure{{display:inline-block;margin:0.5em}}img{{max-width:520px}}
</style></head><body>
<h1>IOM DTM Iraq: {html.escape(title)}</h1>
<p>Partition {html.escape(partition_key)}. Shares are of the shelter breakdown; every figure is IOM's
as its master lists state them.</p>
<h2>Headline figures</h2>{_table(headline)}
<h2>Charts</h2>{figures}
<h2>Quality of the round</h2>{_table(quality)}
<h3>Files of this round and how the gate settled them</h3>{_table(files)}
<h3>Failed expectations</h3>{_table(failures)}
<h3>Round-over-round sense checks</h3>{_table(findings)}
<h2>Key informants: the three needs named most, by governorate</h2>
<p>Share of the assessed locations whose informants name the need; figures backed by fewer than three
informants are suppressed and not shown.</p>{_table(needs)}
<h2>Reconciliation with figures IOM published</h2>{_table(reconciliation)}
<h2>HRP projects {year or ""}: budget against people reached</h2>{_table(projects)}
<h3>Cluster sheets: stated against computed (shown, never fixed)</h3>{_table(project_gaps)}
<p>Source: IOM Displacement Tracking Matrix (DTM) Iraq. See LICENSE.txt and sources.csv.</p>
</body></html>"""
    path = folder / "round_report.html"
    path.write_text(body, encoding="utf-8")
    return path


def _cell(column: str, value) -> tuple[str, bool]:
    """A value as a person reads it, and whether it is a number (right-aligned): counts with
    thousands separators, shares as percents, other fractions to two decimals, dates ISO."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and pd.isna(value)):
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, Decimal):  # a fraction of money stays a fraction, never truncated
        value = float(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and "share" not in column):
        return f"{int(value):,}" if not column.endswith(PLAIN_INTEGERS) else str(int(value)), True
    if isinstance(value, float):
        return (f"{value:.1%}" if "share" in column else f"{value:,.2f}"), True
    if isinstance(value, pd.Timestamp | date):
        return (value.date() if isinstance(value, pd.Timestamp) else value).isoformat(), False
    return str(value), False


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in frame.astype(object).itertuples(index=False):
        cells = []
        for column, value in zip(frame.columns, row, strict=True):
            text, numeric = _cell(str(column), value)
            cells.append(f"<td{' class=n' if numeric else ''}>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"
