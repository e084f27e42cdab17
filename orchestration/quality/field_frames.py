"""Validation frames of the field families: KI reports and the three cluster sheets.

Like the master lists' frame, each is one DuckDB query over the raw text. None of them carries
an informant's name, phone, device or free text: GX copies unexpected values into its results,
the quarantine records and Data Docs, so personal columns never enter a frame.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from orchestration.quality.frames import GOVERNORATE_PCODE, governorate_join, register_reference
from orchestration.reference import ki_need_choices
from orchestration.rules import (
    KI_SENTINELS,
    count_sql,
    hrp_code_sql,
    kobo_choices_sql,
    unparseable_count_sql,
    validation_status_sql,
    yes_no_sql,
)

HOUSEHOLD_COUNTS = ("idp_households", "returnee_households", "host_households")


def _bad_count(column: str, allowed: tuple[str, ...] = ()) -> str:
    """1 when a count cell is neither empty, an allowed text (a sentinel), nor a non-negative
    whole number."""
    cell = f'"{column}"'
    allowed_sql = f"trim({cell}) not in {allowed} and " if allowed else ""
    return f"coalesce({allowed_sql}({unparseable_count_sql(cell)} or {count_sql(cell)} < 0), false)::int"


def _unknown_needs(column: str) -> str:
    """The words of a select_multiple cell that are not choices of the form, or null: staging
    splits the cell as this does, and dbt's test of the needs would fail the whole build."""
    choices = ", ".join(f"'{choice}'" for choice in ki_need_choices())
    words = kobo_choices_sql(f"coalesce({column}, '')")
    return (
        f"nullif(array_to_string(list_filter({words}, lambda need: need <> '' "
        f"and not list_contains([{choices}], need)), ' '), '')"
    )


def ki_report_frame(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> pd.DataFrame:
    register_reference(con)
    return con.execute(
        f"""
        select
            r.batch_id,
            r.source_row_number,
            r.submission_uuid,
            try_cast(r.submission_time as timestamp) as submitted_at,
            r.place_id,
            {GOVERNORATE_PCODE} as governorate_pcode,
            {" + ".join(_bad_count(c, KI_SENTINELS) for c in HOUSEHOLD_COUNTS)}
                as unparseable_household_cells,
            coalesce({validation_status_sql("r.validation_status")}, '') as validation_status,
            {_unknown_needs("r.priority_needs")} as unknown_priority_needs,
            r.informant_key
        from raw.kobo_ki_reports as r
        {governorate_join("r", "place_id")}
        where r.batch_id in (select unnest(?::varchar[]))
        """,
        [batch_ids],
    ).df()


def cluster_project_frame(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> pd.DataFrame:
    counts = ("budget_usd", "target_total", "target_female", "target_male", "needs_usd", "needs_people")
    return con.execute(
        f"""
        select
            batch_id,
            source_row_number,
            {hrp_code_sql("hrp_code")} as hrp_code,
            {count_sql("budget_usd")} as budget_usd,
            {count_sql("target_total")} as target_total,
            {" + ".join(_bad_count(c) for c in counts)} as unparseable_count_cells
        from raw.cluster_projects
        where batch_id in (select unnest(?::varchar[])) and row_kind = 'data'
        """,
        [batch_ids],
    ).df()


def cluster_activity_frame(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> pd.DataFrame:
    return con.execute(
        f"""
        select
            batch_id,
            source_row_number,
            {hrp_code_sql("hrp_code")} as hrp_code,
            trim(activity) as activity,  -- as staging keys it
            lower(trim(headline)) as headline,
            -- the second and later headline indicators of a project (staging allows one)
            case when {yes_no_sql("headline")} then row_number() over (
                partition by batch_id, {hrp_code_sql("hrp_code")}, {yes_no_sql("headline")}
                order by source_row_number
            ) end as headline_of_project,
            lower(trim(unit)) as unit,
            {_bad_count("target")} as unparseable_count_cells
        from raw.cluster_activities
        where batch_id in (select unnest(?::varchar[])) and row_kind = 'data'
        """,
        [batch_ids],
    ).df()


def cluster_reach_frame(con: duckdb.DuckDBPyConnection, batch_ids: list[str]) -> pd.DataFrame:
    register_reference(con)
    counts = ("female", "male", "total", "households")
    return con.execute(
        f"""
        select
            r.batch_id,
            r.source_row_number,
            try_cast(r.reference_month as date) as reference_month,
            year(try_cast(r.reference_month as date)) <> try_cast(r.workbook_year as integer)
                as month_outside_year,
            {hrp_code_sql("r.hrp_code")} as hrp_code,
            trim(r.activity) as activity,
            {GOVERNORATE_PCODE} as governorate_pcode,
            lower(trim(r.population_group)) as population_group,
            -- a month's row of a series as staging keys it (int_cluster_reach_monthly's key)
            trim(r.governorate) as governorate,
            coalesce(nullif(trim(r.district), ''), '(not given)') as district,
            regexp_replace(lower(trim(r.population_group)), 's$', '') as population_group_key,
            {" + ".join(_bad_count(c) for c in counts)} as unparseable_count_cells,
            case when {count_sql("r.female")} is not null and {count_sql("r.male")} is not null
                then {count_sql("r.female")} + {count_sql("r.male")} - {count_sql("r.total")}
            end as sex_split_gap
        from raw.cluster_reach as r
        {governorate_join("r", None)}
        where r.batch_id in (select unnest(?::varchar[])) and r.row_kind = 'data'
        """,
        [batch_ids],
    ).df()


FIELD_FRAMES = {
    "ki_report": ki_report_frame,
    "cluster_project": cluster_project_frame,
    "cluster_activity": cluster_activity_frame,
    "cluster_reach": cluster_reach_frame,
}
