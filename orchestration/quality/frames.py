"""The validation frame a suite runs on: raw rows (text) with the numbers and matches the
expectations test, computed by DuckDB in one query for every batch under validation."""

from __future__ import annotations

import duckdb
import pandas as pd

from orchestration.reference import breakdown_categories, district_crosswalk, governorates, read_seed
from orchestration.rules import count_sql, name_key_sql, unparseable_count_sql
from orchestration.warehouse import MASTER_LIST_TABLES

DIMENSIONS = {
    "idp": ("origin", "shelter", "period"),
    "returnee": ("last_displacement", "return_shelter", "return_period"),
}
SPELLINGS = ("admin1_name", "api_name", "dtm_name", "dtm_header_name", "dtm_2024_name")


def _count(column: str) -> str:
    return count_sql(f'"{column}"')


def _counted(column: str) -> str:
    """The column's count, as the frame's `rows` computes it once (the rule's regular expressions
    are compiled for each place they appear, which a small frame's query pays for)."""
    return f'"{column}__count"'


def _unparseable(column: str, counted: str | None = None) -> str:
    return f"coalesce({unparseable_count_sql(f'{chr(34)}{column}{chr(34)}', counted)}, false)::int"


def governorate_join(alias: str, location_id: str | None = "location_id") -> str:
    """Joins that give `governorate_pcode`: the governorate by any spelling of its name (name
    key) and, where the name matches nothing, by the first two digits of DTM's Location ID.
    The same rule as dbt's int_*_locations_harmonised; needs register_reference()."""
    by_code = (
        f"""
        left join (select distinct dtm_governorate_code, admin1_pcode from gate_districts) as by_code
            on names.admin1_pcode is null and left({alias}.{location_id}, 2) = by_code.dtm_governorate_code"""
        if location_id
        else "\n        left join (select null as admin1_pcode) as by_code on false"
    )
    return f"""
        left join (
            select distinct {name_key_sql("name")} as name_key, admin1_pcode from gate_governorate_names
        ) as names on {name_key_sql(f"{alias}.governorate")} = names.name_key{by_code}"""


GOVERNORATE_PCODE = "coalesce(names.admin1_pcode, by_code.admin1_pcode)"


def register_reference(con: duckdb.DuckDBPyConnection) -> None:
    names = pd.DataFrame(
        [(g[s], g["admin1_pcode"]) for g in governorates() for s in SPELLINGS],
        columns=["name", "admin1_pcode"],
    ).drop_duplicates()
    con.register("gate_governorate_names", names)
    con.register("gate_districts", pd.DataFrame(district_crosswalk()))
    con.register("gate_units", pd.DataFrame(read_seed("config/units_by_era.csv")))


def validation_frame(con: duckdb.DuckDBPyConnection, list_type: str, batch_ids: list[str]) -> pd.DataFrame:
    """One row per raw row of these batches, with the columns the suite of `list_type` tests."""
    register_reference(con)
    counts = ["households", "individuals"] + [
        c["canonical_column"] for c in breakdown_categories() if c["list_type"] == list_type
    ]
    sums = []
    for dimension in DIMENSIONS[list_type]:
        columns = [
            c["canonical_column"]
            for c in breakdown_categories()
            if c["list_type"] == list_type and c["dimension"] == dimension
        ]
        present = " or ".join(f'"{c}" is not null' for c in columns)
        total = " + ".join(f"coalesce({_counted(c)}, 0)" for c in columns)
        sums.append(f"case when {present} then {total} end as {dimension}_sum")
    sql = f"""
        with rows as (
            select *, {", ".join(f"{_count(c)} as {_counted(c)}" for c in counts)}
            from raw.{MASTER_LIST_TABLES[list_type]} where batch_id in (select unnest(?::varchar[]))
        ),
        districts as (
            select distinct admin1_pcode, {name_key_sql("dtm_district")} as district_key
            from gate_districts
        ),
        units as (
            select cast(first_round as integer) as first_round, cast(last_round as integer) as last_round,
                   breakdown_unit, totals_row
            from gate_units where list_type = '{list_type}'
        )
        select
            rows.batch_id,
            rows.source_row_number,
            rows.location_id,
            {_counted("households")} as households_count,
            {_counted("individuals")} as individuals_count,
            {" + ".join(_unparseable(c, _counted(c)) for c in counts)} as unparseable_count_cells,
            {" + ".join(f"(coalesce({_counted(c)}, 0) < 0)::int" for c in counts)} as negative_count_cells,
            {", ".join(sums)},
            case units.breakdown_unit when 'households' then households_count else individuals_count end
                as breakdown_total,
            individuals_count / nullif(households_count, 0) as individuals_per_household,
            {GOVERNORATE_PCODE} as governorate_pcode,
            districts.district_key is not null as district_known,
            try_cast(rows.latitude as double) as latitude,
            try_cast(rows.longitude as double) as longitude,
            coalesce(units.totals_row = 'required' and not batches.has_totals_row, false)
                as totals_row_missing
        from rows
        left join raw.load_batches as batches on rows.batch_id = batches.batch_id
        {governorate_join("rows")}
        left join districts
            on districts.admin1_pcode = {GOVERNORATE_PCODE}
            and districts.district_key = {name_key_sql("rows.district")}
        left join units on rows.round_number between units.first_round and units.last_round
    """
    return con.execute(sql, [batch_ids]).df()
