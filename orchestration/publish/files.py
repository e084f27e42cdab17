"""The files people use, one folder per round: Parquet and CSV of every mart (the round's rows),
an HXL-tagged CSV for HDX, a JSON in the DTM API v3 shape, a licence and the sources' sha256."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb

from orchestration.publish.warehouse_file import PUBLISHED_SCHEMA, published_tables, round_rows
from orchestration.rules import accepted_batches_sql, formula_safe, formula_safe_sql
from orchestration.settings import ADMIN0_PCODE, OPERATION

LICENCE = """\
DTM Iraq displacement warehouse: publication of {partition_key}

Source: International Organization for Migration (IOM), Displacement Tracking Matrix (DTM) Iraq,
{operation}. Attribution: "IOM DTM Iraq", with the round and its reporting date.
Figures are IOM's as published in its master lists; the warehouse adds OCHA p-codes and
derived totals. Licence: Creative Commons Attribution-NonCommercial 3.0 IGO (CC BY-NC 3.0 IGO),
as IOM DTM publishes its data; check IOM's terms before redistribution.
sources.csv lists the sha256 of every landing file behind this publication.
"""
# HXL hashtags as HDX uses them (https://hxlstandard.org/standard/dictionary).
HXL_COLUMNS = (
    ("Governorate", "#adm1+name", "admin1_name"),
    ("Governorate p-code", "#adm1+code", "admin1_pcode"),
    ("District", "#adm2+name", "admin2_name"),
    ("District p-code", "#adm2+code", "admin2_pcode"),
    ("Reporting date", "#date+reported", "reporting_date"),
    ("IDPs (individuals)", "#affected+idps+ind", "idps"),
    ("IDP households", "#affected+idps+hh", "idp_households"),
    ("Returnees (individuals)", "#affected+returnees+ind", "returnees"),
)


FIELD_TYPES = {
    "BIGINT": "integer",
    "INTEGER": "integer",
    "HUGEINT": "integer",
    "SMALLINT": "integer",
    "DOUBLE": "number",
    "FLOAT": "number",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "datetime",
}


def _safe_select(columns: list[tuple[str, str]]) -> str:
    """The columns as a spreadsheet may see them: text that looks like a formula gets a '."""
    parts = []
    for name, kind in columns:
        if kind == "VARCHAR":
            parts.append(f'{formula_safe_sql(f"{chr(34)}{name}{chr(34)}")} as "{name}"')
        else:
            parts.append(f'"{name}"')
    return ", ".join(parts)


def write_round_files(
    published: Path, working: Path, folder: Path, partition_key: str
) -> dict[Path, list[dict]]:
    """Every file of the round's folder, from the published warehouse file; CSV files map to
    their Frictionless fields (from DuckDB's types, not guessed)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[Path, list[dict]] = {}
    with duckdb.connect(str(published), read_only=True) as con:
        for table, columns in published_tables(con).items():
            where = round_rows(columns, partition_key)
            parquet, csv_path = folder / f"{table}.parquet", folder / f"{table}.csv"
            con.execute(
                f"copy (select * from {PUBLISHED_SCHEMA}.{table} {where}) to '{parquet}' (format parquet)"
            )
            con.execute(
                f"copy (select {_safe_select(columns)} from {PUBLISHED_SCHEMA}.{table} {where}) "
                f"to '{csv_path}' (format csv, header true)"
            )
            csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())  # BOM: Excel shows Arabic
            written[parquet] = []
            written[csv_path] = [{"name": n, "type": FIELD_TYPES.get(k, "string")} for n, k in columns]
        written[_write_hxl(con, folder, partition_key)] = []
        written[_write_dtm_api_json(con, folder, partition_key)] = []
    for path in _write_provenance(working, folder, partition_key):
        written[path] = []
    return written


def _write_hxl(con: duckdb.DuckDBPyConnection, folder: Path, partition_key: str) -> Path:
    frame = con.execute(
        f"""
        with returnees as (
            select admin2_pcode, sum(individuals) as returnees
            from {PUBLISHED_SCHEMA}.fct_returnee_locations where partition_key = ? group by all
        )
        select d.admin1_name, d.admin1_pcode, d.admin2_name, d.admin2_pcode, d.reporting_date,
               d.individuals as idps, d.households as idp_households, coalesce(r.returnees, 0) as returnees
        from {PUBLISHED_SCHEMA}.idps_by_district d left join returnees r using (admin2_pcode)
        where d.partition_key = ? order by d.admin2_pcode
        """,
        [partition_key, partition_key],
    ).df()
    path = folder / "idps_returnees_by_district_hxl.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([label for label, _, _ in HXL_COLUMNS])
        writer.writerow([tag for _, tag, _ in HXL_COLUMNS])
        for row in formula_safe(frame).itertuples(index=False):
            writer.writerow(row)
    return path


def _write_dtm_api_json(con: duckdb.DuckDBPyConnection, folder: Path, partition_key: str) -> Path:
    """IDPs by governorate as DTM's API v3 serves them (p-codes in the API's IRQ-G01 form)."""
    rows = con.execute(
        f"""
        select g.admin1_name, a.dtm_api_pcode, g.individuals, g.reporting_date, g.round_number
        from {PUBLISHED_SCHEMA}.idps_by_governorate g
        join {PUBLISHED_SCHEMA}.dim_admin1 a using (admin1_pcode)
        where g.partition_key = ? order by a.dtm_api_pcode
        """,
        [partition_key],
    ).fetchall()
    result = [
        {
            "id": i,
            "operation": OPERATION,
            "admin0Name": "Iraq",
            "admin0Pcode": ADMIN0_PCODE,
            "admin1Name": name,
            "admin1Pcode": api_pcode,
            "numPresentIdpInd": int(individuals),
            "reportingDate": f"{day:%Y-%m-%d}T00:00:00",
            "yearReportingDate": day.year,
            "monthReportingDate": day.month,
            "roundNumber": int(number),
            "assessmentType": "BA",
        }
        for i, (name, api_pcode, individuals, day, number) in enumerate(rows, start=1)
    ]
    path = folder / "idps_by_governorate_dtm_api_v3.json"
    path.write_text(
        json.dumps({"isSuccess": True, "result": result, "errorMessages": []}, indent=1), encoding="utf-8"
    )
    return path


def _write_provenance(working: Path, folder: Path, partition_key: str) -> list[Path]:
    with duckdb.connect(str(working), read_only=True) as con:
        sources = con.execute(
            f"select {formula_safe_sql('source_file')} as source_file, source_sha256, list_type, loaded_at "
            f"from raw.load_batches where partition_key = ? and {accepted_batches_sql()} "
            "order by source_file",
            [partition_key],
        ).df()
    sources_path = folder / "sources.csv"
    sources.to_csv(sources_path, index=False, encoding="utf-8")
    licence = folder / "LICENSE.txt"
    licence.write_text(LICENCE.format(partition_key=partition_key, operation=OPERATION), encoding="utf-8")
    return [sources_path, licence]


def write_datapackage(folder: Path, written: dict[Path, list[dict]], partition_key: str) -> Path:
    """A Frictionless descriptor of every file of the round, with sizes and sha256."""
    import hashlib

    resources = []
    for path, fields in sorted(written.items()):
        resource = {
            "name": path.name.lower().replace(".", "-").replace("_", "-"),
            "path": path.name,
            "bytes": path.stat().st_size,
            "hash": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
        }
        if fields:
            resource |= {
                "type": "table",
                "format": "csv",
                "encoding": "utf-8-sig",
                "schema": {"fields": fields},
            }
        else:
            resource |= {"type": "file", "format": path.suffix.lstrip(".")}
        resources.append(resource)
    descriptor = {
        "name": f"dtm-iraq-{partition_key.lower()}",
        "title": f"IOM DTM Iraq displacement warehouse, {partition_key}",
        "licenses": [
            {"name": "CC-BY-NC-3.0-IGO", "title": "Creative Commons Attribution-NonCommercial 3.0 IGO"}
        ],
        "sources": [{"title": "IOM Displacement Tracking Matrix (DTM) Iraq"}],
        "resources": resources,
    }
    path = folder / "datapackage.json"
    path.write_text(json.dumps(descriptor, indent=1), encoding="utf-8")
    return path
