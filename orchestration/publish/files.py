"""The files people use, one folder per round: Parquet and CSV of every mart (the round's rows),
an HXL-tagged CSV for HDX, a JSON in the DTM API v3 shape, a licence and the sources' sha256."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import duckdb

from orchestration.publish.warehouse_file import PUBLISHED_SCHEMA, published_tables, quiet_connect, round_rows
from orchestration.rules import formula_safe_sql, formula_safe_text
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


def write_round_files(published: Path, folder: Path, partition_key: str) -> dict[Path, list[dict]]:
    """Every file of the round's folder, from the published warehouse file (marts only); CSV
    files map to their Frictionless fields (from DuckDB's types, not guessed)."""
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[Path, list[dict]] = {}
    with quiet_connect(published) as con:
        for table, columns in published_tables(con).items():
            where = round_rows(columns, partition_key)
            parquet, csv_path = folder / f"{table}.parquet", folder / f"{table}.csv"
            con.execute(
                f"copy (select * from {PUBLISHED_SCHEMA}.{table} {where}) to '{parquet}' (format parquet)"
            )
            con.execute(
                f"copy (select {_safe_select(columns)} from {PUBLISHED_SCHEMA}.{table} {where}) "
                f"to '{csv_path}' (format csv, header true, timestampformat '%Y-%m-%dT%H:%M:%S')"
            )
            csv_path.write_bytes(b"\xef\xbb\xbf" + csv_path.read_bytes())  # BOM: Excel shows Arabic
            written[parquet] = []
            written[csv_path] = [{"name": n, "type": FIELD_TYPES.get(k, "string")} for n, k in columns]
        written[_write_hxl(con, folder, partition_key)] = []
        for path in _write_dtm_api_json(con, folder, partition_key):
            written[path] = []
        for path in _write_provenance(con, folder, partition_key):
            written[path] = []
    return written


# IDPs (idps_by_district) and returnees (the returnee location facts) per district, every
# district with either: a district with returnees and no IDPs is a row too.
HXL_QUERY = f"""
with idps as (
    select admin2_pcode, idps, idp_households from {PUBLISHED_SCHEMA}.idps_by_district
    where partition_key = $round
),
returnees as (
    select admin2_pcode, sum(individuals)::bigint as returnees
    from {PUBLISHED_SCHEMA}.fct_returnee_locations where partition_key = $round group by all
),
districts as (
    select coalesce(idps.admin2_pcode, returnees.admin2_pcode) as admin2_pcode,
           idps.idps, idps.idp_households, returnees.returnees
    from idps full outer join returnees on idps.admin2_pcode = returnees.admin2_pcode
)
select a1.admin1_name, a1.admin1_pcode, a2.admin2_name, districts.admin2_pcode,
       strftime(r.reporting_date, '%Y-%m-%d') as reporting_date,
       coalesce(districts.idps, 0) as idps, coalesce(districts.idp_households, 0) as idp_households,
       coalesce(districts.returnees, 0) as returnees
from districts
join {PUBLISHED_SCHEMA}.dim_admin2 a2 on districts.admin2_pcode = a2.admin2_pcode
join {PUBLISHED_SCHEMA}.dim_admin1 a1 on a2.admin1_pcode = a1.admin1_pcode
cross join (select reporting_date from {PUBLISHED_SCHEMA}.dim_round where partition_key = $round) r
order by districts.admin2_pcode
"""


def _write_hxl(con: duckdb.DuckDBPyConnection, folder: Path, partition_key: str) -> Path:
    """The round per district with HXL hashtags (whole numbers, ISO 8601 dates), for HDX."""
    rows = con.execute(HXL_QUERY, {"round": partition_key}).fetchall()
    path = folder / "idps_returnees_by_district_hxl.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([label for label, _, _ in HXL_COLUMNS])
        writer.writerow([tag for _, tag, _ in HXL_COLUMNS])
        for row in rows:
            writer.writerow([formula_safe_text(v) if isinstance(v, str) else v for v in row])
    return path


# The DTM API v3 record as the API serves it (displacement/admin1 and displacement/admin2): the
# same keys in the same order. Master lists give no sex split and no origin per record.
API_ENDPOINTS = {
    "admin1": (
        "idps_by_governorate_dtm_api_v3.json",
        f"""
        select g.admin1_name, a.dtm_api_pcode, null, null, g.idps, g.reporting_date, g.round_number
        from {PUBLISHED_SCHEMA}.idps_by_governorate g
        join {PUBLISHED_SCHEMA}.dim_admin1 a using (admin1_pcode)
        where g.partition_key = ? order by a.dtm_api_pcode
        """,
    ),
    "admin2": (
        "idps_by_district_dtm_api_v3.json",
        f"""
        select d.admin1_name, a1.dtm_api_pcode, d.admin2_name, a2.dtm_api_pcode, d.idps, d.reporting_date,
               d.round_number
        from {PUBLISHED_SCHEMA}.idps_by_district d
        join {PUBLISHED_SCHEMA}.dim_admin1 a1 using (admin1_pcode)
        join {PUBLISHED_SCHEMA}.dim_admin2 a2 using (admin2_pcode)
        where d.partition_key = ? order by a2.dtm_api_pcode
        """,
    ),
}


def api_record_id(round_number: int, day: date, admin_pcode: str) -> int:
    """A record id that is the same in every publication: round, reporting month and the area's
    numbers (IRQ-G08Q02 in Round 134 of December 2024 -> 134 2024 12 08 02 = 1342024120802;
    a placeholder district is 99)."""
    governorate, _, district = admin_pcode.removeprefix(f"{ADMIN0_PCODE}-G").partition("Q")
    district = "99" if admin_pcode.endswith("-XXX") else district or "00"
    return int(f"{round_number:03d}{day:%Y%m}{governorate[:2]}{district}")


def _write_dtm_api_json(con: duckdb.DuckDBPyConnection, folder: Path, partition_key: str) -> list[Path]:
    """IDPs by governorate and by district as DTM's API v3 serves them (the real envelope, p-codes
    in the API's IRQ-G01 and IRQ-G01Q01 forms, ids stable across publications)."""
    written = []
    for level, (name, query) in API_ENDPOINTS.items():
        result = []
        for admin1, admin1_pcode, admin2, admin2_pcode, idps, day, number in con.execute(
            query, [partition_key]
        ).fetchall():
            area = {"admin1Name": admin1, "admin1Pcode": admin1_pcode}
            if level == "admin2":
                area |= {"admin2Name": admin2, "admin2Pcode": admin2_pcode}
            result.append(
                {
                    "id": api_record_id(number, day, admin2_pcode or admin1_pcode),
                    "operation": OPERATION,
                    "admin0Name": "Iraq",
                    "admin0Pcode": ADMIN0_PCODE,
                    **area,
                    "numPresentIdpInd": int(idps),
                    "reportingDate": f"{day:%Y-%m-%d}T00:00:00",
                    "yearReportingDate": day.year,
                    "monthReportingDate": day.month,
                    "roundNumber": int(number),
                    "displacementReason": "Conflict",
                    "numberMales": None,
                    "numberFemales": None,
                    "idpOriginAdmin1Name": "Not available",
                    "idpOriginAdmin1Pcode": "Not available",
                    "assessmentType": "BA",
                }
            )
        envelope = {
            "result": result,
            "statusCode": 200,
            "isSuccess": True,
            "errorMessages": [],
            "totalRecordsCount": len(result),
        }
        path = folder / name
        path.write_text(json.dumps(envelope, indent=1, ensure_ascii=False), encoding="utf-8")
        written.append(path)
    return written


def _write_provenance(con: duckdb.DuckDBPyConnection, folder: Path, partition_key: str) -> list[Path]:
    """sources.csv (the sha256 of every accepted file behind the round) and the licence."""
    sources_path = folder / "sources.csv"
    con.execute(
        f"copy (select {formula_safe_sql('source_file')} as source_file, source_sha256, list_type, "
        f"strftime(loaded_at, '%Y-%m-%dT%H:%M:%S') as loaded_at from {PUBLISHED_SCHEMA}.round_files "
        f"where partition_key = ? and status = 'accepted' order by source_file) "
        f"to '{sources_path}' (format csv, header true)",
        [partition_key],
    )
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
