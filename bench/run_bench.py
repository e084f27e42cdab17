"""Times the stages of `make run` and compares the XLSX reader with pandas + openpyxl.

    .venv/bin/python bench/run_bench.py        (or: make bench)

Writes bench/results/latest.json (git-ignored) and prints a table. Every stage runs as the user
runs it: the whole run and the one-new-round run are separate `dtm run` processes with their own
Dagster home and warehouse under bench/results/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from orchestration.readers.round_files import read_round_file
from orchestration.sample.generator import generate

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DTM = Path(sys.executable).with_name("dtm")
NEW_ROUND = "Round134_"


def timed(label: str, results: dict, function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    results[label] = round(time.perf_counter() - started, 2)
    print(f"{label:<60} {results[label]:>8.2f} s", flush=True)
    return value


def dtm_run(home: Path, landing: Path, warehouse: Path) -> tuple[float, dict[str, float]]:
    """One `dtm run` process; its wall time and its Dagster step durations."""
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DTM_LANDING_DIR": str(landing),
        "DTM_WAREHOUSE_PATH": str(warehouse),
        "DTM_PUBLISHED_DIR": str(warehouse.with_name(f"{warehouse.stem}_published")),
    }
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "dagster.yaml", home / "dagster.yaml")
    started = time.perf_counter()
    subprocess.run(
        [str(DTM), "run"], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wall = time.perf_counter() - started
    steps = subprocess.run(
        [sys.executable, "-c", STEP_STATS], env=env, check=True, capture_output=True, text=True
    ).stdout
    return wall, json.loads(steps)


def record(results: dict, label: str, wall: float, steps: dict[str, float]) -> None:
    """A `dtm run`'s wall time and its two steps' durations."""
    rows = {
        f"{label} (dtm run, one process)": round(wall, 2),
        f"{label}: ingest step": steps.get("raw_tables"),
        f"{label}: dbt step": steps.get("dtm_dbt_models"),
        f"{label}: quality gates (in the ingest step)": steps.get("gates"),
        f"{label}: publication (warehouse file, all formats, charts, report)": steps.get(
            "publication__dtm_round_publication"
        ),
    }
    if rows[f"{label}: publication (warehouse file, all formats, charts, report)"] is not None:
        rows[f"{label} without the publication"] = round(
            wall - rows[f"{label}: publication (warehouse file, all formats, charts, report)"], 2
        )
    rows[f"{label}: gates' share of the rest of the run (%)"] = round(
        100 * steps["gates"] / (wall - steps["gates"]), 1
    )
    results.update(rows)
    for name, seconds in rows.items():
        print(f"{name:<60} {seconds if seconds is not None else float('nan'):>8.2f}")


# The load report's gate time reaches the UI as metadata of raw/load_batches: read it there.
STEP_STATS = """
import json, dagster as dg
instance = dg.DagsterInstance.get()
run = instance.get_runs(filters=dg.RunsFilter(job_name="load_rounds"), limit=1)[0]
stats = {s.step_key: round(s.end_time - s.start_time, 2) for s in instance.get_run_step_stats(run.run_id)}
for job in ("build_marts", "publish_round"):
    later = instance.get_runs(filters=dg.RunsFilter(job_name=job), limit=1)
    if later:
        stats.update({s.step_key: round(s.end_time - s.start_time, 2)
                      for s in instance.get_run_step_stats(later[0].run_id)})
materializations = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
stats["gates"] = next(
    e.asset_materialization.metadata["gate_seconds"].value
    for e in materializations
    if e.asset_materialization.asset_key == dg.AssetKey(["raw", "load_batches"])
)
print(json.dumps(stats))
"""


def xlsx_comparison(landing: Path, results: dict) -> None:
    books = sorted(landing.glob("*Master_List*.xlsx"))
    results["xlsx_files"] = len(books)
    timed("xlsx: project reader (calamine), all files", results, lambda: [read_round_file(p) for p in books])

    def openpyxl_baseline():
        for path in books:
            sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=str, engine="openpyxl")
            assert sheets

    timed("xlsx: pandas + openpyxl, same files", results, openpyxl_baseline)
    results["xlsx_speedup"] = round(
        results["xlsx: pandas + openpyxl, same files"]
        / results["xlsx: project reader (calamine), all files"],
        1,
    )
    print(f"{'xlsx speed-up':<60} {results['xlsx_speedup']:>8.1f} ×")


BI_QUERIES = {
    "IDPs by governorate for a round": "select * from marts.idps_by_governorate "
    "where partition_key = (select partition_key from marts.publication_info) order by idps desc",
    "returnees over time": "select reporting_date, admin1_name, returnees, new_returns "
    "from marts.returnees_over_time where area_level = 'national' order by reporting_date",
    "project beneficiaries against budget": "select hrp_code, cluster, budget_usd, target_beneficiaries, "
    "people_reached, share_of_target_reached, budget_per_person_reached_usd "
    "from marts.project_beneficiaries_vs_budget where year = 2018 order by budget_usd desc",
}
KI_MONTH_SUBMISSIONS = 10_000


def ki_month(results: dict) -> None:
    """One month of KI reports (10,000 submissions, one CSV export) read, keyed, loaded, gated
    and staged, in a warehouse of its own, as the ingest step and dbt do it."""
    import duckdb

    from orchestration.field_files import ki_batches
    from orchestration.informants import SAMPLE_SECRET
    from orchestration.quality.gate import gate_pending
    from orchestration.readers.ki_reports import read_ki_export
    from orchestration.rounds import RoundCalendar, RoundId
    from orchestration.sample.generator import history, ki_rounds, master_lists
    from orchestration.sample.ki_reports import round_submissions, write_export
    from orchestration.warehouse import ensure_raw_schema, insert_batch

    targets, pools = history()
    last = targets[-2:]
    lists = {(m.target.file_date.toordinal(), m.list_type): m for m in master_lists(last, pools)}
    ki_round = ki_rounds(last, lists)[-1]
    folder = RESULTS / "ki_month"
    folder.mkdir(parents=True, exist_ok=True)
    export = folder / "DTM_KI_Assessment_month.csv"
    write_export(round_submissions(ki_round, KI_MONTH_SUBMISSIONS, 1), export, "csv")
    warehouse = folder / "ki.duckdb"
    # The previous round's date opens this round's period.
    calendar = RoundCalendar.of(
        {RoundId.of(t.round_number, t.file_date).partition_key: t.file_date for t in last}
    )
    key = calendar.keys[-1]
    started = time.perf_counter()
    read = timed("KI month: read the export (10,000 submissions)", results, read_ki_export, export)
    with duckdb.connect(str(warehouse)) as con:
        ensure_raw_schema(con)
        found = timed(
            "KI month: informant keys (HMAC) and batches",
            results,
            ki_batches,
            read,
            export.name,
            calendar,
            {key},
            SAMPLE_SECRET,
            set(),
        )
        timed("KI month: load into raw", results, lambda: [insert_batch(con, b) for b in found.batches])
        timed("KI month: GX gate (import included)", results, gate_pending, con, "ki_report")
    env = {**os.environ, "DTM_WAREHOUSE_PATH": str(warehouse)}
    timed(
        "KI month: dbt staging view",
        results,
        subprocess.run,
        [str(Path(sys.executable).with_name("dbt")), "run", "--select", "stg_kobo__ki_reports", "--quiet"],
        cwd=ROOT / "dbt_project",
        env=env,
        check=True,
    )
    with duckdb.connect(str(warehouse), read_only=True) as con:
        staged = timed(
            "KI month: query the staged reports",
            results,
            lambda: con.execute("select count(*) from staging.stg_kobo__ki_reports").fetchall()[0][0],
        )
    results["KI month: ingested and staged (total)"] = round(time.perf_counter() - started, 2)
    print(
        f"{'KI month: ingested and staged (total, ' + str(staged) + ' reports)':<60} "
        f"{results['KI month: ingested and staged (total)']:>8.2f} s"
    )


def bi_latency(published: Path, results: dict, repeats: int = 60) -> None:
    """The headline BI queries on the published file, as a BI tool runs them (new connection each)."""
    import duckdb

    for name, sql in BI_QUERIES.items():
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            with duckdb.connect(str(published), read_only=True) as con:
                con.execute(sql).fetchall()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        label = f"BI query p95 (ms, connect included): {name}"
        results[label] = round(times[int(0.95 * len(times)) - 1], 1)
        print(f"{label:<60} {results[label]:>8.1f}")


def main() -> None:
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    results: dict[str, float] = {}
    landing = RESULTS / "landing"
    ki_month(results)
    timed("generate the sample (155 lists, 12 KI exports, 3 workbooks)", results, generate, landing)
    xlsx_comparison(landing, results)

    record(results, "whole run", *dtm_run(RESULTS / "home", landing, RESULTS / "whole.duckdb"))

    bi_latency(RESULTS / "whole_published" / "dtm_latest.duckdb", results)

    # One new round with the whole history present: load all but Round 134, then add it.
    partial = RESULTS / "landing_partial"
    shutil.copytree(landing, partial, ignore=shutil.ignore_patterns(f"{NEW_ROUND}*"))
    dtm_run(RESULTS / "home_partial", partial, RESULTS / "partial.duckdb")
    for path in landing.glob(f"{NEW_ROUND}*"):
        shutil.copy(path, partial / path.name)
    record(results, "add one round", *dtm_run(RESULTS / "home_partial", partial, RESULTS / "partial.duckdb"))

    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))
    print(f"\nwritten to {RESULTS / 'latest.json'}")


if __name__ == "__main__":
    main()
