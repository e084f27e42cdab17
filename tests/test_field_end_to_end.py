"""KI reports and cluster sheets through Dagster into the marts, on a landing folder of the
2018-19 rounds, IOM's real 2018 workbook, and committed fixtures; then the privacy promise:
no informant's name, phone or device anywhere past raw, and the secret nowhere at all."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from orchestration import landing
from orchestration.cli import load_rounds, publish
from orchestration.definitions import build_definitions
from orchestration.defs.dbt import dbt_target_path, dtm_dbt_models
from orchestration.defs.resources import WarehouseResource
from orchestration.field_files import ki_batches
from orchestration.informants import SECRET_VARIABLE, informant_key, normalise_phone
from orchestration.readers.ki_reports import read_ki_export
from orchestration.retention import erase_expired, erased_keys
from orchestration.sample import generator
from orchestration.sample.cluster_sheets import generate_cluster_workbooks, workbook_name
from orchestration.settings import DBT_PROJECT_DIR

ROOT = Path(__file__).resolve().parents[1]
FIELD = Path(__file__).parent / "fixtures" / "field_files"
# The rounds whose periods hold every month of 2018 and January to April 2019.
ROUNDS = {86, 88, 90, 92, 94, 96, 98, 100, 102, 104, 106, 107, 108, 109}
SECRET = "test-only-informant-secret-7f3a9c1e5b"
PERSONAL = ("ki_name", "ki_phone", "device_id")
TEST_PROJECT = "IRQ19/CCCM/900001"


@pytest.fixture(scope="module")
def field_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("field")
    landing_dir = root / "landing"
    generator.generate(landing_dir, ROUNDS, field_families=False)
    books = root / "books"
    books.mkdir()
    generate_cluster_workbooks(books)
    shutil.copy(books / workbook_name(2018), landing_dir / workbook_name(2018))
    # A second download of it beside it: one workbook, its projects counted once (loaded as two
    # workbooks, every project was twice and dbt's uniqueness tests failed the build).
    shutil.copy(books / workbook_name(2018), landing_dir / workbook_name(2018).replace(".xlsx", " (1).xlsx"))
    for path in FIELD.iterdir():
        shutil.copy(path, landing_dir / path.name)
    warehouse = WarehouseResource(
        database_path=str(root / "warehouse" / "dtm.duckdb"), landing_path=str(landing_dir)
    )
    defs = build_definitions(warehouse)
    # A real instance on disk, configured as `make` configures DAGSTER_HOME (the UI test reads it).
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    instance = dg.DagsterInstance.from_config(str(home))
    published = root / "warehouse" / "published"  # the warehouse resource's default
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_VARIABLE, SECRET)
        result = load_rounds(defs, instance, landing.scan(landing_dir))
        publication = publish(defs, instance)
    return {
        "root": root,
        "landing": landing_dir,
        "database": Path(warehouse.database_path),
        "instance": instance,
        "runs": [*result.run_ids, publication.run_id],
        "result": result,
        "publication": publication,
        "published": published,
    }


def query(run, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(run["database"]), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def test_the_run_loads_gates_and_publishes_the_field_families(field_run):
    assert field_run["result"].success and field_run["publication"].success
    batches = dict(
        query(
            field_run, "select list_type, count(*) from raw.load_batches where status = 'accepted' group by 1"
        )
    )
    assert (
        batches["ki_report"] >= 3 and batches["cluster_project"] == 2 and batches["cluster_reach"] == 11 + 2
    )  # 2018: Nov and Dec in Round 107; 2019 test: 108, 109
    checks = {
        (e.asset_key.path[-1], e.check_name): e.passed
        for e in field_run["result"].get_asset_check_evaluations()
        if e.check_name == "great_expectations_suite"
    }
    for table in ("kobo_ki_reports", "cluster_projects", "cluster_activities"):
        assert checks[(table, "great_expectations_suite")], table
    (folder,) = [p for p in (field_run["published"] / "rounds").iterdir() if p.is_dir()]
    assert (folder / "project_beneficiaries_vs_budget.parquet").exists()
    assert (folder / "chart_project_budget_vs_reached.png").stat().st_size > 10_000


# IOM Iraq's 2018 appeal (../shared/reference/hrp_2018_iom_projects.csv), computed by hand:
# budget per targeted person = budget / target; needs gap = identified needs - budget.
REAL_2018 = {
    # code: (budget, target, female, male, needs USD, needs people, per targeted person, needs gap)
    "IRQ18/CSS/123876": (3000000, 3400000, None, None, None, None, 0.88, None),
    "IRQ18/CCCM/124317": (6774966, 266040, 146300, 119700, 11728580, 296000, 25.47, 4953614),
    "IRQ18/H/124072": (1800000, 147093, None, None, 3000000, 212640, 12.24, 1200000),
    "IRQ18/SNF/124350": (14207374, 349200, 217202, 131998, 41410742, 350000, 40.69, 27203368),
    "IRQ18/PHRRL/124383": (700000, 6050, 3025, 3025, 3079740, 14760, 115.70, 2379740),
    "IRQ18/ER/124084": (300000, 200, 100, 100, 1500000, 3430, 1500.00, 1200000),
}


def test_every_projects_people_reached_is_counted_when_its_sheets_passed(field_run):
    statuses = query(
        field_run,
        "select year, people_reached_status, count(*), count(people_reached) "
        "from marts.project_beneficiaries_vs_budget group by all order by 1",
    )
    assert statuses == [(2018, "counted", 6, 6), (2019, "counted", 1, 1)]


def test_2018_projects_carry_ioms_real_budgets_targets_and_needs(field_run):
    rows = query(
        field_run,
        "select hrp_code, budget_usd, target_beneficiaries, target_female, target_male, "
        "iom_identified_needs_usd, "
        "iom_identified_needs_people, budget_per_targeted_person_usd, needs_gap_to_budget_usd "
        "from marts.project_beneficiaries_vs_budget where year = 2018",
    )
    assert {row[0]: tuple(row[1:]) for row in rows} == REAL_2018


def _headline_reach_2018(path: Path) -> dict[str, int]:
    """People reached per project, straight from the workbook with openpyxl: headline rows only,
    running totals (Cumulative = yes) turned back into the month's own figure."""
    book = openpyxl.load_workbook(path, read_only=True)
    code = lambda text: re.sub(r"\s+", "", str(text)).upper().replace("-", "/")  # noqa: E731
    headline = {
        (code(row[0]), row[1])
        for row in book["Activities"].iter_rows(min_row=2, values_only=True)
        if row[4] == "yes"
    }
    series: dict[tuple, list] = defaultdict(list)
    for row in book["Reach"].iter_rows(min_row=4, values_only=True):
        if row[0] == "Total" or (code(row[1]), row[2]) not in headline:
            continue
        series[(code(row[1]), row[2], row[3], row[5])].append((row[0], row[8], row[10] == "yes"))
    reached: dict[str, int] = defaultdict(int)
    for (project, *_), months in series.items():
        running = 0
        for _, value, cumulative in sorted(months):
            month_value = value - running if cumulative else value
            running = value if cumulative else running + value
            reached[project] += month_value
    return dict(reached)


def test_2018_people_reached_is_the_headline_indicator_of_the_workbook(field_run):
    expected = _headline_reach_2018(field_run["landing"] / workbook_name(2018))
    rows = dict(
        query(
            field_run,
            "select hrp_code, people_reached from marts.project_beneficiaries_vs_budget where year = 2018",
        )
    )
    assert rows == expected
    # The NFI distributions were reported as running totals from July: converted, not added up.
    assert rows["IRQ18/SNF/124350"] < 72000


def test_the_real_discrepancies_are_shown_not_fixed(field_run):
    checks = {
        (row[0], row[1], row[2]): row[3:]
        for row in query(
            field_run,
            "select year, coalesce(hrp_code, ''), check_name, stated_value, computed_value, difference, "
            "status "
            "from marts.project_reconciliation",
        )
    }
    assert checks[(2018, "IRQ18/CCCM/124317", "target female + male against total")] == (
        266040,
        266000,
        -40,
        "differs",
    )
    assert checks[(2018, "", "stated budget total against the sum of project budgets")] == (
        26782341,
        26782340,
        -1,
        "differs",
    )
    assert checks[(2018, "", "published appeal total against the sum of project budgets")][2:] == (
        -1,
        "differs",
    )
    assert (
        checks[(2018, "IRQ18/PHRRL/124383", "people reached against target beneficiaries")][3]
        == "above target"
    )
    appeal = query(
        field_run,
        "select published_value, warehouse_value, difference, status from marts.reconciliation "
        "where figure = 'IOM emergency appeal total (stated)'",
    )
    assert appeal == [(26782341.0, 26782340.0, -1.0, "differs")]
    # The mart keeps the stated targets as they are.
    assert query(
        field_run,
        "select target_beneficiaries from marts.project_beneficiaries_vs_budget "
        "where hrp_code = 'IRQ18/CCCM/124317'",
    ) == [(266040,)]


def test_people_reached_by_several_activities_are_counted_once(field_run):
    """The fixture's headline (camp management) and return packages reach the same people:
    Ninewa 100 + 50 + (210 - 150) + 40 = 250; Anbar's unflagged running total 10, 20, 30, 45
    is detected, so 45; the project reached 295, not 295 + 130 from return packages."""
    (row,) = query(
        field_run,
        "select people_reached, people_reached_female, people_reached_male, share_of_target_reached, "
        "budget_per_person_reached_usd from marts.project_beneficiaries_vs_budget where hrp_code = ?",
        [TEST_PROJECT],
    )
    assert row == (295, 52 + 25 + 33 + 20, 48 + 25 + 27 + 21, 0.59, 3389.83)
    over_activities = query(
        field_run,
        "select sum(total_monthly) from intermediate.int_cluster_reach_monthly "
        "where hrp_code = ? and activity <> 'Sites supported'",
        [TEST_PROJECT],
    )
    assert over_activities == [(425,)]  # what adding activities up would have claimed
    months = query(
        field_run,
        "select people_reached, people_reached_to_date from marts.project_reach_by_month "
        "where hrp_code = ? order by reporting_month",
        [TEST_PROJECT],
    )
    assert months == [(110, 110), (60, 170), (70, 240), (55, 295)]
    flagged = query(
        field_run,
        "select check_name, computed_value, difference from marts.project_reconciliation "
        "where hrp_code = ? and status in ('detected', 'differs') order by check_name",
        [TEST_PROJECT],
    )
    assert flagged == [
        ("months reported as running totals without a flag (detected, turned into monthly)", 4.0, None),
        ("reach female + male against total (rows as reported)", 531.0, 1.0),
    ]


def _fixture_submissions() -> dict[str, tuple[str, str, str]]:
    """uuid → (validation status, name, enumerator), read from the exports with csv, json and
    calamine; a later export's version wins."""
    found: dict[str, tuple[str, str, str]] = {}
    with (FIELD / "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-03-03-10-15-00.csv").open(
        encoding="utf-8"
    ) as h:
        for r in csv.DictReader(h, delimiter=";"):
            found[r["_uuid"]] = (r["_validation_status"], r["ki/name"], r["enumerator_id"])
    rows = (
        CalamineWorkbook.from_path(
            str(FIELD / "DTM_KI_Assessment_-_all_versions_-_labels_-_2019-05-03-10-15-00.xlsx")
        )
        .get_sheet_by_index(0)
        .to_python()
    )
    header = rows[0]
    for r in rows[1:]:
        record = dict(zip(header, r, strict=False))
        found[record["_uuid"]] = (
            record["_validation_status"],
            record["Key informant name"],
            record["Enumerator ID"],
        )
    data = json.loads(
        (FIELD / "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-05-20-09-00-00.json").read_text("utf-8")
    )
    for r in data["results"]:
        found[r["_uuid"]] = (
            r["_validation_status"].get("uid", ""),
            r.get("ki/name", ""),
            r.get("enumerator_id", ""),
        )
    return found


def test_ki_reports_are_deduplicated_and_test_and_rejected_submissions_go(field_run):
    submissions = _fixture_submissions()
    kept = {
        uuid
        for uuid, (status, name, enumerator) in submissions.items()
        if status != "validation_status_not_approved" and "test" not in f"{name} {enumerator}".lower()
    }
    raw = query(field_run, "select count(*), count(distinct submission_uuid) from raw.kobo_ki_reports")[0]
    assert raw[0] > raw[1] == len(submissions)  # the re-exports repeat submissions
    staged = {row[0] for row in query(field_run, "select submission_uuid from staging.stg_kobo__ki_reports")}
    assert staged == kept and len(kept) < len(submissions)


def test_ki_figures_backed_by_fewer_than_three_informants_are_suppressed(field_run):
    rows = query(
        field_run,
        """
        select m.is_suppressed, m.informants, n.informants_naming_need, m.share_of_locations,
               m.locations_naming_need
        from marts.ki_priority_needs_by_governorate m
        left join (
            select partition_key, admin1_pcode, need, count(distinct informant_key) as informants_naming_need
            from intermediate.int_ki_report_needs_unnested group by all
        ) n using (partition_key, admin1_pcode, need)
        """,
    )
    for suppressed, informants, naming, share, locations in rows:
        assert suppressed == (informants < 3 or 1 <= (naming or 0) <= 2)
        assert (share is None and locations is None) == suppressed
    assert any(r[0] for r in rows) and any(not r[0] for r in rows)


def test_ki_coverage_compares_assessed_places_with_the_master_lists(field_run):
    rows = query(
        field_run,
        "select master_list_locations, assessed_listed_locations, assessed_locations_not_on_master_list, "
        "reports "
        "from marts.ki_coverage_by_governorate",
    )
    assert all(assessed <= listed for listed, assessed, _, _ in rows)
    assert sum(r[1] for r in rows) > 0 and sum(r[2] for r in rows) == 0  # the fixtures use listed places
    assert (
        sum(r[3] for r in rows) == query(field_run, "select count(*) from staging.stg_kobo__ki_reports")[0][0]
    )


# Privacy -----------------------------------------------------------------------------------------


def personal_needles(database: Path) -> set[str]:
    """Every informant name, phone number (as typed, in E.164 and national form) and device id."""
    with duckdb.connect(str(database), read_only=True) as con:
        values = con.execute(
            f"select distinct unnest([{', '.join(PERSONAL)}]) from raw.kobo_ki_reports"
        ).fetchall()
    needles = set()
    for (value,) in values:
        if not value or len(value.strip()) < 6:
            continue
        needles.add(value.strip())
        if e164 := normalise_phone(value):
            needles |= {e164, "0" + e164[4:]}
    return needles


def ki_lineage(manifest_path: Path) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(relations downstream of raw.kobo_ki_reports, every relation dbt builds), from a manifest.
    Personal data can reach a dbt relation only through that source, so the other dbt relations
    (the master lists' whole history) need no search; anything dbt does not build is searched."""
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    (source,) = [k for k, v in manifest["sources"].items() if v["name"] == "kobo_ki_reports"]
    downstream, todo = set(), [source]
    while todo:
        for child in manifest["child_map"].get(todo.pop(), []):
            if child not in downstream:
                downstream.add(child)
                todo.append(child)
    relations = {
        node_id: (node["schema"], node.get("alias") or node["name"])
        for node_id, node in manifest["nodes"].items()
        if node["resource_type"] in ("model", "seed", "snapshot")
    }
    return {relations[n] for n in downstream if n in relations}, set(relations.values())


def warehouse_leaks(
    database: Path,
    needles: set[str],
    *,
    skip_raw_table: str | None = "kobo_ki_reports",
    manifest: Path = DBT_PROJECT_DIR / "target" / "manifest.json",
) -> list[tuple[str, str]]:
    """(table, needle) for every needle found in a cell of a table past raw, or of raw's
    bookkeeping tables (quarantine records, rejections, findings). DuckDB does the search."""
    lineage, built_by_dbt = ki_lineage(manifest)
    found = []
    with duckdb.connect(str(database), read_only=True) as con:
        tables = con.execute(
            "select database_name, schema_name, table_name from duckdb_tables() "
            "union all select database_name, schema_name, view_name from duckdb_views() where not internal"
        ).fetchall()
        con.register("needles", pd.DataFrame({"needle": sorted(needles)}))
        for database_name, schema, table in tables:
            if schema == "raw" and table in {
                skip_raw_table,
                "dtm_idp_master_list",
                "dtm_returnee_master_list",
            }:
                continue
            if (schema, table) in built_by_dbt and (schema, table) not in lineage:
                continue
            name = f'"{database_name}"."{schema}"."{table}"'
            columns = [c[0] for c in con.execute(f"describe {name}").fetchall()]
            cells = ", ".join(f'cast("{c}" as varchar)' for c in columns)
            found += [
                (f"{schema}.{table}", needle)
                for (needle,) in con.execute(
                    f"select distinct needle from (select concat_ws(chr(31), {cells}) as body from {name}) "
                    "join needles on contains(body, needle)"
                ).fetchall()
            ]
    return found


def file_texts(folder: Path) -> list[tuple[str, str]]:
    """Text of every file under a folder: Parquet and XLSX read by their libraries (DuckDB files
    are searched in place)."""
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        if path.suffix == ".parquet":
            with duckdb.connect() as con:
                rows = con.execute(f"select * from read_parquet('{path}')").fetchall()
            found.append((str(path), "\n".join(map(str, rows))))
        elif path.suffix == ".duckdb":
            continue  # searched in place by warehouse_leaks
        elif path.suffix == ".xlsx":
            book = CalamineWorkbook.from_path(str(path))
            found += [(f"{path}:{s}", str(book.get_sheet_by_name(s).to_python())) for s in book.sheet_names]
        elif path.suffix not in (".png",):
            found.append((str(path), path.read_bytes().decode("utf-8", errors="ignore")))
    return found


def dagster_texts(instance: dg.DagsterInstance, run_ids: list[str]) -> list[tuple[str, str]]:
    """Every log line, event and metadata entry Dagster stored for the runs."""
    return [
        (f"run {run_id}", f"{entry.user_message}\n{entry.dagster_event!r}")
        for run_id in run_ids
        for entry in instance.all_logs(run_id)
    ]


def leaks(needles: set[str], texts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(where, needle) for every needle found in a text, searched by DuckDB."""
    with duckdb.connect() as con:
        con.register("texts", pd.DataFrame(texts, columns=["place", "body"]))
        con.register("needles", pd.DataFrame({"needle": sorted(needles)}))
        return con.execute(
            "select distinct place, needle from texts join needles on contains(body, needle)"
        ).fetchall()


def test_no_personal_data_past_raw_and_the_secret_nowhere(field_run):
    needles = personal_needles(field_run["database"])
    assert len(needles) > 100  # names, phones in every format, device ids
    database = field_run["database"]
    texts = (
        file_texts(field_run["published"])
        + file_texts(database.parent / "quality")  # Data Docs, failure lists
        + file_texts(database.parent / "operations")
        + dagster_texts(field_run["instance"], field_run["runs"])
    )
    places = {where for where, _ in texts}
    assert any("ki_priority_needs_by_governorate.parquet" in where for where in places)
    assert any(where.endswith(".html") for where in places)  # Data Docs and the round report
    assert any(where.startswith("run ") for where in places)
    lineage, _ = ki_lineage(DBT_PROJECT_DIR / "target" / "manifest.json")
    assert ("marts", "ki_priority_needs_by_governorate") in lineage and (
        "staging",
        "stg_kobo__ki_reports",
    ) in lineage
    assert warehouse_leaks(database, needles) == []
    published = sorted(field_run["published"].rglob("*.duckdb"))
    assert len(published) >= 2  # dtm_latest.duckdb and the round's own file
    for path in published:
        assert warehouse_leaks(path, needles, skip_raw_table=None) == []
    assert leaks(needles, texts) == []
    # The secret: not in DuckDB (raw included), dbt's manifest and logs, or Dagster's records.
    # dbt writes its artifacts and logs beside the warehouse
    dbt_target = dbt_target_path(database)
    dbt_files = [
        DBT_PROJECT_DIR / "target" / "manifest.json",
        dbt_target / "manifest.json",
        *dbt_target.glob("dbt.log*"),
    ]
    assert warehouse_leaks(database, {SECRET}, skip_raw_table=None) == []
    dbt_texts = [(str(p), p.read_text(encoding="utf-8", errors="ignore")) for p in dbt_files if p.exists()]
    assert len(dbt_texts) >= 3
    assert leaks({SECRET}, texts + dbt_texts) == []


def test_no_model_selects_personal_columns_from_raw():
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8"))
    for node in manifest["nodes"].values():
        if node["resource_type"] in ("model", "snapshot"):
            code = re.sub(r"\{#.*?#\}|--[^\n]*", "", node["raw_code"], flags=re.DOTALL)  # not comments
            for column in (*PERSONAL, "comments"):
                assert not re.search(rf"\b{column}\b", code), (node["name"], column)


def test_the_privacy_scan_catches_a_deliberately_leaking_model(field_run, tmp_path):
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "dbt_packages", "logs"))
    (project / "models" / "leak").mkdir()
    (project / "models" / "leak" / "leaky_informants.sql").write_text(
        "{{ config(materialized='table', schema='marts', contract={'enforced': false}) }}\n"
        "select ki_name as informant, ki_phone as phone from {{ source('raw', 'kobo_ki_reports') }}\n",
        encoding="utf-8",
    )
    copy = tmp_path / "dtm.duckdb"
    shutil.copy(field_run["database"], copy)
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run", "--select", "leaky_informants", "--quiet"],
        cwd=project,
        env={**os.environ, "DTM_WAREHOUSE_PATH": str(copy)},
        check=True,
    )
    found = warehouse_leaks(copy, personal_needles(copy), manifest=project / "target" / "manifest.json")
    assert found and {where for where, _ in found} == {"marts.leaky_informants"}


# Retention and erasure ---------------------------------------------------------------------------


def test_personal_data_is_blanked_after_the_retention_period(field_run, tmp_path):
    copy = tmp_path / "dtm.duckdb"
    shutil.copy(field_run["database"], copy)
    with duckdb.connect(str(copy)) as con:
        (rows, keyed) = con.execute(
            "select count(*), count(informant_key) from raw.kobo_ki_reports"
        ).fetchall()[0]
        now = datetime.now(UTC).replace(tzinfo=None)
        assert erase_expired(con, now=now + timedelta(days=364), days=365) == 0  # not yet
        assert erase_expired(con, now=now + timedelta(days=366), days=365) == rows
        left = con.execute(
            f"select count(*), count(informant_key), count(coalesce({', '.join(PERSONAL)}, comments)) "
            "from raw.kobo_ki_reports"
        ).fetchall()[0]
        assert left == (rows, keyed, 0)  # reports and keys stay, personal data goes
        assert con.execute("select rows_erased from raw.retention_runs order by ran_at").fetchall()[-1] == (
            rows,
        )


def test_one_command_erases_one_informant_and_reloading_never_brings_them_back(field_run, tmp_path):
    copy = tmp_path / "warehouse" / "dtm.duckdb"
    copy.parent.mkdir()
    shutil.copy(field_run["database"], copy)
    with duckdb.connect(str(copy), read_only=True) as con:
        phone, key, count = con.execute(
            "select any_value(ki_phone), informant_key, count(*) from raw.kobo_ki_reports "
            "where ki_phone is not null group by informant_key order by count(*) desc, informant_key limit 1"
        ).fetchall()[0]
    assert key == informant_key(SECRET, phone, None)
    env = {
        **os.environ,
        SECRET_VARIABLE: SECRET,
        "DTM_WAREHOUSE_PATH": str(copy),
        "DTM_LANDING_DIR": str(field_run["landing"]),
    }
    typed_otherwise = "+964 " + normalise_phone(phone)[4:]
    done = subprocess.run(
        [str(Path(sys.executable).with_name("dtm")), "erase-informant", "--phone", typed_otherwise],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"Erased {count} report(s)" in done.stdout and "still in the landing folder" in done.stdout
    assert phone not in done.stdout + done.stderr
    with duckdb.connect(str(copy)) as con:
        assert con.execute(
            "select count(*) from raw.kobo_ki_reports where informant_key = ?", [key]
        ).fetchall() == [(0,)]
        erased = erased_keys(con)
    assert erased == {key}
    # Reading the landing files again loads none of their reports.
    export = read_ki_export(FIELD / "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-03-03-10-15-00.csv")
    rounds = landing.calendar(landing.scan(field_run["landing"]))
    found = ki_batches(export, export.path.name, rounds, set(rounds.keys), SECRET, erased)
    assert all(key not in set(b.frame["informant_key"]) for b in found.batches)


def test_foreign_ki_files_without_a_secret_stop_the_run_before_anything_loads(tmp_path, monkeypatch):
    landing_dir = tmp_path / "landing"
    landing_dir.mkdir()
    shutil.copy(
        FIELD / "DTM_KI_Assessment_-_all_versions_-_xml_-_2019-03-03-10-15-00.csv",
        landing_dir / "DTM_KI_export.csv",
    )
    fixtures = Path(__file__).parent / "fixtures" / "round_files"
    shutil.copy(fixtures / "Round109_Master_List_IDP_2019_04_30_IOM_DTM.xlsx", landing_dir)
    monkeypatch.delenv(SECRET_VARIABLE, raising=False)
    warehouse = WarehouseResource(database_path=str(tmp_path / "dtm.duckdb"), landing_path=str(landing_dir))
    result = load_rounds(
        build_definitions(warehouse), dg.DagsterInstance.ephemeral(), landing.scan(landing_dir)
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = str(failure.event_specific_data.error.message) + str(
        failure.event_specific_data.user_failure_data
    )
    assert "DTM_KI_export.csv" in message and SECRET_VARIABLE in message
    assert not (tmp_path / "dtm.duckdb").exists()


# What the UI shows, asked of Dagster's GraphQL API as the UI asks it, with the code location
# served from workspace.yaml as `make ui` serves it.
UI_QUERY = """
query Truth($ki: AssetKeyInput!, $returnees: AssetKeyInput!, $idps: AssetKeyInput!, $round: String!) {
  assetNodes(assetKeys: [$ki, $returnees, $idps]) {
    assetKey { path }
    assetPartitionStatuses { ... on DefaultPartitionStatuses { materializedPartitions } }
  }
  idps: assetOrError(assetKey: $idps) {
    ... on Asset {
      assetMaterializations(partitions: [$round]) {
        partition
        metadataEntries {
          label
          ... on IntMetadataEntry { intValue }
          ... on TableMetadataEntry { table { records } }
        }
      }
    }
  }
  repositoryOrError(
    repositorySelector: {repositoryName: "__repository__", repositoryLocationName: "dtm_warehouse"}
  ) {
    ... on Repository {
      jobs { name description runs { runId } }
      sensors { name description }
      schedules { name description }
      assetNodes {
        assetKey { path }
        description
        assetChecksOrError { ... on AssetChecks { checks { name description } } }
      }
    }
  }
  instance { concurrencyLimits { concurrencyKey slotCount } }
}
"""


def ui_answers(instance: dg.DagsterInstance, variables: dict) -> dict:
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_graphql.test.utils import execute_dagster_graphql

    target = WorkspaceFileTarget([str(ROOT / "workspace.yaml")])
    with WorkspaceProcessContext(instance, target) as workspace:
        result = execute_dagster_graphql(workspace.create_request_context(), UI_QUERY, variables)
    assert not result.errors, result.errors
    return result.data


def test_the_ui_shows_each_rounds_own_partitions_attributed_runs_and_words_for_everything(field_run):
    ki, returnees, idps = (
        ["raw", t] for t in ("kobo_ki_reports", "dtm_returnee_master_list", "dtm_idp_master_list")
    )
    with_submissions = {
        k for (k,) in query(field_run, "select distinct partition_key from raw.kobo_ki_reports")
    }
    round_files = landing.scan(field_run["landing"])
    with_returnee_file = {f.round_id.partition_key for f in round_files if f.list_type == "returnee"}
    registered = set(field_run["instance"].get_dynamic_partitions("dtm_rounds"))
    round_key = "IRQ-conflict-R109-2019-04"
    data = ui_answers(
        field_run["instance"],
        {"ki": {"path": ki}, "returnees": {"path": returnees}, "idps": {"path": idps}, "round": round_key},
    )

    status = {
        tuple(n["assetKey"]["path"]): set(n["assetPartitionStatuses"]["materializedPartitions"])
        for n in data["assetNodes"]
    }
    # KI reports only for the rounds their submissions belong to, returnee lists only where a
    # file exists: never every registered round.
    assert status[tuple(ki)] == with_submissions and status[tuple(ki)] < registered
    assert status[tuple(returnees)] == with_returnee_file
    assert status[tuple(idps)] == {f.round_id.partition_key for f in round_files if f.list_type == "idp"}

    # A partition's metadata names its own file and rows.
    (materialization,) = data["idps"]["assetMaterializations"]
    entries = {e["label"]: e for e in materialization["metadataEntries"]}
    (record,) = [json.loads(r) for r in entries["files"]["table"]["records"]]
    (expected,) = query(
        field_run,
        "select source_file, source_sha256, row_count from raw.load_batches "
        "where list_type = 'idp' and partition_key = ?",
        [round_key],
    )
    assert (record["file"], record["sha256"], record["rows"]) == expected
    assert entries["dagster/row_count"]["intValue"] == expected[2]

    # The runs `dtm` started are listed under their jobs, as UI-launched runs are.
    repository = data["repositoryOrError"]
    runs_by_job = {job["name"]: {r["runId"] for r in job["runs"]} for job in repository["jobs"]}
    for run_id in field_run["runs"]:
        job = field_run["instance"].get_run_by_id(run_id).job_name
        assert run_id in runs_by_job[job], job
    assert {"load_rounds", "build_marts", "publish_round"} <= {
        field_run["instance"].get_run_by_id(r).job_name for r in field_run["runs"]
    }

    # Words for every job, sensor, schedule, asset and check.
    described = [
        # (the UI hides Dagster's own __ASSET_JOB)
        *(("job", j["name"], j["description"]) for j in repository["jobs"] if not j["name"].startswith("__")),
        *(("sensor", s["name"], s["description"]) for s in repository["sensors"]),
        *(("schedule", s["name"], s["description"]) for s in repository["schedules"]),
        *(("asset", "/".join(a["assetKey"]["path"]), a["description"]) for a in repository["assetNodes"]),
        *(
            ("check", c["name"], c["description"])
            for a in repository["assetNodes"]
            for c in (a["assetChecksOrError"].get("checks") or [])
        ),
    ]
    assert [d[:2] for d in described if not (d[2] or "").strip()] == []
    # dbt's nodes say what they hold, not dagster-dbt's stand-in ("dbt seed X"), and no asset shows
    # an empty Raw SQL block (a seed has no SQL).
    assert [d[1] for d in described if re.match(r"dbt (model|seed|snapshot) \S+\s*(####|$)", d[2])] == []
    assert [d[1] for d in described if "```sql\n\n```" in d[2].replace("    ", "")] == []

    # The one-writer pool is a limit the instance holds, so the Concurrency page lists it.
    assert {"concurrencyKey": "dtm_warehouse", "slotCount": 1} in data["instance"]["concurrencyLimits"]


def _with_the_workbook_changed(field_run, tmp_path: Path) -> WarehouseResource:
    """A copy of the warehouse where the 2018 cluster workbook's batch changed since the build."""
    database = tmp_path / "changed" / "dtm.duckdb"
    database.parent.mkdir()
    shutil.copy(field_run["database"], database)
    with duckdb.connect(str(database)) as con:
        con.execute(
            "update raw.load_batches set status_changed_at = (select mark + interval 1 minute "
            "from raw.pipeline_state where name = 'dbt_built_through') where raw_table = 'cluster_projects'"
        )
    return WarehouseResource(database_path=str(database), landing_path=str(tmp_path))


def test_a_successful_load_starts_the_marts_build_planning_what_changed_and_other_runs_do_not(
    field_run, tmp_path
):
    from orchestration.defs.sensors import build_after_load

    instance = field_run["instance"]
    warehouses = {
        "built": WarehouseResource(database_path=str(field_run["database"]), landing_path=str(tmp_path)),
        "changed": _with_the_workbook_changed(field_run, tmp_path),
    }

    def evaluate(result, warehouse="built"):
        (success,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS)
        context = dg.build_run_status_sensor_context(
            sensor_name="build_after_load",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=success.dagster_event,
            resources={"warehouse": warehouses[warehouse]},
        )
        return build_after_load(context)

    load, build = field_run["result"].results
    assert load.dagster_run.job_name == "load_rounds" and build.dagster_run.job_name == "build_marts"
    request = evaluate(load)
    assert isinstance(request, dg.RunRequest) and request.run_key == load.run_id
    # Nothing changed since the build: every model and test, the seeds as they are.
    assert set(request.asset_selection) == {k for k in dtm_dbt_models.keys if k.path[0] != "reference"}
    assert set(request.asset_check_keys) == set(dtm_dbt_models.check_keys)
    # The workbook's batch changed: the project marts and their tests, not the location facts.
    planned = evaluate(load, "changed")
    marts = {k.path[-1] for k in planned.asset_selection}
    assert "project_beneficiaries_vs_budget" in marts and "fct_idp_locations" not in marts
    project_mart = dg.AssetKey(["marts", "project_beneficiaries_vs_budget"])
    its_checks = {k for k in dtm_dbt_models.check_keys if k.asset_key == project_mart}
    assert its_checks and its_checks <= set(planned.asset_check_keys)
    # the location facts' own tests stay as they were; a test that also reads a rebuilt model runs
    facts = dg.AssetKey(["marts", "fct_idp_locations"])
    on_facts = {k for k in planned.asset_check_keys if k.asset_key == facts}
    assert {k for k in dtm_dbt_models.check_keys if k.asset_key == facts} - on_facts
    assert all(k.name.startswith("relationships_") for k in on_facts)
    assert isinstance(evaluate(build), dg.SkipReason)
    assert isinstance(evaluate(field_run["publication"]), dg.SkipReason)


def test_a_build_whose_run_did_not_plan_every_change_leaves_them_to_the_next_build(field_run, tmp_path):
    from orchestration.attributed_runs import execute
    from orchestration.cli import build_marts
    from orchestration.defs.selection import Selection
    from orchestration.warehouse import changed_raw_tables

    warehouse = _with_the_workbook_changed(field_run, tmp_path)
    defs, instance = build_definitions(warehouse), dg.DagsterInstance.ephemeral()

    def changed() -> set[str]:
        with duckdb.connect(str(warehouse.database), read_only=True) as con:
            return changed_raw_tables(con)

    # Launched with less than the change needs (one mart, as a person might pick it in the UI):
    # dbt builds what the run plans, says what it left out, and the change stays to be built.
    narrow = Selection(frozenset({dg.AssetKey(["marts", "round_files"])}), frozenset())
    result = execute(defs, instance, "build_marts", selection=narrow)
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(narrow.assets)
    warned = [
        e.user_message for e in instance.all_logs(result.run_id) if "not in this run's plan" in e.user_message
    ]

    assert len(warned) == 1 and "left to the next build" in warned[0]
    assert changed() == {"cluster_projects", "load_batches"}

    # The next build plans what the change needs, builds it and records it.
    built = build_marts(defs, instance)
    assert built.success
    marts = {e.asset_key.path[-1] for e in built.get_asset_materialization_events()}
    assert "project_beneficiaries_vs_budget" in marts and "fct_idp_locations" not in marts
    assert changed() == set()


def test_history_that_claims_a_round_without_data_is_repaired_from_the_warehouse(field_run):
    from orchestration.history_repair import repair_raw_history

    instance = field_run["instance"]
    ki = dg.AssetKey(["raw", "kobo_ki_reports"])
    with_submissions = {
        k for (k,) in query(field_run, "select distinct partition_key from raw.kobo_ki_reports")
    }
    no_reports = sorted(set(instance.get_dynamic_partitions("dtm_rounds")) - with_submissions)[0]
    # What an earlier version wrote: a materialization of a round that has no KI report.
    instance.report_runless_asset_event(dg.AssetMaterialization(ki, partition=no_reports))
    assert no_reports in instance.get_materialized_partitions(ki)

    assert repair_raw_history(instance, field_run["database"]) == ["raw/kobo_ki_reports"]
    assert instance.get_materialized_partitions(ki) == with_submissions
    rows = query(
        field_run,
        "select sum(row_count) from raw.load_batches where list_type = 'ki_report' and partition_key = ?",
        [max(with_submissions)],
    )[0][0]
    latest = instance.get_latest_materialization_event(ki).asset_materialization
    assert latest.metadata["dagster/row_count"].value == rows
    # A true history is left as it is.
    assert repair_raw_history(instance, field_run["database"]) == []
