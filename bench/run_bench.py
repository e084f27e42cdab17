"""Times a new round's run against a bare DuckDB script, and the whole sample at 1x and 10x.

    .venv/bin/python bench/run_bench.py [--scale 10]        (or: make bench)

Prints the speed issue's table (before, target, now, the bare-DuckDB floor, ratios) from one
run and writes bench/results/latest.json (git-ignored). Everything runs as a user runs it: each
measured run is a `dtm run` process with its own Dagster home, landing folder and warehouse
under bench/results/. A new round is Round 134's IDP and returnee lists as CSV, added to a
warehouse holding the 82 rounds before it (or 8, for the flatness measure), three times from
the same saved state; the median is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pandas as pd

from orchestration.dbt_scope import DBT_VARS_ARGS
from orchestration.readers.round_files import read_round_file
from orchestration.rounds import round_file_name
from orchestration.sample.generator import generate
from orchestration.sample.targets import round_targets

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DTM = Path(sys.executable).with_name("dtm")
NEW_ROUND = 134
REPEATS = 3
HISTORY_SHORT = 8


def timed(label: str, results: dict, function, *args, **kwargs):
    started = time.perf_counter()
    value = function(*args, **kwargs)
    results[label] = round(time.perf_counter() - started, 2)
    print(f"{label:<60} {results[label]:>8.2f} s", flush=True)
    return value


@dataclass
class Measured:
    wall: float  # seconds, the whole `dtm run` process
    peak_mb: float  # the largest resident set of the process and its children (dbt)
    runs: dict[str, float]  # seconds per Dagster run: load_rounds, build_marts, publish_round


def environment(folder: Path) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("DTM_")},
        "DAGSTER_HOME": str(folder / "home"),
        "DTM_LANDING_DIR": str(folder / "landing"),
        "DTM_WAREHOUSE_PATH": str(folder / "warehouse" / "dtm.duckdb"),
        "DTM_PUBLISHED_DIR": str(folder / "published"),
    }


def dtm_run(folder: Path) -> Measured:
    """One `dtm run` process on `folder` (landing, warehouse, Dagster home); its wall time, peak
    memory and the duration of each Dagster run it started."""
    env = environment(folder)
    (folder / "home").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "config" / "dagster.yaml", folder / "home" / "dagster.yaml")
    started, epoch = time.perf_counter(), time.time()
    process = subprocess.Popen([str(DTM), "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"dtm run failed in {folder}: {process.stderr.read().decode()[-3000:]}")
    process.stderr.close()
    runs = subprocess.run(
        [sys.executable, "-c", RUN_STATS, str(epoch)], env=env, check=True, capture_output=True, text=True
    ).stdout
    # ru_maxrss is in KiB on Linux; wait4 reports the child's tree (dbt included)
    return Measured(round(wall, 2), round(usage.ru_maxrss / 1024, 1), json.loads(runs))


# Each Dagster run's duration, from the instance, for the runs started after the given time.
RUN_STATS = """
import json, sys, dagster as dg
instance = dg.DagsterInstance.get()
since = float(sys.argv[1])
stats = {}
for record in instance.get_run_records(limit=20):
    if record.start_time and record.end_time and record.create_timestamp.timestamp() >= since:
        stats.setdefault(record.dagster_run.job_name, round(record.end_time - record.start_time, 2))
print(json.dumps(stats))
"""


def median_run(prepared: Path, folder: Path, repeats: int = REPEATS) -> Measured:
    """`dtm run` for the new round, `repeats` times from the same prepared state (restored in
    the same place each time: dbt's partial parsing keys on the warehouse path); the median."""
    measured = []
    for _ in range(repeats):
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(prepared, folder, symlinks=True)
        generate(folder / "landing", {NEW_ROUND}, xlsx=False, field_families=False)
        measured.append(dtm_run(folder))
    measured.sort(key=lambda m: m.wall)
    return measured[len(measured) // 2]


def prepare_history(landing: Path, folder: Path, rounds: set[int] | None) -> Path:
    """A warehouse with `rounds` of the sample (all but the new round when None) loaded and
    published, saved beside `folder` to be restored before each measured run."""
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "landing").mkdir(parents=True)
    if rounds is None:
        for path in landing.iterdir():
            if not path.name.startswith(f"Round{NEW_ROUND}_"):
                shutil.copy(path, folder / "landing" / path.name)
    else:
        generate(folder / "landing", rounds, field_families=True)
    dtm_run(folder)
    prepared = folder.with_name(f"{folder.name}_prepared")
    shutil.rmtree(prepared, ignore_errors=True)
    shutil.move(folder, prepared)
    return prepared


def bare_duckdb(folder: Path, repeats: int = REPEATS) -> float:
    """The floor: the same two files read, summed by governorate, written (a process each)."""
    lists = [
        folder / "landing" / round_file_name(kind, NEW_ROUND, date(2024, 12, 31), "csv")
        for kind in ("idp", "returnee")
    ]
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "bare_duckdb.py"), *map(str, lists), str(RESULTS / "bare")],
            check=True,
        )
        times.append(time.perf_counter() - started)
    return round(sorted(times)[len(times) // 2], 2)


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
    from orchestration.sample.generator import history, ki_rounds
    from orchestration.sample.ki_reports import round_submissions, write_export
    from orchestration.warehouse import ensure_raw_schema, insert_batch

    targets, _ = history()
    last = targets[-2:]
    ki_round = ki_rounds(last)[-1]
    folder = RESULTS / "ki_month"
    folder.mkdir(parents=True, exist_ok=True)
    export = folder / "DTM_KI_Assessment_month.csv"
    write_export(round_submissions(ki_round, KI_MONTH_SUBMISSIONS, 1), export, "csv")
    # Named as the warehouse is, so dbt starts from the prepared parse as a build does.
    warehouse = folder / "dtm.duckdb"
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
    # dbt as the dbt assets run it: the project's dbt resource (dtm-dbt, which dagster-dbt
    # gives the prepared parse in a new target folder), the builds' --vars
    from orchestration.defs.dbt import dbt_environment, dbt_resource

    target = folder / "dbt_target"
    shutil.rmtree(target, ignore_errors=True)

    def stage() -> None:
        with dbt_environment(DTM_WAREHOUSE_PATH=str(warehouse)):
            invocation = dbt_resource.cli(
                ["run", "--select", "stg_kobo__ki_reports", "--quiet", *DBT_VARS_ARGS],
                target_path=target,
            )
        invocation.wait()

    timed("KI month: dbt staging view", results, stage)
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


# The table: what each measure was before the speed work, and its target.
TABLE = (
    ("one new round, load + gates + dbt (82 rounds present)", "43 s", "<= 10 s"),
    ("its publication (warehouse file, all formats, charts, report)", "22 s", "<= 5 s"),
    ("dtm run for one new round, whole process", "74 s (68x)", "<= 15 s (<= 15x)"),
    ("new-round cost with 80 vs 8 rounds of history", "not measured", "<= 1.2x"),
    ("whole sample at 10x locations (here: --scale, 6x at most)", "not measured", "<= 5x the 1x, <= 4 GiB"),
    ("whole sample, dtm run (make run after the install)", "~3 min", "<= 90 s"),
    ("peak memory of a new-round run", "848 MB", "<= 500 MB"),
)


def print_table(rows: list[tuple[str, str, str, str, str, str]]) -> None:
    header = ("measure", "before", "target", "now", "bare DuckDB", "ratio")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(6)]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 6x is the most DTM's Location ID holds: three digits of sequence a district, and Ninewa's
    # nine districts would need 14,140 places at 10x (999 each at most).
    parser.add_argument(
        "--scale", type=int, default=6, help="locations multiplier of the scaled sample (0: skip)"
    )
    args = parser.parse_args()
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    results: dict[str, object] = {}
    landing = RESULTS / "landing"
    timed("generate the sample (155 lists, 12 KI exports, 3 workbooks)", results, generate, landing)
    xlsx_comparison(landing, results)
    ki_month(results)

    whole = RESULTS / "whole"
    (whole / "landing").mkdir(parents=True)
    for path in landing.iterdir():
        shutil.copy(path, whole / "landing" / path.name)
    one_x = dtm_run(whole)
    results["whole sample"] = asdict(one_x)
    print(f"{'whole sample, dtm run':<60} {one_x.wall:>8.2f} s, {one_x.peak_mb:.0f} MB")
    bi_latency(whole / "published" / "dtm_latest.duckdb", results)

    save(results)
    long = median_run(prepare_history(landing, RESULTS / "history_82", None), RESULTS / "history_82")
    results["new round, 82 rounds of history"] = asdict(long)
    print(f"{'new round, 82 rounds of history':<60} {long}", flush=True)
    save(results)
    short_rounds = {t.round_number for t in round_targets() if t.round_number < NEW_ROUND}
    short_rounds = set(sorted(short_rounds)[-HISTORY_SHORT:])
    short = median_run(prepare_history(landing, RESULTS / "history_8", short_rounds), RESULTS / "history_8")
    results["new round, 8 rounds of history"] = asdict(short)
    print(f"{'new round, 8 rounds of history':<60} {short}", flush=True)
    save(results)
    floor = bare_duckdb(RESULTS / "history_82")
    results["bare DuckDB script"] = floor

    scaled = None
    if args.scale:
        folder = RESULTS / f"scale_{args.scale}"
        timed(
            f"generate the sample at {args.scale}x locations",
            results,
            generate,
            folder / "landing",
            scale=args.scale,
        )
        scaled = dtm_run(folder)
        results[f"whole sample at {args.scale}x locations"] = asdict(scaled)

    load_dbt = long.runs.get("load_rounds", 0) + long.runs.get("build_marts", 0)
    publication = long.runs.get("publish_round", float("nan"))
    measured = {
        TABLE[0][0]: (f"{load_dbt:.1f} s", "", ""),
        TABLE[1][0]: (f"{publication:.1f} s", "", ""),
        TABLE[2][0]: (f"{long.wall:.1f} s", f"{floor:.2f} s", f"{long.wall / floor:.0f}x"),
        TABLE[3][0]: (f"{long.wall:.1f} s vs {short.wall:.1f} s", "", f"{long.wall / short.wall:.2f}x"),
        TABLE[4][0]: (
            (f"{scaled.wall:.0f} s, {scaled.peak_mb:.0f} MB", "", f"{scaled.wall / one_x.wall:.1f}x")
            if scaled
            else ("skipped (--scale 0)", "", "")
        ),
        TABLE[5][0]: (f"{one_x.wall:.0f} s", "", ""),
        TABLE[6][0]: (f"{long.peak_mb:.0f} MB", "", ""),
    }
    rows = [(name, before, target, *measured[name]) for name, before, target in TABLE]
    results["table"] = rows
    print_table(rows)
    print(
        f"\nnew round, 82 rounds: runs {long.runs}; 8 rounds: runs {short.runs} "
        f"(medians of {REPEATS}, by wall time)"
    )
    save(results)
    print(f"\nwritten to {RESULTS / 'latest.json'}")


def save(results: dict) -> None:
    """What is measured so far (a failing later stage keeps the earlier ones)."""
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
