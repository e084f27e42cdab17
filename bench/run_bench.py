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
        f"{label}: ingest step": steps.get("raw_master_lists"),
        f"{label}: dbt step": steps.get("dtm_dbt_models"),
        f"{label}: quality gates (in the ingest step)": steps.get("gates"),
    }
    rows[f"{label}: gates' share of the rest of the run (%)"] = round(
        100 * steps["gates"] / (wall - steps["gates"]), 1
    )
    results.update(rows)
    for name, seconds in rows.items():
        print(f"{name:<60} {seconds:>8.2f}")


STEP_STATS = """
import json, re, dagster as dg
instance = dg.DagsterInstance.get()
run = instance.get_runs(limit=1)[0]
stats = {s.step_key: round(s.end_time - s.start_time, 2) for s in instance.get_run_step_stats(run.run_id)}
gates = [float(m[1]) for e in instance.all_logs(run.run_id)
         if (m := re.match(r"Gate \\w+: .* in ([\\d.]+) s", e.user_message or ""))]
stats["gates"] = round(sum(gates), 2)
print(json.dumps(stats))
"""


def xlsx_comparison(landing: Path, results: dict) -> None:
    books = sorted(landing.glob("*.xlsx"))
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


def main() -> None:
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    results: dict[str, float] = {}
    landing = RESULTS / "landing"
    timed("generate the sample (155 lists)", results, generate, landing)
    xlsx_comparison(landing, results)

    record(results, "whole run", *dtm_run(RESULTS / "home", landing, RESULTS / "whole.duckdb"))

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
