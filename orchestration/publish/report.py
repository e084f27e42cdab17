"""For people: an XLSX workbook (a formatted sheet per mart and a README sheet), charts (PNG and
SVG) and a one-page HTML round report with the headline figures, the charts, the gate results
and the reconciliation table."""

from __future__ import annotations

import html
from pathlib import Path

import duckdb
import matplotlib

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt
import pandas as pd
import xlsxwriter

from orchestration.publish.warehouse_file import PUBLISHED_SCHEMA, published_tables, round_rows
from orchestration.rules import formula_safe

EXCEL_MAX_ROWS = 1_048_575
# Breakdown facts run to tens of thousands of rows a round: Parquet and CSV carry them.
NOT_IN_WORKBOOK = frozenset({"fct_idp_breakdowns", "fct_returnee_breakdowns"})
SHELTER_GROUPS = ("in_camps", "in_critical_shelters", "in_private_settings", "in_other_shelters")


def write_workbook(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    partition_key: str,
    descriptions: dict[str, tuple[str, dict[str, str]]],
) -> Path:
    """One formatted sheet per mart (the round's rows) and a README sheet of every column."""
    path = folder / f"dtm_iraq_{partition_key}.xlsx"
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    readme = book.add_worksheet("README")
    readme.write_row(0, 0, ["sheet", "column", "what it means", "where it comes from"], bold)
    readme.set_column(0, 1, 28)
    readme.set_column(2, 2, 90, wrap)
    readme.set_column(3, 3, 40, wrap)
    line = 1
    for table, table_columns in published_tables(con).items():
        description, columns = descriptions.get(table, ("", {}))
        if table in NOT_IN_WORKBOOK:
            readme.write_row(
                line, 0, [table, "", description, f"{table}.parquet and {table}.csv (too long here)"]
            )
            line += 1
            continue
        readme.write_row(line, 0, [table, "", description, f"marts.{table} (dbt model {table})"])
        line += 1
        where = round_rows(table_columns, partition_key)
        frame = con.execute(f"select * from {PUBLISHED_SCHEMA}.{table} {where}").df()
        for column, _ in table_columns:
            readme.write_row(line, 0, ["", column, columns.get(column, ""), ""])
            line += 1
        sheet = book.add_worksheet(table[:31])
        sheet.write_row(0, 0, list(frame.columns), bold)
        sheet.freeze_panes(1, 0)
        safe = formula_safe(frame.head(EXCEL_MAX_ROWS))
        for column in safe.columns:
            if pd.api.types.is_datetime64_any_dtype(safe[column]) or safe[column].dtype == object:
                safe[column] = safe[column].map(lambda v: v.isoformat() if hasattr(v, "isoformat") else v)
        values = safe.astype(object).where(safe.notna(), "").to_numpy().tolist()
        for offset, row in enumerate(values, start=1):
            sheet.write_row(offset, 0, row)
        sheet.autofilter(0, 0, max(len(safe), 1), max(len(frame.columns) - 1, 0))
        sheet.set_column(0, max(len(frame.columns) - 1, 0), 16)
    book.close()
    return path


def write_charts(con: duckdb.DuckDBPyConnection, folder: Path, partition_key: str) -> list[Path]:
    """The round's charts, each as PNG and SVG."""
    written = []
    for name, draw in (
        ("returnees_over_time", _returnees_chart),
        ("idps_by_governorate", _governorates_chart),
        ("shelter_mix", _shelter_chart),
        ("project_budget_vs_reached", _projects_chart),
    ):
        figure = draw(con, partition_key)
        if figure is None:  # nothing to draw for this round (no cluster sheets loaded)
            continue
        for suffix in ("png", "svg"):
            path = folder / f"chart_{name}.{suffix}"
            figure.savefig(
                path, dpi=110, bbox_inches="tight", metadata={"Date": None} if suffix == "svg" else None
            )
            written.append(path)
        plt.close(figure)
    return written


def _returnees_chart(con, partition_key):
    frame = con.execute(
        f"""
        with upto as (select reporting_date from {PUBLISHED_SCHEMA}.dim_round where partition_key = ?),
        top as (
            select area_pcode from {PUBLISHED_SCHEMA}.returnees_over_time
            where partition_key = (select max_by(partition_key, reporting_date)
                                   from {PUBLISHED_SCHEMA}.returnees_over_time
                                   where reporting_date <= (select reporting_date from upto))
              and area_level = 'governorate'
            order by returnees desc limit 5
        )
        select reporting_date, area_name, returnees from {PUBLISHED_SCHEMA}.returnees_over_time
        where reporting_date <= (select reporting_date from upto)
          and (area_level = 'national' or area_pcode in (select area_pcode from top))
        order by reporting_date
        """,
        [partition_key],
    ).df()
    figure, axis = plt.subplots(figsize=(9, 4.5))
    for area, rows in frame.groupby("area_name", sort=False):
        axis.plot(
            rows["reporting_date"],
            rows["returnees"] / 1e6,
            label=area,
            linewidth=2.5 if area == "Iraq" else 1.2,
        )
    axis.set_title(f"Returnees over time (cumulative), to {partition_key}")
    axis.set_ylabel("millions of individuals")
    axis.legend(frameon=False, fontsize=8)
    axis.grid(alpha=0.3)
    return figure


def _governorates_chart(con, partition_key):
    frame = con.execute(
        f"select admin1_name, individuals, change_individuals from {PUBLISHED_SCHEMA}.idps_by_governorate "
        "where partition_key = ? order by individuals",
        [partition_key],
    ).df()
    figure, axis = plt.subplots(figsize=(9, 6))
    bars = axis.barh(frame["admin1_name"], frame["individuals"] / 1e3, color="#2F6EBA")
    for bar, change in zip(bars, frame["change_individuals"], strict=True):
        label = "" if pd.isna(change) else f"{int(change):+,}"
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  {label}", va="center", fontsize=7)
    axis.set_title(f"IDPs by governorate, {partition_key} (label: change since the previous round)")
    axis.set_xlabel("thousands of individuals")
    return figure


def _shelter_chart(con, partition_key):
    totals = con.execute(
        f"select {', '.join(f'sum({g})' for g in SHELTER_GROUPS)} "
        f"from {PUBLISHED_SCHEMA}.idps_by_governorate where partition_key = ?",
        [partition_key],
    ).fetchall()[0]
    figure, axis = plt.subplots(figsize=(6, 6))
    labels = ["Camps", "Critical shelters", "Private settings", "Other / unknown"]
    axis.pie([t or 0 for t in totals], labels=labels, autopct="%1.0f%%", startangle=90)
    axis.set_title(f"Shelter of IDP households, {partition_key}")
    return figure


def _project_year(con, partition_key) -> int | None:
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


def _projects_chart(con, partition_key):
    year = _project_year(con, partition_key)
    if year is None:
        return None
    frame = con.execute(
        f"""
        select split_part(hrp_code, '/', 2) || ' ' || split_part(hrp_code, '/', 3) as project,
               budget_usd / 1e6 as budget_musd, people_reached, target_beneficiaries
        from {PUBLISHED_SCHEMA}.project_beneficiaries_vs_budget
        where year = ? order by budget_usd
        """,
        [year],
    ).df()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 0.6 * len(frame) + 1.8), sharey=True)
    left.barh(frame["project"], frame["budget_musd"], color="#4472C4")
    left.set_xlabel("Budget (USD million)")
    left.invert_xaxis()
    right.barh(frame["project"], frame["people_reached"], color="#70AD47", label="people reached (headline)")
    right.scatter(
        frame["target_beneficiaries"],
        frame["project"],
        color="#C00000",
        marker="|",
        s=300,
        label="target beneficiaries",
        zorder=3,
    )
    right.set_xscale("log")
    right.set_xlabel("People (log scale)")
    right.legend(loc="lower right", fontsize=8)
    figure.suptitle(f"IOM Iraq HRP {year}: budget against people reached per project")
    figure.tight_layout()
    return figure


def write_report(
    published: duckdb.DuckDBPyConnection, working: Path, folder: Path, partition_key: str, charts: list[Path]
) -> Path:
    """The round on one page: headline figures, charts, gate results, reconciliation."""
    headline = published.execute(
        f"select * from {PUBLISHED_SCHEMA}.national_figures_by_round where partition_key = ?", [partition_key]
    ).df()
    reconciliation = published.execute(
        f"select figure, scope, dtm_round, published_value, warehouse_value, difference, status "
        f"from {PUBLISHED_SCHEMA}.reconciliation where dtm_round is not null order by dtm_round"
    ).df()
    year = _project_year(published, partition_key)
    projects = published.execute(
        "select hrp_code, cluster, budget_usd, target_beneficiaries, people_reached, "
        "share_of_target_reached, budget_per_person_reached_usd, iom_identified_needs_usd, "
        "needs_gap_to_budget_usd "
        f"from {PUBLISHED_SCHEMA}.project_beneficiaries_vs_budget where year = ? order by hrp_code",
        [year],
    ).df()
    project_gaps = published.execute(
        "select year, hrp_code, check_name, stated_value, computed_value, difference, status "
        f"from {PUBLISHED_SCHEMA}.project_reconciliation "
        "where status in ('differs', 'above target', 'detected') "
        "order by year, hrp_code nulls first, check_name"
    ).df()
    with duckdb.connect(str(working), read_only=True) as con:
        gates = con.execute(
            "select b.source_file, b.list_type, b.status, coalesce(b.status_reason, '') as reason "
            "from raw.load_batches b where b.partition_key = ? order by b.loaded_at",
            [partition_key],
        ).df()
        warnings = con.execute(
            "select source_file, columns, severity, unexpected_count, description from raw.quality_failures "
            "where partition_key = ? order by checked_at",
            [partition_key],
        ).df()
        findings = con.execute(
            "select list_type, check_name, subject, previous_value, current_value "
            "from raw.sense_check_findings where partition_key = ? order by list_type, check_name",
            [partition_key],
        ).df()
    figures = "".join(
        f'<figure><img src="{c.name}" alt="{html.escape(c.stem)}"></figure>'
        for c in charts
        if c.suffix == ".png"
    )
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>DTM Iraq, {html.escape(partition_key)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table{{border-collapse:collapse;margin:1em 0;font-size:13px}}td,th{{border:1px solid #ccc;padding:3px 8px}}
th{{background:#DDEBF7}}figure{{display:inline-block;margin:0.5em}}img{{max-width:520px}}</style></head><body>
<h1>IOM DTM Iraq: {html.escape(partition_key)}</h1>
<h2>Headline figures</h2>{_table(headline)}
<h2>Charts</h2>{figures}
<h2>Gate results: files of this round</h2>{_table(gates)}
<h3>Failed expectations</h3>{_table(warnings)}
<h3>Round-over-round sense checks (warnings)</h3>{_table(findings)}
<h2>Reconciliation with figures IOM published</h2>{_table(reconciliation)}
<h2>HRP projects {year or ""}: budget against people reached</h2>{_table(projects)}
<h3>Cluster sheets: stated against computed (shown, never fixed)</h3>{_table(project_gaps)}
<p>Source: IOM Displacement Tracking Matrix (DTM) Iraq. See LICENSE.txt and sources.csv.</p>
</body></html>"""
    path = folder / "round_report.html"
    path.write_text(body, encoding="utf-8")
    return path


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if pd.isna(v) else str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><tr>{head}</tr>{rows}</table>"
