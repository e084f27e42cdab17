"""The round's charts, as PNG and SVG, from the published marts (drawn by charts_process.py in a
process of its own: matplotlib is imported only there)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import matplotlib
import pandas as pd

matplotlib.use("Agg")  # files only, no screen
import matplotlib.pyplot as plt

from orchestration.publish.report import project_year, round_title
from orchestration.publish.warehouse_file import PUBLISHED_SCHEMA

SHELTER_GROUPS = ("in_camps", "in_critical_shelters", "in_private_settings", "in_other_shelters")


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
            select admin1_pcode from {PUBLISHED_SCHEMA}.returnees_over_time
            where partition_key = (select max_by(partition_key, reporting_date)
                                   from {PUBLISHED_SCHEMA}.returnees_over_time
                                   where reporting_date <= (select reporting_date from upto))
              and area_level = 'governorate'
            order by returnees desc limit 5
        )
        select reporting_date, coalesce(admin1_name, 'Iraq') as area_name, returnees
        from {PUBLISHED_SCHEMA}.returnees_over_time
        where reporting_date <= (select reporting_date from upto)
          and (area_level = 'national' or admin1_pcode in (select admin1_pcode from top))
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
    axis.set_title(f"Returnees over time (cumulative), to {round_title(con, partition_key)}")
    axis.set_ylabel("millions of individuals")
    axis.legend(frameon=False, fontsize=8)
    axis.grid(alpha=0.3)
    return figure


def _governorates_chart(con, partition_key):
    frame = con.execute(
        f"select admin1_name, idps, change_idps from {PUBLISHED_SCHEMA}.idps_by_governorate "
        "where partition_key = ? order by idps",
        [partition_key],
    ).df()
    figure, axis = plt.subplots(figsize=(9, 6))
    bars = axis.barh(frame["admin1_name"], frame["idps"] / 1e3, color="#2F6EBA")
    for bar, change in zip(bars, frame["change_idps"], strict=True):
        label = "" if pd.isna(change) else f"{int(change):+,}"
        axis.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f"  {label}", va="center", fontsize=7)
    axis.set_title(
        f"IDPs by governorate, {round_title(con, partition_key)} (label: change since the previous round)"
    )
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
    axis.set_title(f"Shelter of IDP households, {round_title(con, partition_key)}")
    return figure


def _projects_chart(con, partition_key):
    year = project_year(con, partition_key)
    if year is None:
        return None
    frame = con.execute(
        f"""
        select split_part(hrp_code, '/', 2) || ' ' || split_part(hrp_code, '/', 3) as project,
               budget_usd / 1e6 as budget_musd, people_reached, target_beneficiaries,
               split_part(people_reached_status, ':', 1) as status
        from {PUBLISHED_SCHEMA}.project_beneficiaries_vs_budget
        where year = ? order by budget_usd
        """,
        [year],
    ).df()
    counted = frame[frame["people_reached"].notna()]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 0.6 * len(frame) + 1.8), sharey=True)
    left.barh(frame["project"], frame["budget_musd"], color="#4472C4")
    left.set_xlabel("Budget (USD million)")
    left.invert_xaxis()
    right.barh(
        counted["project"],
        counted["people_reached"].astype(float),
        color="#70AD47",
        label="people reached (headline)" if len(counted) else None,
    )
    # A project whose reach is not counted has no bar, and says so: no bar is not none reached.
    for row in frame[frame["people_reached"].isna()].itertuples():
        right.annotate(
            row.status, (0.01, row.project), xycoords=("axes fraction", "data"), va="center", fontsize=8
        )
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
