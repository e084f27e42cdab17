"""Validation frames of the field families: KI reports and the three cluster sheets.

Like the master lists' frame, each is one DuckDB query over the raw text. None of them carries
an informant's name, phone, device or free text: GX copies unexpected values into its results,
the quarantine records and Data Docs, so personal columns never enter a frame.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from orchestration.quality.frames import NAME_KEY, count_sql, register_reference

SENTINELS = ("-99", "999", "9999")
HOUSEHOLD_COUNTS = ("idp_households", "returnee_households", "host_households")
# An HRP code as OCHA writes it (IRQ18/CCCM/124317): the same rule as dbt's hrp_code macro.
HRP_CODE_SQL = "upper(regexp_replace(regexp_replace(trim({0}), '\\s+', '', 'g'), '[-_\\\\]', '/', 'g'))"


def _bad_count(column: str, allowed: tuple[str, ...] = ()) -> str:
    """1 when a count cell is neither empty, an allowed text (a sentinel), nor a non-negative
    whole number."""
    value = f'trim("{column}")'
    allowed_sql = f" and {value} not in {allowed}" if allowed else ""
    fraction = f"try_cast(replace({value}, ',', '') as double) % 1 <> 0"
    return (
        f"(\"{column}\" is not null and {value} <> ''{allowed_sql} and "
        f"coalesce({count_sql(value)} < 0 or {fraction}, true))::int"
    )


def _governorate_join(alias: str) -> str:
    return f"""
        left join (
            select distinct {NAME_KEY.format("name")} as name_key, admin1_pcode from gate_governorate_names
        ) as names on {NAME_KEY.format(f"{alias}.governorate")} = names.name_key"""


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
            names.admin1_pcode as governorate_pcode,
            {" + ".join(_bad_count(c, SENTINELS) for c in HOUSEHOLD_COUNTS)} as unparseable_household_cells,
            coalesce(r.validation_status, '') as validation_status,
            r.informant_key
        from raw.kobo_ki_reports as r
        {_governorate_join("r")}
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
            {HRP_CODE_SQL.format("hrp_code")} as hrp_code,
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
            {HRP_CODE_SQL.format("hrp_code")} as hrp_code,
            activity,
            lower(trim(headline)) as headline,
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
            {HRP_CODE_SQL.format("r.hrp_code")} as hrp_code,
            r.activity,
            names.admin1_pcode as governorate_pcode,
            lower(trim(r.population_group)) as population_group,
            {" + ".join(_bad_count(c) for c in counts)} as unparseable_count_cells,
            case when {count_sql("r.female")} is not null and {count_sql("r.male")} is not null
                then {count_sql("r.female")} + {count_sql("r.male")} - {count_sql("r.total")}
            end as sex_split_gap
        from raw.cluster_reach as r
        {_governorate_join("r")}
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
